"""Targets, target groups and the health state machine (shared by every ELB type).

A :class:`TargetGroup` holds targets, their Availability Zones and their
health. It knows nothing about how a load balancer picks among them: load
balancers read :attr:`TargetGroup.state_codes` (one ``int8`` per target, dense
index = registration order, never reused) and :attr:`TargetGroup.version`
(bumped whenever any state changes) and build their own selectors.

Health follows the elbv2 target health states: ``initial`` (registered, not yet
passed its checks), ``healthy``, ``unhealthy``, ``draining`` (deregistered,
finishing its flows during ``deregistration_delay.timeout_seconds``) and
``unused`` (not registered). Health check results are fed in with
:meth:`TargetGroup.observe`; ``healthy_threshold_count`` consecutive successes
make a target healthy, ``unhealthy_threshold_count`` consecutive failures make
it unhealthy.

Time (docs/elb.md, "Time"): every method that changes state takes ``now``
(seconds) or, when it is omitted, reads the group's clock (``clock=``, default
:func:`time.monotonic`). Time never goes back.
"""
from __future__ import annotations

import math
import operator
import time
from typing import Callable, Iterable, Mapping, Sequence, Union

import numpy as np

from lbcore.elb._attributes import (TARGET_GROUP_ATTRIBUTES, family_of_protocol,
                                    parse_attributes)

__all__ = ["Target", "TargetGroup", "HealthCheckSettings", "INITIAL", "HEALTHY",
           "UNHEALTHY", "DRAINING", "UNUSED", "STATE_NAMES", "REGISTERED", "Clock",
           "check_now", "check_clock"]

INITIAL, HEALTHY, UNHEALTHY, DRAINING, UNUSED = 0, 1, 2, 3, 4
STATE_NAMES = ("initial", "healthy", "unhealthy", "draining", "unused")
REGISTERED = (INITIAL, HEALTHY, UNHEALTHY)      # states that can take new requests

