"""Route 53 benchmarks: resolve per call for each routing policy, batch geoproximity over
10^6 clients x 20 endpoints, LPM lookups for 10^4 prefixes vs a pure-Python ipaddress scan.

    python -m pytest benchmarks/bench_route53.py --benchmark-enable -q

Set-up happens outside the timed region.
"""
import ipaddress

import numpy as np
import pytest

from lbcore import Geoproximity, PrefixTable
from lbcore.route53 import (AliasTarget, CidrRouting, Client, Clients, Geolocation,
                            GeoproximityLocation, HealthCheck, HostedZone, RecordSet)

Z = "example.com"


def _zone():
    recs = [RecordSet("s." + Z, "A", ["192.0.2.1", "192.0.2.2", "192.0.2.3"])]
    for i in range(5):
        recs.append(RecordSet("w." + Z, "A", [f"10.0.0.{i}"], set_identifier=f"w{i}",
                              weight=10 * (i + 1), health_check=HealthCheck()))
    for i, r in enumerate(["us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"]):
        recs.append(RecordSet("l." + Z, "A", [f"10.1.0.{i}"], set_identifier=r, region=r))
    recs.append(RecordSet("f." + Z, "A", ["10.2.0.1"], set_identifier="p", failover="PRIMARY",
                          health_check=HealthCheck()))
    recs.append(RecordSet("f." + Z, "A", ["10.2.0.2"], set_identifier="s", failover="SECONDARY"))
    for i, g in enumerate([Geolocation(country="US", subdivision="WA"),
                           Geolocation(country="US"), Geolocation(continent="EU"),
                           Geolocation(country="*")]):
        recs.append(RecordSet("g." + Z, "A", [f"10.3.0.{i}"], set_identifier=f"g{i}",
                              geolocation=g))
    rng = np.random.default_rng(0)
    for i in range(20):
        recs.append(RecordSet("p." + Z, "A", [f"10.4.0.{i}"], set_identifier=f"p{i}",
                              geoproximity=GeoproximityLocation(
                                  coordinates=(round(float(rng.uniform(-60, 60)), 2),
                                               round(float(rng.uniform(-180, 180)), 2)),
                                  bias=int(rng.integers(-50, 51)))))
    for i in range(12):
        recs.append(RecordSet("m." + Z, "A", [f"10.5.0.{i}"], set_identifier=f"m{i}",
                              multivalue=True, health_check=HealthCheck()))
    recs.append(RecordSet("i." + Z, "A", ["10.6.0.1"], set_identifier="a",
                          cidr=CidrRouting("c", "isp")))
    recs.append(RecordSet("i." + Z, "A", ["10.6.0.9"], set_identifier="d",
                          cidr=CidrRouting("c", "*")))
    recs.append(RecordSet("a." + Z, "A", [], alias=AliasTarget("w." + Z, True)))
    blocks = [str(ipaddress.IPv4Network((int(a) << 8, 24)))
              for a in np.unique(rng.integers(0, 2**24, 1000))]
    return HostedZone(Z, recs, seed=1, cidr_collections={"c": {"isp": blocks}})


ZONE = _zone()
CLIENT = Client(ip="203.0.113.9", continent="NA", country="US", subdivision="WA",
                latitude=47.61, longitude=-122.33,
                latencies={"us-east-1": 70.0, "eu-west-1": 140.0, "ap-northeast-1": 110.0,
                           "sa-east-1": 180.0})


@pytest.mark.parametrize("policy,name", [
    ("simple", "s"), ("weighted", "w"), ("latency", "l"), ("failover", "f"),
    ("geolocation", "g"), ("geoproximity", "p"), ("multivalue", "m"), ("ip", "i"),
    ("alias", "a")])
def test_resolve_per_call(benchmark, policy, name):
    benchmark.group = "route53 resolve (one query)"
    fqdn = f"{name}.{Z}"
    ZONE.resolve(fqdn, "A", CLIENT, 1.0)
    a = benchmark(ZONE.resolve, fqdn, "A", CLIENT, 1.0)
    assert a.values


# --------------------------------------------------------------- batch geoproximity
M, E = 1_000_000, 20
_rng = np.random.default_rng(1)
GEO = Geoproximity(_rng.uniform(-90, 90, E), _rng.uniform(-180, 180, E),
                   _rng.integers(-99, 100, E))
LATS, LONS = _rng.uniform(-90, 90, M), _rng.uniform(-180, 180, M)


def test_geoproximity_batch_1M_x_20(benchmark):
    benchmark.group = "geoproximity 10^6 clients x 20 endpoints"
    out = benchmark.pedantic(GEO.nearest_many, (LATS, LONS), rounds=5, iterations=1)
    assert out.shape == (M,)


