"""Application Load Balancer: listeners, compiled listener rules, actions
(forward to one or several weighted target groups, redirect, fixed response),
per-target-group algorithms, slow start, stickiness, cross-zone and fail open.
Semantics and sources: docs/alb.md; rule compilation: docs/alb-rules.md."""
from __future__ import annotations

import math
import re

from lbcore import WeightedRandom, hash_key
from lbcore.elb._select import CookieCodec, Pool
from lbcore.elb.request import FixedResponse, Forward, Redirect, Request, SetCookie
from lbcore.elb.rules import Rule, RuleSet, parse_rule
from lbcore.elb.targets import TargetGroup, _check_now

__all__ = ["ApplicationLoadBalancer", "Listener", "ForwardAction", "RedirectAction",
           "FixedResponseAction", "parse_actions"]

STICKY_MAX = 604800
_INF = math.inf
_CONTENT_TYPES = ("text/plain", "text/css", "text/html", "application/javascript",
                  "application/json")
_PLACEHOLDER = re.compile(r"#\{([a-z]*)\}")
_REDIRECT_ALLOWED = {"Protocol": {"protocol"}, "Port": {"port"}, "Host": {"host"},
                     "Path": {"host", "path", "port"},
                     "Query": {"protocol", "host", "port", "path", "query"}}
_REDIRECT_DEFAULT = {"Protocol": "#{protocol}", "Port": "#{port}", "Host": "#{host}",
                     "Path": "/#{path}", "Query": "#{query}"}


class ForwardAction:
    """``groups``: list of (target group key, weight); ``stickiness``: target
    group stickiness duration in seconds (None = off)."""

    __slots__ = ("groups", "stickiness", "picker", "id", "states")

    def __init__(self, groups, stickiness):
        self.groups = groups
        self.stickiness = stickiness
        self.picker = None
        self.id = 0
        self.states = ()          # the load balancer's per-target-group state, by position


class RedirectAction:
    __slots__ = ("status", "parts")

    def __init__(self, status, parts):
        self.status = status
        self.parts = parts        # component -> template

    def location(self, req):
        path = req.path[1:] if req.path.startswith("/") else req.path
        values = {"protocol": req.protocol.lower(), "host": req.host_name or "",
                  "port": str(req.port), "path": path, "query": req.query_string}

        def sub(t):
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], t)
        p = self.parts
        url = f"{sub(p['Protocol']).lower()}://{sub(p['Host'])}:{sub(p['Port'])}{sub(p['Path'])}"
        q = sub(p["Query"])
        return f"{url}?{q}" if q else url


class FixedResponseAction:
    __slots__ = ("status", "content_type", "body")

    def __init__(self, status, content_type, body):
        self.status, self.content_type, self.body = status, content_type, body


def _int_field(v, lo, hi, where):
    if isinstance(v, str) and v.isdigit():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{where} must be an integer {lo}..{hi}, got {v!r}")
    return v


