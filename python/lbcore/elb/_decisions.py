"""What a load balancer's ``route`` returns.

Layer 7 (ALB, Classic LB): :class:`Forward` (target group, target, cookies to
set), :class:`Redirect` (301/302 and the ``Location``) and
:class:`FixedResponse`; :class:`SetCookie` is one cookie to set on the
response. Layer 4 (NLB, GWLB): one :class:`L4Decision` per flow, and an
:class:`L4Result` for a batch.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Sequence, Union

import numpy as np

from lbcore.elb._cookies import set_cookie_header

if TYPE_CHECKING:
    from lbcore.elb._targets import Target, TargetGroup

__all__ = ["Forward", "Redirect", "FixedResponse", "SetCookie", "HTTPDecision", "forward",
           "uncounted", "complete",
           "L4Decision",
           "L4Result", "nlb_decision", "FLOW_DROPPED", "FLOW_NEW"]

FLOW_DROPPED, FLOW_NEW = 0x01, 0x02       # the L4 kernel's per-flow flags


class SetCookie(NamedTuple):
    """A cookie the load balancer sets on the response: ``max_age`` in seconds
    (None = browser session)."""

    name: str
    value: str
    max_age: int | None

    def header_value(self) -> str:
        """The ``Set-Cookie`` header value (``name=value; Path=/; Max-Age=n``)."""
        return set_cookie_header(self.name, self.value, self.max_age)


_RELEASED: Any = object()


def uncounted(index: int) -> None:
    """The ``release`` of a request its selector does not count (nothing to end)."""


class Forward:
    """Forward to ``target`` (a :class:`~lbcore.elb.Target`) of ``target_group``;
    ``set_cookies``: the stickiness cookies for the response (tuple of
    :class:`SetCookie`). ``rule_priority``: the matched rule (None = default).
    ``fail_open``: chosen among unhealthy targets because none was healthy.
    Pass the decision to the load balancer's ``complete`` when the request ends
    (``release(index)``: how the load balancer stops counting it).
    :attr:`rewritten`: the request as the matched rule's transforms rewrote it
    (a :class:`~lbcore.elb.Request`: what the target receives; routing was
    decided on the original), None when the target receives it as sent."""

    __slots__ = ("target_group", "target", "set_cookies", "rule_priority", "fail_open",
                 "_release", "_index", "rewritten")
    target_group: TargetGroup
    target: Target
    set_cookies: tuple[SetCookie, ...]
    rule_priority: int | None
    fail_open: bool
    rewritten: Any

    def __init__(self, target_group: TargetGroup, target: Target,
                 set_cookies: Sequence[SetCookie] = (), rule_priority: int | None = None,
                 fail_open: bool = False, release: Callable[[int], object] | None = None,
                 index: int = -1, rewritten: Any = None) -> None:
        self.target_group = target_group
        self.target = target
        self.set_cookies = set_cookies if type(set_cookies) is tuple else tuple(set_cookies)
        self.rule_priority = rule_priority
        self.fail_open = fail_open
        self._release = release
        self._index = index
        self.rewritten = rewritten

    @property
    def index(self) -> int:
        """The target's dense index in its target group (-1: not made by a load
        balancer)."""
        return self._index

    @property
    def completed(self) -> bool:
        """Whether the request was completed (``complete`` was called)."""
        return self._release is _RELEASED

    @property
    def leased(self) -> bool:
        """Whether a load balancer made this decision and still counts the request."""
        return self._release is not None and self._release is not _RELEASED

    def release(self) -> None:
        """End the request: the pool that chose the target stops counting it. The
        load balancer's ``complete`` calls this; a second call raises ValueError."""
        release = self._release
        if release is None:
            raise ValueError("decision was not made by a load balancer")
        if release is _RELEASED:
            raise ValueError("decision: request already completed")
        self._release = _RELEASED
        if release is not uncounted:
            release(self._index)

    def __repr__(self) -> str:
        return (f"Forward({getattr(self.target_group, 'name', self.target_group)!r}, "
                f"{self.target!r}, cookies={[c.name for c in self.set_cookies]})")


_object_new = object.__new__


def forward(target_group: TargetGroup, target: Target, set_cookies: tuple[SetCookie, ...],
            rule_priority: int | None, fail_open: bool, release: Callable[[int], object],
            index: int) -> Forward:
    """A load balancer's :class:`Forward` (``Forward(...)`` without its argument
    normalisation: ``set_cookies`` is already a tuple), counted until released."""
    f = _object_new(Forward)
    f.target_group = target_group
    f.target = target
    f.set_cookies = set_cookies
    f.rule_priority = rule_priority
    f.fail_open = fail_open
    f._release = release
    f._index = index
    f.rewritten = None
    return f


class Redirect:
    """Redirect: ``status_code`` 301 or 302 and the ``location`` URL."""

    __slots__ = ("status_code", "location", "rule_priority")
    status_code: int
    location: str
    rule_priority: int | None

    def __init__(self, status_code: int, location: str,
                 rule_priority: int | None = None) -> None:
        if status_code not in (301, 302):
            raise ValueError(f"status_code must be 301 or 302, got {status_code!r}")
        self.status_code = status_code
        self.location = location
        self.rule_priority = rule_priority

    def __repr__(self) -> str:
        return f"Redirect({self.status_code}, {self.location!r})"


