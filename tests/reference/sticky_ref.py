"""The stickiness-cookie rule, obviously (lbcore._sticky; docs/simulation.md, docs/elb.md):
a cookie naming a target binds a request while its expiry is after now; setting it at
now gives it the expiry now + duration."""


def cookie_target(target, expiry, now):
    if target is None or target < 0:
        return -1
    return target if expiry > now else -1


def cookie_expiry(now, duration):
    return now + duration


# The cookie value, obviously: struct, lbcore.hash_key over the payload, base64 (what
# lbcore.elb's codec was written as before it was compiled into lbcore._sticky).
import base64 as _base64
import math as _math
import struct as _struct

from lbcore import hash_key as _hash_key

_FMT = _struct.Struct(">IId")


def cookie_encode(a, b, expiry, key):
    payload = _FMT.pack(a, b, _math.inf if expiry is None else float(expiry))
    tag = _hash_key(payload, seed=key).to_bytes(8, "big")
    return _base64.urlsafe_b64encode(payload + tag).decode("ascii").rstrip("=")


def cookie_decode(value, key):
    if not isinstance(value, str) or len(value) != 32:
        return None
    try:
        raw = _base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != 24:
        return None
    payload, tag = raw[:16], raw[16:]
    if _hash_key(payload, seed=key).to_bytes(8, "big") != tag:
        return None
    return _FMT.unpack(payload)
