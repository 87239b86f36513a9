"""Classic Load Balancer: instances registered directly (no target groups),
round robin for TCP/SSL listeners, least outstanding requests for HTTP/HTTPS
listeners, duration-based (AWSELB cookie) and application-cookie stickiness
on HTTP/HTTPS listeners only, cross-zone load balancing off unless enabled
(the API default). Semantics and sources: docs/alb.md ("Classic LB")."""
from __future__ import annotations

import threading
import functools
from typing import Any, Callable, Iterable, Mapping, Sequence

from lbcore import hash_key
from lbcore.elb._cookies import CookieCodec
from lbcore.elb._decisions import (FixedResponse, Forward, HTTPDecision, Redirect,
                                   SetCookie, forward)
from lbcore.elb._pool import TargetGroupPools
from lbcore.elb._request import Request
from lbcore.elb._targets import (Clock, HealthCheckSettings, PickleWithoutLock, Target,
                                 TargetGroup, check_clock, check_now)

__all__ = ["ClassicLoadBalancer"]

_L7 = ("HTTP", "HTTPS")
_L4 = ("TCP", "SSL")


def _zone_seed(seed: int, l7: bool, zone: str | None) -> int:
    """The seed of a listener kind's pool in a zone."""
    return int(hash_key(f"{seed}:clb:{(l7, zone)}"))