def _parse_forward(a, where, target_groups):
    arn = a.get("TargetGroupArn")
    fc = a.get("ForwardConfig")
    if fc is None:
        if arn is None:
            raise ValueError(f"{where}: forward needs TargetGroupArn or ForwardConfig")
        groups, sticky = [(arn, 1)], None
    else:
        if not isinstance(fc, dict):
            raise ValueError(f"{where}.ForwardConfig must be a dict")
        tgs = fc.get("TargetGroups")
        if not isinstance(tgs, (list, tuple)) or not 1 <= len(tgs) <= 5:
            raise ValueError(f"{where}.ForwardConfig.TargetGroups must list 1 to 5 target groups")
        groups = []
        for j, g in enumerate(tgs):
            gw = f"{where}.ForwardConfig.TargetGroups[{j}]"
            if not isinstance(g, dict) or "TargetGroupArn" not in g:
                raise ValueError(f"{gw} must be a dict with TargetGroupArn")
            w = _int_field(g.get("Weight", 1), 0, 999, f"{gw}.Weight")
            groups.append((g["TargetGroupArn"], w))
        if len({g for g, _ in groups}) != len(groups):
            raise ValueError(f"{where}.ForwardConfig.TargetGroups: a target group is listed twice")
        if arn is not None and (len(groups) != 1 or groups[0][0] != arn):
            raise ValueError(f"{where}: TargetGroupArn and ForwardConfig.TargetGroups disagree")
        if not any(w for _, w in groups):
            raise ValueError(f"{where}.ForwardConfig.TargetGroups: every Weight is 0 "
                             f"(at least one must be > 0)")
        sc = fc.get("TargetGroupStickinessConfig") or {}
        sticky = None
        if not isinstance(sc, dict):
            raise ValueError(f"{where}.ForwardConfig.TargetGroupStickinessConfig must be a dict")
        enabled = sc.get("Enabled", False)
        if enabled not in (True, False):
            raise ValueError(f"{where}.ForwardConfig.TargetGroupStickinessConfig.Enabled "
                             f"must be a bool")
        if enabled:
            sticky = _int_field(sc.get("DurationSeconds"), 1, STICKY_MAX,
                                f"{where}.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds")
    for g, _ in groups:
        if g not in target_groups:
            raise ValueError(f"{where}: TargetGroupArn {g!r} is not a known target group")
    return ForwardAction(groups, sticky)


def _parse_redirect(a, where, listener_protocol):
    rc = a.get("RedirectConfig")
    if not isinstance(rc, dict):
        raise ValueError(f"{where}.RedirectConfig must be a dict")
    for k in rc:
        if k not in ("Protocol", "Port", "Host", "Path", "Query", "StatusCode"):
            raise ValueError(f"{where}.RedirectConfig: unexpected key {k!r}")
    code = rc.get("StatusCode")
    if code not in ("HTTP_301", "HTTP_302"):
        raise ValueError(f"{where}.RedirectConfig.StatusCode must be HTTP_301 or HTTP_302, "
                         f"got {code!r}")
    parts = {}
    for comp, default in _REDIRECT_DEFAULT.items():
        v = rc.get(comp, default)
        cw = f"{where}.RedirectConfig.{comp}"
        if not isinstance(v, str) or (comp != "Query" and not v) or len(v) > 128:
            raise ValueError(f"{cw} must be a string of 1 to 128 characters, got {v!r}")
        for name in _PLACEHOLDER.findall(v):
            if name not in _REDIRECT_ALLOWED[comp]:
                raise ValueError(f"{cw}: #{{{name}}} is not allowed here")
        if comp == "Protocol" and v not in ("HTTP", "HTTPS", "#{protocol}"):
            raise ValueError(f"{cw} must be HTTP, HTTPS or #{{protocol}}, got {v!r}")
        if comp == "Port" and v != "#{port}":
            _int_field(v, 1, 65535, cw)
        if comp == "Path" and not v.startswith("/"):
            raise ValueError(f"{cw} must start with '/', got {v!r}")
        if comp == "Query" and v.startswith("?"):
            raise ValueError(f"{cw} must not include the leading '?'")
        parts[comp] = v
    if listener_protocol == "HTTPS" and parts["Protocol"] == "HTTP":
        raise ValueError(f"{where}.RedirectConfig.Protocol: can't redirect HTTPS to HTTP")
    if all(parts[c] == _REDIRECT_DEFAULT[c] for c in ("Protocol", "Port", "Host", "Path")):
        raise ValueError(f"{where}.RedirectConfig: modify at least one of Protocol, Port, "
                         f"Host or Path (else the redirect loops)")
    return RedirectAction(301 if code == "HTTP_301" else 302, parts)


def _parse_fixed(a, where):
    fc = a.get("FixedResponseConfig")
    if not isinstance(fc, dict):
        raise ValueError(f"{where}.FixedResponseConfig must be a dict")
    code = fc.get("StatusCode")
    if not isinstance(code, str) or not re.fullmatch(r"[245]\d\d", code):
        raise ValueError(f"{where}.FixedResponseConfig.StatusCode must be 2XX, 4XX or 5XX, "
                         f"got {code!r}")
    ct = fc.get("ContentType")
    if ct is not None and ct not in _CONTENT_TYPES:
        raise ValueError(f"{where}.FixedResponseConfig.ContentType must be one of "
                         f"{', '.join(_CONTENT_TYPES)}, got {ct!r}")
    body = fc.get("MessageBody", "")
    if not isinstance(body, str) or len(body) > 1024:
        raise ValueError(f"{where}.FixedResponseConfig.MessageBody must be a str of at most "
                         f"1024 characters")
    return FixedResponseAction(int(code), ct, body)


