"""Shared hypothesis strategies for lbcore's tests (flows come from the public
lbcore.testing.strategies, with every protocol and the edge-case bias on)."""
import hypothesis.strategies as st

from lbcore.testing import strategies as lbst

SEEDS = st.one_of(st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1]),
                  st.integers(0, 2**64 - 1))
FIELDS = st.sampled_from(["5-tuple", "3-tuple", "2-tuple"])


def flow_values(ipv6=None):
    """(protocol, ipv6, src, dst, sport, dport, seq) with seq only for TCP; any protocol,
    biased to edge words: 0, all-ones, equal addresses/ports (symmetric ties)."""
    return lbst.flow_tuples(v6=ipv6, protocols=None, edge_cases=True)


make_flow = lbst.to_flow
flows = flow_values().map(make_flow)
