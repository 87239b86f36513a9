# cython: language_level=3
"""The stickiness-cookie rule (see _sticky.pxd) for Python callers: lbcore.elb's ALB
calls these, the simulator's compiled loop the inline functions themselves; and the
opaque cookie value the ALB and the Classic LB issue (sticky_cookie_encode / _decode).
Modelled in tests/reference/sticky_ref.py."""
import math

import numpy as np

from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_CheckExact, PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.math cimport isnan, INFINITY
from libc.stdint cimport int8_t, int32_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from lbcore._check cimport check_seed
from lbcore._hash cimport lb_hash_bytes

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object u)
    bint PyUnicode_IS_ASCII(object u)
    const char* PyUnicode_1BYTE_DATA(object u)


cdef double _seconds(object value, str name) except? -1.0:
    if PyFloat_CheckExact(value):               # the per-request case: no Python call
        if isnan(PyFloat_AS_DOUBLE(value)):
            raise ValueError(f"{name} must not be NaN")
        return PyFloat_AS_DOUBLE(value)
    if PyLong_CheckExact(value):
        return <double>value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (seconds), got {type(value).__name__}")
    cdef double x = float(value)
    if math.isnan(x):
        raise ValueError(f"{name} must not be NaN")
    return x


def sticky_cookie_target(target, expiry, now):
    """The target a stickiness cookie naming ``target`` (an int >= 0, or -1 / None for
    no cookie) with ``expiry`` (seconds) binds a request at ``now`` to: ``target``
    while ``expiry > now``, else -1."""
    cdef long long x
    cdef int overflow = 0
    if PyLong_CheckExact(target):               # the per-request case
        x = PyLong_AsLongLongAndOverflow(target, &overflow)
        if overflow == 0 and -1 <= x <= 2**31 - 1:
            return lb_sticky_cookie_target(<int32_t>x, _seconds(expiry, "expiry"),
                                           _seconds(now, "now"))
    if target is None:
        return -1
    if isinstance(target, bool) or not hasattr(target, "__index__"):
        raise TypeError(f"target must be an int, got {type(target).__name__}")
    t = target.__index__()
    if not -1 <= t <= 2**31 - 1:
        raise ValueError(f"target must be in -1..2**31-1, got {t}")
    return lb_sticky_cookie_target(<int32_t>t, _seconds(expiry, "expiry"),
                                   _seconds(now, "now"))


def sticky_cookie_expiry(now, duration):
    """The expiry (seconds) of a stickiness cookie set at ``now`` for ``duration``
    seconds: ``now + duration``."""
    cdef double d = _seconds(duration, "duration")
    if d < 0:
        raise ValueError(f"duration must be >= 0, got {duration!r}")
    return lb_sticky_cookie_expiry(_seconds(now, "now"), d)


# ------------------------------------------------------------------ the cookie value
# 16 bytes big-endian (a: uint32, b: uint32, expiry: IEEE double; +inf = no expiry) and
# an 8-byte tag, lb_hash_bytes(payload, key) big-endian, written as 32 characters of
# URL-safe base64 (24 bytes: no padding). Decoding accepts what base64.urlsafe_b64decode
# accepts for such a value: '+' and '/' read as '-' and '_'.

cdef const char* _B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
cdef int8_t _B64_VALUE[256]


cdef void _init_b64() noexcept:
    cdef int i
    for i in range(256):
        _B64_VALUE[i] = -1
    for i in range(64):
        _B64_VALUE[<uint8_t>_B64[i]] = i
    _B64_VALUE[ord("+")] = 62
    _B64_VALUE[ord("/")] = 63


_init_b64()


cdef inline void _put_be(uint8_t* p, uint64_t v, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        p[i] = <uint8_t>(v >> (8 * (n - 1 - i)))


cdef inline uint64_t _get_be(const uint8_t* p, int n) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    return v


cdef uint32_t _u32(object value, str name) except? 0xFFFFFFFF:
    cdef long long x
    cdef int overflow = 0
    if PyLong_CheckExact(value):                # the per-request case: C compares only
        x = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and 0 <= x <= 0xFFFFFFFF:
            return <uint32_t>x
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    v = value.__index__()
    if not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{name} must be in [0, 2**32), got {v}")
    return <uint32_t>v


def sticky_cookie_encode(a, b, expiry, key):
    """The value of a stickiness cookie naming ``(a, b)`` (ints in [0, 2**32): a load
    balancer's group or action serial and a target or group index) until ``expiry``
    (seconds; None: no expiry), tamper-evident under ``key`` (an int in [0, 2**64)):
    32 URL-safe base64 characters. :func:`sticky_cookie_decode` reads it back."""
    cdef uint32_t ua = _u32(a, "a")
    cdef uint32_t ub = _u32(b, "b")
    cdef double e
    if expiry is None:
        e = INFINITY
    else:
        e = _seconds(expiry, "expiry")
    cdef uint64_t k = check_seed(key, "key")
    cdef uint8_t raw[24]
    cdef char out[32]
    cdef uint64_t bits
    cdef uint32_t w
    cdef int i
    memcpy(&bits, &e, 8)
    _put_be(raw, ua, 4)
    _put_be(raw + 4, ub, 4)
    _put_be(raw + 8, bits, 8)
    _put_be(raw + 16, lb_hash_bytes(raw, 16, k), 8)
    for i in range(8):                      # 3 bytes -> 4 characters
        w = (<uint32_t>raw[3 * i] << 16) | (<uint32_t>raw[3 * i + 1] << 8) | raw[3 * i + 2]
        out[4 * i] = _B64[(w >> 18) & 63]
        out[4 * i + 1] = _B64[(w >> 12) & 63]
        out[4 * i + 2] = _B64[(w >> 6) & 63]
        out[4 * i + 3] = _B64[w & 63]
    return PyUnicode_DecodeASCII(out, 32, NULL)


def sticky_cookie_decode(value, key):
    """``(a, b, expiry)`` of a value :func:`sticky_cookie_encode` made under ``key``
    (expiry ``inf`` when it had none), or None when ``value`` is anything else: not a
    str, not 32 URL-safe base64 characters, or its tag does not match."""
    cdef uint64_t k = check_seed(key, "key")
    if not isinstance(value, str) or PyUnicode_GET_LENGTH(value) != 32 \
            or not PyUnicode_IS_ASCII(value):
        return None
    cdef const uint8_t* c = <const uint8_t*>PyUnicode_1BYTE_DATA(value)
    cdef uint8_t raw[24]
    cdef uint32_t w
    cdef int i, j, v
    cdef double e
    cdef uint64_t bits
    for i in range(8):
        w = 0
        for j in range(4):
            v = _B64_VALUE[c[4 * i + j]]
            if v < 0:
                return None
            w = (w << 6) | <uint32_t>v
        raw[3 * i] = <uint8_t>(w >> 16)
        raw[3 * i + 1] = <uint8_t>(w >> 8)
        raw[3 * i + 2] = <uint8_t>w
    if lb_hash_bytes(raw, 16, k) != _get_be(raw + 16, 8):
        return None
    bits = _get_be(raw + 8, 8)
    memcpy(&e, &bits, 8)
    return (<uint32_t>_get_be(raw, 4), <uint32_t>_get_be(raw + 4, 4), e)
