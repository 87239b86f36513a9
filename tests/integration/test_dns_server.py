"""lbcore.dns against real resolvers: the server on 127.0.0.1 (ephemeral port), queried by
dnspython's dns.query (UDP, TCP) and dns.resolver.Resolver. Every test is bounded in
queries and time (pytest-timeout marks, 2 s per query) and stops the server it started.
"""
from __future__ import annotations

import math
import random
import shutil
import socket
import struct
import subprocess
import time

import pytest

pytest.importorskip("dns.message")

import dns.edns  # noqa: E402
import dns.opcode  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.resolver  # noqa: E402

from lbcore.dns import CidrLocator, DNSServer, Responder  # noqa: E402
from lbcore.route53 import (Geolocation, HealthCheck, HostedZone,  # noqa: E402
                            RecordSet)

pytestmark = pytest.mark.timeout(60)

Z = "example.com"
SOA = "ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
SOA_TTL = 900
NEG_TTL = min(SOA_TTL, 86400)                 # RFC 2308: min(SOA TTL, SOA MINIMUM)
WAIT = 2.0                                    # seconds per query, at most

# subnets the locator knows: Frankfurt (DE, EU) and Virginia (US, NA)
EU_NET, US_NET = "198.51.100.0/24", "203.0.113.0/24"
LOCATIONS = {
    EU_NET: {"continent": "EU", "country": "DE", "latitude": 50.11, "longitude": 8.68},
    US_NET: {"continent": "NA", "country": "US", "subdivision": "VA",
             "latitude": 38.95, "longitude": -77.45},
}


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_zone(seed: int = 7, health: dict | None = None) -> HostedZone:
    health = health or {}
    rs = [
        RecordSet(Z, "SOA", SOA, ttl=SOA_TTL),
        RecordSet(Z, "NS", ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"], ttl=172800),
        RecordSet("www." + Z, "A", ["192.0.2.1", "192.0.2.2", "192.0.2.3"], ttl=60),
        RecordSet("www." + Z, "AAAA", ["2001:db8::1"], ttl=60),
        RecordSet("www." + Z, "TXT", ['"v=spf1 -all"'], ttl=120),
        RecordSet("leaf.deep." + Z, "A", ["192.0.2.9"]),            # deep. is an ENT
        RecordSet("cname." + Z, "CNAME", ["www." + Z], ttl=30),
        RecordSet("out." + Z, "CNAME", ["elsewhere.example.net"], ttl=30),
        RecordSet("w." + Z, "A", ["192.0.2.10"], weight=3, set_identifier="three"),
        RecordSet("w." + Z, "A", ["192.0.2.11"], weight=1, set_identifier="one"),
        RecordSet("f." + Z, "A", ["192.0.2.20"], failover="PRIMARY", set_identifier="p",
                  health_check=health.get("primary")),
        RecordSet("f." + Z, "A", ["192.0.2.21"], failover="SECONDARY", set_identifier="s"),
        RecordSet("lat." + Z, "A", ["192.0.2.30"], region="us-east-1", set_identifier="use1"),
        RecordSet("lat." + Z, "A", ["192.0.2.31"], region="eu-central-1",
                  set_identifier="euc1"),
        RecordSet("geo." + Z, "A", ["192.0.2.40"], geolocation=Geolocation(country="DE"),
                  set_identifier="de"),
        RecordSet("geo." + Z, "A", ["192.0.2.41"],
                  geolocation=Geolocation(country="US", subdivision="VA"), set_identifier="va"),
        RecordSet("geo." + Z, "A", ["192.0.2.42"], geolocation=Geolocation(country="*"),
                  set_identifier="default"),
    ]
    rs += [RecordSet("mv." + Z, "A", [f"192.0.2.{100 + i}"], multivalue=True,
                     set_identifier=f"m{i}") for i in range(10)]
    # 12 x 250-byte strings: ~3 KB of TXT, more than 512 and than 1232 bytes
    rs.append(RecordSet("big." + Z, "TXT", [f'"{chr(97 + i) * 250}"' for i in range(12)]))
    # 8 x 100 bytes: fits 1232 (EDNS0) but not 512
    rs.append(RecordSet("mid." + Z, "TXT", [f'"{chr(97 + i) * 100}"' for i in range(8)]))
    return HostedZone(Z, rs, seed=seed)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def server(clock):
    srv = DNSServer(make_zone(), port=0, clock=clock, locator=CidrLocator(LOCATIONS))
    with srv.serve_in_thread():
        yield srv


def udp(server, name, rtype="A", **kw):
    q = dns.message.make_query(name, rtype, **kw)
    host, port = server.address
    return dns.query.udp(q, host, port=port, timeout=WAIT)


def tcp(server, name, rtype="A", **kw):
    q = dns.message.make_query(name, rtype, **kw)
    host, port = server.address
    return dns.query.tcp(q, host, port=port, timeout=WAIT)


def ecs_query(server, name, subnet, rtype="A"):
    addr, _, bits = subnet.partition("/")
    return udp(server, name, rtype, use_edns=0, options=[dns.edns.ECSOption(addr, int(bits))])


def values(msg, rtype="A"):
    return [rd.to_text() for rrset in msg.answer if rrset.rdtype == dns.rdatatype.from_text(rtype)
            for rd in rrset]


def resolver_for(server) -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=False)
    host, port = server.address
    r.nameservers = [host]
    r.port = port
    r.timeout = r.lifetime = WAIT
    r.retry_servfail = False
    return r


