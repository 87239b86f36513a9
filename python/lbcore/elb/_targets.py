"""Targets, target groups and the health state machine (shared by every ELB type).

A :class:`TargetGroup` holds targets, their Availability Zones and their
health. It knows nothing about how a load balancer picks among them: load
balancers read :attr:`TargetGroup.state_codes` (one ``int8`` per target, dense
index = registration order, never reused) and :attr:`TargetGroup.version`
(bumped whenever any state changes) and build their own selectors.

Health follows the elbv2 target health states (``TargetHealthStateEnum``):
``initial`` (registered, not yet passed its checks), ``healthy``, ``unhealthy``,
``unhealthy.draining`` (NLB: failed its checks, keeps its connections for
``target_health_state.unhealthy.draining_interval_seconds``), ``draining``
(deregistered, finishing its flows during ``deregistration_delay.timeout_seconds``),
``unavailable`` (health checks disabled) and ``unused`` (not registered). Health
check results are fed in with :meth:`TargetGroup.observe`: an ``initial`` target
is healthy after ``initial_healthy_threshold`` passed checks (1 for ALB target
groups and the Classic LB, the guides' "must pass one health check"; the healthy
threshold for NLB/GWLB), an unhealthy one after ``healthy_threshold_count``
consecutive successes; ``unhealthy_threshold_count`` consecutive failures make a
target unhealthy.

Time (docs/elb.md, "Time"): every method that changes state takes ``now``
(seconds) or, when it is omitted, reads the group's clock (``clock=``, default
:func:`time.monotonic`). Time never goes back -- except for health observations:
:meth:`TargetGroup.observe` takes the time the check *started*, which may be older
than the group's latest time or than another result of the same target; results
are ordered by that time, never rejected (see :meth:`TargetGroup.observe`).
"""
from __future__ import annotations

import bisect
import functools
import math
import operator
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Sequence, Tuple, TypeVar, Union, cast

import numpy as np

from lbcore.locking import PickleWithoutLock
from lbcore.elb._attributes import (TARGET_GROUP_ATTRIBUTES, family_of_protocol,
                                    modify_attributes, parse_attributes)

__all__ = ["Target", "TargetGroup", "HealthCheckSettings", "INITIAL", "HEALTHY",
           "UNHEALTHY", "DRAINING", "UNUSED", "UNHEALTHY_DRAINING", "UNAVAILABLE",
           "STATE_NAMES", "REGISTERED", "REORDER_CAP", "Clock", "check_now", "check_clock",
           "check_alb_attributes"]

INITIAL, HEALTHY, UNHEALTHY, DRAINING, UNUSED = 0, 1, 2, 3, 4
UNHEALTHY_DRAINING, UNAVAILABLE = 5, 6
STATE_NAMES = ("initial", "healthy", "unhealthy", "draining", "unused",
               "unhealthy.draining", "unavailable")
# registered states (the others, draining and unused, are deregistered)
REGISTERED = (INITIAL, HEALTHY, UNHEALTHY, UNHEALTHY_DRAINING, UNAVAILABLE)

Clock = Callable[[], float]
TargetId = Union[str, int]
# a target's identity in its group, as in RegisterTargets: (Id, Port), the port
# being the group's port when the target gives none
TargetKey = Tuple[TargetId, Union[int, None]]
# health observations kept per target for reordering (bounded memory); older ones
# are folded into the target's checkpoint state
REORDER_CAP = 64


