"""lbcore.Flow and lbcore.Flows: input forms, batch behaviour, validation."""
import ipaddress
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import Flow, Flows, flow_hash
from _strategies import flows


# ------------------------------------------------------------ Flow

def test_flow_from_str_ipaddress_and_int_agree():
    a = Flow("tcp", "10.0.0.1", "10.0.0.2", 1234, 80)
    b = Flow(6, ipaddress.IPv4Address("10.0.0.1"), ipaddress.ip_address("10.0.0.2"), 1234, 80)
    c = Flow(np.uint8(6), 0x0A000001, 0x0A000002, np.uint16(1234), 80)
    assert a == b == c and hash(a) == hash(b) == hash(c)
    assert flow_hash(a) == flow_hash(c)
    assert a.protocol == 6 and a.src == ipaddress.IPv4Address("10.0.0.1")
    assert a.dst_port == 80 and a.src_port == 1234 and not a.is_ipv6 and a.sequence is None


def test_flow_ipv6_forms():
    a = Flow("UDP", "2001:db8::1", "2001:db8::2", 1, 2)
    b = Flow(17, ipaddress.IPv6Address("2001:db8::1"), 0x20010DB8000000000000000000000002, 1, 2)
    assert a == b and a.is_ipv6
    assert a.src == ipaddress.IPv6Address("2001:db8::1")
    # a small int is IPv4 unless given as an IPv6Address
    assert not Flow(6, 1, 2).is_ipv6
    assert Flow(6, ipaddress.IPv6Address(1), ipaddress.IPv6Address(2)).is_ipv6


@pytest.mark.parametrize("name,number", [("tcp", 6), ("TCP", 6), ("udp", 17), ("icmp", 1),
                                         ("icmpv6", 58), ("gre", 47), ("sctp", 132)])
def test_protocol_names(name, number):
    assert Flow(name, "1.1.1.1", "2.2.2.2").protocol == number


def test_seq_and_reversed():
    f = Flow(6, "10.0.0.1", "10.0.0.2", 1000, 80, seq=123456)
    assert f.sequence == 123456
    r = f.reversed()
    assert (r.src, r.dst, r.src_port, r.dst_port) == (f.dst, f.src, 80, 1000)
    assert r.sequence == 123456 and r.protocol == 6
    assert r.reversed() == f
    assert f != Flow(6, "10.0.0.1", "10.0.0.2", 1000, 80)


@settings(max_examples=100, deadline=None)
@given(flows)
def test_flow_pickle_eq_hash_roundtrip(flow):
    clone = pickle.loads(pickle.dumps(flow))
    assert clone == flow and hash(clone) == hash(flow)
    assert flow_hash(clone) == flow_hash(flow)
    # repr names the protocol and the addresses
    assert str(flow.src) in repr(flow)


def test_flow_is_immutable():
    f = Flow(6, "1.1.1.1", "2.2.2.2")
    with pytest.raises(AttributeError):
        f.src_port = 5


@pytest.mark.parametrize("args,exc,name", [
    ((256, "1.1.1.1", "2.2.2.2"), ValueError, "protocol"),
    ((-1, "1.1.1.1", "2.2.2.2"), ValueError, "protocol"),
    ((6.0, "1.1.1.1", "2.2.2.2"), TypeError, "protocol"),
    ((True, "1.1.1.1", "2.2.2.2"), TypeError, "protocol"),
    (("tcpx", "1.1.1.1", "2.2.2.2"), ValueError, "protocol"),
    ((None, "1.1.1.1", "2.2.2.2"), TypeError, "protocol"),
    ((6, "1.1.1.256", "2.2.2.2"), ValueError, "src"),
    ((6, "1.1.1.1", "not an address"), ValueError, "dst"),
    ((6, "1.1.1.1", "2001:db8::1"), ValueError, "same address family"),
    ((6, "2001:db8::1", 5), ValueError, "same address family"),
    ((6, "1.1.1.1/24", "2.2.2.2"), ValueError, "src"),
    ((6, -1, 2), ValueError, "src"),
    ((6, 1, 2**128), ValueError, "dst"),
    ((6, 1.0, 2), TypeError, "src"),
    ((6, b"\x01\x01\x01\x01", 2), TypeError, "src"),
    ((6, 1, True), TypeError, "dst"),
    ((6, 1, 2, 65536), ValueError, "src_port"),
    ((6, 1, 2, -1), ValueError, "src_port"),
    ((6, 1, 2, 1, 70000), ValueError, "dst_port"),
    ((6, 1, 2, 1.0), TypeError, "src_port"),
    ((6, 1, 2, 1, "80"), TypeError, "dst_port"),
    ((6, 1, 2, False), TypeError, "src_port"),
    ((17, 1, 2, 1, 2, 5), ValueError, "seq"),
    ((6, 1, 2, 1, 2, -1), ValueError, "seq"),
    ((6, 1, 2, 1, 2, 2**32), ValueError, "seq"),
    ((6, 1, 2, 1, 2, 1.0), TypeError, "seq"),
    ((6, 1, 2, 1, 2, True), TypeError, "seq"),
])
def test_flow_validation(args, exc, name):
    with pytest.raises(exc, match=name):
        Flow(*args)


