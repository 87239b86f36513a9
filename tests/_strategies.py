"""Shared hypothesis strategies for lbcore's tests (flows come from the public
lbcore.testing.strategies, with every protocol and the edge-case bias on)."""
import hypothesis.strategies as st
import numpy as np

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


class FakeFlows:
    """Not an lbcore.Flows but shaped like one, with only column 0 ``n`` long: a
    kernel that trusted it would read past the end of the other columns."""

    def __init__(self, real, n):
        self.n, self.real = n, real

    def __len__(self):
        return self.n

    def __lbcore_columns__(self):
        c = list(self.real.columns())
        return [np.zeros(self.n, np.uint8)] + c[1:]


def uneven_flows(real):
    """A genuine lbcore.Flows whose first column (9 rows) disagrees with the others."""
    from lbcore import Flows
    return Flows._from_columns(*[c if i else np.zeros(9, np.uint8)
                                 for i, c in enumerate(real.columns())])
