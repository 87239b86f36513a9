"""lbcore.route53: every routing policy's precedence and health fallback rule, health checks,
resolve_many == resolve, and HostedZone.from_aws on botocore-shaped input."""
import math

import numpy as np
import pytest

from lbcore.route53 import (NODATA, NXDOMAIN, AliasTarget, CalculatedHealthCheck, CidrRouting,
                            Client, Clients, Geolocation, GeoproximityLocation, HealthCheck,
                            HostedZone, RecordSet, REGION_COORDINATES, local_zone_location)

Z = "example.com"


class Flag:
    """A health reporter whose status the test sets (the alias-target protocol)."""

    def __init__(self, ok=True, values=None):
        self.ok, self.values = ok, values

    def is_healthy(self, now):
        return self.ok

    def alias_values(self, rtype):
        return self.values


def rs(name, values, **kw):
    return RecordSet(name, "A", values, **kw)


def down():
    return Flag(False)


# ------------------------------------------------------------------ simple, NXDOMAIN, NODATA

def test_simple_returns_all_values_in_seeded_random_order():
    recs = [rs(Z, ["1.1.1.1", "2.2.2.2", "3.3.3.3"], ttl=42)]
    z1, z2 = HostedZone(Z, recs, seed=5), HostedZone(Z, recs, seed=5)
    orders = [z1.resolve(Z, "A").values for _ in range(200)]
    assert orders == [z2.resolve(Z, "A").values for _ in range(200)]
    assert all(sorted(o) == ["1.1.1.1", "2.2.2.2", "3.3.3.3"] for o in orders)
    assert len(set(orders)) == 6                  # every order shows up
    assert z1.resolve(Z, "A").ttl == 42


def test_nxdomain_nodata_and_cname():
    z = HostedZone(Z, [rs(Z, ["1.1.1.1"]), RecordSet("www." + Z, "CNAME", ["example.com"])])
    assert z.resolve("nope." + Z, "A") is NXDOMAIN
    assert z.resolve(Z, "AAAA") is NODATA and NODATA.nodata and NXDOMAIN.nxdomain
    assert z.resolve("WWW.Example.com.", "A").values == ("example.com",)
    b = z.resolve_many("nope." + Z, "A", [Client()] * 3)
    assert b.rcode == "NXDOMAIN" and b.choice.tolist() == [-1, -1, -1]
    with pytest.raises(ValueError, match="CNAME"):
        z.add(RecordSet("www." + Z, "A", ["1.2.3.4"]))


def test_empty_non_terminals_exist_and_answer_nodata():
    # RFC 8020: a name with records below it exists; only a name with nothing at or
    # below it is NXDOMAIN
    z = HostedZone(Z, [rs("a.b.c." + Z, ["1.1.1.1"])])
    for ent in ("b.c." + Z, "c." + Z, Z):
        assert z.has_name(ent) and z.resolve(ent, "A") is NODATA
        assert z.resolve_many(ent, "A", [Client()]).rcode == "NOERROR"
    assert z.has_name("A.B.C.example.com.") and not z.has_name("x.c." + Z)
    assert z.resolve("x.c." + Z, "A") is NXDOMAIN
    assert z.resolve("z.a.b.c." + Z, "A") is NXDOMAIN
    z.add(rs("late.x." + Z, ["2.2.2.2"]))            # added later: its parents exist too
    assert z.has_name("x." + Z) and z.resolve("x." + Z, "A") is NODATA
    with pytest.raises(ValueError, match="rtype"):
        z.resolve(Z, "BOGUS")


# ------------------------------------------------------------------ weighted

def weighted_zone(weights, health=None, seed=1):
    recs = []
    for i, w in enumerate(weights):
        hc = None if health is None else health[i]
        recs.append(rs("w." + Z, [f"10.0.0.{i}"], set_identifier=f"r{i}", weight=w,
                       health_check=hc))
    return HostedZone(Z, recs, seed=seed)


def freq(z, n=100_000, name="w." + Z):
    b = z.resolve_many(name, "A", Clients(latitudes=np.zeros(n), longitudes=np.zeros(n)))
    return np.bincount(b.choice, minlength=len(b.record_sets)) / n


def test_weighted_frequencies_100k():
    w = [10, 20, 70, 0]
    f = freq(weighted_zone(w))
    p = np.array(w) / sum(w)
    # 5 standard deviations of a binomial proportion at n = 100k
    assert np.all(np.abs(f - p) <= 5 * np.sqrt(p * (1 - p) / 100_000) + 1e-9)