# ------------------------------------------------------------ Flows construction

def test_flows_from_arrays_ipv4():
    fl = Flows(np.array([6, 17], np.uint8), np.array([1, 2], np.uint32),
               np.array([3, 4], np.int64), [10, 11], np.array([80, 53], np.uint16),
               seq=[7, -1])
    assert len(fl) == 2
    assert fl[0] == Flow(6, 1, 3, 10, 80, seq=7)
    assert fl[1] == Flow(17, 2, 4, 11, 53)
    for col in ("protocol", "flags", "src_hi", "src_lo", "dst_hi", "dst_lo", "src_port",
                "dst_port", "seq"):
        arr = getattr(fl, col)
        assert not arr.flags.writeable and arr.flags.c_contiguous
    with pytest.raises(ValueError):
        fl.src_lo[0] = 5
    cols = fl.columns()
    assert len(cols) == 9 and cols[0] is fl.protocol and cols[8] is fl.seq
    assert [c.dtype for c in cols] == [np.uint8, np.uint8] + [np.uint64] * 4 + \
        [np.uint16, np.uint16, np.uint32]
    with pytest.raises(AttributeError):
        fl.protocol = np.zeros(2, np.uint8)


def test_flows_ipv6_words_and_mixed_lists():
    words_src = np.array([[0x20010DB800000000, 1], [0x20010DB800000000, 2]], dtype=np.uint64)
    words_dst = np.array([[0x20010DB800000000, 3], [0x20010DB800000000, 4]], dtype=np.uint64)
    fl = Flows("tcp", words_src, words_dst, 1, 2)
    assert fl[1] == Flow(6, "2001:db8::2", "2001:db8::4", 1, 2)
    assert fl.is_ipv6.tolist() == [True, True]
    mixed = Flows([6, 17], ["10.0.0.1", ipaddress.IPv6Address("::1")],
                  [ipaddress.IPv4Address("10.0.0.2"), "::2"], [1, 2], [3, 4])
    assert mixed[0] == Flow(6, "10.0.0.1", "10.0.0.2", 1, 3)
    assert mixed[1] == Flow(17, "::1", "::2", 2, 4)
    assert mixed.is_ipv6.tolist() == [False, True]
    assert "1 IPv4, 1 IPv6" in repr(mixed)
    # big ints in a list are IPv6, small ones IPv4, per flow
    ints = Flows(6, [1, 2**100], [2, 2**101], 0, 0)
    assert ints.is_ipv6.tolist() == [False, True]


def test_flows_protocol_names_per_flow():
    fl = Flows(["tcp", "UDP", 47], [1, 2, 3], [4, 5, 6], 0, 0)
    assert fl.protocol.tolist() == [6, 17, 47]


@settings(max_examples=50, deadline=None)
@given(st.lists(flows, max_size=30))
def test_from_flows_roundtrip(flow_list):
    fl = Flows.from_flows(flow_list)
    assert len(fl) == len(flow_list)
    assert list(fl) == flow_list
    assert Flows.from_flows(iter(flow_list)) == fl
    assert list(fl.reversed()) == [f.reversed() for f in flow_list]


def test_empty_flows():
    for fl in (Flows.from_flows([]), Flows(6, [], [], [], []), Flows.random(0)):
        assert len(fl) == 0 and list(fl) == []
        assert flow_hash(fl).shape == (0,)


# ------------------------------------------------------------ Flows indexing

@pytest.fixture(scope="module")
def batch():
    return Flows.random(50, seed=12, ipv6_fraction=0.5)


