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

from lbcore import RequestSelector, WeightedRandom, hash_key
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
from lbcore.elb._targets import (Clock, PickleWithoutLock, Target, TargetGroup,
                                 check_alb_attributes, check_clock, check_now)

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
    cookies), stickiness settings, automatic target weights and pools."""

    __slots__ = ("tg", "serial", "sticky", "sticky_seconds", "cookie_name", "app_cookie",
                 "pools", "anomaly", "anomaly_settings", "key")

    def __init__(self, key: Any, tg: TargetGroup, serial: int, seed: int,
                 anomaly: AnomalySettings) -> None:
        v = tg.attribute_values
        self.key = key
        self.tg = tg
        self.serial = serial
        self.anomaly_settings = anomaly
        self._read(v)
        self.anomaly = self._detector(v)
        self.pools = TargetGroupPools(
            tg, v["load_balancing.algorithm.type"], v["slow_start.duration_seconds"],
            functools.partial(_zone_seed, seed),
            cross_zone=tg.cross_zone is not False,      # ALB level: always on
            fail_open=True, zone_fallback=True, anomaly=self.anomaly)

    def _detector(self, v: Mapping[str, Any]) -> AnomalyDetector | None:
        # automatic target weights: detection on every weighted_random group,
        # mitigation when anomaly_mitigation is on
        if v["load_balancing.algorithm.type"] != "weighted_random":
            return None
        return AnomalyDetector(self.tg, v["load_balancing.algorithm.anomaly_mitigation"] == "on",
                               self.anomaly_settings)

    def _read(self, v: Mapping[str, Any]) -> None:
        # the stickiness settings of the target group's attribute values
        check_alb_attributes(v, f"target_groups[{self.key!r}]")
        self.sticky: bool = v["stickiness.enabled"]
        self.app_cookie: str | None = None
        if v["stickiness.type"] == "app_cookie":
            self.app_cookie = v["stickiness.app_cookie.cookie_name"]
            self.sticky_seconds: int = v["stickiness.app_cookie.duration_seconds"]
            self.cookie_name = "AWSALBAPP-0"
        else:
            self.sticky_seconds = v["stickiness.lb_cookie.duration_seconds"]
            self.cookie_name = "AWSALB"

    def stale(self) -> bool:
        """The target group's attributes changed since this state last read them."""
        return self.pools.attributes_seen != self.tg.attributes_version

    def refresh(self, now: float) -> None:
        """Re-read the target group's attributes (stickiness, algorithm, slow start,
        anomaly mitigation), keeping the pools' outstanding requests and the serial
        cookies name. A new algorithm starts automatic target weights afresh; turning
        mitigation off restores every weight (detection goes on)."""
        tg = self.tg
        seen = tg.attributes_version
        v = tg.attribute_values
        self._read(v)
        algorithm = v["load_balancing.algorithm.type"]
        if algorithm != self.pools.algorithm:
            self.anomaly = self._detector(v)
            self.pools.set_anomaly(self.anomaly)
        elif self.anomaly is not None:
            self.anomaly.set_mitigation(
                v["load_balancing.algorithm.anomaly_mitigation"] == "on", now)
        self.pools.set_algorithm(algorithm, v["slow_start.duration_seconds"], now)
        self.pools.attributes_seen = seen


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
        # id(target group) -> its state here (complete finds the group's current
        # automatic target weights through it: an algorithm change replaces them)
        self._by_group: dict[int, _TGState] = {}
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
            self._by_group.setdefault(id(tg), s)
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
            parsed: list[Rule] = []
            default: Rule | None = None
            for i, r in enumerate(rules):
                rule = self._parse_rule(r, f"Rules[{i}]", protocol)
                if rule.priority is None:
                    if default is not None:
                        raise ValueError(f"Rules[{i}]: a second default rule")
                    default = rule
                else:
                    parsed.append(rule)
            if default is None:
                if default_actions is None:
                    raise ValueError("default_actions is required (no IsDefault rule in rules)")
                default = Rule(None, [], self._parse_action(default_actions, "DefaultActions",
                                                            protocol))
            elif default_actions is not None:
                raise ValueError("default_actions given and rules contain the default rule")
            return self._set_rules(port, protocol, parsed, default)

    def _parse_action(self, actions: Any, where: str, protocol: str) -> Any:
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

    def _parse_rule(self, r: Any, where: str, protocol: str,
                    keep_action: Any = None) -> Rule:
        # one describe_rules dict -> Rule (its action parsed, or keep_action kept)
        if keep_action is not None:
            return parse_rule(r, where, lambda actions, w: keep_action)
        return parse_rule(r, where, lambda actions, w: self._parse_action(actions, w, protocol))

    def _set_rules(self, port: int, protocol: str, rules: list[Rule],
                   default: Rule) -> Listener:
        # compile and swap in a listener's rules (caller holds _lock): a request sees
        # the old rule set or the new one, never a mix
        lst = Listener(port, protocol, RuleSet(rules, default))
        for rule in lst.rules:
            self._settle(rule)
        self._listeners[port] = lst
        return lst

    def _settle(self, rule: Rule) -> None:
        # the per-request shortcut of a forward (one target group, no stickiness, no
        # transforms: TargetGroupPools.forward), or None for the general path (_act)
        act = rule.action
        if isinstance(act, ForwardAction):
            s = act.states[0]
            act.plain = s.pools.forward if len(act.groups) == 1 and not s.sticky and \
                rule.transforms is None else None

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

    # ------------------------------------------------------------ reconfiguration
    # docs/elb.md, "Changing a running balancer": every change below is made under the
    # lock and swaps in whole objects (a rule set, a target group state), so a request
    # is decided by the old configuration or the new one. Outstanding requests,
    # stickiness cookies and the target groups' health are kept.
    def _refresh(self, now: float) -> bool:
        # apply the attributes of every target group that changed since this ALB last
        # read them (caller holds _lock); True when one did
        stale = [s for s in self._tgs.values() if s.stale()]
        for s in stale:
            s.refresh(now)
        if stale:
            for lst in self._listeners.values():
                for rule in lst.rules:
                    self._settle(rule)
        return bool(stale)

    def _listener_at(self, port: object) -> Listener:
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be an int, got {type(port).__name__}")
        try:
            return self._listeners[port]
        except KeyError:
            raise KeyError(f"port: no listener on port {port}") from None

    @staticmethod
    def _rule_index(lst: Listener, rule: object, name: str = "rule") -> int:
        # a non-default rule of lst named by its priority or its RuleArn
        if isinstance(rule, bool) or not isinstance(rule, (int, str)):
            raise TypeError(f"{name} must be a rule priority (int) or RuleArn (str), got "
                            f"{type(rule).__name__}")
        if rule == "default" or (isinstance(rule, str) and rule == lst.ruleset.default.arn):
            raise ValueError(f"{name}: the default rule can't be changed this way (it has "
                             f"no priority; use modify_listener for its actions)")
        for i, r in enumerate(lst.ruleset.rules):
            if r.priority == rule or (isinstance(rule, str) and r.arn == rule):
                return i
        raise KeyError(f"{name}: no rule {rule!r} on the listener on port {lst.port}")

    def add_target_group(self, key: Any, target_group: TargetGroup) -> None:
        """Make ``target_group`` (an HTTP/HTTPS :class:`~lbcore.elb.TargetGroup`)
        available to rules as ``key`` (its ARN or name)."""
        if not isinstance(target_group, TargetGroup):
            raise TypeError(f"target_group must be a TargetGroup, got "
                            f"{type(target_group).__name__}")
        if target_group.family != "alb":
            raise ValueError(f"target_group: protocol must be HTTP or HTTPS for an ALB, "
                             f"got {target_group.protocol}")
        try:
            hash(key)
        except TypeError:
            raise TypeError(f"key must be hashable, got {type(key).__name__}") from None
        with self._lock:
            if key in self._tgs:
                raise ValueError(f"key: a target group {key!r} exists")
            # serials are positions in _tgs, which only grows: a cookie never names
            # another group
            s = self._tgs[key] = _TGState(key, target_group, len(self._tgs),
                                          self._derive_seed(f"tg:{key}"),
                                          self.anomaly_settings)
            self._by_group.setdefault(id(target_group), s)

    def _state_of(self, key: object) -> _TGState:
        try:
            return self._tgs[key]
        except (KeyError, TypeError):
            raise KeyError(f"target_group_key: no target group {key!r}") from None

    def register_targets(self, target_group_key: Any, targets: Iterable[Target] | Target, *,
                         now: float | None = None, healthy: bool = False) -> None:
        """RegisterTargets on the target group ``target_group_key`` at ``now``
        (omitted: the ALB's clock, read under its lock as :meth:`route` reads it, so
        a registration from another thread never puts the group's clock past a
        route's). New targets start ``initial`` (``healthy=True``: healthy)."""
        with self._lock:
            s = self._state_of(target_group_key)
            s.tg.register(targets, now=self._clock() if now is None else now,
                          healthy=healthy)

    def deregister_targets(self, target_group_key: Any,
                           target_ids: Iterable[Any] | Any, *,
                           now: float | None = None) -> None:
        """DeregisterTargets at ``now`` (omitted: the ALB's clock, as for
        :meth:`register_targets`): the targets are ``draining`` for the group's
        ``deregistration_delay.timeout_seconds`` (no new requests; requests in flight
        complete and are released on their target), then ``unused``."""
        with self._lock:
            s = self._state_of(target_group_key)
            s.tg.deregister(target_ids, now=self._clock() if now is None else now)

    def add_rule(self, port: int, rule: Mapping[str, Any]) -> Rule:
        """CreateRule: add ``rule`` (a ``describe_rules``-shaped dict with
        ``Priority``, ``Conditions``, ``Actions``, optional ``Transforms``) to the
        listener on ``port``. Its priority must be free (PriorityInUse: ValueError)."""
        with self._lock:
            lst = self._listener_at(port)
            new = self._parse_rule(rule, "rule", lst.protocol)
            if new.priority is None:
                raise ValueError("rule: a listener has one default rule (change its actions "
                                 "with modify_listener)")
            if any(r.priority == new.priority for r in lst.ruleset.rules):
                raise ValueError(f"rule.Priority: priority {new.priority} is in use")
            self._set_rules(lst.port, lst.protocol, [*lst.ruleset.rules, new],
                            lst.ruleset.default)
            return new

    def delete_rule(self, port: int, rule: int | str) -> None:
        """DeleteRule: remove the rule with priority (or RuleArn) ``rule`` from the
        listener on ``port``. The default rule can't be deleted (ValueError)."""
        with self._lock:
            lst = self._listener_at(port)
            i = self._rule_index(lst, rule)
            rules = list(lst.ruleset.rules)
            del rules[i]
            self._set_rules(lst.port, lst.protocol, rules, lst.ruleset.default)

    def modify_rule(self, port: int, rule: int | str, *,
                    conditions: Sequence[Mapping[str, Any]] | None = None,
                    actions: Sequence[Mapping[str, Any]] | None = None,
                    transforms: Sequence[Mapping[str, Any]] | None = None) -> Rule:
        """ModifyRule: replace the ``conditions``, ``actions`` and/or ``transforms``
        given (whole lists, as the API takes them) of the rule with priority (or
        RuleArn) ``rule``; the others are unchanged. The default rule's actions
        change with :meth:`modify_listener`. A rule whose actions are kept keeps its
        forward action, so its AWSALBTG group-stickiness cookies stay valid; new
        actions are a new forward (earlier AWSALBTG cookies no longer apply)."""
        with self._lock:
            lst = self._listener_at(port)
            i = self._rule_index(lst, rule)
            old = lst.ruleset.rules[i]
            raw = dict(old.raw or {})
            raw.pop("IsDefault", None)
            raw["Priority"] = old.priority
            for key, value in (("Conditions", conditions), ("Actions", actions),
                               ("Transforms", transforms)):
                if value is not None:
                    raw[key] = value
            new = self._parse_rule(raw, "rule", lst.protocol,
                                   keep_action=old.action if actions is None else None)
            rules = list(lst.ruleset.rules)
            rules[i] = new
            self._set_rules(lst.port, lst.protocol, rules, lst.ruleset.default)
            return new

    def set_rule_priorities(self, port: int, priorities: Mapping[int | str, int]) -> None:
        """SetRulePriorities: ``{rule priority or RuleArn: new priority}`` for rules of
        the listener on ``port``; rules not named keep theirs. The new order must have
        no priority in use twice (PriorityInUse: ValueError, nothing changes); the
        default rule can't be moved. Each rule keeps its conditions and action (and its
        cookies stay valid)."""
        if not isinstance(priorities, Mapping):
            raise TypeError(f"priorities must be a mapping {{rule: priority}}, got "
                            f"{type(priorities).__name__}")
        with self._lock:
            lst = self._listener_at(port)
            rules = list(lst.ruleset.rules)
            moved: dict[int, int] = {}
            for name, p in priorities.items():
                i = self._rule_index(lst, name, "priorities")
                if i in moved:
                    raise ValueError(f"priorities: rule {name!r} given twice")
                moved[i] = int_field(p, 1, 50000, f"priorities[{name!r}]")
            for i, p in moved.items():
                old = rules[i]
                raw = dict(old.raw or {})
                raw["Priority"] = str(p)
                rules[i] = Rule(p, old.conditions, old.action, old.arn, raw, old.transforms)
            used: dict[int, Rule] = {}
            for r in rules:
                if r.priority in used:
                    raise ValueError(f"priorities: priority {r.priority} is in use")
                assert r.priority is not None
                used[r.priority] = r
            self._set_rules(lst.port, lst.protocol, rules, lst.ruleset.default)

    def modify_listener(self, port: int, *,
                        default_actions: Sequence[Mapping[str, Any]]) -> Listener:
        """ModifyListener ``DefaultActions``: the default rule's actions of the
        listener on ``port`` (its other rules are unchanged)."""
        with self._lock:
            lst = self._listener_at(port)
            default = Rule(None, [], self._parse_action(default_actions, "DefaultActions",
                                                        lst.protocol))
            return self._set_rules(lst.port, lst.protocol, list(lst.ruleset.rules), default)

    def delete_listener(self, port: int) -> None:
        """DeleteListener: requests to ``port`` are no longer answered (ValueError from
        :meth:`route`); requests forwarded before complete as usual."""
        with self._lock:
            lst = self._listener_at(port)
            del self._listeners[lst.port]

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
                    if self._refresh(now):      # the target group's attributes changed
                        return self._act(rule, request, now, zone)
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
        for s in act.states:
            if s.stale():
                self._refresh(now)
                break
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

    def selector(self, target_group_key: Any, zone: str | None = None,
                 now: float | None = None) -> RequestSelector | None:
        """The request selector (lbcore.RoundRobin, LeastOutstanding or WeightedRandom)
        this load balancer picks a target of ``target_group_key`` with for a request
        received in ``zone`` at ``now`` (omitted: the clock), brought in line with the
        group's health as :meth:`route` at ``now`` would bring it; None when no target
        of the group may take such a request. Its dense indices are the target group's
        (``TargetGroup.target(i)``). For a simulator that makes the picks itself
        (lbcore.sim): ``pick_index(now)``, ``acquire_at_index`` for a sticky request and
        ``release_index`` at its end are the calls :meth:`route` and :meth:`complete`
        make. Target group stickiness, weighted target groups and automatic target
        weights stay the load balancer's."""
        with self._lock:
            t = check_now(self._clock() if now is None else now)
            s = self._state_of(target_group_key)
            if s.stale():
                self._refresh(t)
            pool = s.pools.pool_for(zone, t)
            return None if pool is None else pool.kernel

    def target_group_picker(self, port: int,
                            rule: int | str | None = None) -> tuple[WeightedRandom, list[Any]] | None:
        """A weighted forward's target-group choice: ``(picker, keys)``, the
        ``lbcore.WeightedRandom`` whose ``pick_index(now)`` gives the position in
        ``keys`` (the forward's target group keys) a request matching the rule goes to,
        as :meth:`route` draws it. ``rule``: a priority or RuleArn (None: the default
        rule). None when the rule's action is not a forward to several target groups,
        or uses target group stickiness (whose cookie decides before the draw)."""
        with self._lock:
            lst = self._listener_at(port)
            r = lst.ruleset.default if rule is None else \
                lst.ruleset.rules[self._rule_index(lst, rule)]
            act = r.action
            if not isinstance(act, ForwardAction) or act.picker is None or \
                    act.stickiness is not None:
                return None
            return act.picker, [k for k, _ in act.groups]

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
            state = self._by_group.get(id(decision.target_group))
            if state is not None and state.anomaly is not None:
                state.anomaly.record(decision.index, error, now)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # the copy's target groups are new objects: index them by their own ids
        self._by_group = {}
        for s in self._tgs.values():
            self._by_group.setdefault(id(s.tg), s)

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
        with self._lock:        # counts carried over an algorithm change are settled here
            s = self._tgs[target_group_key]
            return s.pools.outstanding(s.tg.index_of(target_id))

    def decode_cookie(self, value: str) -> tuple[int, int, float] | None:
        """Decode an AWSALB / AWSALBAPP-0 / AWSALBTG value this load balancer
        issued: ``(a, b, expiry)`` (target group serial and target index, or
        forward action id and target group position), None if not ours."""
        return self._cookies.decode(value)