def test_weighted_scalar_stream_equals_batch():
    a, b = weighted_zone([1, 2, 3], seed=9), weighted_zone([1, 2, 3], seed=9)
    scalar = [int(a.resolve("w." + Z, "A").record_set.set_identifier[1:]) for _ in range(500)]
    assert b.resolve_many("w." + Z, "A", [Client()] * 500).choice.tolist() == scalar


def test_weighted_all_zero_is_equal():
    f = freq(weighted_zone([0, 0, 0, 0]))
    assert np.all(np.abs(f - 0.25) < 0.01)


def test_weighted_zero_weight_only_when_nonzero_unhealthy():
    f = freq(weighted_zone([0, 5, 5], [None, Flag(), Flag()]))
    assert f[0] == 0
    f = freq(weighted_zone([0, 0, 5, 5], [None, None, down(), down()]))
    assert f[2] == f[3] == 0 and abs(f[0] - 0.5) < 0.01
    f = freq(weighted_zone([0, 5, 5], [None, down(), Flag()]))
    assert f[2] == 1.0


def test_weighted_no_healthy_record_treats_all_as_healthy():
    f = freq(weighted_zone([1, 3], [down(), down()]))
    assert abs(f[0] - 0.25) < 0.01 and abs(f[1] - 0.75) < 0.01


# ------------------------------------------------------------------ failover

@pytest.mark.parametrize("primary_ok,secondary_ok,expect",
                         [(True, True, "PRIMARY"), (True, False, "PRIMARY"),
                          (False, True, "SECONDARY"), (False, False, "PRIMARY")])
def test_failover(primary_ok, secondary_ok, expect):
    z = HostedZone(Z, [rs("f." + Z, ["1.0.0.1"], set_identifier="p", failover="PRIMARY",
                          health_check=Flag(primary_ok)),
                       rs("f." + Z, ["1.0.0.2"], set_identifier="s", failover="SECONDARY",
                          health_check=Flag(secondary_ok))])
    assert z.resolve("f." + Z, "A").record_set.failover == expect
    b = z.resolve_many("f." + Z, "A", [Client()] * 4)
    assert {b.record_sets[i].failover for i in b.choice} == {expect}


# ------------------------------------------------------------------ latency

def latency_zone(health=(None, None, None), **kw):
    regions = ["us-east-1", "eu-west-1", "ap-northeast-1"]
    return HostedZone(Z, [rs("l." + Z, [f"2.0.0.{i}"], set_identifier=r, region=r,
                             health_check=health[i]) for i, r in enumerate(regions)], **kw)


def test_latency_lowest_and_health_fallback():
    c = Client(latencies={"us-east-1": 80, "eu-west-1": 20, "ap-northeast-1": 200})
    assert latency_zone().resolve("l." + Z, "A", c).record_set.region == "eu-west-1"
    z = latency_zone((None, down(), None))
    assert z.resolve("l." + Z, "A", c).record_set.region == "us-east-1"
    z = latency_zone((down(), down(), down()))
    assert z.resolve("l." + Z, "A", c).record_set.region == "eu-west-1"


def test_latency_table_is_pluggable_and_distance_default():
    table = {("a", "us-east-1"): 5.0, ("a", "eu-west-1"): 50.0}
    z = latency_zone(latency=lambda client, region: table.get((client.ip, region)))
    assert z.resolve("l." + Z, "A", Client(ip="a")).record_set.region == "us-east-1"
    tokyo = Client(latitude=35.0, longitude=139.0)
    assert latency_zone().resolve("l." + Z, "A", tokyo).record_set.region == "ap-northeast-1"
    b = latency_zone().resolve_many("l." + Z, "A", [tokyo, Client(latitude=52, longitude=0)])
    assert [b.record_sets[i].region for i in b.choice] == ["ap-northeast-1", "eu-west-1"]


# ------------------------------------------------------------------ geolocation

def geo_zone(health=None, default=True):
    locs = [("us-wa", Geolocation(country="US", subdivision="WA")),
            ("us", Geolocation(country="US")),
            ("na", Geolocation(continent="NA")),
            ("star", Geolocation(country="*"))]
    if not default:
        locs = locs[:-1]
    health = health or {}
    return HostedZone(Z, [rs("g." + Z, [f"3.0.0.{i}"], set_identifier=sid, geolocation=g,
                             health_check=health.get(sid)) for i, (sid, g) in enumerate(locs)])


def where(z, client):
    a = z.resolve("g." + Z, "A", client)
    return a.record_set.set_identifier if a.record_set else None