def parse_actions(actions, where, target_groups, listener_protocol="HTTP"):
    """Validate ``Actions`` (or ``DefaultActions``) → the terminal action object."""
    if not isinstance(actions, (list, tuple)) or not actions:
        raise ValueError(f"{where}.Actions must be a non-empty list")
    items = []
    for i, a in enumerate(actions):
        aw = f"{where}.Actions[{i}]"
        if not isinstance(a, dict):
            raise ValueError(f"{aw} must be a dict")
        t = a.get("Type")
        if t not in ("forward", "redirect", "fixed-response"):
            raise ValueError(f"{aw}.Type must be forward, redirect or fixed-response "
                             f"(authenticate-* actions are not modeled), got {t!r}")
        order = a.get("Order")
        if order is not None:
            order = _int_field(order, 1, 50000, f"{aw}.Order")
        items.append((order if order is not None else i + 1, i, a, aw))
    if len(items) != 1:
        raise ValueError(f"{where}.Actions: exactly one of forward, redirect, fixed-response "
                         f"per rule, got {len(items)}")
    _, _, a, aw = items[0]
    t = a["Type"]
    if t == "forward":
        return _parse_forward(a, aw, target_groups)
    if t == "redirect":
        return _parse_redirect(a, aw, listener_protocol)
    return _parse_fixed(a, aw)


class Listener:
    """A listener: ``port``, ``protocol`` (HTTP|HTTPS) and its compiled
    :class:`~lbcore.elb.rules.RuleSet`."""

    def __init__(self, port, protocol, ruleset):
        self.port, self.protocol, self.ruleset = port, protocol, ruleset

    @property
    def rules(self):
        return [*self.ruleset.rules, self.ruleset.default]


class _TGState:
    __slots__ = ("tg", "serial", "algorithm", "slow_start", "sticky", "sticky_seconds",
                 "cookie_name", "app_cookie", "pools", "cross_zone", "seed")


