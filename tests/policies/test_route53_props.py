"""Property tests: lbcore.route53's choices on random zones == the literal rule models in
tests/reference/route53_ref.py."""
import numpy as np
from hypothesis import given, settings, strategies as st

from lbcore.route53 import Client, Clients, Geolocation, HostedZone, RecordSet
from reference import route53_ref

Z = "example.com"


class Flag:
    def __init__(self, ok):
        self.ok = ok

    def is_healthy(self, now):
        return self.ok


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.booleans()), min_size=1, max_size=8),
       st.integers(0, 2**32))
def test_weighted_matches_rule(recs, seed):
    z = HostedZone(Z, [RecordSet(Z, "A", [f"10.0.0.{i}"], set_identifier=str(i), weight=w,
                                 health_check=Flag(ok)) for i, (w, ok) in enumerate(recs)],
                   seed=seed)
    support = route53_ref.weighted_support([w for w, _ in recs], [ok for _, ok in recs])
    n = 4000
    b = z.resolve_many(Z, "A", Clients(latitudes=np.zeros(n), longitudes=np.zeros(n)))
    counts = np.bincount(b.choice, minlength=len(recs)) / n
    for i in range(len(recs)):
        p = support.get(i, 0.0)
        if p == 0:
            assert counts[i] == 0
        else:                   # 6 standard deviations at n = 4000
            assert abs(counts[i] - p) <= 6 * np.sqrt(p * (1 - p) / n) + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([("PRIMARY",), ("SECONDARY",), ("PRIMARY", "SECONDARY")]),
       st.lists(st.booleans(), min_size=2, max_size=2))
def test_failover_matches_rule(kinds, health):
    z = HostedZone(Z, [RecordSet(Z, "A", [f"10.0.0.{i}"], set_identifier=k, failover=k,
                                 health_check=Flag(health[i])) for i, k in enumerate(kinds)])
    want = route53_ref.failover(list(kinds), health)
    assert z.resolve(Z, "A").record_set.set_identifier == kinds[want]


LOCATIONS = [("subdivision", "US", "WA"), ("subdivision", "US", "OR"), ("country", "US"),
             ("country", "CA"), ("country", "FR"), ("continent", "NA"), ("continent", "EU"),
             ("*",)]


def _geo(loc):
    if loc[0] == "subdivision":
        return Geolocation(country="US", subdivision=loc[2])
    if loc[0] == "country":
        return Geolocation(country=loc[1])
    if loc[0] == "continent":
        return Geolocation(continent=loc[1])
    return Geolocation(country="*")


clients = st.tuples(st.sampled_from([None, "NA", "EU", "AS"]),
                    st.sampled_from([None, "US", "CA", "FR", "JP"]),
                    st.sampled_from([None, "WA", "OR", "TX"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LOCATIONS), st.booleans()), min_size=1, max_size=8,
                unique_by=lambda x: x[0]),
       st.lists(clients, min_size=1, max_size=10))
def test_geolocation_matches_rule(recs, cls):
    z = HostedZone(Z, [RecordSet(Z, "A", [f"10.0.0.{i}"], set_identifier=str(i),
                                 geolocation=_geo(loc), health_check=Flag(ok))
                       for i, (loc, ok) in enumerate(recs)])
    locs, health = [r[0] for r in recs], [r[1] for r in recs]
    objs = [Client(continent=c, country=k, subdivision=s) for c, k, s in cls]
    want = [route53_ref.geolocation(locs, health, c) for c in cls]
    got = [z.resolve(Z, "A", c) for c in objs]
    assert [int(a.record_set.set_identifier) if a.record_set else -1 for a in got] == want
    assert z.resolve_many(Z, "A", objs).choice.tolist() == want


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=20), st.integers(0, 2**32))
def test_multivalue_matches_rule(health, seed):
    z = HostedZone(Z, [RecordSet(Z, "A", [f"10.0.0.{i}"], set_identifier=str(i),
                                 multivalue=True, health_check=Flag(ok))
                       for i, ok in enumerate(health)], seed=seed)
    pool = set(route53_ref.multivalue_pool(health))
    for _ in range(20):
        got = [int(r.set_identifier) for r in z.resolve(Z, "A").record_sets]
        assert len(got) == min(8, len(pool)) and len(set(got)) == len(got)
        assert set(got) <= pool


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
           "ap-southeast-2", "sa-east-1"]
located = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(REGIONS), st.sampled_from([None, True, False])),
                min_size=1, max_size=7, unique_by=lambda x: x[0]),
       st.lists(st.one_of(st.none(), located), min_size=1, max_size=40),
       st.booleans())
def test_latency_batch_equals_per_query(recs, where, as_objects):
    # resolve_many's one-kernel-call path (the distance model) == resolve per query,
    # with health (None: no check) and unlocated clients
    z = HostedZone(Z, [RecordSet(Z, "A", [f"10.0.0.{i}"], set_identifier=r, region=r,
                                 health_check=None if ok is None else Flag(ok))
                       for i, (r, ok) in enumerate(recs)])
    objs = [Client() if w is None else Client(latitude=w[0], longitude=w[1]) for w in where]
    want = [z.resolve(Z, "A", c).record_set.set_identifier for c in objs]
    batch = objs if as_objects else Clients(
        latitudes=[np.nan if w is None else w[0] for w in where],
        longitudes=[np.nan if w is None else w[1] for w in where])
    b = z.resolve_many(Z, "A", batch)
    assert [b.record_sets[i].set_identifier for i in b.choice] == want