def test_geolocation_precedence():
    z = geo_zone()
    assert where(z, Client(continent="NA", country="US", subdivision="WA")) == "us-wa"
    assert where(z, Client(continent="NA", country="US", subdivision="OR")) == "us"
    assert where(z, Client(continent="NA", country="CA")) == "na"
    assert where(z, Client(continent="EU", country="FR")) == "star"
    assert where(z, Client()) == "star"
    assert where(geo_zone(default=False), Client(continent="EU", country="FR")) is None
    assert geo_zone(default=False).resolve("g." + Z, "A", Client(country="FR")) is NODATA


def test_geolocation_unhealthy_falls_back_along_the_chain():
    wa = Client(continent="NA", country="US", subdivision="WA")
    assert where(geo_zone({"us-wa": down()}), wa) == "us"
    assert where(geo_zone({"us-wa": down(), "us": down()}), wa) == "na"
    assert where(geo_zone({"us-wa": down(), "us": down(), "na": down()}), wa) == "star"
    every = {k: down() for k in ("us-wa", "us", "na", "star")}
    assert where(geo_zone(every), wa) == "us-wa"        # nothing healthy: most specific
    clients = [wa, Client(country="CA", continent="NA"), Client(continent="AF")]
    z = geo_zone({"us-wa": down()})
    b = z.resolve_many("g." + Z, "A", clients)
    assert [b.record_sets[i].set_identifier for i in b.choice] == [where(z, c) for c in clients]


# ------------------------------------------------------------------ geoproximity

def test_geoproximity_regions_bias_health_and_batch():
    def zone(bias_eu=0, health=(None, None)):
        return HostedZone(Z, [
            rs("p." + Z, ["4.0.0.1"], set_identifier="use1", health_check=health[0],
               geoproximity=GeoproximityLocation(region="us-east-1")),
            rs("p." + Z, ["4.0.0.2"], set_identifier="euc1", health_check=health[1],
               geoproximity=GeoproximityLocation(coordinates=(50.11, 8.68), bias=bias_eu))])
    azores = Client(latitude=38.7, longitude=-27.2)     # nearer Frankfurt than Virginia
    assert zone().resolve("p." + Z, "A", azores).record_set.set_identifier == "euc1"
    assert zone(-60).resolve("p." + Z, "A", azores).record_set.set_identifier == "use1"
    assert zone(0, (None, down())).resolve("p." + Z, "A", azores).record_set.set_identifier \
        == "use1"
    assert zone(0, (down(), down())).resolve("p." + Z, "A", azores).record_set.set_identifier \
        == "euc1"
    assert zone().resolve("p." + Z, "A", Client()) is NODATA
    rng = np.random.default_rng(2)
    clients = [Client(latitude=float(a), longitude=float(b))
               for a, b in zip(rng.uniform(-90, 90, 300), rng.uniform(-180, 180, 300))]
    clients.append(Client())
    z = zone(30)
    b = z.resolve_many("p." + Z, "A", clients)
    scalar = [z.resolve("p." + Z, "A", c) for c in clients]
    assert [b.record_sets[i].set_identifier if i >= 0 else None for i in b.choice] == \
        [a.record_set.set_identifier if a.record_set else None for a in scalar]


def test_region_and_local_zone_tables():
    assert REGION_COORDINATES["eu-central-1"][:2] == (50.11, 8.68)
    assert local_zone_location("us-west-2-lax-1") == (34.05, -118.24)
    with pytest.raises(ValueError, match="LocalZoneGroup"):
        local_zone_location("us-west-2-xyz-1")
    z = HostedZone(Z, [rs("p." + Z, ["1.1.1.1"], set_identifier="lax",
                          geoproximity=GeoproximityLocation(local_zone_group="us-west-2-lax-1")),
                       rs("p." + Z, ["1.1.1.2"], set_identifier="bos",
                          geoproximity=GeoproximityLocation(local_zone_group="us-east-1-bos-1"))])
    assert z.resolve("p." + Z, "A", Client(latitude=37, longitude=-120)).values == ("1.1.1.1",)
    with pytest.raises(ValueError, match="AWSRegion"):
        HostedZone(Z, [rs("p." + Z, ["1.1.1.1"], set_identifier="x",
                          geoproximity=GeoproximityLocation(region="mars-north-1"))])


# ------------------------------------------------------------------ multivalue

def mv_zone(n, healthy):
    return HostedZone(Z, [rs("m." + Z, [f"5.0.0.{i}"], set_identifier=f"m{i}", multivalue=True,
                             health_check=Flag(healthy(i))) for i in range(n)], seed=3)