def test_geoproximity_batch_numba_1M_x_20(benchmark):
    numba = pytest.importorskip("numba")
    import lbcore.numba as lbn

    # an all-eligible mask (numba passes arrays' pointers; the Cython path passes NULL)
    elig = np.ones(E, dtype=np.uint8)

    @numba.njit(cache=True)
    def run_mask(la, lo, xyz, bias, elig, out):
        lbn.geo_nearest_many(la.shape[0], la.ctypes, lo.ctypes, bias.shape[0], xyz.ctypes,
                             bias.ctypes, elig.ctypes, out.ctypes)

    out = np.empty(M, dtype=np.int32)
    xyz, bias = GEO.unit_vectors, GEO.biases
    run_mask(LATS[:10], LONS[:10], xyz, bias, elig, out[:10])
    benchmark.group = "geoproximity 10^6 clients x 20 endpoints"
    benchmark.pedantic(run_mask, (LATS, LONS, xyz, bias, elig, out), rounds=5, iterations=1)
    assert np.array_equal(out, GEO.nearest_many(LATS, LONS))


def _python_nearest(la, lo, elat, elon, bias):
    # the same computation in numpy (vectorised over endpoints, one client at a time would
    # be far slower; this is the fair numpy baseline over the whole batch, in chunks)
    R = 6371.0088
    out = np.empty(la.shape[0], dtype=np.int64)
    f = np.where(bias > 0, 1 - bias / 100, 1 / (1 + bias / 100))
    for s in range(0, la.shape[0], 50_000):
        a = np.radians(la[s:s + 50_000])[:, None]
        b = np.radians(lo[s:s + 50_000])[:, None]
        p, q = np.radians(elat)[None, :], np.radians(elon)[None, :]
        h = np.sin((p - a) / 2) ** 2 + np.cos(a) * np.cos(p) * np.sin((q - b) / 2) ** 2
        d = 2 * R * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
        out[s:s + 50_000] = np.argmin(d * f, axis=1)
    return out


def test_geoproximity_batch_numpy_baseline(benchmark):
    benchmark.group = "geoproximity 10^6 clients x 20 endpoints"
    out = benchmark.pedantic(_python_nearest, (LATS, LONS, GEO.latitudes, GEO.longitudes,
                                               GEO.biases), rounds=2, iterations=1)
    agree = (out == GEO.nearest_many(LATS, LONS)).mean()
    assert agree > 0.999                        # differences: last-bit near-ties only


# --------------------------------------------------------------- LPM, 10^4 prefixes
_r = np.random.default_rng(2)
_lens = _r.integers(8, 25, 10_000)
PREFIXES = sorted({str(ipaddress.IPv4Network((int(a) >> (32 - int(n)) << (32 - int(n)), int(n))))
                   for a, n in zip(_r.integers(0, 2**32, 10_000), _lens)})
TABLE = PrefixTable(PREFIXES)
ADDRS = _r.integers(0, 2**32, 100_000).astype(np.uint32)
ADDR_STRS = [str(ipaddress.IPv4Address(int(a))) for a in ADDRS[:1000]]
NETS = [ipaddress.ip_network(p) for p in PREFIXES]


def test_lpm_batch_100k_lookups(benchmark):
    benchmark.group = "LPM, 10^4 IPv4 prefixes"
    out = benchmark(TABLE.lookup_many, ADDRS, version=4)
    assert out.shape == ADDRS.shape


def test_lpm_scalar_lookup_int(benchmark):
    benchmark.group = "LPM, 10^4 IPv4 prefixes"
    a = int(ADDRS[0])
    benchmark(TABLE.lookup, a, version=4)


def test_lpm_scalar_lookup_str(benchmark):
    benchmark.group = "LPM, 10^4 IPv4 prefixes"
    benchmark(TABLE.lookup, ADDR_STRS[0])


def _ipaddress_scan(addr):
    a = ipaddress.ip_address(addr)
    best, best_len = -1, -1
    for i, n in enumerate(NETS):
        if a in n and n.prefixlen > best_len:
            best, best_len = i, n.prefixlen
    return best


def test_lpm_ipaddress_scan(benchmark):
    benchmark.group = "LPM, 10^4 IPv4 prefixes"
    r = benchmark.pedantic(_ipaddress_scan, (ADDR_STRS[0],), rounds=5, iterations=1)
    assert r == TABLE.lookup(ADDR_STRS[0])


# --------------------------------------------------------------- resolve_many
CLIENTS = Clients(latitudes=LATS[:100_000], longitudes=LONS[:100_000])


@pytest.mark.parametrize("name", ["w", "p"])
def test_resolve_many_100k(benchmark, name):
    benchmark.group = "route53 resolve_many (10^5 clients)"
    b = benchmark.pedantic(ZONE.resolve_many, (f"{name}.{Z}", "A", CLIENTS, 1.0), rounds=5,
                           iterations=1)
    assert (b.choice >= 0).all()


def test_resolve_many_ip_flows_100k(benchmark):
    import lbcore
    benchmark.group = "route53 resolve_many (10^5 clients)"
    clients = Clients(flows=lbcore.Flows.random(100_000, seed=3))
    b = benchmark.pedantic(ZONE.resolve_many, ("i." + Z, "A", clients, 1.0), rounds=5,
                           iterations=1)
    assert (b.choice >= 0).all()
