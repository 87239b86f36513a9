"""The simulator's Route 53 answers for the deterministic policies (geoproximity with bias,
latency, failover, geolocation) are lbcore.route53.HostedZone's: checked on drawn records."""
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import biased_distance, great_circle_km
from lbcore.sim.model import _dns_distribution
from lbcore.testing import strategies as lbst

route53 = pytest.importorskip("lbcore.route53")


def _rec(i, **kw):
    return dict(kw, name="www.example.com", set_identifier=f"r{i}")


def _zone(records):
    # record i answers 192.0.2.(i + 1): its alias target lb{i} is the (i + 1)-th seen
    full = [dict(r, name="www.example.com", set_identifier=f"r{i}", alias_target=f"lb{i}")
            for i, r in enumerate(records)]
    return route53.HostedZone("example.com", lbst.to_record_sets(full), seed=1)


def _lib_choice(zone, client):
    ans = zone.resolve("www.example.com", "A", client)
    return int(ans.values[0].rsplit(".", 1)[1]) - 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(lbst.coordinates(), st.integers(-99, 99)), min_size=1, max_size=6),
       lbst.coordinates())
def test_geoproximity_matches_lbcore_route53(endpoints, loc):
    records = [_rec(i, routing="geoproximity", coordinates=c, bias=b)
               for i, (c, b) in enumerate(endpoints)]
    mine = int(_dns_distribution(records, [True] * len(records), {}, loc).argmax())
    lib = _lib_choice(_zone(records), route53.Client(latitude=loc["latitude"],
                                                     longitude=loc["longitude"]))
    if mine != lib:   # only a numerical near-tie may differ (the two distance formulas)
        d = [biased_distance(great_circle_km(loc["latitude"], loc["longitude"],
                                             r["coordinates"]["latitude"],
                                             r["coordinates"]["longitude"]), r["bias"])
             for r in records]
        assert abs(d[mine] - d[lib]) <= 1e-6 * max(1.0, d[mine])


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"]),
                       st.integers(1, 300), min_size=1),
       st.data())
def test_latency_matches_lbcore_route53(rtt_ms, data):
    regions = sorted(rtt_ms)
    chosen = data.draw(st.lists(st.sampled_from(regions), min_size=1, unique=True))
    records = [_rec(i, routing="latency", region=r) for i, r in enumerate(chosen)]
    rtt = {r: v / 1000 for r, v in rtt_ms.items()}
    mine = int(_dns_distribution(records, [True] * len(records), rtt).argmax())
    lib = _lib_choice(_zone(records), route53.Client(latencies={r: float(v) for r, v in
                                                                rtt_ms.items()}))
    assert mine == lib or rtt_ms[chosen[mine]] == rtt_ms[chosen[lib]]


@pytest.mark.parametrize("healthy", [(True, True), (True, False), (False, True), (False, False)])
def test_failover_matches_the_documented_rule(healthy):
    records = [_rec(0, routing="failover", failover="PRIMARY"),
               _rec(1, routing="failover", failover="SECONDARY")]
    p = _dns_distribution(records, list(healthy), {})
    # PRIMARY while healthy; SECONDARY when only it is healthy; both unhealthy -> PRIMARY
    assert int(p.argmax()) == (1 if healthy == (False, True) else 0)