def test_multivalue_rules():
    a = mv_zone(5, lambda i: i != 2).resolve("m." + Z, "A")
    assert sorted(a.values) == ["5.0.0.0", "5.0.0.1", "5.0.0.3", "5.0.0.4"]
    z = mv_zone(20, lambda i: i % 2 == 0)
    seen = set()
    for _ in range(300):
        a = z.resolve("m." + Z, "A")
        got = [int(v.split(".")[-1]) for v in a.values]
        assert len(got) == 8 and len(set(got)) == 8 and all(g % 2 == 0 for g in got)
        seen.update(got)
    assert seen == set(range(0, 20, 2))
    a = mv_zone(12, lambda i: False).resolve("m." + Z, "A")
    assert len(a.values) == 8 and len(set(a.values)) == 8
    assert len(mv_zone(3, lambda i: False).resolve("m." + Z, "A").values) == 3


def test_multivalue_subsets_are_uniform():
    z = mv_zone(10, lambda i: True)
    counts = np.zeros(10)
    n = 20_000
    for _ in range(n):
        for v in z.resolve("m." + Z, "A").values:
            counts[int(v.split(".")[-1])] += 1
    assert np.all(np.abs(counts / n - 0.8) < 0.02)     # each record in 8/10 of answers


# ------------------------------------------------------------------ IP-based

COLL = {"c1": {"isp-a": ["203.0.113.0/24", "2001:db8::/32"], "isp-b": ["203.0.0.0/16"],
               "unused": ["198.51.100.0/24"]}}


def ip_zone(health=None, default=True):
    health = health or {}
    recs = [rs("i." + Z, ["6.0.0.1"], set_identifier="a", cidr=CidrRouting("c1", "isp-a"),
               health_check=health.get("a")),
            rs("i." + Z, ["6.0.0.2"], set_identifier="b", cidr=CidrRouting("c1", "isp-b"),
               health_check=health.get("b"))]
    if default:
        recs.append(rs("i." + Z, ["6.0.0.9"], set_identifier="d", cidr=CidrRouting("c1", "*"),
                       health_check=health.get("d")))
    return HostedZone(Z, recs, cidr_collections=COLL)


def ip_where(z, ip):
    a = z.resolve("i." + Z, "A", Client(ip=ip))
    return a.record_set.set_identifier if a.record_set else None


def test_ip_based_longest_match_default_and_health():
    z = ip_zone()
    assert ip_where(z, "203.0.113.5") == "a"            # /24 beats /16
    assert ip_where(z, "203.0.7.7") == "b"
    assert ip_where(z, "2001:db8:1::1") == "a"
    assert ip_where(z, "198.51.100.1") == "d"           # location without a record
    assert ip_where(z, "8.8.8.8") == "d"
    assert ip_where(ip_zone(default=False), "8.8.8.8") is None
    assert ip_where(ip_zone({"a": down()}), "203.0.113.5") == "d"
    assert ip_where(ip_zone({"a": down(), "d": down()}), "203.0.113.5") == "a"
    assert ip_where(ip_zone({"a": down()}, default=False), "203.0.113.5") == "a"
    ips = ["203.0.113.5", "203.0.7.7", "2001:db8:1::1", "8.8.8.8", None, "::1"]
    for zz in (ip_zone(), ip_zone({"a": down()}), ip_zone(default=False)):
        b = zz.resolve_many("i." + Z, "A", [Client(ip=x) for x in ips])
        assert [b.record_sets[i].set_identifier if i >= 0 else None for i in b.choice] == \
            [ip_where(zz, x) if x else ip_where(zz, "0.0.0.0") for x in ips]


def test_ip_based_resolve_many_from_flows():
    import ipaddress
    import lbcore
    flows = lbcore.Flows.random(2000, seed=1, ipv6_fraction=0.3)
    z = HostedZone(Z, [rs("i." + Z, ["6.0.0.1"], set_identifier="a",
                          cidr=CidrRouting("c1", "isp-b")),
                       rs("i." + Z, ["6.0.0.9"], set_identifier="d",
                          cidr=CidrRouting("c1", "*"))],
                   cidr_collections={"c1": {"isp-b": ["0.0.0.0/1", "8000::/1"]}})
    b = z.resolve_many("i." + Z, "A", Clients(flows=flows))
    ips = [str(ipaddress.ip_address((int(f.src_hi) << 64 | int(f.src_lo)) if f.flags & 1
                                    else int(f.src_lo))) for f in flows]
    assert [b.record_sets[i].set_identifier for i in b.choice] == [ip_where(z, x) for x in ips]
    assert set(b.choice.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="flows"):
        Clients([Client()], flows=flows)


@pytest.mark.parametrize("block", ["10.0.0.0/25", "2001:db8::/49", "0.0.0.0/0", "::/0"])
def test_ip_based_prefix_lengths(block):
    # Developer Guide: IPv4 /1-/24, IPv6 /1-/48; /0 is the '*' location
    with pytest.raises(ValueError, match="CidrBlock"):
        HostedZone(Z, cidr_collections={"c": {"x": [block]}})


