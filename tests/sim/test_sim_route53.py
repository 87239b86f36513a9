"""The simulator's Route 53 answers for the deterministic policies (geoproximity with bias,
latency, failover, geolocation), checked against the rules as AWS documents them
(docs/route53.md): an independent haversine + bias formula, smallest round trip, and
hand-worked answers. Each policy must answer exactly one record where one applies."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from _zone_answers import dns_distribution as _dns_distribution
from lbcore.testing import strategies as lbst
from reference.geo_ref import R, biased, haversine_km


def _rec(i, **kw):
    return dict(kw, name="www.example.com", set_identifier=f"r{i}")


def _answer(p):
    """The one record answered (index), or None for no answer; fails on anything else."""
    p = np.asarray(p)
    assert set(p.tolist()) <= {0.0, 1.0} and p.sum() <= 1, p
    return int(p.argmax()) if p.sum() == 1 else None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(lbst.coordinates(), st.integers(-99, 99)), min_size=1, max_size=6),
       lbst.coordinates(), st.data())
def test_geoproximity_is_the_smallest_biased_distance(endpoints, loc, data):
    healthy = data.draw(st.lists(st.booleans(), min_size=len(endpoints),
                                 max_size=len(endpoints)))
    records = [_rec(i, routing="geoproximity", coordinates=c, bias=b)
               for i, (c, b) in enumerate(endpoints)]
    d = [biased(haversine_km(loc["latitude"], loc["longitude"], c["latitude"],
                               c["longitude"]), b) for c, b in endpoints]
    eligible = [i for i in range(len(d)) if healthy[i]] or list(range(len(d)))
    ranked = sorted(eligible, key=lambda i: (d[i], i))
    # the two formulas (chord vs haversine) may order a numerical near-tie differently
    assume(len(ranked) == 1 or d[ranked[1]] - d[ranked[0]] > 1e-6 * max(1.0, d[ranked[0]]))
    assert _answer(_dns_distribution(records, healthy, {}, loc)) == ranked[0]


def test_geoproximity_hand_worked():
    # the guide's example: A 150 km away with bias +50 (counts as 75 km) beats B at 100 km;
    # on the equator 1 degree of longitude is 2 pi R / 360 = 111.195 km
    km_per_deg = 2 * math.pi * R / 360   # R: mean Earth radius (docs/route53.md)
    a = _rec(0, routing="geoproximity", coordinates={"latitude": 0.0,
                                                     "longitude": 150 / km_per_deg}, bias=50)
    b = _rec(1, routing="geoproximity", coordinates={"latitude": 0.0,
                                                     "longitude": -100 / km_per_deg}, bias=0)
    client = {"latitude": 0.0, "longitude": 0.0}
    assert _answer(_dns_distribution([a, b], [True, True], {}, client)) == 0
    assert _answer(_dns_distribution([dict(a, bias=0), b], [True, True], {}, client)) == 1
    # bias -50 doubles A's 150 km: B still wins; A unhealthy: B; both unhealthy: as healthy
    assert _answer(_dns_distribution([dict(a, bias=-50), b], [True, True], {}, client)) == 1
    assert _answer(_dns_distribution([a, b], [False, True], {}, client)) == 1
    assert _answer(_dns_distribution([a, b], [False, False], {}, client)) == 0


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"]),
                       st.integers(1, 300), min_size=1),
       st.data())
def test_latency_is_the_smallest_round_trip(rtt_ms, data):
    regions = sorted(rtt_ms)
    chosen = data.draw(st.lists(st.sampled_from(regions), min_size=1, unique=True))
    assume(len({rtt_ms[r] for r in chosen}) == len(chosen))      # no ties
    healthy = data.draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    records = [_rec(i, routing="latency", region=r) for i, r in enumerate(chosen)]
    rtt = {r: v / 1000 for r, v in rtt_ms.items()}
    eligible = [i for i in range(len(chosen)) if healthy[i]] or list(range(len(chosen)))
    want = min(eligible, key=lambda i: rtt_ms[chosen[i]])
    assert _answer(_dns_distribution(records, healthy, rtt)) == want


@pytest.mark.parametrize("healthy", [(True, True), (True, False), (False, True), (False, False)])
def test_failover_matches_the_documented_rule(healthy):
    records = [_rec(0, routing="failover", failover="PRIMARY"),
               _rec(1, routing="failover", failover="SECONDARY")]
    # PRIMARY while healthy; SECONDARY when only it is healthy; both unhealthy -> PRIMARY
    assert _answer(_dns_distribution(records, list(healthy), {})) == \
        (1 if healthy == (False, True) else 0)


GEO = [_rec(0, routing="geolocation", geolocation={"country": "*"}),
       _rec(1, routing="geolocation", geolocation={"continent": "EU"}),
       _rec(2, routing="geolocation", geolocation={"country": "DE"}),
       _rec(3, routing="geolocation", geolocation={"country": "US", "subdivision": "CA"})]


@pytest.mark.parametrize("client,healthy,want", [
    # the most specific match: US state > country > continent > default
    ({"continent": "EU", "country": "DE"}, (1, 1, 1, 1), 2),
    ({"continent": "EU", "country": "FR"}, (1, 1, 1, 1), 1),
    ({"continent": "NA", "country": "US", "subdivision": "CA"}, (1, 1, 1, 1), 3),
    ({"continent": "NA", "country": "US", "subdivision": "TX"}, (1, 1, 1, 1), 0),
    ({"continent": "AS", "country": "JP"}, (1, 1, 1, 1), 0),
    (None, (1, 1, 1, 1), 0),                          # no location: the default record
    # an unhealthy match falls back along the chain
    ({"continent": "EU", "country": "DE"}, (1, 1, 0, 1), 1),
    ({"continent": "EU", "country": "DE"}, (1, 0, 0, 1), 0),
    # nothing on the chain healthy: the most specific match
    ({"continent": "EU", "country": "DE"}, (0, 0, 0, 1), 2),
])
def test_geolocation_hand_worked(client, healthy, want):
    got = _dns_distribution(GEO, [bool(h) for h in healthy], {}, None, client)
    assert _answer(got) == want


def test_geolocation_without_a_default_record_gives_no_answer():
    got = _dns_distribution(GEO[1:], [True] * 3, {}, None, {"continent": "AS", "country": "JP"})
    assert _answer(got) is None
    got = _dns_distribution(GEO[1:], [True] * 3, {}, None, {"continent": "EU", "country": "IT"})
    assert _answer(got) == 0