Clock = Callable[[], float]
TargetId = Union[str, int]


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
    CreateTargetGroup documents them. (Route 53's endpoint health check is
    :class:`lbcore.route53.HealthCheck`.)"""

    __slots__ = ("interval_seconds", "timeout_seconds", "healthy_threshold_count",
                 "unhealthy_threshold_count")
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold_count: int
    unhealthy_threshold_count: int

    def __init__(self, protocol: str = "TCP", *, interval_seconds: int | None = None,
                 timeout_seconds: int | None = None,
                 healthy_threshold_count: int | None = None,
                 unhealthy_threshold_count: int | None = None) -> None:
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

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}("
                + ", ".join(f"{n}={getattr(self, n)}" for n in self.__slots__) + ")")


class TargetGroup:
    """A target group: targets, their health, and the elbv2 attributes.

    ``protocol``: HTTP, HTTPS (ALB), TCP, UDP, TCP_UDP, TLS (NLB) or GENEVE
    (GWLB); it decides which attribute keys apply and the health-check
    defaults. ``attributes``: the elbv2 list ``[{"Key": k, "Value": v}]`` (or a
    dict) with string values; the same keys are accepted as keyword arguments
    with dots written as underscores (``deregistration_delay_timeout_seconds=30``).
    ``health_check``: a :class:`HealthCheckSettings` (default: the protocol's
    defaults). ``targets`` are registered in state ``initial``, or ``healthy``
    with ``healthy=True`` (a shortcut for simulations that skip the initial
    checks), at ``now`` — or, when ``now`` is omitted, before any time (the
    group's clock starts at the first time it is given or reads).
    ``clock``: where the methods read ``now`` when it is omitted (default
    :func:`time.monotonic`).
    """

    def __init__(self, targets: Iterable[Target] | Target = (), *, protocol: str = "TCP",
                 name: str = "tg", port: int | None = None,
                 attributes: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None,
                 health_check: HealthCheckSettings | None = None, healthy: bool = False,
                 now: float | None = None, clock: Clock | None = None,
                 **kwargs: str | int | bool) -> None:
        protocol = protocol.upper() if isinstance(protocol, str) else protocol
        self.family: str = family_of_protocol(protocol)
        self.protocol: str = protocol
        self.name = name
        self.port = port
        self.attribute_values, self.attributes = parse_attributes(
            TARGET_GROUP_ATTRIBUTES, self.family, protocol, attributes, kwargs)
        v = self.attribute_values
        if self.family == "gwlb" and (v["target_failover.on_deregistration"]
                                      != v["target_failover.on_unhealthy"]):
            raise ValueError("target_failover.on_deregistration and target_failover.on_unhealthy "
                             "must be set to the same value")
        if self.family == "nlb" and _udp(protocol) and \
                v["target_health_state.unhealthy.connection_termination.enabled"]:
            raise ValueError("target_health_state.unhealthy.connection_termination.enabled "
                             "can't be enabled for UDP and TCP_UDP target groups")
        if health_check is None:
            health_check = HealthCheckSettings(protocol)
        elif not isinstance(health_check, HealthCheckSettings):
            raise TypeError(f"health_check must be a HealthCheckSettings, got "
                            f"{type(health_check).__name__}")
        self.health_check = health_check
        self._clock = check_clock(clock)
        self._targets: list[Target] = []      # dense index -> Target
        self._index: dict[TargetId, int] = {}  # id -> dense index
        self._codes = np.zeros(0, dtype=np.int8)
        self._ok: list[int] = []               # consecutive successes per target
        self._fail: list[int] = []             # consecutive failures per target
        self._deadline: list[float] = []       # draining -> unused time per target
        self._last_check: list[float] = []
        self._now = -math.inf
        self._next_deadline = math.inf
        self.version = 0
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

    def index_of(self, target_id: TargetId) -> int:
        try:
            return self._index[target_id]
        except (KeyError, TypeError):
            raise KeyError(f"target_id {target_id!r} is not in target group {self.name!r}") from None

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
            draining = np.flatnonzero(self._codes == DRAINING)
            nxt = math.inf
            for i in draining.tolist():
                if t >= self._deadline[i]:
                    self._codes[i] = UNUSED
                    self.version += 1
                else:
                    nxt = min(nxt, self._deadline[i])
            self._next_deadline = nxt
        return t

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
            if t.id in seen:
                raise ValueError(f"targets: id {t.id!r} given twice")
            seen.add(t.id)
            j = self._index.get(t.id)
            if j is not None and self._codes[j] in REGISTERED:
                raise ValueError(f"targets: {t.id!r} is already registered")
        state = HEALTHY if healthy else INITIAL
        for t in items:
            j = self._index.get(t.id)
            if j is None:
                j = len(self._targets)
                self._index[t.id] = j
                self._targets.append(t)
                self._codes = np.append(self._codes, np.int8(state))
                self._ok.append(0)
                self._fail.append(0)
                self._deadline.append(math.inf)
                self._last_check.append(-math.inf)
            else:
                self._targets[j] = t
                self._codes[j] = state
                self._ok[j] = self._fail[j] = 0
                self._deadline[j] = math.inf
        self.version += 1

    def deregister(self, target_ids: Iterable[TargetId] | TargetId, *,
                   now: float | None = None) -> TargetGroup:
        """Start deregistering: ``draining`` for the deregistration delay, then ``unused``."""
        t = self._move_to(now)
        ids = [target_ids] if isinstance(target_ids, (str, int)) else list(target_ids)
        idx = [self.index_of(i) for i in ids]
        for j in idx:
            if self._codes[j] in (DRAINING, UNUSED):
                raise ValueError(f"target_ids: {self._targets[j].id!r} is not registered")
        for j in idx:
            self._deadline[j] = t + self.deregistration_delay
            self._codes[j] = UNUSED if self.deregistration_delay == 0 else DRAINING
            self._next_deadline = min(self._next_deadline, self._deadline[j])
        self.version += 1
        return self

    def observe(self, target_id: TargetId, ok: bool, *, now: float | None = None,
                latency: float | None = None) -> str:
        """Feed one health check result for ``target_id`` at time ``now``.

        ``ok``: the check passed. A ``latency`` above the timeout counts as a
        failure. Draining and unused targets are not checked (ignored).
        Returns the target's state name after the observation.
        """
        t = self._move_to(now)
        j = self.index_of(target_id)
        if ok is not True and ok is not False:
            raise TypeError(f"ok must be a bool, got {type(ok).__name__}")
        if latency is not None:
            if check_now(latency, "latency") > self.health_check.timeout_seconds:
                ok = False
        code = self._codes[j]
        if code in (DRAINING, UNUSED):
            return STATE_NAMES[code]
        self._last_check[j] = t
        hc = self.health_check
        if ok:
            self._ok[j] += 1
            self._fail[j] = 0
            if code != HEALTHY and self._ok[j] >= hc.healthy_threshold_count:
                self._codes[j] = HEALTHY
                self.version += 1
        else:
            self._fail[j] += 1
            self._ok[j] = 0
            if code != UNHEALTHY and self._fail[j] >= hc.unhealthy_threshold_count:
                self._codes[j] = UNHEALTHY
                self.version += 1
        return STATE_NAMES[self._codes[j]]

    def set_health(self, target_ids: Iterable[TargetId] | TargetId, healthy: bool, *,
                   now: float | None = None) -> TargetGroup:
        """Force targets healthy or unhealthy (a shortcut for simulations: as
        if the threshold count of checks had just passed or failed)."""
        self._move_to(now)
        ids = [target_ids] if isinstance(target_ids, (str, int)) else list(target_ids)
        for i in ids:
            j = self.index_of(i)
            if self._codes[j] in (DRAINING, UNUSED):
                raise ValueError(f"target_ids: {i!r} is not registered")
            self._codes[j] = HEALTHY if healthy else UNHEALTHY
            self._ok[j] = self._fail[j] = 0
        self.version += 1
        return self

    def due(self, now: float | None = None) -> list[TargetId]:
        """Ids of registered targets whose next health check is due at ``now``."""
        t = self._move_to(now)
        iv = self.health_check.interval_seconds
        return [x.id for j, x in enumerate(self._targets)
                if self._codes[j] in REGISTERED and t - self._last_check[j] >= iv]

    # Queries: given ``now``, they first advance to it; without it they report the
    # state as of the latest time the group has seen (a query does not read the clock).
    def state(self, target_id: TargetId, now: float | None = None) -> str:
        """The state name of one target (after advancing to ``now`` if given)."""
        if now is not None:
            self._move_to(now)
        return STATE_NAMES[self._codes[self.index_of(target_id)]]

    def states(self, now: float | None = None) -> dict[TargetId, str]:
        """{target id: state name} for every target ever registered."""
        if now is not None:
            self._move_to(now)
        return {t.id: STATE_NAMES[c] for t, c in zip(self._targets, self._codes.tolist())}

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
        """bool array: which targets are registered (initial, healthy or unhealthy)."""
        c = self._codes
        mask: np.ndarray = (c == INITIAL) | (c == HEALTHY) | (c == UNHEALTHY)
        return mask

    def has_healthy(self, now: float | None = None) -> bool:
        if now is not None:
            self._move_to(now)
        return bool(np.any(self._codes == HEALTHY))

    def is_empty(self, now: float | None = None) -> bool:
        """True when no target is registered (draining targets don't count)."""
        if now is not None:
            self._move_to(now)
        return not bool(np.any(self.registered_mask()))

    def __repr__(self) -> str:
        counts = {n: int(np.count_nonzero(self._codes == c)) for c, n in enumerate(STATE_NAMES)}
        return f"<TargetGroup {self.name!r} {self.protocol}: {counts}>"


def _udp(protocol: str) -> bool:
    return protocol in ("UDP", "TCP_UDP")