def test_ip_based_accepts_the_limits():
    HostedZone(Z, cidr_collections={"c": {"x": ["10.0.0.0/24", "128.0.0.0/1",
                                                  "2001:db8:1::/48", "8000::/1"]}})


# ------------------------------------------------------------------ alias

def test_alias_to_zone_record_and_evaluate_target_health():
    w = [rs("w." + Z, ["7.0.0.1"], set_identifier="x", weight=1, health_check=Flag(True))]
    recs = w + [rs("a." + Z, [], alias=AliasTarget("w." + Z, True), set_identifier="p",
                   failover="PRIMARY"),
                rs("a." + Z, ["7.0.0.9"], set_identifier="s", failover="SECONDARY")]
    z = HostedZone(Z, recs)
    a = z.resolve("a." + Z, "A")
    assert a.values == ("7.0.0.1",) and a.record_sets[0].set_identifier == "p"
    w[0].health_check.ok = False                  # the alias target's only record fails
    assert z.resolve("a." + Z, "A").values == ("7.0.0.9",)
    z2 = HostedZone(Z, [rs("w." + Z, ["7.0.0.1"], set_identifier="x", weight=1,
                           health_check=down()),
                        rs("a." + Z, [], alias=AliasTarget("w." + Z, False),
                           set_identifier="p", failover="PRIMARY"),
                        rs("a." + Z, ["7.0.0.9"], set_identifier="s", failover="SECONDARY")])
    assert z2.resolve("a." + Z, "A").values == ("7.0.0.1",)   # no EvaluateTargetHealth


def test_alias_to_zone_name_without_the_type_is_nodata():
    z = HostedZone(Z, [RecordSet("v6." + Z, "AAAA", ["2001:db8::1"]),
                       rs("a." + Z, [], alias=AliasTarget("v6." + Z))])
    assert z.resolve("a." + Z, "A") is NODATA
    assert z.resolve("a." + Z, "AAAA") is NODATA          # no AAAA alias record at a.
    z.add(RecordSet("a." + Z, "AAAA", [], alias=AliasTarget("v6." + Z)))
    assert z.resolve("a." + Z, "AAAA").values == ("2001:db8::1",)


def test_alias_to_an_object_with_health():
    lb = Flag(True, values=["192.0.2.10", "192.0.2.11"])
    z = HostedZone(Z, [
        rs("lb." + Z, [], set_identifier="one", weight=1,
           alias=AliasTarget("my-lb-123.elb.amazonaws.com", True, target=lb)),
        rs("lb." + Z, ["192.0.2.99"], set_identifier="two", weight=0)])
    assert z.resolve("lb." + Z, "A").values == ("192.0.2.10", "192.0.2.11")
    lb.ok = False
    assert z.resolve("lb." + Z, "A").values == ("192.0.2.99",)
    with pytest.raises(TypeError, match="is_healthy"):
        AliasTarget("x." + Z, True, target=object())


# ------------------------------------------------------------------ health checks

def test_health_check_threshold_and_time():
    hc = HealthCheck("h", failure_threshold=3, request_interval=10)
    assert hc.is_healthy(0)                       # new checks start healthy
    for t in (10, 20):
        hc.observe(False, now=t)
    assert hc.is_healthy(25)                      # 2 < 3 failures
    hc.observe(False, now=30)
    assert not hc.is_healthy(30) and hc.is_healthy(29)   # status as of `now`
    hc.observe(True, now=40)
    hc.observe(True, now=50)
    assert not hc.is_healthy(55)
    hc.observe(True, now=60)
    assert hc.is_healthy(60)
    assert hc.next_check_time(61) == 70


def test_health_check_out_of_order_observations_and_flags():
    a, b = HealthCheck(failure_threshold=2), HealthCheck(failure_threshold=2)
    obs = [(10, False), (20, True), (30, False), (40, False), (50, True)]
    for t, ok in obs:
        a.observe(ok, now=t)
    for t, ok in reversed(obs):
        b.observe(ok, now=t)
    assert [a.is_healthy(t) for t in range(0, 60, 5)] == [b.is_healthy(t) for t in range(0, 60, 5)]
    assert not a.is_healthy(45)
    inv = HealthCheck(failure_threshold=1, inverted=True)
    assert not inv.is_healthy(0)
    inv.observe(False, now=1)
    assert inv.is_healthy(1)
    dis = HealthCheck(failure_threshold=1, disabled=True)
    dis.observe(False, now=1)
    assert dis.is_healthy(2)


