"""What Route 53 rejects (issue 18, Route 53 part): each rule a golden reject next to a
nearby configuration Route 53 accepts, so a fix cannot pass by rejecting everything.
Sources are cited in docs/route53.md, "What Route 53 rejects"."""
import pytest

from lbcore.route53 import (AliasTarget, CalculatedHealthCheck, Client, HealthCheck,
                            HostedZone, RecordSet)

Z = "example.com"
W = "www." + Z


def weighted(i, name=W, rtype="A", ttl=60, weight=1, **kw):
    return RecordSet(name, rtype, [f"192.0.2.{i % 250}"], ttl=ttl, set_identifier=f"w{i}",
                     weight=weight, **kw)


# --- one routing policy per name and type (multivalue with weighted / latency)

@pytest.mark.parametrize("first, second", [
    (dict(weight=1), dict(multivalue=True)),
    (dict(multivalue=True), dict(weight=1)),
    (dict(region="us-east-1"), dict(multivalue=True)),
    (dict(multivalue=True), dict(region="us-west-2")),
])
def test_multivalue_mixed_with_weighted_or_latency_is_rejected(first, second):
    z = HostedZone(Z, [RecordSet(W, "A", ["192.0.2.1"], set_identifier="a", **first)])
    with pytest.raises(ValueError, match=r"routing policy: www\.example\.com A 'b' .*one "
                                         r"routing policy"):
        z.add(RecordSet(W, "A", ["192.0.2.2"], set_identifier="b", **second))
    # nearby accepted: the same policies under another type or another name
    z.add(RecordSet(W, "AAAA", ["2001:db8::2"], set_identifier="b", **second))
    z.add(RecordSet("api." + Z, "A", ["192.0.2.2"], set_identifier="b", **second))
    assert z.resolve("api." + Z, "A").values == ("192.0.2.2",)


# --- at most 100 weighted records per name and type

def test_weighted_group_of_100_is_accepted_and_the_101st_rejected():
    z = HostedZone(Z, [weighted(i) for i in range(100)], seed=1)
    assert len(z.record_sets(W, "A")) == 100
    assert z.resolve(W, "A").values[0].startswith("192.0.2.")
    with pytest.raises(ValueError, match=r"weight \(Weight\): www\.example\.com A 'w100': at "
                                         r"most 100 weighted"):
        z.add(weighted(100))
    z.add(weighted(100, rtype="TXT"))            # another type: its own group of 100
    z.add(weighted(100, name="api." + Z))         # another name too


def test_from_aws_rejects_101_weighted_record_sets():
    def item(i):
        return {"Name": W + ".", "Type": "A", "SetIdentifier": f"w{i}", "Weight": 1,
                "TTL": 60, "ResourceRecords": [{"Value": f"192.0.2.{i}"}]}
    HostedZone.from_aws([item(i) for i in range(100)], name=Z)
    with pytest.raises(ValueError, match="at most 100 weighted"):
        HostedZone.from_aws([item(i) for i in range(101)], name=Z)


def test_a_weighted_record_may_have_several_values():
    # the "more than one value on a weighted or latency record" is not a Route 53
    # rule: the guide lets every type but CNAME have several values
    z = HostedZone(Z, [RecordSet(W, "A", ["192.0.2.1", "192.0.2.2"], set_identifier="a",
                                 weight=1),
                       RecordSet(W, "AAAA", ["2001:db8::1", "2001:db8::2"], set_identifier="b",
                                 region="us-east-1")])
    assert z.resolve(W, "A").values == ("192.0.2.1", "192.0.2.2")
    assert z.resolve(W, "AAAA").values == ("2001:db8::1", "2001:db8::2")


# --- one latency record per Region

def test_two_latency_records_for_one_region_are_rejected():
    z = HostedZone(Z, [RecordSet(W, "A", ["192.0.2.1"], set_identifier="east", region="us-east-1"),
                       RecordSet(W, "A", ["192.0.2.2"], set_identifier="west", region="us-west-2")])
    with pytest.raises(ValueError, match=r"region \(Region\): www\.example\.com A 'east-2'.*"
                                         r"already has a latency record set for us-east-1"):
        z.add(RecordSet(W, "A", ["192.0.2.3"], set_identifier="east-2", region="us-east-1"))
    # nearby accepted: the same Region for another type, and a third Region
    z.add(RecordSet(W, "AAAA", ["2001:db8::1"], set_identifier="east", region="us-east-1"))
    z.add(RecordSet(W, "A", ["192.0.2.3"], set_identifier="eu", region="eu-west-1"))
    assert len(z.record_sets(W, "A")) == 3


# --- TTLs in a weighted group: Route 53 keeps the last one specified

def test_weighted_records_with_different_ttls_answer_with_the_last_ttl():
    z = HostedZone(Z, [weighted(0, ttl=60), weighted(1, ttl=300), weighted(2, ttl=120)], seed=3)
    ttls = {z.resolve(W, "A").ttl for _ in range(60)}
    assert ttls == {120}
    assert [r.ttl for r in z.record_sets(W, "A")] == [60, 300, 120]   # what was given
    z.add(weighted(3, ttl=30))                    # a later record's TTL then applies
    assert {z.resolve(W, "A").ttl for _ in range(60)} == {30}