def test_indexing_and_iteration(batch):
    items = list(batch)
    assert len(items) == len(batch) == 50
    assert batch[0] == items[0] and batch[-1] == items[-1] and batch[-50] == items[0]
    assert batch[np.int64(7)] == items[7]
    for bad in (50, -51):
        with pytest.raises(IndexError):
            batch[bad]
    for bad in (1.0, "a", None, True):
        with pytest.raises(TypeError):
            batch[bad]


def test_slicing_and_array_indexing(batch):
    items = list(batch)
    assert list(batch[3:10]) == items[3:10]
    assert list(batch[::-2]) == items[::-2]
    assert list(batch[100:]) == []
    idx = np.array([5, -1, 0, 5])
    assert list(batch[idx]) == [items[5], items[-1], items[0], items[5]]
    assert list(batch[[1, 2]]) == [items[1], items[2]]
    mask = batch.is_ipv6
    assert list(batch[mask]) == [f for f in items if f.is_ipv6]
    assert flow_hash(batch[mask]).tolist() == [flow_hash(f) for f in items if f.is_ipv6]
    with pytest.raises(IndexError):
        batch[np.zeros(3, dtype=bool)]      # mask of the wrong length


def test_reversed_batch(batch):
    assert list(batch.reversed()) == [f.reversed() for f in batch]
    assert batch.reversed().reversed() == batch


# ------------------------------------------------------------ Flows.random

def test_random_is_deterministic():
    a = Flows.random(1000, seed=5, ipv6_fraction=0.25)
    assert a == Flows.random(1000, seed=5, ipv6_fraction=0.25)
    assert a != Flows.random(1000, seed=6, ipv6_fraction=0.25)


def test_random_ipv6_fraction_and_contents():
    assert not Flows.random(2000, seed=1).is_ipv6.any()
    assert Flows.random(2000, seed=1, ipv6_fraction=1.0).is_ipv6.all()
    fl = Flows.random(20000, seed=1, ipv6_fraction=0.3)
    # binomial: sd = sqrt(0.3*0.7/20000) = 0.0032; bound 6 sd
    assert abs(fl.is_ipv6.mean() - 0.3) < 0.02
    v4 = ~fl.is_ipv6
    assert (fl.src_hi[v4] == 0).all() and (fl.src_lo[v4] < 2**32).all()
    assert set(fl.protocol.tolist()) == {6, 17}
    has_seq = (fl.flags & 2) != 0
    assert (has_seq == (fl.protocol == 6)).all()
    no_seq = Flows.random(100, seed=1, tcp_seq=False)
    assert not (no_seq.flags & 2).any()
    assert set(Flows.random(500, seed=2, protocols=("gre",)).protocol.tolist()) == {47}


@pytest.mark.parametrize("kwargs,exc,name", [
    ({"n": -1}, ValueError, "n"), ({"n": 1.5}, TypeError, "n must"),
    ({"ipv6_fraction": 1.5}, ValueError, "ipv6_fraction"),
    ({"ipv6_fraction": float("nan")}, ValueError, "ipv6_fraction"),
    ({"seed": -1}, ValueError, "seed"), ({"seed": 2**64}, ValueError, "seed"),
    ({"seed": 1.0}, TypeError, "seed"),
    ({"protocols": ()}, ValueError, "protocols"),
    ({"protocols": (300,)}, ValueError, "protocol"),
])
def test_random_validation(kwargs, exc, name):
    args = {"n": 10}
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        Flows.random(args.pop("n"), **args)


# ------------------------------------------------------------ Flows validation

GOOD = dict(protocol=6, src=[1, 2], dst=[3, 4], src_port=[5, 6], dst_port=[7, 8])