def check_now(now: object, name: str = "now") -> float:
    """``now`` as a finite float, or TypeError/ValueError naming ``name``."""
    if isinstance(now, bool) or not isinstance(now, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (seconds), got {type(now).__name__}")
    t = float(now)
    if not math.isfinite(t):
        raise ValueError(f"{name} must be finite, got {t}")
    return t


def check_clock(clock: Clock | None) -> Clock:
    """The ``clock=`` argument of a policy object: a callable returning seconds
    (``None`` = :func:`time.monotonic`)."""
    if clock is None:
        return time.monotonic
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning seconds, got "
                        f"{type(clock).__name__}")
    return clock


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _locked(method: _Method) -> _Method:
    # a TargetGroup method that holds the group's lock (the thread rule)
    @functools.wraps(method)
    def call(self: TargetGroup, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return cast(_Method, call)


class Target:
    """A registered endpoint: ``id`` (str or int), ``availability_zone``,
    ``port`` (None = the target group's port) and ``weight`` (>= 0; used by
    the algorithms that weigh targets)."""

    __slots__ = ("id", "availability_zone", "port", "weight")
    id: TargetId
    availability_zone: str
    port: int | None
    weight: float

    def __init__(self, id: TargetId, availability_zone: str, port: int | None = None,
                 weight: float = 1) -> None:
        if isinstance(id, bool) or not isinstance(id, (str, int)):
            raise TypeError(f"id must be a str or int, got {type(id).__name__}")
        if not isinstance(availability_zone, str) or not availability_zone:
            raise ValueError(f"availability_zone must be a non-empty str, got {availability_zone!r}")
        if port is not None:
            if isinstance(port, bool) or not hasattr(port, "__index__"):
                raise TypeError(f"port must be an int or None, got {type(port).__name__}")
            port = operator.index(port)
            if not 1 <= port <= 65535:
                raise ValueError(f"port must be in 1..65535, got {port}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "availability_zone", availability_zone)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "weight", weight)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Target is immutable")

    def __reduce__(self) -> tuple:
        return (Target, (self.id, self.availability_zone, self.port, self.weight))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return (self.id, self.availability_zone, self.port, self.weight) == \
            (other.id, other.availability_zone, other.port, other.weight)

    def __hash__(self) -> int:
        return hash((self.id, self.availability_zone, self.port, self.weight))

    def __repr__(self) -> str:
        return (f"Target({self.id!r}, {self.availability_zone!r}, port={self.port}, "
                f"weight={self.weight})")


# Health check parameters of CreateTargetGroup (botocore elbv2): ranges and
# defaults by target-group protocol.
_HC_RANGES = {"interval_seconds": (5, 300), "timeout_seconds": (2, 120),
              "healthy_threshold_count": (2, 10), "unhealthy_threshold_count": (2, 10)}
_HC_DEFAULTS = {
    # protocol: (interval, timeout, healthy, unhealthy)
    "HTTP": (30, 6, 5, 2), "HTTPS": (30, 10, 5, 2),
    "TCP": (30, 10, 5, 2), "TLS": (30, 10, 5, 2), "UDP": (30, 10, 5, 2),
    "TCP_UDP": (30, 10, 5, 2), "GENEVE": (10, 5, 5, 2),
}


class HealthCheckSettings:
    """A target group's health check settings: ``interval_seconds`` 5–300,
    ``timeout_seconds`` 2–120 (< interval), ``healthy_threshold_count`` and
    ``unhealthy_threshold_count`` 2–10; defaults by protocol as botocore's
    CreateTargetGroup documents them (the API's, not the console's: HTTP 6 s and
    HTTPS 10 s timeouts where the ALB guide's table says 5 s; docs/elb.md,
    "Health"). ``enabled`` is ``HealthCheckEnabled``: False only for ALB target
    groups (Lambda targets); their targets are ``unavailable``. (Route 53's
    endpoint health check is :class:`lbcore.route53.HealthCheck`.)"""

    __slots__ = ("interval_seconds", "timeout_seconds", "healthy_threshold_count",
                 "unhealthy_threshold_count", "enabled")
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold_count: int
    unhealthy_threshold_count: int
    enabled: bool

    def __init__(self, protocol: str = "TCP", *, interval_seconds: int | None = None,
                 timeout_seconds: int | None = None,
                 healthy_threshold_count: int | None = None,
                 unhealthy_threshold_count: int | None = None,
                 enabled: bool = True) -> None:
        if protocol not in _HC_DEFAULTS:
            raise ValueError(f"protocol must be one of {', '.join(_HC_DEFAULTS)}, "
                             f"got {protocol!r}")
        defaults = _HC_DEFAULTS[protocol]
        given = (interval_seconds, timeout_seconds, healthy_threshold_count,
                 unhealthy_threshold_count)
        for name, value, default in zip(self.__slots__, given, defaults):
            if value is None:
                value = default
            elif isinstance(value, bool) or not hasattr(value, "__index__"):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            value = operator.index(value)
            lo, hi = _HC_RANGES[name]
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
            object.__setattr__(self, name, value)
        # GWLB guide (health checks): interval >= timeout; elsewhere timeout < interval
        equal_ok = protocol == "GENEVE" and self.timeout_seconds == self.interval_seconds
        if self.timeout_seconds >= self.interval_seconds and timeout_seconds is not None \
                and not equal_ok:
            raise ValueError(f"timeout_seconds ({self.timeout_seconds}) must be less than "
                             f"interval_seconds ({self.interval_seconds})")
        if enabled is not True and enabled is not False:
            raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
        object.__setattr__(self, "enabled", enabled)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple:
        # every value is explicit, so the protocol's defaults don't matter
        return (functools.partial(type(self), **{n: getattr(self, n) for n in self.__slots__}),
                ())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}("
                + ", ".join(f"{n}={getattr(self, n)}" for n in self.__slots__) + ")")


