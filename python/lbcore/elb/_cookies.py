"""Stickiness cookies: the opaque value codec the ALB and the Classic LB issue
(AWSALB, AWSALBAPP-0, AWSALBTG, AWSELB) and the ``Set-Cookie`` header value a
proxy sends for a :class:`~lbcore.elb.SetCookie`."""
from __future__ import annotations

import base64
import math
import struct

from lbcore import hash_key

__all__ = ["CookieCodec", "set_cookie_header"]


class CookieCodec:
    """Opaque, tamper-evident stickiness cookie values: ``(a, b, expiry)``
    packed with a keyed 64-bit tag (lbcore.hash_key seeded by the load
    balancer's seed). ``expiry`` None = no expiry (browser session)."""

    __slots__ = ("key",)
    _FMT = struct.Struct(">IId")

    def __init__(self, seed: object) -> None:
        self.key = hash_key(f"lbcore-cookie:{seed}")

    def encode(self, a: int, b: int, expiry: float | None) -> str:
        payload = self._FMT.pack(a, b, math.inf if expiry is None else float(expiry))
        tag = hash_key(payload, seed=self.key).to_bytes(8, "big")
        return base64.urlsafe_b64encode(payload + tag).decode("ascii").rstrip("=")

    def decode(self, value: object) -> tuple[int, int, float] | None:
        """``(a, b, expiry)`` or None when the value is not one of ours."""
        if not isinstance(value, str) or len(value) != 32:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != 24:
            return None
        payload, tag = raw[:16], raw[16:]
        if hash_key(payload, seed=self.key).to_bytes(8, "big") != tag:
            return None
        a, b, expiry = self._FMT.unpack(payload)
        return a, b, expiry


def set_cookie_header(name: str, value: str, max_age: int | None) -> str:
    """The ``Set-Cookie`` header value for a stickiness cookie: ``name=value;
    Path=/``, with ``Max-Age`` when the cookie expires (none: a browser-session
    cookie). The codec's values are URL-safe base64, so nothing needs quoting."""
    out = f"{name}={value}; Path=/"
    if max_age is not None:
        out += f"; Max-Age={int(max_age)}"
    return out
