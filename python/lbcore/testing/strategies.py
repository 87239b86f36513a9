"""Hypothesis strategies for property-testing code built on lbcore.

These are the strategies lbcore's own tests use, published so that you can fuzz your
own routing policies the same way::

    from hypothesis import given
    from lbcore.testing import strategies as lbst

    @given(lbst.flow_batches(max_size=50))
    def test_hash_is_deterministic(flows):
        assert (lbcore.flow_hash(flows) == lbcore.flow_hash(flows)).all()

Every strategy draws plain lbcore objects (``Flow``, ``Flows``) or plain data
(dicts, tuples, floats) documented on the function, so they work with any policy.
hypothesis is a test-time dependency: ``pip install 'lbcore[test]'``.
"""
from __future__ import annotations

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "lbcore.testing.strategies needs hypothesis, which is not installed; "
        "install it with: pip install 'lbcore[test]' (or pip install hypothesis)") from exc

import lbcore

__all__ = [
    "ip_addresses", "flows", "flow_batches", "availability_zones", "target_sets",
    "health_event_sequences", "throttle_settings", "arrival_times",
]

_PROTOCOLS = (6, 17)


def ip_addresses(*, v6: bool | None = None) -> st.SearchStrategy[tuple[bool, int]]:
    """``(is_ipv6, address_int)``; ``v6=None`` draws both families."""
    v4 = st.tuples(st.just(False), st.integers(0, 2**32 - 1))
    six = st.tuples(st.just(True), st.integers(2**32, 2**128 - 1))
    if v6 is None:
        return st.one_of(v4, six)
    return six if v6 else v4


@st.composite
def flows(draw, *, v6: bool | None = None, protocols=_PROTOCOLS, tcp_seq: bool | None = None):
    """A :class:`lbcore.Flow`.

    ``v6``: None = either family (both endpoints the same family), True/False = only IPv6 /
    IPv4. ``protocols``: IP protocol numbers to draw from (TCP 6, UDP 17 by default; any
    0..255). ``tcp_seq``: None = TCP flows carry an initial sequence number or not, True =
    always, False = never.
    """
    family = draw(st.booleans()) if v6 is None else v6
    src = draw(ip_addresses(v6=family))[1]
    dst = draw(ip_addresses(v6=family))[1]
    proto = draw(st.sampled_from(tuple(protocols)))
    seq = None
    if proto == 6 and (tcp_seq if tcp_seq is not None else draw(st.booleans())):
        seq = draw(st.integers(0, 2**32 - 1))
    import ipaddress
    make = ipaddress.IPv6Address if family else ipaddress.IPv4Address
    return lbcore.Flow(proto, make(src), make(dst), draw(st.integers(0, 65535)),
                       draw(st.integers(0, 65535)), seq)


def flow_batches(*, min_size: int = 0, max_size: int = 64, v6: bool | None = None,
                 protocols=_PROTOCOLS, tcp_seq: bool | None = None):
    """A :class:`lbcore.Flows` batch of ``min_size..max_size`` flows drawn by :func:`flows`
    (families may be mixed within a batch when ``v6`` is None)."""
    return st.lists(flows(v6=v6, protocols=protocols, tcp_seq=tcp_seq),
                    min_size=min_size, max_size=max_size).map(lbcore.Flows.from_flows)


def availability_zones(region: str = "us-east-1", *, max_zones: int = 6):
    """Zone names of one Region: ``'us-east-1a'`` .. (up to ``max_zones`` letters)."""
    return st.sampled_from([f"{region}{c}" for c in "abcdef"[:max_zones]])


@st.composite
def target_sets(draw, *, min_size: int = 1, max_size: int = 16, region: str = "us-east-1",
                max_zones: int = 3, weights: bool = True, max_weight: int = 999):
    """A list of distinct targets: dicts ``{"id": str, "az": str, "weight": int}``.

    Ids are unique strings; AZs come from ``max_zones`` zones of ``region``; weights are
    1..``max_weight`` (all 1 when ``weights`` is False). Use the list index as the dense
    target index lbcore's kernels take.
    """
    ids = draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1,
                                max_size=12), min_size=min_size, max_size=max_size,
                        unique=True))
    zone = availability_zones(region, max_zones=max_zones)
    return [{"id": f"t-{i}", "az": draw(zone),
             "weight": draw(st.integers(1, max_weight)) if weights else 1} for i in ids]


@st.composite
def health_event_sequences(draw, n_targets: int, *, max_events: int = 20,
                           horizon: float = 300.0, initially_healthy: bool = True):
    """Time-ordered health changes for targets ``0..n_targets-1``.

    A list of ``(time, target_index, healthy)``, times in ``[0, horizon]`` non-decreasing;
    each event flips its target's state (so a target alternates unhealthy/healthy
    starting from ``initially_healthy``), which is what a health checker reports.
    """
    if n_targets < 1:
        raise ValueError(f"n_targets must be >= 1, got {n_targets}")
    times = sorted(draw(st.lists(st.floats(0.0, horizon, allow_nan=False), max_size=max_events)))
    state = [initially_healthy] * n_targets
    out = []
    for t in times:
        k = draw(st.integers(0, n_targets - 1))
        state[k] = not state[k]
        out.append((t, k, state[k]))
    return out


def throttle_settings(*, max_rate: float = 10_000.0, max_burst: int = 5_000):
    """API Gateway ThrottleSettings as a dict ``{"rate": float > 0, "burst": int >= 1}``
    (rateLimit requests per second, burstLimit bucket size)."""
    return st.fixed_dictionaries({
        "rate": st.floats(0.001, max_rate, allow_nan=False, allow_infinity=False),
        "burst": st.integers(1, max_burst),
    })


@st.composite
def arrival_times(draw, *, max_size: int = 200, horizon: float = 10.0, bursty: bool = True):
    """Non-decreasing request arrival times in ``[0, horizon]`` (a list of floats).

    With ``bursty``, runs of identical timestamps (simultaneous arrivals) are likely —
    the edge case token buckets get wrong.
    """
    base = sorted(draw(st.lists(st.floats(0.0, horizon, allow_nan=False), max_size=max_size)))
    if not bursty or not base:
        return base
    out = []
    for t in base:
        out.extend([t] * draw(st.integers(1, 4)))
    return out[:max_size]
