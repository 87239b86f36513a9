"""lbcore._lpm: PrefixTable against a brute-force ipaddress scan (IPv4 and IPv6), batch ==
scalar, numba == Cython."""
import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import PrefixTable
from reference import lpm_ref


@st.composite
def v4_prefix(draw):
    plen = draw(st.integers(0, 32))
    addr = draw(st.integers(0, 2**32 - 1)) >> (32 - plen) << (32 - plen) if plen else 0
    return str(ipaddress.IPv4Network((addr, plen)))


@st.composite
def v6_prefix(draw):
    plen = draw(st.integers(0, 128))
    addr = draw(st.integers(0, 2**128 - 1)) >> (128 - plen) << (128 - plen) if plen else 0
    return str(ipaddress.IPv6Network((addr, plen)))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(v4_prefix(), v6_prefix()), max_size=25, unique=True),
       st.lists(st.one_of(st.integers(0, 2**32 - 1).map(lambda x: str(ipaddress.IPv4Address(x))),
                          st.integers(0, 2**128 - 1).map(lambda x: str(ipaddress.IPv6Address(x))),
                          st.just("0.0.0.0")),
                min_size=1, max_size=20))
def test_lookup_matches_brute_force(prefixes, addresses):
    values = list(range(100, 100 + len(prefixes)))
    t = PrefixTable(prefixes, values)
    # include each prefix's first and last address, and their neighbours
    extra = []
    for p in prefixes:
        net = ipaddress.ip_network(p)
        top = 2**net.max_prefixlen
        for x in (int(net.network_address) - 1, int(net.network_address),
                  int(net.broadcast_address), int(net.broadcast_address) + 1):
            extra.append(str(ipaddress.ip_address(x % top) if net.version == 4
                             else ipaddress.IPv6Address(x % top)))
    addrs = addresses + extra
    expect = [lpm_ref.lookup(prefixes, values, a) for a in addrs]
    assert [t.lookup(a) for a in addrs] == expect
    assert t.lookup_many(addrs).tolist() == expect


@settings(max_examples=100, deadline=None)
@given(st.lists(v4_prefix(), min_size=1, max_size=40, unique=True), st.data())
def test_v4_dense_prefixes_and_batch(prefixes, data):
    t = PrefixTable(prefixes)
    addrs = data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50))
    nets = [ipaddress.ip_network(p) for p in prefixes]
    addrs += [int(n.network_address) for n in nets] + [int(n.broadcast_address) for n in nets]
    expect = [lpm_ref.lookup(prefixes, range(len(prefixes)), str(ipaddress.IPv4Address(a)))
              for a in addrs]
    assert [t.lookup(a, version=4) for a in addrs] == expect
    assert t.lookup_many(np.array(addrs, dtype=np.uint32), version=4).tolist() == expect


@settings(max_examples=100, deadline=None)
@given(st.lists(v6_prefix(), min_size=1, max_size=30, unique=True), st.data())
def test_v6_batch_halves(prefixes, data):
    t = PrefixTable(prefixes)
    addrs = data.draw(st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=30))
    addrs += [int(ipaddress.ip_network(p).network_address) for p in prefixes]
    expect = [lpm_ref.lookup(prefixes, range(len(prefixes)), str(ipaddress.IPv6Address(a)))
              for a in addrs]
    assert [t.lookup(a, version=6) for a in addrs] == expect
    hi = np.array([a >> 64 for a in addrs], dtype=np.uint64)
    lo = np.array([a & (2**64 - 1) for a in addrs], dtype=np.uint64)
    assert t.lookup_many((hi, lo), version=6).tolist() == expect


def test_v4_and_v6_kept_apart_and_default():
    t = PrefixTable(["0.0.0.0/0", "10.0.0.0/8"], [1, 2], default=7)
    assert t.lookup("10.1.1.1") == 2
    assert t.lookup("11.1.1.1") == 1
    assert t.lookup("::a01:101") == 7           # IPv6 never matches an IPv4 prefix
    assert t.lookup("::ffff:10.1.1.1") == 7
    t = PrefixTable(["::/0"], [3])
    assert t.lookup("10.0.0.1") == -1
    assert t.lookup(ipaddress.ip_address("2001:db8::1")) == 3
    assert len(PrefixTable([])) == 0 and PrefixTable([]).lookup("1.2.3.4") == -1


