"""The stickiness cookie's value (lbcore.sticky_cookie_encode / _decode, lbcore._sticky)
against its obviously-correct reference (struct + hash_key + base64,
tests/reference/sticky_ref.py). A string codec has no batch or numba path."""
import math

import pytest
from hypothesis import given, strategies as st

import lbcore
from reference.sticky_ref import cookie_decode, cookie_encode

U32 = st.integers(0, 2**32 - 1)
KEY = st.integers(0, 2**64 - 1)
EXPIRY = st.one_of(st.none(), st.floats(allow_nan=False))
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(a=U32, b=U32, expiry=EXPIRY, key=KEY)
def test_encode_equals_the_reference_and_decodes_back(a, b, expiry, key):
    v = lbcore.sticky_cookie_encode(a, b, expiry, key)
    assert v == cookie_encode(a, b, expiry, key)
    assert len(v) == 32 and set(v) <= set(B64)
    assert lbcore.sticky_cookie_decode(v, key) == cookie_decode(v, key) \
        == (a, b, math.inf if expiry is None else expiry)


@given(a=U32, b=U32, expiry=EXPIRY, key=KEY, other=KEY,
       edits=st.lists(st.tuples(st.integers(0, 40),
                                st.sampled_from(list(B64 + "+/= .!\n\xe9\u20ac"))),
                      max_size=3),
       cut=st.integers(-3, 3))
def test_decode_of_altered_values_equals_the_reference(a, b, expiry, key, other, edits, cut):
    v = list(lbcore.sticky_cookie_encode(a, b, expiry, key))
    for i, ch in edits:
        if i < len(v):
            v[i] = ch
    s = "".join(v)
    s = s[:cut] if cut < 0 else s + "A" * cut
    for k in (key, other):
        assert lbcore.sticky_cookie_decode(s, k) == cookie_decode(s, k)


def test_plus_and_slash_read_as_minus_and_underscore_as_base64_does():
    for n in range(200):
        v = lbcore.sticky_cookie_encode(n, n + 1, 10.0, 99)
        if "-" in v or "_" in v:
            alt = v.replace("-", "+").replace("_", "/")
            assert lbcore.sticky_cookie_decode(alt, 99) == cookie_decode(alt, 99) \
                == (n, n + 1, 10.0)
            return
    raise AssertionError("no value with - or _ in 200 tries")


@given(value=st.one_of(st.text(max_size=40), st.binary(max_size=40), st.integers(),
                       st.none()), key=KEY)
def test_decode_of_anything_equals_the_reference(value, key):
    assert lbcore.sticky_cookie_decode(value, key) == cookie_decode(value, key)


def test_a_value_under_another_key_is_not_ours():
    v = lbcore.sticky_cookie_encode(1, 2, 3.0, 5)
    assert lbcore.sticky_cookie_decode(v, 5) == (1, 2, 3.0)
    assert lbcore.sticky_cookie_decode(v, 6) is None


def test_bad_input_names_the_parameter():
    enc, dec = lbcore.sticky_cookie_encode, lbcore.sticky_cookie_decode
    for bad, exc in ((-1, ValueError), (2**32, ValueError), (1.0, TypeError),
                     (True, TypeError), ("1", TypeError)):
        with pytest.raises(exc, match="^a "):
            enc(bad, 0, 1.0, 0)
        with pytest.raises(exc, match="^b "):
            enc(0, bad, 1.0, 0)
    with pytest.raises(ValueError, match="expiry"):
        enc(0, 0, math.nan, 0)           # the reference would pack a NaN
    with pytest.raises(TypeError, match="expiry"):
        enc(0, 0, "1.0", 0)
    for bad, exc in ((-1, ValueError), (2**64, ValueError), (1.5, TypeError)):
        with pytest.raises(exc, match="^key "):
            enc(0, 0, 1.0, bad)
        with pytest.raises(exc, match="^key "):
            dec("A" * 32, bad)