def test_calculated_health_check():
    up, dn = Flag(True), Flag(False)
    kids = [up, up, dn]
    assert CalculatedHealthCheck(kids, 0).is_healthy(0)            # 0 -> always healthy
    assert not CalculatedHealthCheck(kids, 4).is_healthy(0)        # > N -> unhealthy
    assert not CalculatedHealthCheck(kids, 3).is_healthy(0)        # AND
    assert CalculatedHealthCheck(kids, 1).is_healthy(0)            # OR
    assert CalculatedHealthCheck(kids, 2).is_healthy(0)
    assert CalculatedHealthCheck([dn], 1, inverted=True).is_healthy(0)   # NOT
    dis = HealthCheck(failure_threshold=1, disabled=True)
    dis.observe(False, now=0)
    assert CalculatedHealthCheck([dis, up], 2).is_healthy(1)       # disabled child: healthy
    assert not CalculatedHealthCheck([], 1).is_healthy(0)
    with pytest.raises(ValueError, match="children"):
        CalculatedHealthCheck([up] * 257, 1)


def test_health_check_validation():
    with pytest.raises(ValueError, match="failure_threshold"):
        HealthCheck(failure_threshold=11)
    with pytest.raises(ValueError, match="failure_threshold"):
        HealthCheck(failure_threshold=0)
    with pytest.raises(ValueError, match="request_interval"):
        HealthCheck(request_interval=20)
    with pytest.raises(TypeError, match="ok"):
        HealthCheck().observe(1, now=0)
    with pytest.raises(ValueError, match="now"):
        HealthCheck().is_healthy(math.nan)
    with pytest.raises(ValueError, match="health_threshold"):
        CalculatedHealthCheck([], 300)


# ------------------------------------------------------------------ from_aws

def aws(name, **kw):
    d = {"Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    d.update(kw)
    return d


def test_from_aws_full_shape():
    sets = [
        {"Name": "example.com.", "Type": "SOA", "TTL": 900,
         "ResourceRecords": [{"Value": "ns-1.awsdns-00.com. hostmaster. 1 7200 900 1209600 86400"}]},
        aws("w.example.com.", SetIdentifier="a", Weight=3, HealthCheckId="hc-1"),
        aws("w.example.com.", SetIdentifier="b", Weight=0),
        aws("l.example.com.", SetIdentifier="use1", Region="us-east-1"),
        aws("f.example.com.", SetIdentifier="p", Failover="PRIMARY", HealthCheckId="calc"),
        aws("f.example.com.", SetIdentifier="s", Failover="SECONDARY"),
        aws("g.example.com.", SetIdentifier="wa",
            GeoLocation={"CountryCode": "US", "SubdivisionCode": "WA"}),
        aws("g.example.com.", SetIdentifier="def", GeoLocation={"CountryCode": "*"}),
        aws("p.example.com.", SetIdentifier="c",
            GeoProximityLocation={"Coordinates": {"Latitude": "47.61", "Longitude": "-122.33"},
                                  "Bias": -10}),
        aws("p.example.com.", SetIdentifier="r", GeoProximityLocation={"AWSRegion": "us-east-1"}),
        aws("m.example.com.", SetIdentifier="m1", MultiValueAnswer=True),
        aws("i.example.com.", SetIdentifier="i1",
            CidrRoutingConfig={"CollectionId": "c-1", "LocationName": "isp"}),
        aws("i.example.com.", SetIdentifier="i2",
            CidrRoutingConfig={"CollectionId": "c-1", "LocationName": "*"}),
        {"Name": "alias.example.com.", "Type": "A",
         "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "w.example.com.",
                         "EvaluateTargetHealth": True}},
    ]
    hcs = [{"Id": "hc-1", "HealthCheckConfig": {"Type": "HTTP", "FailureThreshold": 1,
                                                "RequestInterval": 10}},
           {"Id": "calc", "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": 1,
                                                "ChildHealthChecks": ["hc-1"]}}]
    z = HostedZone.from_aws({"ResourceRecordSets": sets}, health_checks=hcs,
                            cidr_collections={"c-1": [{"CidrBlock": "198.51.100.0/24",
                                                       "LocationName": "isp"}]})
    assert z.name == "example.com"
    assert z.resolve("w.example.com", "A", now=0).record_set.set_identifier == "a"
    assert z.resolve("f.example.com", "A", now=0).record_set.set_identifier == "p"
    z.health_checks["hc-1"].observe(False, now=5)
    assert z.resolve("w.example.com", "A", now=6).record_set.set_identifier == "b"
    assert z.resolve("f.example.com", "A", now=6).record_set.set_identifier == "s"
    assert z.resolve("i.example.com", "A", Client(ip="198.51.100.7")).record_set.set_identifier \
        == "i1"
    assert z.resolve("g.example.com", "A", Client(country="US", subdivision="WA")) \
        .record_set.set_identifier == "wa"
    seattle = Client(latitude=47.6, longitude=-122.3)
    assert z.resolve("p.example.com", "A", seattle).record_set.set_identifier == "c"
    assert z.resolve("alias.example.com", "A", now=6).values == ("192.0.2.1",)


