"""Shared hypothesis strategies for lbcore's tests."""
import ipaddress

import hypothesis.strategies as st

import lbcore

SEEDS = st.one_of(st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1]),
                  st.integers(0, 2**64 - 1))
FIELDS = st.sampled_from(["5-tuple", "3-tuple", "2-tuple"])


@st.composite
def flow_values(draw, ipv6=None):
    """(protocol, ipv6, src, dst, sport, dport, seq) with seq only for TCP."""
    v6 = draw(st.booleans()) if ipv6 is None else ipv6
    bits = 128 if v6 else 32
    # Bias toward edge words: 0, all-ones, equal addresses/ports (symmetric ties).
    addr = st.one_of(st.integers(0, 2**bits - 1), st.sampled_from([0, 2**bits - 1, 1]))
    src = draw(addr)
    dst = draw(st.one_of(addr, st.just(src)))
    proto = draw(st.one_of(st.sampled_from([6, 17, 1, 0, 255]), st.integers(0, 255)))
    port = st.one_of(st.integers(0, 65535), st.sampled_from([0, 65535]))
    sport = draw(port)
    dport = draw(st.one_of(port, st.just(sport)))
    seq = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1))) if proto == 6 else None
    return proto, v6, src, dst, sport, dport, seq


def make_flow(values):
    proto, v6, src, dst, sport, dport, seq = values
    cls = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
    return lbcore.Flow(proto, cls(src), cls(dst), sport, dport, seq)


flows = flow_values().map(make_flow)
