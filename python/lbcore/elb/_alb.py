"""Application Load Balancer: listeners, compiled listener rules, actions
(forward to one or several weighted target groups, redirect, fixed response),
per-target-group algorithms, slow start, stickiness, cross-zone and fail open.
Semantics and sources: docs/alb.md; rule compilation: docs/alb-rules.md.

One request, top down: :meth:`ApplicationLoadBalancer.route` matches the
listener's rules (``_rules``), takes the matched action (``_actions``), asks the
target group's pools for the one that decides (``_pool``, which advances the
target group and mirrors its health), picks or honours a stickiness cookie
(``_cookies``) and returns a decision (``_decisions``). No module below calls
back up.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from lbcore import WeightedRandom, hash_key
from lbcore.elb._actions import (FixedResponseAction, ForwardAction, RedirectAction,
                                 int_field, parse_actions)
from lbcore.elb._cookies import CookieCodec
from lbcore.elb._decisions import (FixedResponse, Forward, HTTPDecision, Redirect,
                                   SetCookie, forward)
from lbcore.elb._pool import TargetGroupPools
from lbcore.elb._request import Request
from lbcore.elb._rules import Rule, RuleSet, parse_rule
from lbcore.elb._targets import Clock, TargetGroup, check_clock, check_now

__all__ = ["ApplicationLoadBalancer", "Listener"]


class Listener:
    """A listener: ``port``, ``protocol`` (HTTP|HTTPS) and its compiled
    :class:`~lbcore.elb.RuleSet`."""

    def __init__(self, port: int, protocol: str, ruleset: RuleSet) -> None:
        self.port, self.protocol, self.ruleset = port, protocol, ruleset
        # a listener with only its default rule needs no matching
        self.only_default: Rule | None = None if len(ruleset) > 1 else ruleset.default

    @property
    def rules(self) -> list[Rule]:
        return [*self.ruleset.rules, self.ruleset.default]


class _TGState:
    """A target group as this load balancer routes to it: its serial (in
    cookies), stickiness settings and pools."""

    __slots__ = ("tg", "serial", "sticky", "sticky_seconds", "cookie_name", "app_cookie",
                 "pools")

    def __init__(self, key: Any, tg: TargetGroup, serial: int, seed: int) -> None:
        v = tg.attribute_values
        algorithm = v["load_balancing.algorithm.type"]
        slow_start = v["slow_start.duration_seconds"]
        if algorithm == "least_outstanding_requests" and slow_start:
            raise ValueError(f"target_groups[{key!r}]: slow_start.duration_seconds can't be "
                             f"used with least_outstanding_requests")
        self.tg = tg
        self.serial = serial
        self.sticky: bool = v["stickiness.enabled"]
        self.app_cookie: str | None = None
        if v["stickiness.type"] == "app_cookie":
            self.app_cookie = v["stickiness.app_cookie.cookie_name"]
            if self.sticky and not self.app_cookie:
                raise ValueError(f"target_groups[{key!r}]: stickiness.app_cookie.cookie_name "
                                 f"is required for app_cookie stickiness")
            self.sticky_seconds: int = v["stickiness.app_cookie.duration_seconds"]
            self.cookie_name = "AWSALBAPP-0"
        else:
            self.sticky_seconds = v["stickiness.lb_cookie.duration_seconds"]
            self.cookie_name = "AWSALB"
        self.pools = TargetGroupPools(
            tg, algorithm, slow_start, lambda zone: seed ^ hash_key(str(zone)),
            cross_zone=tg.cross_zone is not False,      # ALB level: always on
            fail_open=True, zone_fallback=True)


class ApplicationLoadBalancer:
    """An ALB over :class:`~lbcore.elb.TargetGroup` objects (protocol HTTP or HTTPS).

    ``target_groups``: {ARN or name: TargetGroup} (rules refer to these keys
    as ``TargetGroupArn``), or a list of target groups keyed by their name.
    ``seed``: every random choice (weighted target groups, weighted_random,
    LOR tie order) and the cookie tag key derive from it. ``clock``: where
    :meth:`route` reads ``now`` when it is not given (default
    :func:`time.monotonic`).
    Add listeners with :meth:`add_listener`; route with :meth:`route`, end a
    forwarded request with :meth:`complete`.
    """

    def __init__(self, target_groups: Mapping[Any, TargetGroup] | Iterable[TargetGroup], *,
                 seed: int = 0, clock: Clock | None = None) -> None:
        if isinstance(target_groups, Mapping):
            items = list(target_groups.items())
        else:
            items = [(getattr(tg, "name", None), tg) for tg in target_groups]
        if not items:
            raise ValueError("target_groups must not be empty")
        self.seed = seed
        self._clock = check_clock(clock)
        self._cookies = CookieCodec(seed)
        self._tgs: dict[Any, _TGState] = {}
        for key, tg in items:
            if not isinstance(tg, TargetGroup):
                raise TypeError(f"target_groups[{key!r}] must be a TargetGroup")
            if tg.family != "alb":
                raise ValueError(f"target_groups[{key!r}]: protocol must be HTTP or HTTPS "
                                 f"for an ALB, got {tg.protocol}")
            if key in self._tgs:
                raise ValueError(f"target_groups: {key!r} given twice")
            self._tgs[key] = _TGState(key, tg, len(self._tgs),
                                      self._derive_seed(f"tg:{key}"))
        self._listeners: dict[int, Listener] = {}
        self._nactions = 0

    def _derive_seed(self, label: str) -> int:
        return int(hash_key(f"{self.seed}:{label}"))

    # ------------------------------------------------------------ configuration
    def add_listener(self, port: int = 80, protocol: str = "HTTP", *,
                     default_actions: Sequence[Mapping[str, Any]] | None,
                     rules: Sequence[Mapping[str, Any]] | Mapping[str, Any] = ()) -> Listener:
        """Add a listener. ``default_actions``: the listener's ``DefaultActions``;
        ``rules``: rule dicts as ``describe_rules`` returns them (a rule with
        ``IsDefault: true`` among them replaces ``default_actions``; pass
        ``default_actions=None`` then)."""
        port = int_field(port, 1, 65535, "port")
        if protocol not in ("HTTP", "HTTPS"):
            raise ValueError(f"protocol must be HTTP or HTTPS, got {protocol!r}")
        if port in self._listeners:
            raise ValueError(f"port: a listener on {port} exists")
        if isinstance(rules, Mapping):
            rules = [rules]

        def ap(actions: Any, where: str) -> Any:
            act = parse_actions(actions, where, self._tgs, protocol)
            if isinstance(act, ForwardAction):
                self._prepare_forward(act)
            return act
        parsed: list[Rule] = []
        default: Rule | None = None
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

    def _prepare_forward(self, act: ForwardAction) -> None:
        self._nactions += 1
        act.id = self._nactions
        act.states = tuple(self._tgs[k] for k, _ in act.groups)
        if len(act.groups) > 1:
            act.picker = WeightedRandom(list(range(len(act.groups))),
                                        [float(w) for _, w in act.groups],
                                        seed=self._derive_seed(f"action:{act.id}"))

    @property
    def listeners(self) -> dict[int, Listener]:
        return dict(self._listeners)

    @property
    def clock(self) -> Clock:
        return self._clock

    # ------------------------------------------------------------ routing
    def route(self, request: Request, now: float | None = None, *,
              zone: str | None = None) -> HTTPDecision:
        """The decision for ``request`` at time ``now`` (seconds; omitted: the
        load balancer's clock).

        ``zone``: the Availability Zone of the load balancer node that
        received the request; it matters only for target groups with
        ``load_balancing.cross_zone.enabled = false``."""
        if type(request) is not Request and not isinstance(request, Request):
            raise TypeError(f"request must be a Request, got {type(request).__name__}")
        if now is None:
            now = self._clock()
        if type(now) is not float or now - now != 0.0:     # not a finite float
            now = check_now(now)
        lst = self._listeners.get(request.port)
        if lst is None:
            raise ValueError(f"request.port: no listener on port {request.port}")
        rule = lst.only_default or lst.ruleset.match(request)
        act = rule.action
        if type(act) is not ForwardAction:
            if type(act) is RedirectAction:
                return Redirect(act.status, act.location(request), rule.priority)
            assert isinstance(act, FixedResponseAction)
            return FixedResponse(act.status, act.content_type, act.body, rule.priority)
        cookies: tuple[SetCookie, ...] = ()
        if act.picker is None:
            s = act.states[0]
        else:
            gi = -1
            if act.stickiness is not None:
                got = self._cookies.decode(request.cookies.get("AWSALBTG"))
                if got is not None and got[0] == act.id and got[2] > now \
                        and got[1] < len(act.groups) and act.groups[got[1]][1] > 0:
                    gi = got[1]
            if gi < 0:
                gi = act.picker.pick_index(now)
            if act.stickiness is not None:
                cookies = (SetCookie("AWSALBTG", self._cookies.encode(
                    act.id, gi, now + act.stickiness), act.stickiness),)
            s = act.states[gi]
        if s.sticky:
            sticky = -1
            if s.app_cookie is None or s.app_cookie in request.cookies:
                got = self._cookies.decode(request.cookies.get(s.cookie_name))
                if got is not None and got[0] == s.serial and got[2] > now:
                    sticky = got[1]
            pool, idx = s.pools.pick(zone, now, sticky)
            if idx < 0:
                return FixedResponse(503, "text/plain", "", rule.priority)
            cookies += (SetCookie(s.cookie_name, self._cookies.encode(
                s.serial, idx, now + s.sticky_seconds), s.sticky_seconds),)
        else:
            pool, idx = s.pools.pick(zone, now)
            if idx < 0:
                return FixedResponse(503, "text/plain", "", rule.priority)
        assert pool is not None
        return forward(s.tg, pool.targets[idx], cookies, rule.priority, pool.fail_open,
                       pool.release, idx)

    def complete(self, decision: HTTPDecision) -> None:
        """End a forwarded request (the target group's pool stops counting it).
        Redirects and fixed responses need no completion (no-op)."""
        if type(decision) is Forward or isinstance(decision, Forward):
            decision.release()
        elif not isinstance(decision, (Redirect, FixedResponse)):
            raise TypeError(f"decision must be a Forward, got {type(decision).__name__}")

    def outstanding(self, target_group_key: Any, target_id: str | int) -> int:
        """Requests forwarded to a target and not completed (LOR target groups)."""
        s = self._tgs[target_group_key]
        return s.pools.outstanding(s.tg.index_of(target_id))

    def decode_cookie(self, value: str) -> tuple[int, int, float] | None:
        """Decode an AWSALB / AWSALBAPP-0 / AWSALBTG value this load balancer
        issued: ``(a, b, expiry)`` (target group serial and target index, or
        forward action id and target group position), None if not ours."""
        return self._cookies.decode(value)