def base_sets():
    return [aws("x.example.com.", SetIdentifier="a", Weight=1)]


@pytest.mark.parametrize("bad,field", [
    (aws("x.example.com.", SetIdentifier="b", Weight=300), "Weight"),
    (aws("x.example.com.", SetIdentifier="b", Weight=-1), "Weight"),
    (aws("y.example.com.", SetIdentifier="b",
         GeoProximityLocation={"AWSRegion": "us-east-1", "Bias": 120}), "Bias"),
    (aws("y.example.com.", SetIdentifier="b",
         GeoProximityLocation={"AWSRegion": "us-east-1", "LocalZoneGroup": "us-east-1-bos-1"}),
     "GeoProximityLocation"),
    (aws("y.example.com.", SetIdentifier="b",
         GeoProximityLocation={"Coordinates": {"Latitude": "47.612", "Longitude": "1"}}),
     "Latitude"),
    (aws("y.example.com.", SetIdentifier="b",
         GeoProximityLocation={"Coordinates": {"Latitude": "95", "Longitude": "1"}}),
     "Latitude"),
    (aws("y.example.com.", SetIdentifier="b",
         GeoLocation={"ContinentCode": "EU", "CountryCode": "FR"}), "ContinentCode"),
    (aws("y.example.com.", SetIdentifier="b",
         GeoLocation={"CountryCode": "CA", "SubdivisionCode": "ON"}), "SubdivisionCode"),
    (aws("y.example.com.", SetIdentifier="b", GeoLocation={"ContinentCode": "XX"}),
     "ContinentCode"),
    (aws("x.example.com.", SetIdentifier="b", Region="us-east-1"), "routing policy"),
    (aws("x.example.com.", SetIdentifier="a", Weight=2), "SetIdentifier"),
    (aws("y.example.com.", Weight=2), "SetIdentifier"),
    (aws("y.example.com.", SetIdentifier="b", Weight=1, Region="us-east-1"), "routing policy"),
    (aws("y.example.com.", SetIdentifier="b", Failover="TERTIARY"), "Failover"),
    (aws("y.example.com.", SetIdentifier="b", Weight=1, HealthCheckId="nope"), "HealthCheckId"),
    (aws("y.example.com.", SetIdentifier="b",
         CidrRoutingConfig={"CollectionId": "c-9", "LocationName": "isp"}), "CollectionId"),
    (aws("y.example.com.", SetIdentifier="b",
         CidrRoutingConfig={"CollectionId": "c-1", "LocationName": "nowhere"}), "LocationName"),
    (aws("y.example.com.", TTL=-5), "TTL"),
    (aws("y.example.com.", Type="BOGUS"), "Type"),
    (aws("y.example.com.", ResourceRecords=[]), "ResourceRecords"),
    (aws("y.example.com.", AliasTarget={"DNSName": "x.example.com.",
                                        "EvaluateTargetHealth": False}), "AliasTarget"),
    (aws("y.example.com.", Colour="red"), "unknown members"),
    (aws("other.org.", SetIdentifier="b", Weight=1), "Name"),
])
def test_from_aws_rejects_invalid_records(bad, field):
    with pytest.raises((ValueError, TypeError), match=field):
        HostedZone.from_aws(base_sets() + [bad], name="example.com",
                            cidr_collections={"c-1": {"isp": ["198.51.100.0/24"]}})


def test_from_aws_rejects_duplicate_failover_and_geolocation():
    with pytest.raises(ValueError, match="Failover"):
        HostedZone.from_aws([aws("f.example.com.", SetIdentifier="a", Failover="PRIMARY"),
                             aws("f.example.com.", SetIdentifier="b", Failover="PRIMARY")])
    with pytest.raises(ValueError, match="GeoLocation"):
        HostedZone.from_aws([aws("g.example.com.", SetIdentifier="a",
                                 GeoLocation={"CountryCode": "FR"}),
                             aws("g.example.com.", SetIdentifier="b",
                                 GeoLocation={"CountryCode": "FR"})])
    with pytest.raises(ValueError, match="FailureThreshold"):
        HostedZone.from_aws([], name=Z, health_checks=[
            {"Id": "h", "HealthCheckConfig": {"Type": "HTTP", "FailureThreshold": 11}}])
    with pytest.raises(ValueError, match="RequestInterval"):
        HostedZone.from_aws([], name=Z, health_checks=[
            {"Id": "h", "HealthCheckConfig": {"Type": "HTTP", "RequestInterval": 20}}])


