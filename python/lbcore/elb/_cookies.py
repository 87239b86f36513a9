"""Stickiness cookies: the opaque value codec the ALB and the Classic LB issue
(AWSALB, AWSALBAPP-0, AWSALBTG, AWSELB), the ALB's stickiness step of one
forwarded request (:meth:`CookieCodec.stick`: honour the cookies a request
carries, else pick, and say which cookies to set) and the ``Set-Cookie`` header
value a proxy sends for a :class:`~lbcore.elb.SetCookie`."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from lbcore import (hash_key, sticky_cookie_decode, sticky_cookie_encode, sticky_cookie_expiry,
                    sticky_cookie_target)

__all__ = ["CookieCodec", "set_cookie_header", "ALB_COOKIE_MAX_AGE"]

_T = TypeVar("_T")

# ALB guide, "Sticky sessions": the AWSALB and AWSALBAPP cookies have "their own
# expiry of 7 days which is non-configurable"; the stickiness duration is checked
# from the (encrypted) cookie value instead.
ALB_COOKIE_MAX_AGE = 7 * 24 * 3600


class CookieCodec:
    """Opaque, tamper-evident stickiness cookie values: ``(a, b, expiry)``
    packed with a keyed 64-bit tag under the load balancer's seed
    (lbcore.sticky_cookie_encode / _decode). ``expiry`` None = no expiry
    (browser session)."""

    __slots__ = ("key",)

    def __init__(self, seed: object) -> None:
        self.key = hash_key(f"lbcore-cookie:{seed}")

    def encode(self, a: int, b: int, expiry: float | None) -> str:
        return sticky_cookie_encode(a, b, expiry, self.key)

    def decode(self, value: object) -> tuple[int, int, float] | None:
        """``(a, b, expiry)`` or None when the value is not one of ours."""
        return sticky_cookie_decode(value, self.key)

    def stick(self, cookies: Any, act: Any, s: Any, zone: str | None, now: float,
              cookie: Callable[[str, str, int], _T]) -> tuple[Any, Any, int, tuple[_T, ...]]:
        """The sticky part of one ALB forward, in one step so that a request
        enters this module once: ``(target group state, pool, target index,
        cookies to set)``, index -1 when no target may take it; ``cookie(name,
        value, max_age)`` makes each cookie to set (the ALB passes
        :class:`~lbcore.elb.SetCookie`).

        ``cookies``: the request's {name: value}; ``act``: the forward action
        (``id``, ``groups``, ``picker``, ``stickiness``, ``states``); ``s``: the
        target group state already drawn, or None to draw it here honouring
        the action's AWSALBTG cookie (valid while unexpired and the group's
        weight is > 0). The state's own stickiness (AWSALB or the application
        cookie) is then honoured by the pool (``s.pools.pick(zone, now,
        sticky)``)."""
        out: tuple[_T, ...] = ()
        key = self.key
        if s is None:
            gi = -1
            got = sticky_cookie_decode(cookies.get("AWSALBTG"), key)
            if got is not None and got[0] == act.id and got[1] < len(act.groups) \
                    and act.groups[got[1]][1] > 0:
                gi = sticky_cookie_target(got[1], got[2], now)
            if gi < 0:
                gi = act.picker.pick_index(now)
            out = (cookie("AWSALBTG", sticky_cookie_encode(
                act.id, gi, sticky_cookie_expiry(now, act.stickiness), key), act.stickiness),)
            s = act.states[gi]
        if not s.sticky:
            pool, idx = s.pools.pick(zone, now)
            return s, pool, idx, out
        sticky = -1
        if s.app_cookie is None or s.app_cookie in cookies:
            got = sticky_cookie_decode(cookies.get(s.cookie_name), key)
            if got is not None and got[0] == s.serial:
                sticky = sticky_cookie_target(got[1], got[2], now)
        pool, idx = s.pools.pick(zone, now, sticky)
        if idx >= 0:
            # the value carries the stickiness duration; the cookie itself 7 days
            out += (cookie(s.cookie_name, sticky_cookie_encode(
                s.serial, idx, sticky_cookie_expiry(now, s.sticky_seconds), key),
                ALB_COOKIE_MAX_AGE),)
        return s, pool, idx, out


def set_cookie_header(name: str, value: str, max_age: int | None) -> str:
    """The ``Set-Cookie`` header value for a stickiness cookie: ``name=value;
    Path=/``, with ``Max-Age`` when the cookie expires (none: a browser-session
    cookie). The codec's values are URL-safe base64, so nothing needs quoting."""
    out = f"{name}={value}; Path=/"
    if max_age is not None:
        out += f"; Max-Age={int(max_age)}"
    return out
