"""PrefixTable.lookup(str) and lookup_many(list of str) parse address text in C (inet_pton):
the same answers and errors as the socket.inet_pton reading (tests/reference/lpm_ref.py)."""
import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from lbcore import PrefixTable, parse_address
from reference import lpm_ref

PREFIXES = ["0.0.0.0/1", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "1.2.3.4/32",
            "::/1", "2001:db8::/32", "2001:db8:1::/48", "::ffff:0:0/96", "::1/128"]
TABLE = PrefixTable(PREFIXES)

v4_text = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
v6_text = st.integers(0, 2**128 - 1).map(lambda a: str(ipaddress.IPv6Address(a)))
v6_long = st.integers(0, 2**128 - 1).map(lambda a: ipaddress.IPv6Address(a).exploded)
near = st.text(alphabet="0123456789.:abcdefABCDEF", max_size=20)
odd = st.text(alphabet="0123456789.:af \x00é%\t١", max_size=12)
mapped = st.integers(0, 2**32 - 1).map(lambda a: f"::ffff:{ipaddress.IPv4Address(a)}")
texts = st.one_of(v4_text, v6_text, v6_long, near, odd, mapped,
                  st.sampled_from(["01.2.3.4", "1.2.3.4.", "1.2.3", "256.1.1.1", "1.2.3.4\x00",
                                   " 1.2.3.4", "::", "::1", "1::2::3", "fe80::1%eth0",
                                   "::ffff:10.1.2.3", "1.2.3.4:80", ""]))


def want(s):
    try:
        v, a = lpm_ref.parse_text(s)
    except ValueError:
        return ValueError
    return TABLE.lookup(a, version=v)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_lookup_text_agrees_with_inet_pton_reading(s):
    w = want(s)
    if w is ValueError:
        with pytest.raises(ValueError, match="not a valid IPv4 or IPv6 address"):
            TABLE.lookup(s)
        with pytest.raises(ValueError):
            parse_address(s)
        return
    assert TABLE.lookup(s) == w
    assert parse_address(s) == lpm_ref.parse_text(s)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(v4_text, v6_text, mapped), max_size=30))
def test_lookup_many_text_agrees_with_scalar_and_brute_force(addrs):
    got = TABLE.lookup_many(addrs).tolist()
    assert got == [TABLE.lookup(a) for a in addrs]
    assert got == [lpm_ref.lookup(PREFIXES, range(len(PREFIXES)), a) for a in addrs]


def test_text_subclass_and_objects_take_the_python_path():
    class S(str):
        pass
    assert TABLE.lookup(S("10.1.2.3")) == TABLE.lookup("10.1.2.3") == 3
    assert TABLE.lookup(ipaddress.ip_address("10.1.2.3")) == 3
    assert TABLE.lookup_many([S("10.1.2.3"), ipaddress.ip_address("1.2.3.4"), "::1"]).tolist() \
        == [3, 4, 9]
    with pytest.raises(TypeError, match="address"):
        TABLE.lookup(b"10.1.2.3")
    with pytest.raises(TypeError, match="address"):
        TABLE.lookup_many(["10.1.2.3", 5])


def test_lookup_many_of_a_lying_sequence_is_refused():
    class Grows(list):
        def __len__(self):
            return 1
    with pytest.raises(ValueError, match="changed length"):
        TABLE.lookup_many(Grows(["10.1.2.3", "10.1.2.4"]))