def test_python_api_validation_names_parameters():
    with pytest.raises(ValueError, match="weight"):
        RecordSet(Z, "A", ["1.1.1.1"], set_identifier="a", weight=256)
    with pytest.raises(ValueError, match="bias"):
        GeoproximityLocation(region="us-east-1", bias=-100)
    with pytest.raises(ValueError, match="set_identifier"):
        RecordSet(Z, "A", ["1.1.1.1"], set_identifier="a")
    with pytest.raises(ValueError, match="multivalue"):
        RecordSet(Z, "A", [], set_identifier="a", multivalue=True,
                  alias=AliasTarget("x." + Z))
    with pytest.raises(TypeError, match="client"):
        HostedZone(Z, [rs(Z, ["1.1.1.1"])]).resolve(Z, "A", client="1.2.3.4")
    with pytest.raises(TypeError, match="now"):
        HostedZone(Z, [rs(Z, ["1.1.1.1"])]).resolve(Z, "A", now="soon")
    with pytest.raises(ValueError, match="now"):
        HostedZone(Z, [rs(Z, ["1.1.1.1"])]).resolve_many(Z, "A", [Client()], now=float("nan"))


# --- the per-(name, type) dispatch and the precomputed answers (docs/performance.md) ----

def test_resolve_dispatch_follows_zone_changes_and_name_spellings():
    z = HostedZone("example.com", [RecordSet("a.example.com", "A", ["192.0.2.1"])], seed=1)
    assert z.resolve("b.example.com", "A", now=0.0).nxdomain
    assert z.resolve("x.b.example.com", "A", now=0.0).nxdomain
    z.add(RecordSet("x.b.example.com", "A", ["192.0.2.2"]))          # b. is now an ENT
    assert z.resolve("b.example.com", "A", now=0.0).nodata
    assert z.resolve("x.b.example.com", "A", now=0.0).values == ("192.0.2.2",)
    for spelling in ("A.example.com", "a.EXAMPLE.com.", "a.example.com"):
        assert z.resolve(spelling, "A", now=0.0).values == ("192.0.2.1",)
    assert z.resolve("a.example.com", "TXT", now=0.0).nodata
    z.add(RecordSet("a.example.com", "TXT", ['"t"']))
    assert z.resolve("a.example.com", "TXT", now=0.0).values == ('"t"',)
    for _ in range(2):                                   # cached or not: the same errors
        with pytest.raises(ValueError, match="name"):
            z.resolve(["a.example.com"], "A", now=0.0)
        with pytest.raises(ValueError, match="rtype"):
            z.resolve("a.example.com", "HINFO", now=0.0)
        with pytest.raises(TypeError, match="client"):
            z.resolve("a.example.com", "A", "198.51.100.1", now=0.0)


def test_latency_fast_path_gives_the_answers_of_the_latency_table():
    """The default latency (distance model) is answered by one nearest-Region kernel call;
    the same zone with the same table passed as a callable takes the per-Region loop:
    both must agree for every client, with and without unhealthy records."""
    import random
    from lbcore.route53 import distance_latency
    regions = ["us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1", "eu-central-1",
               "ap-southeast-2"]
    checks = [HealthCheck(f"h{i}", failure_threshold=1) for i in range(len(regions))]

    def zone(**kw):
        return HostedZone("example.com", [
            RecordSet("l.example.com", "A", [f"10.1.0.{i}"], set_identifier=r, region=r,
                      health_check=checks[i]) for i, r in enumerate(regions)], **kw)
    fast, slow = zone(), zone(latency=distance_latency)
    rng = random.Random(4)
    clients = [Client(latitude=round(rng.uniform(-90, 90), 2),
                      longitude=round(rng.uniform(-180, 180), 2)) for _ in range(300)]
    clients += [Client(), Client(latitude=10.0),
                Client(latitude=1.0, longitude=2.0, latencies={"sa-east-1": 1.0})]
    for t, down in ((1.0, ()), (2.0, (0, 1, 4)), (3.0, tuple(range(len(regions))))):
        for i, hc in enumerate(checks):
            hc.observe(i not in down, now=t)
        for c in clients:
            assert fast.resolve("l.example.com", "A", c, t).values == \
                slow.resolve("l.example.com", "A", c, t).values, (c, down)
