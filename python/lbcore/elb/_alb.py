"""Application Load Balancer: listeners, compiled listener rules, actions
(forward to one or several weighted target groups, redirect, fixed response),
per-target-group algorithms, slow start, stickiness, cross-zone and fail open.
Semantics and sources: docs/alb.md; rule compilation: docs/alb-rules.md.

One request, top down: :meth:`ApplicationLoadBalancer.route` matches the
listener's rules (``_rules``), takes the matched action (``_actions``), asks the
target group's pools for the one that decides (``_pool``, which advances the
target group and mirrors its health) -- through ``_cookies`` when stickiness
applies, which honours or sets the cookies and asks the pools itself -- and
returns a decision (``_decisions``). No module below calls back up, and one
request enters each module at most once (tests/policies/test_route_path.py).
"""
from __future__ import annotations

import threading
import functools
from typing import Any, Iterable, Mapping, Sequence

from lbcore import WeightedRandom, hash_key
from lbcore.elb._anomaly import (AnomalyDetector, AnomalySettings, check_outcome,
                                 describe_target_health)
from lbcore.elb._actions import (FixedResponseAction, ForwardAction, RedirectAction,
                                 int_field, parse_actions)
from lbcore.elb._cookies import CookieCodec
from lbcore.elb._decisions import (FixedResponse, Forward, HTTPDecision, Redirect,
                                   SetCookie, complete, forward)
from lbcore.elb._pool import TargetGroupPools
from lbcore.elb._request import Request
from lbcore.elb._rules import Rule, RuleSet, parse_rule
from lbcore.elb._targets import Clock, PickleWithoutLock, TargetGroup, check_clock, check_now

__all__ = ["ApplicationLoadBalancer", "Listener"]


class Listener:
    """A listener: ``port``, ``protocol`` (HTTP|HTTPS) and its compiled
    :class:`~lbcore.elb.RuleSet`."""

    def __init__(self, port: int, protocol: str, ruleset: RuleSet) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if protocol not in ("HTTP", "HTTPS"):
            raise ValueError(f"protocol must be 'HTTP' or 'HTTPS', got {protocol!r}")
        if not isinstance(ruleset, RuleSet):
            raise TypeError(f"ruleset must be a RuleSet, got {type(ruleset).__name__}")
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
                 "pools", "anomaly")

    def __init__(self, key: Any, tg: TargetGroup, serial: int, seed: int,
                 anomaly: AnomalySettings) -> None:
        v = tg.attribute_values
        algorithm = v["load_balancing.algorithm.type"]
        slow_start = v["slow_start.duration_seconds"]
        if algorithm == "least_outstanding_requests" and slow_start:
            raise ValueError(f"target_groups[{key!r}]: slow_start.duration_seconds can't be "
                             f"used with least_outstanding_requests")
        mitigation = v["load_balancing.algorithm.anomaly_mitigation"] == "on"
        if mitigation and slow_start:
            # ALB guide, routing algorithms: weighted random with anomaly mitigation
            # does not support slow start mode (docs/alb.md, "Automatic target weights")
            raise ValueError(f"target_groups[{key!r}]: slow_start.duration_seconds can't be "
                             f"used with load_balancing.algorithm.anomaly_mitigation on")
        # automatic target weights: detection on every weighted_random group,
        # mitigation when anomaly_mitigation is on
        self.anomaly: AnomalyDetector | None = AnomalyDetector(tg, mitigation, anomaly) \
            if algorithm == "weighted_random" else None
        self.tg = tg
        self.serial = serial
        self.sticky: bool = v["stickiness.enabled"]
        if self.sticky and tg.cross_zone is False:
            # ALB guide, cross-zone load balancing for target groups
            raise ValueError(f"target_groups[{key!r}]: stickiness.enabled needs cross-zone "
                             f"load balancing (load_balancing.cross_zone.enabled is false)")
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
            tg, algorithm, slow_start, functools.partial(_zone_seed, seed),
            cross_zone=tg.cross_zone is not False,      # ALB level: always on
            fail_open=True, zone_fallback=True, anomaly=self.anomaly)


def _zone_seed(seed: int, zone: object) -> int:
    """The seed of a zone's pool (a module-level function so the ALB pickles)."""
    return seed ^ hash_key(str(zone))