def test_route53_guide_example():
    # Route 53 Developer Guide, IP-based routing: 2001:0DB8::/32 in the collection matches a
    # query from 2001:0DB8:0000:1234::/48; the reverse does not. (The guide's
    # 2001:0DB8:0000:1234::/48 has host bits set; its /64 shows the same point.)
    t = PrefixTable(["2001:db8::/32"])
    assert t.lookup("2001:db8:0:1234::1") == 0
    t = PrefixTable(["2001:db8:0:1234::/64"])
    assert t.lookup("2001:db8::1") == -1


def test_lookup_flows():
    flows = lbcore.Flows.random(500, seed=4, ipv6_fraction=0.5)
    t = PrefixTable(["0.0.0.0/1", "128.0.0.0/2", "::/1", "8000::/3"])
    got = t.lookup_many(flows)
    expect = [t.lookup(str(ipaddress.ip_address(
        (int(f.src_hi) << 64 | int(f.src_lo)) if f.flags & 1 else int(f.src_lo))))
        for f in flows]
    assert got.tolist() == expect
    assert t.lookup_many(flows, field="dst").shape == (500,)
    with pytest.raises(ValueError, match="field"):
        t.lookup_many(flows, field="sport")


def test_validation():
    with pytest.raises(ValueError, match="prefixes"):
        PrefixTable(["10.0.0.1/8"])                     # host bits set
    with pytest.raises(ValueError, match="prefixes"):
        PrefixTable(["10.0.0.0/8", "10.0.0.0/8"])
    with pytest.raises(ValueError, match="prefixes"):
        PrefixTable(["not-a-cidr"])
    with pytest.raises(TypeError, match="prefixes"):
        PrefixTable("10.0.0.0/8")
    with pytest.raises(TypeError, match="prefixes"):
        PrefixTable([42])
    with pytest.raises(ValueError, match="values"):
        PrefixTable(["10.0.0.0/8"], [1, 2])
    with pytest.raises(ValueError, match="values"):
        PrefixTable(["10.0.0.0/8"], [-5])
    with pytest.raises(ValueError, match="default"):
        PrefixTable(["10.0.0.0/8"], default=-2)
    t = PrefixTable(["10.0.0.0/8"])
    with pytest.raises(ValueError, match="address"):
        t.lookup("10.0.0.256")
    with pytest.raises(TypeError, match="address"):
        t.lookup(167772161)
    with pytest.raises(ValueError, match="address"):
        t.lookup(2**128, version=6)
    with pytest.raises(ValueError, match="address"):
        t.lookup(2**32, version=4)
    with pytest.raises(ValueError, match="version"):
        t.lookup(1, version=5)
    with pytest.raises(ValueError, match="addresses"):
        t.lookup_many(np.array([-1]), version=4)
    with pytest.raises(TypeError, match="addresses"):
        t.lookup_many(np.array([1.5]), version=4)
    with pytest.raises(TypeError, match="version=4"):
        t.lookup_many(np.array([1, 2], dtype=np.uint32))