def test_weighted_alias_keeps_its_own_ttl_and_uniform_ttls_are_unchanged():
    z = HostedZone(Z, [RecordSet("t." + Z, "A", ["198.51.100.1"], ttl=5),
                       weighted(0, ttl=300),
                       RecordSet(W, "A", set_identifier="al", weight=1,
                                 alias=AliasTarget("t." + Z))], seed=4)
    by_values = {}
    for _ in range(200):
        a = z.resolve(W, "A")
        by_values[a.values] = a.ttl
    assert by_values == {("192.0.2.0",): 300, ("198.51.100.1",): 5}


def test_latency_records_keep_their_own_ttls():
    # the guide states the last-TTL rule for weighted records only
    z = HostedZone(Z, [RecordSet(W, "A", ["192.0.2.1"], ttl=60, set_identifier="e",
                                 region="us-east-1"),
                       RecordSet(W, "A", ["192.0.2.2"], ttl=300, set_identifier="w",
                                 region="us-west-2")])
    assert z.resolve(W, "A", Client(latencies={"us-east-1": 1.0, "us-west-2": 9.0})).ttl == 60
    assert z.resolve(W, "A", Client(latencies={"us-east-1": 9.0, "us-west-2": 1.0})).ttl == 300


# --- CNAME rules

def test_cname_at_the_zone_apex_is_rejected():
    with pytest.raises(ValueError, match=r"type \(Type\): example\.com CNAME: .*zone apex"):
        HostedZone(Z, [RecordSet(Z, "CNAME", ["other.example.net"])])
    # nearby accepted: a CNAME below the apex, an alias A record at the apex
    z = HostedZone(Z, [RecordSet(W, "CNAME", ["other.example.net"]),
                       RecordSet("t." + Z, "A", ["192.0.2.9"]),
                       RecordSet(Z, "A", alias=AliasTarget("t." + Z))])
    assert z.resolve(Z, "A").values == ("192.0.2.9",)


def test_cname_with_two_values_is_rejected():
    with pytest.raises(ValueError, match=r"values \(ResourceRecords\) www\.example\.com CNAME: "
                                         r"a CNAME record set has exactly one value, got 2"):
        RecordSet(W, "CNAME", ["a.example.net", "b.example.net"])
    assert RecordSet(W, "CNAME", ["a.example.net"]).values == ("a.example.net",)
    assert RecordSet(W, "TXT", ['"a"', '"b"']).values == ('"a"', '"b"')


@pytest.mark.parametrize("rtype, value", [("NS", "ns1.example.net"),
                                          ("CNAME", "a.example.net")])
def test_multivalue_ns_or_cname_is_rejected(rtype, value):
    with pytest.raises(ValueError, match=rf"multivalue \(MultiValueAnswer\) www\.example\.com "
                                         rf"{rtype}: .*except NS or CNAME"):
        RecordSet(W, rtype, [value], set_identifier="m", multivalue=True)
    # nearby accepted: the same type with another policy, multivalue with another type
    RecordSet(W, rtype, [value], set_identifier="m", weight=1)
    RecordSet(W, "TXT", ['"v"'], set_identifier="m", multivalue=True)


# --- what the sources do not make a reject

def test_failover_alias_may_leave_evaluate_target_health_false():
    # ResourceRecordSet.Failover says a failover alias "must" set EvaluateTargetHealth to
    # true, but AliasTarget.EvaluateTargetHealth forbids true for a CloudFront target, a
    # usual SECONDARY: lbcore requires the member (botocore: required) and accepts False
    item = {"Name": W, "Type": "A", "SetIdentifier": "s", "Failover": "SECONDARY",
            "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d1.cloudfront.net.",
                            "EvaluateTargetHealth": False}}
    z = HostedZone.from_aws([item], name=Z)
    assert z.resolve(W, "A").values == ("d1.cloudfront.net",)
    del item["AliasTarget"]["EvaluateTargetHealth"]
    with pytest.raises(ValueError, match="EvaluateTargetHealth"):
        HostedZone.from_aws([item], name=Z)


def test_calculated_check_may_monitor_a_calculated_check():
    # neither the guide nor HealthCheckConfig states a nesting rule: lbcore accepts it
    a, b = HealthCheck("a"), HealthCheck("b")
    inner = CalculatedHealthCheck([a, b], 2, "inner")
    outer = CalculatedHealthCheck([inner], 1, "outer")
    assert outer.is_healthy(0.0)
    for t in (1.0, 2.0, 3.0):
        b.observe(False, now=t)
    assert not inner.is_healthy(3.0) and not outer.is_healthy(3.0)
    checks = [{"Id": "e", "HealthCheckConfig": {"Type": "HTTP"}},
              {"Id": "in", "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": 1,
                                                 "ChildHealthChecks": ["e"]}},
              {"Id": "out", "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": 1,
                                                  "ChildHealthChecks": ["in"]}}]
    z = HostedZone.from_aws([{"Name": W, "Type": "A", "SetIdentifier": "a", "Weight": 1,
                              "TTL": 60, "HealthCheckId": "out",
                              "ResourceRecords": [{"Value": "192.0.2.1"}]}],
                            health_checks=checks, name=Z)
    assert z.resolve(W, "A", now=0.0).values == ("192.0.2.1",)
