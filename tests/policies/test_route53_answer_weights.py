"""HostedZone.answer_weights (what resolve draws from, without drawing) and upsert."""
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import RecordPicker
from lbcore.route53 import Client, HostedZone, RecordSet


class _Fixed:
    def __init__(self, ok):
        self.ok = ok

    def is_healthy(self, now):
        return self.ok


def _weighted(weights, healthy):
    from lbcore.route53 import AliasTarget
    return [RecordSet("www.example.com", "A", set_identifier=f"r{i}", weight=w,
                      alias=AliasTarget(f"lb{i}.example.net", True, target=_Fixed(ok)))
            for i, (w, ok) in enumerate(zip(weights, healthy))]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.booleans()), min_size=1, max_size=6),
       st.integers(0, 2**32))
def test_drawing_with_the_zones_generator_gives_resolves_answers(recs, seed):
    weights, healthy = zip(*recs)
    zone = HostedZone("example.com", _weighted(weights, healthy), seed=seed)
    twin = HostedZone("example.com", _weighted(weights, healthy), seed=seed)
    sets, w = twin.answer_weights("www.example.com", "A", now=0.0)
    # Route 53: the healthy records with non-zero weight; none: zero weights; none healthy:
    # all of them
    ok = [i for i, h in enumerate(healthy) if h] or list(range(len(healthy)))
    nz = [i for i in ok if weights[i] > 0]
    want = nz or ok
    assert [int(r.set_identifier[1:]) for r in sets] == want
    assert w == ([weights[i] for i in nz] if nz else [1] * len(ok))
    picker = RecordPicker()
    picker.__setstate__(twin.picker.state)
    for _ in range(20):
        got = zone.resolve("www.example.com", "A", now=0.0).record_sets[0]
        assert got is zone.record_sets()[want[picker.weighted(list(w))]]


def test_deterministic_policies_answer_without_weights_and_upsert_keeps_the_order():
    recs = [RecordSet("www.example.com", "A", ["192.0.2.1"], set_identifier=r, region=r)
            for r in ("us-east-1", "eu-west-1")]
    zone = HostedZone("example.com", recs)
    far = Client(latencies={"us-east-1": 80.0, "eu-west-1": 10.0})
    sets, w = zone.answer_weights("www.example.com", "A", far, now=0.0)
    assert w is None and [r.set_identifier for r in sets] == ["eu-west-1"]
    assert zone.answer_weights("nothing.example.com", "A", now=0.0) == ([], None)
    with pytest.raises(TypeError, match="client"):
        zone.answer_weights("www.example.com", "A", "far", now=0.0)
    wz = HostedZone("example.com", _weighted([1, 2, 3], [True] * 3))
    wz.upsert(_weighted([1, 9, 3], [True] * 3)[1])
    assert wz.answer_weights("www.example.com", "A", now=0.0)[1] == [1, 9, 3]
    with pytest.raises(ValueError, match="policy"):
        wz.upsert(RecordSet("www.example.com", "A", ["192.0.2.9"], set_identifier="r1",
                            region="us-east-1"))
    assert wz.answer_weights("www.example.com", "A", now=0.0)[1] == [1, 9, 3]
    assert [r.set_identifier for r in wz.record_sets()] == ["r0", "r1", "r2"]