# ------------------------------------------------------------ answers

def test_simple_answer_is_authoritative_with_the_record_ttl(server):
    r = udp(server, "www." + Z)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert sorted(values(r)) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert r.answer[0].ttl == 60 and not r.authority
    assert values(udp(server, "www." + Z, "AAAA"), "AAAA") == ["2001:db8::1"]
    txt = udp(server, "WWW.Example.COM", "TXT")            # names are case-insensitive
    assert values(txt, "TXT") == ['"v=spf1 -all"'] and txt.answer[0].ttl == 120
    soa = udp(server, Z, "SOA")
    assert values(soa, "SOA") == [SOA] and soa.answer[0].ttl == SOA_TTL


def test_cname_inside_the_zone_is_followed_and_outside_is_not(server):
    r = udp(server, "cname." + Z)
    assert [x.rdtype for x in r.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert values(r, "CNAME") == ["www.example.com."] and r.answer[0].ttl == 30
    assert sorted(values(r)) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    out = udp(server, "out." + Z)
    assert values(out, "CNAME") == ["elsewhere.example.net."] and len(out.answer) == 1
    assert out.rcode() == dns.rcode.NOERROR
    # the resolver follows the chain and reports the final name's addresses
    ans = resolver_for(server).resolve("cname." + Z, "A")
    assert sorted(a.to_text() for a in ans) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


def test_any_lists_every_type_at_the_name(server):
    r = udp(server, "www." + Z, "ANY")
    assert r.rcode() == dns.rcode.NOERROR
    assert sorted(dns.rdatatype.to_text(x.rdtype) for x in r.answer) == ["A", "AAAA", "TXT"]


def test_any_resolves_each_type_by_its_policy_and_negatives_as_any_type(server):
    """docs/dns.md, "ANY": no Route 53 source found, so ANY is answered in full, each
    record set chosen by its routing policy; negatives as for any type."""
    w = udp(server, "w." + Z, "ANY")
    assert len(w.answer) == 1 and len(w.answer[0]) == 1             # one weighted choice
    assert w.answer[0][0].to_text() in ("192.0.2.10", "192.0.2.11")
    assert len(values(udp(server, "mv." + Z, "ANY"))) == 8          # multivalue: 8 of 10
    _assert_negative(udp(server, "nope." + Z, "ANY"), dns.rcode.NXDOMAIN)
    _assert_negative(udp(server, "deep." + Z, "ANY"), dns.rcode.NOERROR)   # empty non-terminal


# ------------------------------------------------------------ negative answers and errors

def _assert_negative(r, rcode):
    assert r.rcode() == rcode and r.flags & dns.flags.AA and not r.answer
    assert len(r.authority) == 1
    soa = r.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == Z + "."
    assert soa.ttl == NEG_TTL and soa[0].to_text() == SOA


def test_nxdomain_and_nodata_carry_the_soa(server):
    _assert_negative(udp(server, "nope." + Z), dns.rcode.NXDOMAIN)
    _assert_negative(udp(server, "a.nope." + Z), dns.rcode.NXDOMAIN)
    _assert_negative(udp(server, "www." + Z, "MX"), dns.rcode.NOERROR)      # NODATA
    _assert_negative(udp(server, "www." + Z, "HINFO"), dns.rcode.NOERROR)   # no such type in R53
    _assert_negative(udp(server, "deep." + Z), dns.rcode.NOERROR)           # empty non-terminal
    _assert_negative(udp(server, "nope." + Z, "HINFO"), dns.rcode.NXDOMAIN)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver_for(server).resolve("nope." + Z, "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver_for(server).resolve("deep." + Z, "A")


def test_names_outside_the_zone_and_other_classes_are_refused(server):
    for name in ("www.example.org", "com", "."):
        r = udp(server, name)
        assert r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.AA and not r.answer
    assert udp(server, "www." + Z, rdclass="CH").rcode() == dns.rcode.REFUSED
    assert tcp(server, Z, "AXFR").rcode() == dns.rcode.REFUSED      # no zone transfers


def _raw(server, payload: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(payload, server.address)
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def test_garbage_gets_formerr_and_short_datagrams_are_dropped(server):
    q = dns.message.make_query("www." + Z, "A")
    wire = q.to_wire()
    r = dns.message.from_wire(_raw(server, wire[:12] + b"\x07garbage"))
    assert r.id == q.id and r.rcode() == dns.rcode.FORMERR and r.flags & dns.flags.QR
    assert _raw(server, b"\x01\x02\x03") is None                  # shorter than a header
    resp = wire[:2] + bytes([wire[2] | 0x80]) + wire[3:]          # a response: never answered
    assert _raw(server, resp) is None
    two = dns.message.make_query("www." + Z, "A")
    two.question.append(two.question[0])                          # QDCOUNT 2
    assert dns.message.from_wire(_raw(server, two.to_wire())).rcode() == dns.rcode.FORMERR
    notify = dns.message.make_query(Z, "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert dns.message.from_wire(_raw(server, notify.to_wire())).rcode() == dns.rcode.NOTIMP
    v1 = dns.message.make_query("www." + Z, "A", use_edns=1)
    assert dns.message.from_wire(_raw(server, v1.to_wire())).rcode() == dns.rcode.BADVERS


def test_random_packets_never_stop_the_server(server):
    rng = random.Random(16)
    # One sending socket, open until the end: had each packet its own socket, the final
    # query's socket could be given a port a garbage packet came from and receive the late
    # answer to it (dnspython then raises BadResponse, as CI once saw).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(300):
            kind = rng.random()
            if kind < 0.5:             # random bytes
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
            else:                      # a real query with bytes flipped
                data = bytearray(dns.message.make_query("www." + Z, "A", use_edns=0).to_wire())
                for _ in range(rng.randrange(1, 6)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                data = bytes(data)
            s.sendto(data, server.address)
        # let the server work through the burst first (its answers to it arrive here; at
        # most 10 s): the query below then gets its usual WAIT, not WAIT minus the burst,
        # which a loaded 2-core machine once took longer than
        s.settimeout(0.5)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                s.recv(65535)
            except socket.timeout:
                break
        assert sorted(values(udp(server, "www." + Z))) == ["192.0.2.1", "192.0.2.2",
                                                           "192.0.2.3"]


# ------------------------------------------------------------ truncation and TCP

def test_udp_truncates_and_tcp_carries_the_full_answer(server):
    plain = udp(server, "big." + Z, "TXT")
    assert plain.flags & dns.flags.TC and len(plain.to_wire()) <= 512
    edns = udp(server, "big." + Z, "TXT", use_edns=0, payload=1232)
    assert edns.flags & dns.flags.TC and len(edns.to_wire()) <= 1232   # the query's size
    whole = udp(server, "big." + Z, "TXT", use_edns=0, payload=4096)    # Route 53's maximum
    assert not whole.flags & dns.flags.TC and len(values(whole, "TXT")) == 12
    full = tcp(server, "big." + Z, "TXT")
    assert not full.flags & dns.flags.TC and len(values(full, "TXT")) == 12
    r, used_tcp = dns.query.udp_with_fallback(dns.message.make_query("big." + Z, "TXT"),
                                              server.address[0], port=server.address[1],
                                              timeout=WAIT)
    assert used_tcp and len(values(r, "TXT")) == 12
    ans = resolver_for(server).resolve("big." + Z, "TXT")                 # retries over TCP
    assert len(ans) == 12


def test_the_server_caps_the_udp_payload(clock):
    r = Responder(make_zone(), clock=clock, max_udp_payload=1232)
    q = dns.message.make_query("big." + Z, "TXT", use_edns=0, payload=65000)
    out = r.respond(q.to_wire(), "127.0.0.1")
    assert len(out) <= 1232 and dns.message.from_wire(out).flags & dns.flags.TC
    assert dns.message.from_wire(out).payload == 1232                    # what it advertises
    assert len(r.respond(q.to_wire(), "127.0.0.1", udp=False)) > 3000   # TCP: no cap


def test_edns_payload_is_honoured(server):
    small = udp(server, "mid." + Z, "TXT")
    assert small.flags & dns.flags.TC                                     # > 512 bytes
    big = udp(server, "mid." + Z, "TXT", use_edns=0, payload=1232)
    assert not big.flags & dns.flags.TC and len(values(big, "TXT")) == 8
    assert 512 < len(big.to_wire()) <= 1232 and big.payload == 4096     # ours


def test_tcp_carries_several_queries_per_connection(server):
    host, port = server.address
    with socket.create_connection((host, port), timeout=WAIT) as s:
        for name in ("www." + Z, "w." + Z, "nope." + Z):
            wire = dns.message.make_query(name, "A").to_wire()
            s.sendall(struct.pack("!H", len(wire)) + wire)
            n = struct.unpack("!H", _recv_exactly(s, 2))[0]
            r = dns.message.from_wire(_recv_exactly(s, n))
            assert r.question[0].name.to_text() == name + "."


def _recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


# ------------------------------------------------------------ routing policies

@pytest.mark.timeout(120)
def test_weighted_3_to_1_over_2000_queries(server):
    n = 2000
    counts = {"192.0.2.10": 0, "192.0.2.11": 0}
    for _ in range(n):
        (v,) = values(udp(server, "w." + Z))
        counts[v] += 1
    p = 3 / 4
    sd = math.sqrt(n * p * (1 - p))           # binomial: 19.4 queries
    # 4.5 standard deviations: a correct 3:1 fails this with probability < 1e-5
    assert abs(counts["192.0.2.10"] - n * p) < 4.5 * sd, counts


def test_failover_follows_the_health_check_at_the_injected_time(clock):
    hc = HealthCheck("primary", failure_threshold=3, request_interval=10, clock=clock)
    srv = DNSServer(make_zone(health={"primary": hc}), port=0, clock=clock)
    with srv.serve_in_thread():
        assert values(udp(srv, "f." + Z)) == ["192.0.2.20"]
        for i in range(3):                                       # 3 failures at t+10, +20, +30
            hc.observe(False, now=clock.t + 10 * (i + 1))
        assert values(udp(srv, "f." + Z)) == ["192.0.2.20"]      # not yet at the server's now
        clock.t += 30
        assert not hc.is_healthy(clock.t)
        assert values(udp(srv, "f." + Z)) == ["192.0.2.21"]      # SECONDARY
        for i in range(3):
            hc.observe(True, now=clock.t + 10 * (i + 1))
        clock.t += 20
        assert values(udp(srv, "f." + Z)) == ["192.0.2.21"]      # 2 of 3 passes: still down
        clock.t += 10
        assert values(udp(srv, "f." + Z)) == ["192.0.2.20"]      # back to PRIMARY


def test_geolocation_and_latency_follow_the_client_subnet(server):
    def ecs_option(msg):
        (o,) = [o for o in msg.options if o.otype == dns.edns.OptionType.ECS]
        return o

    eu = ecs_query(server, "geo." + Z, EU_NET)
    us = ecs_query(server, "geo." + Z, US_NET)
    other = ecs_query(server, "geo." + Z, "192.0.2.0/24")
    assert values(eu) == ["192.0.2.40"] and values(us) == ["192.0.2.41"]
    assert values(other) == ["192.0.2.42"]                      # the default location
    # RFC 7871 7.2.1: the option echoes family, source prefix and address, with the scope
    o = ecs_option(eu)
    assert (o.address, o.srclen, o.scopelen) == ("198.51.100.0", 24, 24)
    assert values(ecs_query(server, "lat." + Z, EU_NET)) == ["192.0.2.31"]
    assert values(ecs_query(server, "lat." + Z, US_NET)) == ["192.0.2.30"]
    # an answer that does not depend on the client has scope 0
    assert ecs_option(ecs_query(server, "w." + Z, EU_NET)).scopelen == 0
    assert ecs_option(ecs_query(server, "nope." + Z, EU_NET)).scopelen == 0
    # without ECS the query's source (127.0.0.1, in no block) is the client: default
    assert values(udp(server, "geo." + Z)) == ["192.0.2.42"]
    # source prefix 0: no client information (RFC 7871 7.1.2), default answer, scope 0
    zero = ecs_query(server, "geo." + Z, "0.0.0.0/0")
    assert values(zero) == ["192.0.2.42"] and ecs_option(zero).scopelen == 0


def test_malformed_client_subnet_gets_formerr(server):
    # source prefix /24 with host bits set (RFC 7871 section 6), sent as raw option bytes
    bad = dns.edns.GenericOption(dns.edns.OptionType.ECS,
                                 struct.pack("!HBB", 1, 24, 0) + bytes([198, 51, 100, 7]))
    q = dns.message.make_query("geo." + Z, "A", use_edns=0, options=[bad])
    r = dns.message.from_wire(_raw(server, q.to_wire()))
    assert r.rcode() == dns.rcode.FORMERR
    long = dns.edns.GenericOption(dns.edns.OptionType.ECS,
                                  struct.pack("!HBB", 1, 33, 0) + bytes(5))
    q = dns.message.make_query("geo." + Z, "A", use_edns=0, options=[long])
    assert dns.message.from_wire(_raw(server, q.to_wire())).rcode() == dns.rcode.FORMERR


def test_multivalue_returns_eight_of_ten(server):
    for _ in range(20):
        got = values(udp(server, "mv." + Z))
        assert len(got) == 8 and len(set(got)) == 8


def test_the_server_adds_no_rule_answers_equal_resolve(clock):
    """The same zone (same seed) answers over the wire exactly what resolve() gives for
    the same client, time and query order."""
    locator = CidrLocator(LOCATIONS)
    twin = make_zone(seed=11)
    srv = DNSServer(make_zone(seed=11), port=0, clock=clock, locator=locator)
    rng = random.Random(3)
    queries = [(rng.choice(["w", "www", "mv", "geo", "lat", "f"]) + "." + Z,
                rng.choice([EU_NET, US_NET, None])) for _ in range(150)]
    with srv.serve_in_thread():
        for name, subnet in queries:
            if subnet is None:
                got = values(udp(srv, name))
                client = locator("127.0.0.1")
            else:
                got = values(ecs_query(srv, name, subnet))
                client = locator(subnet.partition("/")[0])
            want = twin.resolve(name, "A", client, clock.t)
            assert got == list(want.values), (name, subnet)


def test_responder_without_sockets_matches_the_server(clock):
    r = Responder(make_zone(), clock=clock)
    q = dns.message.make_query("nope." + Z, "A")
    out = dns.message.from_wire(r.respond(q.to_wire(), "127.0.0.1"))
    assert out.rcode() == dns.rcode.NXDOMAIN and out.id == q.id
    assert r.respond(b"\x00") is None


def test_bad_arguments_name_the_parameter():
    z = make_zone()
    with pytest.raises(ValueError, match="port"):
        DNSServer(z, port=70000)
    with pytest.raises(ValueError, match="host"):
        DNSServer(z, host="localhost")
    with pytest.raises(ValueError, match="max_udp_payload"):
        DNSServer(z, max_udp_payload=100)
    with pytest.raises(TypeError, match="zone"):
        DNSServer("example.com")
    with pytest.raises(TypeError, match="clock"):
        Responder(z, clock=5)
    with pytest.raises(ValueError, match="unknown location fields"):
        CidrLocator({EU_NET: {"town": "Frankfurt"}})


def test_stop_releases_the_port(clock):
    srv = DNSServer(make_zone(), port=0, clock=clock)
    with srv.serve_in_thread():
        port = srv.port
        assert udp(srv, "www." + Z).rcode() == dns.rcode.NOERROR
    again = DNSServer(make_zone(), port=port, clock=clock)     # both sockets free again
    with again.serve_in_thread():
        assert tcp(again, "www." + Z).rcode() == dns.rcode.NOERROR


def test_multivalue_through_the_resolver_returns_at_most_8_healthy_values(clock):
    """Route 53 multivalue answer: up to 8 healthy records at random; when none is
    healthy, up to 8 unhealthy ones. Asked through dnspython's stub resolver (and dig
    when it is installed); 12 records, health checks flipped by observations at the
    server's clock."""
    checks = [HealthCheck(f"h{i}", failure_threshold=1, request_interval=10, clock=clock)
              for i in range(12)]
    recs = [RecordSet(Z, "SOA", SOA, ttl=SOA_TTL)]
    recs += [RecordSet("mv." + Z, "A", [f"192.0.2.{100 + i}"], multivalue=True,
                       set_identifier=f"m{i}", health_check=checks[i]) for i in range(12)]
    srv = DNSServer(HostedZone(Z, recs, seed=5, clock=clock), port=0)
    every = {f"192.0.2.{100 + i}" for i in range(12)}

    def down(ids):
        clock.t += 10
        for i in range(12):
            checks[i].observe(i not in ids, now=clock.t)

    with srv.serve_in_thread():
        res = resolver_for(srv)
        ask = lambda: [rd.to_text() for rd in res.resolve("mv." + Z, "A")]  # noqa: E731
        seen = set()
        for _ in range(30):                               # all 12 healthy: 8 of them
            got = ask()
            assert len(got) == 8 and len(set(got)) == 8 and set(got) <= every
            seen |= set(got)
        assert seen == every                              # random subsets, all reachable
        down({0, 1, 2, 3, 4, 5, 6})                       # 5 healthy: exactly those 5
        healthy = {f"192.0.2.{100 + i}" for i in range(7, 12)}
        for _ in range(10):
            got = ask()
            assert len(got) == 5 and set(got) == healthy
        down({0, 1, 2})                                   # 9 healthy: 8 of the 9
        healthy = {f"192.0.2.{100 + i}" for i in range(3, 12)}
        for _ in range(10):
            got = ask()
            assert len(got) == 8 and len(set(got)) == 8 and set(got) <= healthy
        down(set(range(12)))                              # none healthy: up to 8 of all
        for _ in range(10):
            got = ask()
            assert len(got) == 8 and len(set(got)) == 8 and set(got) <= every
        dig = shutil.which("dig")
        if dig is not None:                               # the same through dig
            down({0, 1, 2, 3, 4, 5, 6})
            host, port = srv.address
            out = subprocess.run([dig, f"@{host}", "-p", str(port), "mv." + Z, "A", "+short",
                                  "+tries=1", "+time=2"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.split()
            assert sorted(out) == sorted(f"192.0.2.{100 + i}" for i in range(7, 12))