def test_numba_matches_cython():
    numba = pytest.importorskip("numba")
    import lbcore.numba as lbn

    rng = np.random.default_rng(5)
    prefixes = {str(ipaddress.IPv4Network((int(a) >> (32 - int(p)) << (32 - int(p)), int(p))))
                for a, p in zip(rng.integers(0, 2**32, 300), rng.integers(1, 25, 300))}
    prefixes |= {str(ipaddress.IPv6Network((int(a) >> (48 - int(p)) << (128 - int(p)), int(p))))
                 for a, p in zip(rng.integers(0, 2**48, 200), rng.integers(1, 49, 200))}
    t = PrefixTable(sorted(prefixes))
    flows = lbcore.Flows.random(1000, seed=9, ipv6_fraction=0.5)
    v4 = rng.integers(0, 2**32, 1000).astype(np.uint32)

    @numba.njit(cache=True)
    def run(v4, s4, v4v, hi, lo, s6h, s6l, v6v, flags):
        m = v4.shape[0]
        a = np.empty(m, dtype=np.int32)
        b = np.empty(m, dtype=np.int32)
        for i in range(m):
            a[i] = lbn.lpm_lookup4(s4.shape[0], s4.ctypes, v4v.ctypes, v4[i])
        lbn.lpm_lookup4_many(m, v4.ctypes, s4.shape[0], s4.ctypes, v4v.ctypes, b.ctypes)
        k = hi.shape[0]
        c = np.empty(k, dtype=np.int32)
        d = np.empty(k, dtype=np.int32)
        for i in range(k):
            c[i] = lbn.lpm_lookup6(s6h.shape[0], s6h.ctypes, s6l.ctypes, v6v.ctypes, hi[i], lo[i])
        lbn.lpm_lookup6_many(k, hi.ctypes, lo.ctypes, s6h.shape[0], s6h.ctypes, s6l.ctypes,
                             v6v.ctypes, d.ctypes)
        e = np.empty(k, dtype=np.int32)
        lbn.lpm_lookup_mixed_many(k, flags.ctypes, hi.ctypes, lo.ctypes, s4.shape[0],
                                  s4.ctypes, v4v.ctypes, s6h.shape[0], s6h.ctypes, s6l.ctypes,
                                  v6v.ctypes, e.ctypes)
        return a, b, c, d, e

    hi = np.ascontiguousarray(flows.src_hi)
    lo = np.ascontiguousarray(flows.src_lo)
    a, b, c, d, e = run(v4, t.starts4, t.values4, hi, lo, t.starts6_hi, t.starts6_lo,
                        t.values6, np.ascontiguousarray(flows.flags))
    expect4 = t.lookup_many_v4(v4)
    assert np.array_equal(a, expect4) and np.array_equal(b, expect4)
    assert (expect4 >= 0).any()
    expect6 = t.lookup_many((hi, lo), version=6)
    assert np.array_equal(c, expect6) and np.array_equal(d, expect6)
    assert np.array_equal(e, t.lookup_many(flows))


def test_old_lookup_names_warn_and_agree():
    """The six old lookup spellings (kept for one release) give lookup / lookup_many's
    answers with a DeprecationWarning naming the new call."""
    t = PrefixTable(["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"], [1, 2, 3])
    flows = lbcore.Flows.random(50, seed=4, ipv6_fraction=0.5)
    v4 = np.array([0x0A010101, 0x0A000001, 5], dtype=np.uint32)
    hi = np.array([0x20010DB800000000, 0], dtype=np.uint64)
    lo = np.array([1, 1], dtype=np.uint64)
    cols = (flows.flags, flows.dst_hi, flows.dst_lo)
    cases = [
        ("lookup_v4", lambda: t.lookup_v4(0x0A010101), t.lookup(0x0A010101, version=4)),
        ("lookup_v6", lambda: t.lookup_v6(0x20010DB8 << 96), t.lookup(0x20010DB8 << 96, version=6)),
        ("lookup_many_v4", lambda: t.lookup_many_v4(v4), t.lookup_many(v4, version=4)),
        ("lookup_many_v6", lambda: t.lookup_many_v6(hi, lo), t.lookup_many((hi, lo), version=6)),
        ("lookup_columns", lambda: t.lookup_columns(*cols), t.lookup_many(cols)),
        ("lookup_flows", lambda: t.lookup_flows(flows, "dst"), t.lookup_many(flows, field="dst")),
    ]
    for old, call, want in cases:
        with pytest.warns(DeprecationWarning, match=r"lookup(_many)?\("):
            got = call()
        assert np.array_equal(got, want), old
    assert t.lookup_many(cols).tolist() == t.lookup_many(flows, field="dst").tolist()