@pytest.mark.parametrize("change,exc,name", [
    ({"protocol": [6, 256]}, ValueError, "protocol"),
    ({"protocol": [6, -1]}, ValueError, "protocol"),
    ({"protocol": np.array([6.0, 17.0])}, TypeError, "protocol"),
    ({"protocol": np.array([True, False])}, TypeError, "protocol"),
    ({"protocol": 6.0}, TypeError, "protocol"),
    ({"protocol": "nope"}, ValueError, "protocol"),
    ({"protocol": ["tcp", "nope"]}, ValueError, "protocol"),
    ({"protocol": [6]}, ValueError, "protocol"),
    ({"src": [1]}, ValueError, "dst"),
    ({"dst": [1, 2, 3]}, ValueError, "dst"),
    ({"src_port": [1]}, ValueError, "src_port"),
    ({"dst_port": [1, 2, 3]}, ValueError, "dst_port"),
    ({"src_port": [1, 65536]}, ValueError, "src_port"),
    ({"src_port": np.array([-1, 5])}, ValueError, "src_port"),
    ({"dst_port": np.array([1.0, 2.0])}, TypeError, "dst_port"),
    ({"dst_port": np.array([True, False])}, TypeError, "dst_port"),
    ({"dst_port": 70000}, ValueError, "dst_port"),
    ({"dst_port": 1.0}, TypeError, "dst_port"),
    ({"src": np.array([1, 2**32], dtype=np.uint64)}, ValueError, "src"),
    ({"src": np.array([1.0, 2.0])}, TypeError, "src"),
    ({"src": np.array([True, False])}, TypeError, "src"),
    ({"src": ["1.2.3.4", "bad"]}, ValueError, "src"),
    ({"src": "1.2.3.4"}, TypeError, "src"),
    ({"src": np.zeros((2, 2), dtype=np.float64)}, TypeError, "src"),
    ({"src": np.array([[1, -1], [0, 0]], dtype=np.int64)}, ValueError, "src"),
    ({"src": np.zeros((2, 3), dtype=np.uint64)}, ValueError, "src"),
    ({"dst": ["::1", "::2"]}, ValueError, "same address family"),
    ({"dst": ["10.0.0.1", "::2"]}, ValueError, "flow 1"),
    ({"seq": [1, 2, 3]}, ValueError, "seq"),
    ({"seq": [1, 2**32]}, ValueError, "seq"),
    ({"seq": [1, -2]}, ValueError, "seq"),
    ({"seq": np.array([1.0, 2.0])}, TypeError, "seq"),
    ({"seq": [5, -1], "protocol": [17, 6]}, ValueError, "seq"),
])
def test_flows_validation(change, exc, name):
    args = dict(GOOD, seq=None)
    args.update(change)
    with pytest.raises(exc, match=name):
        Flows(**args)


def test_flows_seq_minus_one_means_none():
    fl = Flows([6, 17], [1, 2], [3, 4], 0, 0, seq=[9, -1])
    assert fl[0].sequence == 9 and fl[1].sequence is None


def test_from_flows_rejects_non_flows():
    with pytest.raises(TypeError, match=r"flows\[1\]"):
        Flows.from_flows([Flow(6, 1, 2), (6, 1, 2)])


def test_flow_field_old_spellings_warn():
    """proto / sport / dport are the old spellings of protocol / src_port / dst_port
    (kept for one release, with a DeprecationWarning naming the new name)."""
    f = Flow("tcp", "10.0.0.1", "10.0.0.2", 1234, 80)
    assert (f.protocol, f.src_port, f.dst_port) == (6, 1234, 80)
    for old, new in (("proto", "protocol"), ("sport", "src_port"), ("dport", "dst_port")):
        with pytest.warns(DeprecationWarning, match=new):
            assert getattr(f, old) == getattr(f, new)


@given(flow=st.builds(lambda p, s, d, sp, dp: Flow(p, s, d, sp, dp),
                      st.sampled_from([6, 17, 1]), st.ip_addresses(v=4).map(str),
                      st.ip_addresses(v=4).map(str), st.integers(0, 65535),
                      st.integers(0, 65535)))
def test_from_fields_rebuilds_the_flow(flow):
    again = Flow.from_fields(flow.protocol, flow.flags, flow.src_hi, flow.src_lo,
                             flow.dst_hi, flow.dst_lo, flow.src_port, flow.dst_port, flow.seq)
    assert again == flow and hash(again) == hash(flow)


@pytest.mark.parametrize("name, fields, exc", [
    ("protocol", (256, 0, 0, 1, 0, 2, 0, 0, 0), ValueError),
    ("flags", (6, 4, 0, 1, 0, 2, 0, 0, 0), ValueError),
    ("src_lo", (6, 0, 0, -1, 0, 2, 0, 0, 0), ValueError),
    ("dst_port", (6, 0, 0, 1, 0, 2, 0, 65536, 0), ValueError),
    ("seq", (6, 2, 0, 1, 0, 2, 0, 0, 2**32), ValueError),
    ("src_port", (6, 0, 0, 1, 0, 2, True, 0, 0), TypeError),
    ("IPv4", (6, 0, 1, 1, 0, 2, 0, 0, 0), ValueError),
])
def test_from_fields_names_the_bad_field(name, fields, exc):
    with pytest.raises(exc, match=name):
        Flow.from_fields(*fields)