class TargetGroup(PickleWithoutLock):
    """A target group: targets, their health, and the elbv2 attributes.

    ``protocol``: HTTP, HTTPS (ALB), TCP, UDP, TCP_UDP, TLS (NLB) or GENEVE
    (GWLB); it decides which attribute keys apply and the health-check
    defaults. ``attributes``: the elbv2 list ``[{"Key": k, "Value": v}]`` (or a
    dict) with string values; the same keys are accepted as keyword arguments
    with dots written as underscores (``deregistration_delay_timeout_seconds=30``).
    ``health_check``: a :class:`HealthCheckSettings` (default: the protocol's
    defaults). ``initial_healthy_threshold``: passed checks that make an
    ``initial`` target healthy (default 1 for HTTP/HTTPS -- "after your target is
    registered, it must pass one health check to be considered healthy", ALB
    guide -- else ``healthy_threshold_count``; the Classic LB passes 1). ``targets``
    are registered in state ``initial``, or ``healthy`` with ``healthy=True`` (a
    shortcut for simulations that skip the initial checks; ``unavailable`` when
    health checks are disabled), at ``now`` — or, when ``now`` is omitted, before
    any time (the group's clock starts at the first time it is given or reads).
    ``clock``: where the methods read ``now`` when it is omitted (default
    :func:`time.monotonic`).
    """

    def __init__(self, targets: Iterable[Target] | Target = (), *, protocol: str = "TCP",
                 name: str = "tg", port: int | None = None,
                 attributes: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None,
                 health_check: HealthCheckSettings | None = None, healthy: bool = False,
                 now: float | None = None, clock: Clock | None = None,
                 initial_healthy_threshold: int | None = None,
                 **kwargs: str | int | bool) -> None:
        protocol = protocol.upper() if isinstance(protocol, str) else protocol
        self.family: str = family_of_protocol(protocol)
        self.protocol: str = protocol
        self.name = name
        self.port = port
        self.attribute_values, self.attributes = parse_attributes(
            TARGET_GROUP_ATTRIBUTES, self.family, protocol, attributes, kwargs)
        _check_combination(self.family, protocol, self.attribute_values)
        if health_check is None:
            health_check = HealthCheckSettings(protocol)
        elif not isinstance(health_check, HealthCheckSettings):
            raise TypeError(f"health_check must be a HealthCheckSettings, got "
                            f"{type(health_check).__name__}")
        if not health_check.enabled and self.family != "alb":
            raise ValueError("health_check: health checks can be disabled only for ALB "
                             "(Lambda) target groups, not for a "
                             f"{self.family.upper()} target group")
        self.health_check = health_check
        if initial_healthy_threshold is None:
            initial_healthy_threshold = 1 if self.family == "alb" else \
                health_check.healthy_threshold_count
        elif isinstance(initial_healthy_threshold, bool) or \
                not hasattr(initial_healthy_threshold, "__index__"):
            raise TypeError(f"initial_healthy_threshold must be an int, got "
                            f"{type(initial_healthy_threshold).__name__}")
        initial_healthy_threshold = operator.index(initial_healthy_threshold)
        if not 1 <= initial_healthy_threshold <= 10:
            raise ValueError(f"initial_healthy_threshold must be in 1..10, got "
                             f"{initial_healthy_threshold}")
        self.initial_healthy_threshold: int = initial_healthy_threshold
        self._unhealthy_drain = float(self.attribute_values.get(
            "target_health_state.unhealthy.draining_interval_seconds", 0))
        self._clock = check_clock(clock)
        self._targets: list[Target] = []      # dense index -> Target
        self._index: dict[TargetKey, int] = {}  # (id, port) -> dense index
        self._by_id: dict[TargetId, list[int]] = {}  # id -> dense indices (any port)
        self._codes = np.zeros(0, dtype=np.int8)
        self._ok: list[int] = []               # consecutive successes per target
        self._fail: list[int] = []             # consecutive failures per target
        self._deadline: list[float] = []       # end of draining / unhealthy.draining
        self._last_check: list[float] = []
        # Out-of-order health observations (observe): per target, the results not yet
        # folded, sorted by start time (stable), the state after each and the state
        # before the first of them (code, successes, failures, deadline); the newest
        # start time seen.
        self._pending: list[list[tuple[float, bool]]] = []
        self._after: list[list[tuple[int, int, int, float]]] = []   # state after each
        self._base: list[tuple[int, int, int, float]] = []
        self._newest: list[float] = []
        self._now = -math.inf
        self._next_deadline = math.inf
        self.version = 0
        # bumped by set_attributes: load balancers re-read what they derive from the
        # attributes (algorithm, stickiness) when it moves
        self.attributes_version = 0
        # The thread rule: every method that changes the group (registration, health,
        # attributes, time) holds this lock; advance's fast path only moves ``now`` on.
        self._lock = threading.Lock()
        if targets:
            if now is None:
                self._register(targets, healthy)
            else:
                self.register(targets, now=now, healthy=healthy)

    # ---------------------------------------------------------------- attributes
    @property
    def clock(self) -> Clock:
        """The callable the group reads ``now`` from when a method is not given one."""
        return self._clock

    @property
    def deregistration_delay(self) -> float:
        return float(self.attribute_values["deregistration_delay.timeout_seconds"])

    @property
    def stickiness_enabled(self) -> bool:
        return bool(self.attribute_values["stickiness.enabled"])

    @property
    def stickiness_type(self) -> str:
        return str(self.attribute_values["stickiness.type"])

    @property
    def cross_zone(self) -> bool | None:
        """True, False, or None (= use the load balancer's setting)."""
        value = self.attribute_values.get("load_balancing.cross_zone.enabled",
                                          "use_load_balancer_configuration")
        return None if value == "use_load_balancer_configuration" else value == "true"

    def attribute_list(self) -> list[dict[str, str]]:
        """The attributes as DescribeTargetGroupAttributes returns them."""
        return [{"Key": k, "Value": v} for k, v in self.attributes.items()]

    def set_attributes(self, attributes: Sequence[Mapping[str, str]] | Mapping[str, str]
                       | None = None, **kwargs: str | int | bool) -> TargetGroup:
        """ModifyTargetGroupAttributes: change the attributes given (same forms as the constructor); the others keep their
        values. The result is checked as a whole, as at creation (and, for an ALB
        target group, against :func:`check_alb_attributes`); nothing changes when it
        is rejected. Targets, health and the load balancers' state (outstanding
        requests, cookies, connection tables) are kept: the load balancers using the
        group apply the new values from their next decision, at its time (docs/elb.md,
        "Changing a running balancer"); the change itself reads no clock. A new ``deregistration_delay.timeout_seconds`` applies to
        targets deregistered from then on; targets already draining keep the deadline
        they got (AWS does not say; lbcore's choice)."""
        with self._lock:
            values, merged_strings = modify_attributes(
                TARGET_GROUP_ATTRIBUTES, self.family, self.protocol, self.attributes,
                attributes, kwargs)
            _check_combination(self.family, self.protocol, values)
            if self.family == "alb":
                check_alb_attributes(values, "attributes")
            self.attribute_values, self.attributes = values, merged_strings
            self._unhealthy_drain = float(values.get(
                "target_health_state.unhealthy.draining_interval_seconds", 0))
            self.attributes_version += 1
            self.version += 1
        return self

    # ---------------------------------------------------------------- targets
    @property
    def targets(self) -> list[Target]:
        """Every target ever registered, by dense index (a list copy)."""
        return list(self._targets)

    def target(self, index: int) -> Target:
        """The target with dense index ``index``."""
        return self._targets[index]

    def __len__(self) -> int:
        return len(self._targets)

    def key_of(self, target: Target) -> TargetKey:
        """``target``'s identity in this group: ``(id, port)``, the port being the
        group's when the target gives none (elbv2 RegisterTargets: a target is
        an Id and a Port; the same Id on two ports is two targets)."""
        if not isinstance(target, Target):
            raise TypeError(f"target must be a Target, got {type(target).__name__}")
        return (target.id, self.port if target.port is None else target.port)

    def index_of(self, target_id: TargetId | TargetKey | Target) -> int:
        """The dense index of a target given as its ``id`` (when one target has
        it), an ``(id, port)`` pair or a :class:`Target`."""
        if isinstance(target_id, Target):
            target_id = self.key_of(target_id)
        if type(target_id) is tuple:
            try:
                return self._index[target_id]
            except (KeyError, TypeError):
                raise KeyError(f"target_id {target_id!r} is not in target group "
                               f"{self.name!r}") from None
        try:
            found = self._by_id[target_id]
        except (KeyError, TypeError):
            raise KeyError(f"target_id {target_id!r} is not in target group {self.name!r}") from None
        if len(found) > 1:
            # prefer the one registered target among old ones on other ports
            live = [j for j in found if self._codes[j] in REGISTERED]
            if len(live) != 1:
                ports = sorted(str(self.key_of(self._targets[j])[1]) for j in found)
                raise KeyError(f"target_id {target_id!r} is registered on several ports "
                               f"({', '.join(ports)}) in target group {self.name!r}: "
                               f"give (id, port)")
            return live[0]
        return found[0]

    def _id_of(self, j: int) -> TargetId | TargetKey:
        # how queries name target j: its id, or (id, port) when the id is on several ports
        t = self._targets[j]
        return t.id if len(self._by_id[t.id]) == 1 else self.key_of(t)

    @property
    def state_codes(self) -> np.ndarray:
        """Read-only int8 array: the state of every target by dense index."""
        view = self._codes.view()
        view.flags.writeable = False
        return view

    @property
    def now(self) -> float:
        """The latest time the group has seen (-inf before the first)."""
        return self._now

    def advance(self, now: float | None = None) -> TargetGroup:
        """Apply the time-driven transitions (draining → unused) up to ``now``
        (omitted: the group's clock). Cheap when nothing is due; load balancers
        call it once per decision."""
        if now is None:
            now = self._clock()
        if type(now) is float and self._now <= now < self._next_deadline:
            self._now = now          # fast path: nothing to do
            return self
        with self._lock:
            self._move_to(now)
        return self

    def _move_to(self, now: object) -> float:
        if now is None:
            now = self._clock()
        t = check_now(now)
        if t < self._now:
            raise ValueError(f"now must not go backwards (got {t} after {self._now})")
        self._now = t
        if t >= self._next_deadline:
            codes = self._codes
            timed = np.flatnonzero((codes == DRAINING) | (codes == UNHEALTHY_DRAINING))
            nxt = math.inf
            for i in timed.tolist():
                if t >= self._deadline[i]:
                    # draining -> unused; unhealthy.draining -> unhealthy (its
                    # connections are terminated then: NLB guide)
                    codes[i] = UNUSED if codes[i] == DRAINING else UNHEALTHY
                    self._deadline[i] = math.inf
                    self.version += 1
                else:
                    nxt = min(nxt, self._deadline[i])
            self._next_deadline = nxt
        return t

    @_locked
    def register(self, targets: Iterable[Target] | Target, *, now: float | None = None,
                 healthy: bool = False) -> TargetGroup:
        """Register targets (``Target`` objects); a draining or unused target
        with the same id is registered again (back to ``initial``)."""
        self._move_to(now)
        self._register(targets, healthy)
        return self

    def _register(self, targets: Iterable[Target] | Target, healthy: bool) -> None:
        items = [targets] if isinstance(targets, Target) else list(targets)
        seen = set()
        for i, t in enumerate(items):
            if not isinstance(t, Target):
                raise TypeError(f"targets[{i}] must be a Target, got {type(t).__name__}")
            key = self.key_of(t)
            if key in seen:
                raise ValueError(f"targets: id {t.id!r} port {key[1]} given twice")
            seen.add(key)
            j = self._index.get(key)
            if j is not None and self._codes[j] in REGISTERED:
                raise ValueError(f"targets: {t.id!r} port {key[1]} is already registered")
        state = UNAVAILABLE if not self.health_check.enabled else \
            HEALTHY if healthy else INITIAL
        for t in items:
            key = self.key_of(t)
            j = self._index.get(key)
            if j is None:
                j = len(self._targets)
                self._index[key] = j
                self._by_id.setdefault(t.id, []).append(j)
                self._targets.append(t)
                self._codes = np.append(self._codes, np.int8(state))
                self._ok.append(0)
                self._fail.append(0)
                self._deadline.append(math.inf)
                self._last_check.append(-math.inf)
                self._pending.append([])
                self._after.append([])
                self._base.append((state, 0, 0, math.inf))
                self._newest.append(-math.inf)
            else:
                self._targets[j] = t
                self._codes[j] = state
                self._ok[j] = self._fail[j] = 0
                self._deadline[j] = math.inf
                self._pending[j] = []           # results before this are history
        self.version += 1

    @_locked
    def deregister(self, target_ids: Iterable[TargetId | TargetKey] | TargetId | TargetKey, *,
                   now: float | None = None) -> TargetGroup:
        """Start deregistering: ``draining`` for the deregistration delay, then ``unused``."""
        t = self._move_to(now)
        ids = [target_ids] if isinstance(target_ids, (str, int, tuple, Target)) \
            else list(target_ids)
        idx = [self.index_of(i) for i in ids]
        for j in idx:
            if self._codes[j] not in REGISTERED:
                raise ValueError(f"target_ids: {self._targets[j].id!r} is not registered")
        for j in idx:
            self._pending[j] = []
            self._deadline[j] = t + self.deregistration_delay
            self._codes[j] = UNUSED if self.deregistration_delay == 0 else DRAINING
            self._next_deadline = min(self._next_deadline, self._deadline[j])
        self.version += 1
        return self

    @_locked
    def observe(self, target_id: TargetId | TargetKey, ok: bool, *, now: float | None = None,
                latency: float | None = None) -> str:
        """Feed one health check result for ``target_id``, ``now`` being the time
        the check started (omitted: the group's clock).

        ``ok``: the check passed. A ``latency`` above the timeout counts as a
        failure. Draining, unused and unavailable (health checks disabled)
        targets are not checked (ignored). An ``initial`` target is healthy after
        ``initial_healthy_threshold`` passes, an unhealthy one after
        ``healthy_threshold_count``. Returns the target's state name after the
        observation.

        Results may arrive out of order (checks overlap, routing moved the group's
        time past a check's start): each target's results are applied in the
        order of their start times,
        whatever the order of the calls (results that started at the same time in
        the order of the calls), and ``now`` older than the group's latest time is
        accepted without moving it back. The reordering window is the
        health check interval: a result is ordered among the target's results
        that started at most ``interval_seconds`` before the newest one (and at
        most :data:`REORDER_CAP` of them); an older one is applied after those
        already folded, never rejected. Registering, deregistering or
        :meth:`set_health` start a target's history afresh.
        """
        t = self._clock() if now is None else now
        if type(t) is not float or t - t != 0.0:      # not a finite float
            t = check_now(t)
        if t > self._now:
            self._move_to(t)            # the lock is held: not advance(), which takes it
        j = self.index_of(target_id)
        if ok is not True and ok is not False:
            raise TypeError(f"ok must be a bool, got {type(ok).__name__}")
        if latency is not None:
            if check_now(latency, "latency") > self.health_check.timeout_seconds:
                ok = False
        code = self._codes.item(j)
        if code in (DRAINING, UNUSED, UNAVAILABLE):
            return STATE_NAMES[code]
        if t > self._last_check[j]:
            self._last_check[j] = t
        pending = self._pending[j]
        if not pending:
            self._base[j] = (code, self._ok[j], self._fail[j], self._deadline[j])
            self._after[j] = []
        i = bisect.bisect_right(pending, t, key=_start)      # equal times: call order
        pending.insert(i, (t, ok))
        if t > self._newest[j]:
            self._newest[j] = t
        return STATE_NAMES[self._replay(j, i)]

    def _replay(self, j: int, i: int) -> int:
        # the target's state after each pending result, from result i on (the ones
        # before are unchanged); then the results older than the reordering window
        # (or beyond the cap) are folded into the base state
        hc = self.health_check
        healthy_n, unhealthy_n = hc.healthy_threshold_count, hc.unhealthy_threshold_count
        pending, after = self._pending[j], self._after[j]
        code, n_ok, n_fail, deadline = after[i - 1] if i else self._base[j]
        del after[i:]
        for t, ok in pending[i:]:
            if code == UNHEALTHY_DRAINING and t >= deadline:
                code, deadline = UNHEALTHY, math.inf
            if ok:
                n_ok += 1
                n_fail = 0
                need = self.initial_healthy_threshold if code == INITIAL else healthy_n
                if code != HEALTHY and n_ok >= need:
                    code, deadline = HEALTHY, math.inf
            else:
                n_fail += 1
                n_ok = 0
                if code in (INITIAL, HEALTHY) and n_fail >= unhealthy_n:
                    if self._unhealthy_drain > 0:
                        code, deadline = UNHEALTHY_DRAINING, t + self._unhealthy_drain
                    else:
                        code = UNHEALTHY
            after.append((code, n_ok, n_fail, deadline))
        cut = self._newest[j] - hc.interval_seconds
        folded = max(0, len(pending) - REORDER_CAP)
        while folded < len(pending) and pending[folded][0] < cut:
            folded += 1
        if folded:
            self._base[j] = after[folded - 1]
            del pending[:folded], after[:folded]
        self._ok[j], self._fail[j], self._deadline[j] = n_ok, n_fail, deadline
        if self._codes.item(j) != code:
            self._codes[j] = code
            self.version += 1
        if code == UNHEALTHY_DRAINING:
            self._next_deadline = min(self._next_deadline, deadline)
            if deadline <= self._now:
                self._move_to(self._now)        # its drain ended already
                return int(self._codes.item(j))
        return code

    def _to_unhealthy(self, j: int, t: float) -> None:
        # NLB with target_health_state.unhealthy.draining_interval_seconds > 0:
        # unhealthy.draining (no new flows, existing ones kept) for the interval
        if self._unhealthy_drain > 0:
            self._codes[j] = UNHEALTHY_DRAINING
            self._deadline[j] = t + self._unhealthy_drain
            self._next_deadline = min(self._next_deadline, self._deadline[j])
        else:
            self._codes[j] = UNHEALTHY
        self.version += 1

    @_locked
    def set_health(self, target_ids: Iterable[TargetId | TargetKey] | TargetId | TargetKey,
                   healthy: bool, *,
                   now: float | None = None) -> TargetGroup:
        """Force targets healthy or unhealthy (a shortcut for simulations: as
        if the threshold count of checks had just passed or failed)."""
        t = self._move_to(now)
        ids = [target_ids] if isinstance(target_ids, (str, int, tuple, Target)) \
            else list(target_ids)
        for i in ids:
            j = self.index_of(i)
            if self._codes[j] not in REGISTERED:
                raise ValueError(f"target_ids: {i!r} is not registered")
            self._ok[j] = self._fail[j] = 0
            self._pending[j] = []
            if healthy:
                self._codes[j] = HEALTHY
                self._deadline[j] = math.inf
            elif self._codes[j] not in (UNHEALTHY, UNHEALTHY_DRAINING):
                self._to_unhealthy(j, t)
        self.version += 1
        return self

    @_locked
    def due(self, now: float | None = None) -> list[TargetId | TargetKey]:
        """Ids of registered targets whose next health check is due at ``now``."""
        t = self._move_to(now)
        iv = self.health_check.interval_seconds
        return [self._id_of(j) for j in range(len(self._targets))
                if self._codes[j] in REGISTERED and self._codes[j] != UNAVAILABLE
                and t - self._last_check[j] >= iv]

    # Queries: given ``now``, they first advance to it; without it they report the
    # state as of the latest time the group has seen (a query does not read the clock).
    # A target is named by its id, or by (id, port) when its id is on several ports.
    @_locked
    def state(self, target_id: TargetId | TargetKey, now: float | None = None) -> str:
        """The state name of one target (after advancing to ``now`` if given)."""
        if now is not None:
            self._move_to(now)
        return STATE_NAMES[self._codes[self.index_of(target_id)]]

    @_locked
    def states(self, now: float | None = None) -> dict[TargetId | TargetKey, str]:
        """{target id: state name} for every target ever registered."""
        if now is not None:
            self._move_to(now)
        return {self._id_of(j): STATE_NAMES[c] for j, c in enumerate(self._codes.tolist())}

    def zone_index(self, zones: Sequence[str]) -> np.ndarray:
        """int32 array: each target's index in ``zones`` (-1 if its AZ is not there)."""
        pos = {z: i for i, z in enumerate(zones)}
        return np.array([pos.get(t.availability_zone, -1) for t in self._targets],
                        dtype=np.int32)

    def zone_mask(self, zone: str | None) -> np.ndarray:
        """bool array: which targets are in ``zone`` (None: every target)."""
        if zone is None:
            return np.ones(len(self._targets), dtype=bool)
        return np.array([t.availability_zone == zone for t in self._targets], dtype=bool)

    def registered_mask(self) -> np.ndarray:
        """bool array: which targets are registered (initial, healthy, unhealthy,
        unhealthy.draining or unavailable)."""
        mask: np.ndarray = np.isin(self._codes, REGISTERED)
        return mask

    @_locked
    def has_healthy(self, now: float | None = None) -> bool:
        if now is not None:
            self._move_to(now)
        return bool(np.any(self._codes == HEALTHY))

    @_locked
    def is_empty(self, now: float | None = None) -> bool:
        """True when no target is registered (draining targets don't count)."""
        if now is not None:
            self._move_to(now)
        return not bool(np.any(self.registered_mask()))

    # ---------------------------------------------------------------- loaders
    @classmethod
    def from_aws(cls, target_group: Mapping[str, Any],
                 target_health: Iterable[Mapping[str, Any]] | Mapping[str, Any] = (), *,
                 attributes: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None,
                 availability_zone: str = "all", now: float | None = None,
                 clock: Clock | None = None) -> TargetGroup:
        """A target group from elbv2 describe outputs: ``target_group``, one item of
        ``describe_target_groups()['TargetGroups']`` (TargetGroupName, Protocol, Port,
        HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds, HealthyThresholdCount,
        UnhealthyThresholdCount; ``Attributes`` or ``attributes``: the
        ``describe_target_group_attributes`` list), and ``target_health``, the
        ``TargetHealthDescriptions`` of ``describe_target_health`` (or that response).

        Each description's ``Target`` (Id, Port, AvailabilityZone; a target without
        an AvailabilityZone is in ``availability_zone``, default ``"all"`` as elbv2
        reports IP targets outside the VPC) is registered at ``now`` (omitted: the
        group's clock, read once) in its ``TargetHealth.State``: ``healthy``,
        ``unhealthy``, ``initial``, or ``draining`` (deregistered at ``now``);
        ``unused`` and ``unavailable`` targets are not registered."""
        if not isinstance(target_group, Mapping):
            raise TypeError(f"target_group must be a describe_target_groups item (a dict), "
                            f"got {type(target_group).__name__}")
        protocol = target_group.get("Protocol")
        if not isinstance(protocol, str):
            raise ValueError("target_group.Protocol must be a str (HTTP, HTTPS, TCP, ...)")
        hc = {}
        for key, arg in (("HealthCheckIntervalSeconds", "interval_seconds"),
                         ("HealthCheckTimeoutSeconds", "timeout_seconds"),
                         ("HealthyThresholdCount", "healthy_threshold_count"),
                         ("UnhealthyThresholdCount", "unhealthy_threshold_count")):
            if key in target_group:
                hc[arg] = target_group[key]
        try:
            settings = HealthCheckSettings(protocol.upper(), **hc)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"target_group: {exc}") from None
        if attributes is None:
            attributes = target_group.get("Attributes")
        name = target_group.get("TargetGroupName", "tg")
        port = target_group.get("Port")
        tg = cls(protocol=protocol, name=name, port=port, attributes=attributes,
                 health_check=settings, clock=clock)
        if isinstance(target_health, Mapping):
            target_health = target_health.get("TargetHealthDescriptions", ())
        by_state: dict[str, list[Target]] = {}
        for i, desc in enumerate(target_health):
            where = f"target_health[{i}]"
            if not isinstance(desc, Mapping) or not isinstance(desc.get("Target"), Mapping):
                raise ValueError(f"{where} must be a TargetHealthDescription with a Target")
            t = desc["Target"]
            if "Id" not in t:
                raise ValueError(f"{where}.Target.Id is required")
            state = (desc.get("TargetHealth") or {}).get("State", "initial")
            if state not in ("healthy", "unhealthy", "initial", "draining", "unused",
                             "unavailable", "unhealthy.draining"):
                raise ValueError(f"{where}.TargetHealth.State: unknown state {state!r}")
            if state in ("unused", "unavailable"):
                continue
            try:
                target = Target(t["Id"], t.get("AvailabilityZone") or availability_zone,
                                t.get("Port"))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{where}.Target: {exc}") from None
            by_state.setdefault("draining" if state.endswith("draining") else state,
                                []).append(target)
        everyone = [t for ts in by_state.values() for t in ts]
        if everyone:
            t0 = tg._move_to(now)
            tg._register(everyone, False)         # checks every key once, as one call
            for state, ts in by_state.items():
                idx = [tg.index_of(tg.key_of(x)) for x in ts]
                if state == "healthy":
                    for j in idx:
                        tg._codes[j] = HEALTHY
                elif state == "unhealthy":
                    for j in idx:
                        tg._codes[j] = UNHEALTHY
                elif state == "draining":
                    tg.deregister([tg.key_of(x) for x in ts], now=t0)
            tg.version += 1
        return tg

    def __repr__(self) -> str:
        counts = {n: int(np.count_nonzero(self._codes == c)) for c, n in enumerate(STATE_NAMES)}
        return f"<TargetGroup {self.name!r} {self.protocol}: {counts}>"