class ClassicLoadBalancer(PickleWithoutLock):
    """A Classic Load Balancer.

    ``instances``: :class:`~lbcore.elb.Target` objects (their
    ``availability_zone`` matters when cross-zone is off). ``listeners``: dicts
    as in ``CreateLoadBalancer`` (``Protocol``, ``LoadBalancerPort``,
    ``InstanceProtocol``, ``InstancePort``). ``cross_zone``: the
    ``CrossZoneLoadBalancing`` attribute (False by API default).
    ``stickiness``: {load balancer port: policy} with policy
    ``{"type": "lb_cookie", "expiration": seconds or None}`` (None/0 = browser
    session; ``LBCookieStickinessPolicy``) or ``{"type": "app_cookie",
    "cookie_name": name}`` (``AppCookieStickinessPolicy``); HTTP/HTTPS
    listeners only. Health: :attr:`instances` is a
    :class:`~lbcore.elb.TargetGroup` (defaults interval 30, timeout 5,
    healthy 10, unhealthy 2; a newly registered instance is healthy after its
    first passed check, an unhealthy one after the healthy threshold -- CLB guide,
    ``HealthyHostCount``); ``healthy=True`` registers them healthy (at
    ``now``, or before any time when omitted). ``clock``: where :meth:`route` and
    the instances' target group read ``now`` when it is not given (default
    :func:`time.monotonic`).
    Unlike the ALB, no fail open: with no healthy instance the answer is 503.
    Duration-based stickiness (CLB guide, "Duration-based session stickiness"):
    the ``AWSELB`` cookie is set when an instance is chosen, with the policy's
    expiration; the load balancer "does not refresh the expiry time of the cookie
    and does not check whether the cookie is expired before using it" -- a request
    carrying it goes to its instance while that instance is healthy, and no new
    cookie is set (the client drops it when it expires).
    """

    def __init__(self, instances: Iterable[Target], listeners: Sequence[Mapping[str, Any]]
                 | Mapping[str, Any], *, cross_zone: bool = False,
                 stickiness: Mapping[int, Mapping[str, Any]] | None = None, seed: int = 0,
                 healthy: bool = False, now: float | None = None,
                 health_check: HealthCheckSettings | None = None,
                 connection_draining_timeout: int = 0, clock: Clock | None = None) -> None:
        if cross_zone not in (True, False):
            raise TypeError("cross_zone must be a bool")
        if health_check is None:
            health_check = HealthCheckSettings("TCP", interval_seconds=30, timeout_seconds=5,
                                               healthy_threshold_count=10,
                                               unhealthy_threshold_count=2)
        elif isinstance(health_check, HealthCheckSettings) and health_check.timeout_seconds > 60:
            # botocore elb HealthCheckTimeout: 2..60
            raise ValueError(f"health_check.timeout_seconds must be at most 60 for a Classic "
                             f"Load Balancer, got {health_check.timeout_seconds}")
        self._clock = check_clock(clock)
        self.instances = TargetGroup(instances, protocol="TCP", name="clb",
                                     health_check=health_check, healthy=healthy, now=now,
                                     clock=self._clock, initial_healthy_threshold=1,
                                     deregistration_delay_timeout_seconds=connection_draining_timeout)
        self.cross_zone = cross_zone
        self.seed = seed
        self._cookies = CookieCodec(seed)
        if isinstance(listeners, Mapping):
            listeners = [listeners]
        self._listeners: dict[int, str] = {}
        for i, l in enumerate(listeners):
            w = f"listeners[{i}]"
            if not isinstance(l, dict):
                raise ValueError(f"{w} must be a dict")
            proto = l.get("Protocol")
            if proto not in _L7 + _L4:
                raise ValueError(f"{w}.Protocol must be HTTP, HTTPS, TCP or SSL, got {proto!r}")
            port = l.get("LoadBalancerPort")
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise ValueError(f"{w}.LoadBalancerPort must be 1..65535, got {port!r}")
            iproto = l.get("InstanceProtocol", proto)
            if (proto in _L7) != (iproto in _L7):
                raise ValueError(f"{w}.InstanceProtocol {iproto!r} does not fit Protocol "
                                 f"{proto!r} (HTTP/HTTPS with HTTP/HTTPS, TCP/SSL with TCP/SSL)")
            if port in self._listeners:
                raise ValueError(f"{w}.LoadBalancerPort {port} used twice")
            self._listeners[port] = proto
        if not self._listeners:
            raise ValueError("listeners must not be empty")
        self._sticky: dict[int, tuple[str, Any]] = {}
        if stickiness is not None and not isinstance(stickiness, Mapping):
            raise TypeError(f"stickiness must be a mapping {{port: policy}}, got "
                            f"{type(stickiness).__name__}")
        for port, pol in (stickiness or {}).items():
            w = f"stickiness[{port}]"
            if port not in self._listeners:
                raise ValueError(f"{w}: no listener on port {port}")
            if self._listeners[port] not in _L7:
                raise ValueError(f"{w}: stickiness needs an HTTP/HTTPS listener")
            if not isinstance(pol, dict) or pol.get("type") not in ("lb_cookie", "app_cookie"):
                raise ValueError(f"{w}.type must be 'lb_cookie' or 'app_cookie'")
            if pol["type"] == "lb_cookie":
                exp = pol.get("expiration")
                if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int)
                                        or exp < 0):
                    raise ValueError(f"{w}.expiration must be a non-negative int or None")
                self._sticky[port] = ("lb", exp or None)
            else:
                name = pol.get("cookie_name")
                if not isinstance(name, str) or not name:
                    raise ValueError(f"{w}.cookie_name must be a non-empty str")
                self._sticky[port] = ("app", name)
        # one set of pools per listener kind: least outstanding requests for
        # HTTP/HTTPS listeners, round robin for TCP/SSL listeners
        def seed_for(l7: bool) -> Callable[[str | None], int]:
            return functools.partial(_zone_seed, seed, l7)      # picklable, unlike a lambda
        self._pools = {
            l7: TargetGroupPools(
                self.instances, "least_outstanding_requests" if l7 else "round_robin", 0,
                seed_for(l7), cross_zone=cross_zone, fail_open=False, zone_fallback=False)
            for l7 in (True, False)}
        # The thread rule: one CLB may be shared by threads; route holds this lock (the
        # instances' clock, the pools' picks and leases change together).
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self._clock

    def route(self, request: Request | None = None, now: float | None = None, *,
              port: int | None = None, zone: str | None = None) -> HTTPDecision:
        """Route a request (HTTP/HTTPS listener) or a new connection (TCP/SSL
        listener; ``request`` may be None) at ``now`` (seconds; omitted: the load
        balancer's clock). ``port``: the listener (default: ``request.port``, or
        the only listener). ``zone``: the AZ of the node that received it (used
        when cross-zone is off)."""
        if request is not None and not isinstance(request, Request):
            raise TypeError(f"request must be a Request or None, got {type(request).__name__}")
        with self._lock:     # the thread rule (see __init__)
            now = check_now(self._clock() if now is None else now)
            if port is None:
                port = request.port if request is not None else None
                if port not in self._listeners and len(self._listeners) == 1:
                    port = next(iter(self._listeners))
            proto = self._listeners.get(port) if port is not None else None
            if proto is None:
                raise ValueError(f"port: no listener on port {port}")
            l7 = proto in _L7
            if l7 and request is None:
                raise ValueError("request is required for an HTTP/HTTPS listener")
            pol = self._sticky.get(port) if port is not None else None
            sticky = -1
            if pol is not None:
                assert request is not None
                if pol[0] == "lb" or pol[1] in request.cookies:
                    got = self._cookies.decode(request.cookies.get("AWSELB"))
                    if got is not None and (pol[0] == "lb" or got[2] > now):
                        sticky = got[1]     # lb_cookie: the expiry is not checked
            pool, idx = self._pools[l7].pick(zone, now, sticky)
            if pool is None or idx < 0:
                return FixedResponse(503, "text/plain", "")
            cookies = []
            if pol is not None and not (pol[0] == "lb" and idx == sticky):
                # lb_cookie: set once, when the instance is chosen (never refreshed)
                exp = pol[1] if pol[0] == "lb" else None
                cookies.append(SetCookie("AWSELB", self._cookies.encode(
                    0, idx, None if exp is None else now + exp), exp))
            return forward(self.instances, pool.targets[idx], tuple(cookies), None, False,
                           pool.release, idx)

    # ------------------------------------------------------------ reconfiguration
    # docs/elb.md, "Changing a running balancer": the instances' target group changes in
    # place, so outstanding requests, cookies (AWSELB names an instance by its index,
    # never reused) and health are kept.
    def register_instances(self, instances: Iterable[Target] | Target, *,
                           now: float | None = None, healthy: bool = False) -> None:
        """RegisterInstancesWithLoadBalancer at ``now`` (omitted: the CLB's clock, read
        under its lock as :meth:`route` reads it): new instances start as ``initial``
        (or healthy with ``healthy=True``)."""
        with self._lock:
            self.instances.register(instances, now=self._clock() if now is None else now,
                                    healthy=healthy)

    def deregister_instances(self, instance_ids: Iterable[str | int] | str | int, *,
                             now: float | None = None) -> None:
        """DeregisterInstancesFromLoadBalancer: no new requests or connections; with
        connection draining (``connection_draining_timeout`` > 0) the instance is
        ``draining`` for the timeout while in-flight requests complete, else ``unused``
        at once (CLB guide, "Configure connection draining")."""
        with self._lock:
            self.instances.deregister(instance_ids,
                                      now=self._clock() if now is None else now)

    def set_connection_draining(self, timeout: int) -> None:
        """The ``ConnectionDraining`` attribute's ``Timeout`` (0 = disabled; 1–3600 s):
        applies to instances deregistered from then on."""
        with self._lock:
            self.instances.set_attributes(deregistration_delay_timeout_seconds=timeout)

    def is_healthy(self, now: float | None = None) -> bool:
        """Route 53 alias EvaluateTargetHealth: healthy when at least one instance
        is healthy at ``now`` (omitted: the CLB's clock) -- "if ... no EC2
        instances are healthy ..., Route 53 routes queries to other resources"
        (Route 53 guide, "Evaluate target health", Classic Load Balancers)."""
        return self.instances.has_healthy(check_now(self._clock() if now is None else now))

    def complete(self, decision: HTTPDecision) -> None:
        """End a request/connection (least outstanding requests stops counting it)."""
        if isinstance(decision, (Redirect, FixedResponse)):
            return
        if not isinstance(decision, Forward) or not (decision.leased or decision.completed):
            raise TypeError("decision must be a Forward made by this load balancer")
        decision.release()

    def outstanding(self, instance_id: str | int) -> int:
        """Requests routed to an instance and not completed (HTTP/HTTPS listeners)."""
        i = self.instances.index_of(instance_id)
        return sum(p.outstanding(i) for p in self._pools.values())