class FixedResponse:
    """A response the load balancer returns itself: ``status_code`` (2xx, 4xx,
    5xx), ``content_type`` (or None) and ``body`` (str, at most 1024 characters)."""

    __slots__ = ("status_code", "content_type", "body", "rule_priority")
    status_code: int
    content_type: str | None
    body: str
    rule_priority: int | None

    def __init__(self, status_code: int, content_type: str | None = None, body: str = "",
                 rule_priority: int | None = None) -> None:
        if isinstance(status_code, bool) or not isinstance(status_code, int) or \
                not (200 <= status_code < 300 or 400 <= status_code < 600):
            raise ValueError(f"status_code must be 2xx, 4xx or 5xx, got {status_code!r}")
        if not isinstance(body, str) or len(body) > 1024:
            raise ValueError("body must be a str of at most 1024 characters")
        self.status_code = status_code
        self.content_type = content_type
        self.body = body
        self.rule_priority = rule_priority

    def __repr__(self) -> str:
        return f"FixedResponse({self.status_code}, {self.content_type!r}, {self.body[:30]!r})"


HTTPDecision = Union[Forward, Redirect, FixedResponse]


def complete(decision: HTTPDecision) -> None:
    """End a forwarded request (the target group's pool stops counting it).
    Redirects and fixed responses need no completion (no-op).

    The ALB's ``complete`` (one call per request: a :class:`Forward` is released
    here, as :meth:`Forward.release` would, without a second call)."""
    if type(decision) is Forward:
        release = decision._release
        if release is not None and release is not _RELEASED:
            decision._release = _RELEASED
            if release is not uncounted:
                release(decision._index)
            return
        decision.release()              # raises: not leased, or completed already
    elif isinstance(decision, Forward):
        decision.release()
    elif not isinstance(decision, (Redirect, FixedResponse)):
        raise TypeError(f"decision must be a Forward, got {type(decision).__name__}")


# ---------------------------------------------------------------- layer 4

class L4Decision(NamedTuple):
    """Where a Network or Gateway Load Balancer sends one flow: ``target`` (a
    :class:`~lbcore.elb.Target`, None when no target or no listener takes the
    flow), ``node`` (the AZ name of the load balancer node, None when no listener
    matched) and ``dropped`` (GWLB: placed while no appliance was healthy)."""

    target: Target | None
    node: str | None
    dropped: bool = False


_LEGACY_NLB = ("NetworkLoadBalancer.route returns an L4Decision; using it as the "
               "(target, node) pair is deprecated: read .target, .node and .dropped")


class _NLBDecision(L4Decision):
    # One release only: an NLB decision still unpacks, compares and measures as the
    # (target, node) pair NetworkLoadBalancer.route used to return.
    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        warnings.warn(_LEGACY_NLB, DeprecationWarning, stacklevel=2)
        return iter((self.target, self.node))

    def __len__(self) -> int:
        warnings.warn(_LEGACY_NLB, DeprecationWarning, stacklevel=2)
        return 2

    def __eq__(self, other: object) -> bool:
        if type(other) is tuple and len(other) == 2:
            warnings.warn(_LEGACY_NLB, DeprecationWarning, stacklevel=2)
            return (self.target, self.node) == other
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"L4Decision(target={self.target!r}, node={self.node!r}, dropped={self.dropped!r})"


_new_tuple = tuple.__new__


def nlb_decision(target: Target | None, node: str | None) -> L4Decision:
    """An NLB's decision (an :class:`L4Decision`; unpacks as the old
    ``(target, node)`` pair for one release, with a DeprecationWarning)."""
    d: L4Decision = _new_tuple(_NLBDecision, (target, node, False))
    return d


class L4Result:
    """A routed batch: per flow ``target`` (index into ``target_groups[listener]``,
    -1 = none), ``node`` (index into ``availability_zones``, -1 = no listener),
    ``listener`` (-1 = no listener matched), ``dropped`` (GWLB: placed while no
    target was healthy), ``new`` (placed now rather than found pinned).
    ``target_groups``: the load balancer's target groups by listener."""

    __slots__ = ("target", "node", "listener", "dropped", "new", "target_groups")

    def __init__(self, target_groups: Sequence[TargetGroup], target: np.ndarray,
                 node: np.ndarray, listener: np.ndarray, flags: np.ndarray) -> None:
        self.target_groups = list(target_groups)
        self.target = target
        self.node = node
        self.listener = listener
        self.dropped: np.ndarray = (flags & FLOW_DROPPED) != 0
        self.new: np.ndarray = (flags & FLOW_NEW) != 0

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def target_ids(self) -> list[Any]:
        """The target ids as a list (None where no target)."""
        out: list[Any] = [None] * len(self)
        for li, tg in enumerate(self.target_groups):
            for i in np.flatnonzero((self.listener == li) & (self.target >= 0)).tolist():
                out[i] = tg.target(int(self.target[i])).id
        return out

    def counts(self, listener: int = 0) -> np.ndarray:
        """Flows per target index of one listener's target group (int64 array)."""
        tg = self.target_groups[listener]
        t = self.target[(self.listener == listener) & (self.target >= 0)]
        return np.bincount(t, minlength=len(tg))