def _start(result: tuple[float, bool]) -> float:
    return result[0]


def _udp(protocol: str) -> bool:
    return protocol in ("UDP", "TCP_UDP")


def _check_combination(family: str, protocol: str, v: Mapping[str, Any]) -> None:
    # attribute values that are valid alone but not together (CreateTargetGroup and
    # ModifyTargetGroupAttributes reject them alike)
    if family == "gwlb" and (v["target_failover.on_deregistration"]
                             != v["target_failover.on_unhealthy"]):
        raise ValueError("target_failover.on_deregistration and target_failover.on_unhealthy "
                         "must be set to the same value")
    if family == "nlb" and _udp(protocol) and \
            v["target_health_state.unhealthy.connection_termination.enabled"]:
        raise ValueError("target_health_state.unhealthy.connection_termination.enabled "
                         "can't be enabled for UDP and TCP_UDP target groups")


def check_alb_attributes(v: Mapping[str, Any], where: str) -> None:
    """The ALB's rules on a target group's attribute values, ValueError prefixed
    ``where``: slow start can't be used with least_outstanding_requests; stickiness
    needs cross-zone load balancing (ALB guide, cross-zone load balancing for
    target groups); app_cookie stickiness needs its cookie name."""
    if v["load_balancing.algorithm.type"] == "least_outstanding_requests" and \
            v["slow_start.duration_seconds"]:
        raise ValueError(f"{where}: slow_start.duration_seconds can't be used with "
                         f"least_outstanding_requests")
    if v.get("load_balancing.algorithm.anomaly_mitigation") == "on" and \
            v["slow_start.duration_seconds"]:
        # ALB guide, routing algorithms: weighted random with anomaly mitigation
        # does not support slow start mode (docs/alb.md, "Automatic target weights")
        raise ValueError(f"{where}: slow_start.duration_seconds can't be used with "
                         f"load_balancing.algorithm.anomaly_mitigation on")
    sticky = v["stickiness.enabled"]
    if sticky and v.get("load_balancing.cross_zone.enabled") == "false":
        raise ValueError(f"{where}: stickiness.enabled needs cross-zone load balancing "
                         f"(load_balancing.cross_zone.enabled is false)")
    if sticky and v["stickiness.type"] == "app_cookie" and \
            not v["stickiness.app_cookie.cookie_name"]:
        raise ValueError(f"{where}: stickiness.app_cookie.cookie_name is required for "
                         f"app_cookie stickiness")