class ApplicationLoadBalancer:
    """An ALB over :class:`~lbcore.elb.TargetGroup` objects (protocol HTTP or HTTPS).

    ``target_groups``: {ARN or name: TargetGroup} (rules refer to these keys
    as ``TargetGroupArn``), or a list of target groups keyed by their name.
    ``seed``: every random choice (weighted target groups, weighted_random,
    LOR tie order) and the cookie tag key derive from it.
    Add listeners with :meth:`add_listener`; route with :meth:`route`, end a
    forwarded request with :meth:`complete`.
    """

    def __init__(self, target_groups, *, seed=0):
        if isinstance(target_groups, dict):
            items = list(target_groups.items())
        else:
            items = [(getattr(tg, "name", None), tg) for tg in target_groups]
        if not items:
            raise ValueError("target_groups must not be empty")
        self.seed = seed
        self._cookies = CookieCodec(seed)
        self._tgs = {}
        self._by_serial = []
        for key, tg in items:
            if not isinstance(tg, TargetGroup):
                raise TypeError(f"target_groups[{key!r}] must be a TargetGroup")
            if tg.family != "alb":
                raise ValueError(f"target_groups[{key!r}]: protocol must be HTTP or HTTPS "
                                 f"for an ALB, got {tg.protocol}")
            if key in self._tgs:
                raise ValueError(f"target_groups: {key!r} given twice")
            self._tgs[key] = self._tg_state(key, tg)
        self._listeners = {}
        self._nactions = 0

    def _derive_seed(self, label):
        return hash_key(f"{self.seed}:{label}")

    def _tg_state(self, key, tg):
        v = tg.attribute_values
        s = _TGState()
        s.tg = tg
        s.serial = len(self._by_serial)
        self._by_serial.append(s)
        s.algorithm = v["load_balancing.algorithm.type"]
        s.slow_start = v["slow_start.duration_seconds"]
        if s.algorithm == "least_outstanding_requests" and s.slow_start:
            raise ValueError(f"target_groups[{key!r}]: slow_start.duration_seconds can't be "
                             f"used with least_outstanding_requests")
        s.sticky = v["stickiness.enabled"]
        s.app_cookie = None
        if v["stickiness.type"] == "app_cookie":
            s.app_cookie = v["stickiness.app_cookie.cookie_name"]
            if s.sticky and not s.app_cookie:
                raise ValueError(f"target_groups[{key!r}]: stickiness.app_cookie.cookie_name "
                                 f"is required for app_cookie stickiness")
            s.sticky_seconds = v["stickiness.app_cookie.duration_seconds"]
            s.cookie_name = "AWSALBAPP-0"
        else:
            s.sticky_seconds = v["stickiness.lb_cookie.duration_seconds"]
            s.cookie_name = "AWSALB"
        s.cross_zone = tg.cross_zone is not False       # ALB level: always on
        s.seed = self._derive_seed(f"tg:{key}")
        s.pools = {}
        return s

    # ------------------------------------------------------------ configuration
    def add_listener(self, port=80, protocol="HTTP", *, default_actions, rules=()):
        """Add a listener. ``default_actions``: the listener's ``DefaultActions``;
        ``rules``: rule dicts as ``describe_rules`` returns them (a rule with
        ``IsDefault: true`` among them replaces ``default_actions``; pass
        ``default_actions=None`` then)."""
        port = _int_field(port, 1, 65535, "port")
        if protocol not in ("HTTP", "HTTPS"):
            raise ValueError(f"protocol must be HTTP or HTTPS, got {protocol!r}")
        if port in self._listeners:
            raise ValueError(f"port: a listener on {port} exists")
        if isinstance(rules, dict):
            rules = [rules]

        def ap(actions, where):
            act = parse_actions(actions, where, self._tgs, protocol)
            if isinstance(act, ForwardAction):
                self._prepare_forward(act)
            return act
        parsed, default = [], None
        for i, r in enumerate(rules):
            rule = parse_rule(r, f"Rules[{i}]", ap)
            if rule.priority is None:
                if default is not None:
                    raise ValueError(f"Rules[{i}]: a second default rule")
                default = rule
            else:
                parsed.append(rule)
        if default is None:
            if default_actions is None:
                raise ValueError("default_actions is required (no IsDefault rule in rules)")
            default = Rule(None, [], ap(default_actions, "DefaultActions"))
        elif default_actions is not None:
            raise ValueError("default_actions given and rules contain the default rule")
        lst = Listener(port, protocol, RuleSet(parsed, default))
        self._listeners[port] = lst
        return lst

    def _prepare_forward(self, act):
        self._nactions += 1
        act.id = self._nactions
        act.states = tuple(self._tgs[k] for k, _ in act.groups)
        if len(act.groups) > 1:
            act.picker = WeightedRandom(list(range(len(act.groups))),
                                        [float(w) for _, w in act.groups],
                                        seed=self._derive_seed(f"action:{act.id}"))

    @property
    def listeners(self):
        return dict(self._listeners)

    # ------------------------------------------------------------ routing
    def route(self, request, now, *, zone=None):
        """The decision for ``request`` at time ``now`` (seconds).

        ``zone``: the Availability Zone of the load balancer node that
        received the request; it matters only for target groups with
        ``load_balancing.cross_zone.enabled = false``."""
        if type(request) is not Request and not isinstance(request, Request):
            raise TypeError(f"request must be a Request, got {type(request).__name__}")
        if type(now) is not float or now != now or now in (_INF, -_INF):
            now = _check_now(now)
        lst = self._listeners.get(request.port)
        if lst is None:
            raise ValueError(f"request.port: no listener on port {request.port}")
        rule = lst.ruleset.match(request)
        act = rule.action
        if type(act) is ForwardAction:
            return self._forward(act, rule.priority, request, now, zone)
        if type(act) is RedirectAction:
            return Redirect(act.status, act.location(request), rule.priority)
        return FixedResponse(act.status, act.content_type, act.body, rule.priority)

    def _forward(self, act, priority, request, now, zone):
        cookies = ()
        if act.picker is None:
            gi = 0
        else:
            gi = -1
            if act.stickiness is not None:
                got = self._cookies.decode(request.cookies.get("AWSALBTG"))
                if got is not None and got[0] == act.id and got[2] > now \
                        and got[1] < len(act.groups) and act.groups[got[1]][1] > 0:
                    gi = got[1]
            if gi < 0:
                gi = act.picker.pick_index()
            if act.stickiness is not None:
                cookies = (SetCookie("AWSALBTG", self._cookies.encode(
                    act.id, gi, now + act.stickiness), act.stickiness),)
        s = act.states[gi]
        tg = s.tg
        tg._advance_clock(now)
        key = zone if (zone is not None and not s.cross_zone) else None
        pool = s.pools.get(key)
        if pool is None:
            pool = s.pools[key] = Pool(tg, s.algorithm, s.slow_start, key,
                                       s.seed ^ hash_key(str(key)))
        if pool.version != tg.version:
            pool.sync(now)
        if not pool.any and key is not None:
            # no eligible target in this zone: lbcore serves from every zone
            # (AWS would have taken the zone's node out of DNS).
            pool = s.pools.get(None)
            if pool is None:
                pool = s.pools[None] = Pool(tg, s.algorithm, s.slow_start, None, s.seed)
            pool.sync(now)
        if not pool.any:
            return FixedResponse(503, "text/plain", "", priority)
        idx = -1
        charged = False
        if s.sticky:
            present = True
            if s.app_cookie is not None:
                present = s.app_cookie in request.cookies
            got = self._cookies.decode(request.cookies.get(s.cookie_name)) if present else None
            if got is not None and got[0] == s.serial and got[2] > now \
                    and got[1] < len(pool.avail) and pool.avail[got[1]]:
                idx = got[1]
                charged = pool.stick(idx)
        if idx < 0:
            if pool.lor:
                idx = pool.kernel.acquire_index()
                charged = True
            elif pool.slow_start:
                idx = pool.kernel.pick_index(now)
            else:
                idx = pool.kernel.pick_index()   # no slow start: the time is not needed
            if idx < 0:
                return FixedResponse(503, "text/plain", "", priority)
        if s.sticky:
            cookies += (SetCookie(s.cookie_name, self._cookies.encode(
                s.serial, idx, now + s.sticky_seconds), s.sticky_seconds),)
        # _done: (the kernel counted it, completed)
        return Forward(tg, tg._targets[idx], cookies, priority, pool.fail_open,
                       pool, idx, (charged, False))

    def complete(self, decision):
        """End a forwarded request (least outstanding requests stops counting
        it). Redirects and fixed responses need no completion (no-op)."""
        if not isinstance(decision, Forward):
            if isinstance(decision, (Redirect, FixedResponse)):
                return
            raise TypeError(f"decision must be a Forward, got {type(decision).__name__}")
        if decision._pool is None:
            raise ValueError("decision was not made by a load balancer")
        charged, done = decision._done
        if done:
            raise ValueError("decision: request already completed")
        decision._done = (charged, True)
        pool = decision._pool
        if pool.lor:
            pool.release(decision._index, charged)

    def outstanding(self, target_group_key, target_id):
        """Requests forwarded to a target and not completed (LOR target groups)."""
        s = self._tgs[target_group_key]
        i = s.tg.index_of(target_id)
        n = 0
        for pool in s.pools.values():
            if pool.kernel is not None and pool.lor:
                n += pool.kernel.outstanding(i)
        return n

    def decode_cookie(self, value):
        """Decode an AWSALB / AWSALBAPP-0 / AWSALBTG value this load balancer
        issued: ``(a, b, expiry)`` (target group serial and target index, or
        forward action id and target group position), None if not ours."""
        return self._cookies.decode(value)