class ApplicationLoadBalancer(PickleWithoutLock):
    """An ALB over :class:`~lbcore.elb.TargetGroup` objects (protocol HTTP or HTTPS).

    ``target_groups``: {ARN or name: TargetGroup} (rules refer to these keys
    as ``TargetGroupArn``), or a list of target groups keyed by their name.
    ``seed``: every random choice (weighted target groups, weighted_random,
    LOR tie order) and the cookie tag key derive from it. ``clock``: where
    :meth:`route` reads ``now`` when it is not given (default
    :func:`time.monotonic`). ``anomaly``: lbcore's parameters of automatic target
    weights for weighted_random target groups (an :class:`AnomalySettings`;
    docs/alb.md, "Automatic target weights").
    Add listeners with :meth:`add_listener`; route with :meth:`route`, end a
    forwarded request with :meth:`complete` (with its ``outcome`` to feed anomaly
    detection).
    """

    def __init__(self, target_groups: Mapping[Any, TargetGroup] | Iterable[TargetGroup], *,
                 seed: int = 0, clock: Clock | None = None,
                 anomaly: AnomalySettings | None = None) -> None:
        if isinstance(target_groups, Mapping):
            items = list(target_groups.items())
        else:
            items = [(getattr(tg, "name", None), tg) for tg in target_groups]
        if not items:
            raise ValueError("target_groups must not be empty")
        self.seed = seed
        self._clock = check_clock(clock)
        self._cookies = CookieCodec(seed)
        if anomaly is None:
            anomaly = AnomalySettings()
        elif not isinstance(anomaly, AnomalySettings):
            raise TypeError(f"anomaly must be an AnomalySettings, got {type(anomaly).__name__}")
        self.anomaly_settings = anomaly
        self._tgs: dict[Any, _TGState] = {}
        self._detectors: dict[int, AnomalyDetector] = {}    # id(target group) -> ATW
        for key, tg in items:
            if not isinstance(tg, TargetGroup):
                raise TypeError(f"target_groups[{key!r}] must be a TargetGroup")
            if tg.family != "alb":
                raise ValueError(f"target_groups[{key!r}]: protocol must be HTTP or HTTPS "
                                 f"for an ALB, got {tg.protocol}")
            if key in self._tgs:
                raise ValueError(f"target_groups: {key!r} given twice")
            s = self._tgs[key] = _TGState(key, tg, len(self._tgs),
                                          self._derive_seed(f"tg:{key}"), anomaly)
            if s.anomaly is not None:
                self._detectors[id(tg)] = s.anomaly
        self._listeners: dict[int, Listener] = {}
        self._nactions = 0
        # The thread rule: one ALB may be shared by threads. route and add_listener hold
        # this lock (target-group clocks, weighted picks, cookies and LOR leases change
        # together); complete() releases a lease with one compiled call (atomic).
        self._lock = threading.Lock()

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
        with self._lock:
            if port in self._listeners:
                raise ValueError(f"port: a listener on {port} exists")
            if isinstance(rules, Mapping):
                rules = [rules]

            def ap(actions: Any, where: str) -> Any:
                act = parse_actions(actions, where, self._tgs, protocol)
                if isinstance(act, ForwardAction):
                    sticky = [k for k, _ in act.groups if self._tgs[k].sticky]
                    if len(act.groups) > 1 and sticky and act.stickiness is None:
                        # ALB guide, sticky sessions: weighted target groups
                        raise ValueError(f"{where}.ForwardConfig.TargetGroupStickinessConfig: "
                                         f"target group stickiness must be enabled to forward to "
                                         f"several target groups with stickiness on ({sticky[0]!r})")
                    self._prepare_forward(act)
                return act
            parsed: list[Rule] = []
            default: Rule | None = None
            for i, r in enumerate(rules):
                rule = parse_rule(r, f"Rules[{i}]", ap)
                if rule.transforms is not None and isinstance(rule.action, ForwardAction):
                    rule.action.plain = None        # the transforms run in _act
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
        if len(act.groups) == 1 and not act.states[0].sticky:
            # the per-request path in one call (TargetGroupPools.forward)
            act.plain = act.states[0].pools.forward
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
        with self._lock:     # the thread rule (see __init__)
            if now is None:
                now = self._clock()
            if type(now) is not float or now - now != 0.0:     # not a finite float
                now = check_now(now)
            try:
                lst = self._listeners[request.port]
            except KeyError:
                raise ValueError(f"request.port: no listener on port {request.port}") from None
            rule = lst.only_default or lst.ruleset.match(request)
            act = rule.action
            if type(act) is ForwardAction and act.plain is not None:
                # one target group, no stickiness, no transforms: no cookies to read or set
                d = act.plain(zone, now, rule.priority)
                if d is None:
                    return FixedResponse(503, "text/plain", "", rule.priority)
                return d
            return self._act(rule, request, now, zone)

    def _act(self, rule: Rule, request: Request, now: float,
             zone: str | None) -> HTTPDecision:
        """The decision of ``rule``'s action (route's path for every action but
        the plain forward): rule transforms, redirects, fixed responses,
        weighted and sticky forwards."""
        act = rule.action
        rewritten = None
        if rule.transforms is not None and type(act) is ForwardAction:
            rewritten = rule.transforms.apply(request)
            if rewritten is None:           # a pattern matched, the rewrite failed
                return FixedResponse(500, "text/plain", "", rule.priority)
            if rewritten is request:        # no pattern matched: the original is sent
                rewritten = None
        if type(act) is not ForwardAction:
            if type(act) is RedirectAction:
                return Redirect(act.status, act.location(request), rule.priority)
            assert isinstance(act, FixedResponseAction)
            return FixedResponse(act.status, act.content_type, act.body, rule.priority)
        if act.picker is None:
            s = act.states[0]
        elif act.stickiness is None:
            s = act.states[act.picker.pick_index(now)]
        else:
            s = None                    # the AWSALBTG cookie may decide the group
        if s is not None and not s.sticky:
            d = s.pools.forward(zone, now, rule.priority)
            if d is None:
                return FixedResponse(503, "text/plain", "", rule.priority)
            if rewritten is not None:
                d.rewritten = rewritten
            return d
        s, pool, idx, cookies = self._cookies.stick(request.cookies, act, s, zone, now,
                                                    SetCookie)
        if idx < 0:
            return FixedResponse(503, "text/plain", "", rule.priority)
        assert pool is not None
        d = forward(s.tg, pool.targets[idx], cookies, rule.priority, pool.fail_open,
                    pool.release, idx)
        if rewritten is not None:
            d.rewritten = rewritten
        return d

    def is_healthy(self, now: float | None = None) -> bool:
        """Route 53 alias EvaluateTargetHealth: healthy when every target group its
        listeners' rules forward to has at least one healthy target at ``now``
        (omitted: the ALB's clock); a target group with no registered targets is
        unhealthy (Route 53 guide, "Evaluate target health", Application and Network
        Load Balancers); an ALB without listeners is unhealthy (nothing answers)."""
        t = check_now(self._clock() if now is None else now)
        if not self._listeners:
            return False
        used = {id(s): s for lst in self._listeners.values() for rule in lst.rules
                if isinstance(rule.action, ForwardAction) for s in rule.action.states}
        return all(s.tg.has_healthy(t) for s in used.values())

    def complete(self, decision: HTTPDecision, outcome: int | str | None = None, *,
                 now: float | None = None) -> None:
        """End a forwarded request (a no-op for redirects and fixed responses).

        ``outcome``: how it ended, for the automatic target weights of a
        weighted_random target group: the HTTP status code the target sent (5xx
        counts as an error), ``"connection_error"`` or ``"timeout"``; at ``now``
        (omitted: the load balancer's clock). None: not reported (the request only
        stops being counted)."""
        if outcome is None:
            complete(decision)
            return
        if type(outcome) is int and 100 <= outcome <= 599:
            error = outcome >= 500
        else:
            error = check_outcome(outcome)          # or TypeError/ValueError
        if type(decision) is not Forward and not isinstance(decision, Forward):
            complete(decision)          # redirects, fixed responses: nothing to report
            return
        with self._lock:
            if now is None:
                now = self._clock()
            if type(now) is not float or now - now != 0.0:     # not a finite float
                now = check_now(now)
            complete(decision)
            detector = self._detectors.get(id(decision.target_group))
            if detector is not None:
                detector.record(decision.index, error, now)

    def describe_target_health(self, target_group_key: Any,
                               now: float | None = None) -> list[dict[str, Any]]:
        """``describe_target_health(TargetGroupArn=...)['TargetHealthDescriptions']``
        of one target group: each registered or draining target's ``Target`` and
        ``TargetHealth.State`` and, on a weighted_random group, its
        ``AnomalyDetection`` (``Result`` normal | anomalous, ``MitigationInEffect``
        yes | no) as this load balancer's automatic target weights see it."""
        try:
            s = self._tgs[target_group_key]
        except (KeyError, TypeError):
            raise KeyError(f"target_group_key: {target_group_key!r} is not a target group "
                           f"of this load balancer") from None
        with self._lock:
            return describe_target_health(s.tg, s.anomaly, now)

    def outstanding(self, target_group_key: Any, target_id: str | int) -> int:
        """Requests forwarded to a target and not completed (LOR target groups)."""
        s = self._tgs[target_group_key]
        return s.pools.outstanding(s.tg.index_of(target_id))

    def decode_cookie(self, value: str) -> tuple[int, int, float] | None:
        """Decode an AWSALB / AWSALBAPP-0 / AWSALBTG value this load balancer
        issued: ``(a, b, expiry)`` (target group serial and target index, or
        forward action id and target group position), None if not ours."""
        return self._cookies.decode(value)
