"""ALB rule actions: ``Actions`` / ``DefaultActions`` as ``describe_rules``
returns them, validated into the terminal action of a rule — forward (one or
several weighted target groups, target-group stickiness), redirect (URL
templates) or fixed response. Semantics and sources: docs/alb.md."""
from __future__ import annotations

import re
from typing import Any, Collection, Mapping, Sequence

from lbcore.elb._request import Request

__all__ = ["ForwardAction", "RedirectAction", "FixedResponseAction", "Action",
           "parse_actions", "int_field", "STICKY_MAX"]

STICKY_MAX = 604800
_CONTENT_TYPES = ("text/plain", "text/css", "text/html", "application/javascript",
                  "application/json")
_PLACEHOLDER = re.compile(r"#\{([a-z]*)\}")
_REDIRECT_ALLOWED = {"Protocol": {"protocol"}, "Port": {"port"}, "Host": {"host"},
                     "Path": {"host", "path", "port"},
                     "Query": {"protocol", "host", "port", "path", "query"}}
_REDIRECT_DEFAULT = {"Protocol": "#{protocol}", "Port": "#{port}", "Host": "#{host}",
                     "Path": "/#{path}", "Query": "#{query}"}


class ForwardAction:
    """``groups``: list of (target group key, weight); ``stickiness``: target
    group stickiness duration in seconds (None = off)."""

    __slots__ = ("groups", "stickiness", "picker", "id", "states", "plain")

    def __init__(self, groups: list[tuple[Any, int]], stickiness: int | None) -> None:
        self.groups = groups
        self.stickiness = stickiness
        # set by the load balancer that owns the rule (its weighted target-group
        # picker, the action's id in its cookies, its state per target group, and
        # for one target group without stickiness the call that makes the decision)
        self.picker: Any = None
        self.id = 0
        self.states: tuple[Any, ...] = ()
        self.plain: Any = None


class RedirectAction:
    __slots__ = ("status", "parts")

    def __init__(self, status: int, parts: dict[str, str]) -> None:
        self.status = status
        self.parts = parts        # component -> template

    def location(self, req: Request) -> str:
        """The ``Location`` URL for ``req`` (placeholders filled in)."""
        path = req.path[1:] if req.path.startswith("/") else req.path
        values = {"protocol": req.protocol.lower(), "host": req.host_name or "",
                  "port": str(req.port), "path": path, "query": req.query_string}

        def sub(t: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], t)
        p = self.parts
        url = f"{sub(p['Protocol']).lower()}://{sub(p['Host'])}:{sub(p['Port'])}{sub(p['Path'])}"
        q = sub(p["Query"])
        return f"{url}?{q}" if q else url


class FixedResponseAction:
    __slots__ = ("status", "content_type", "body")

    def __init__(self, status: int, content_type: str | None, body: str) -> None:
        self.status, self.content_type, self.body = status, content_type, body


def int_field(v: object, lo: int, hi: int, where: str) -> int:
    """An integer field (int or digit string) in ``lo..hi``, or ValueError naming ``where``."""
    if isinstance(v, str) and v.isdigit():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{where} must be an integer {lo}..{hi}, got {v!r}")
    return v


def _parse_forward(a: Mapping[str, Any], where: str,
                   target_groups: Collection[Any]) -> ForwardAction:
    arn = a.get("TargetGroupArn")
    fc = a.get("ForwardConfig")
    if fc is None:
        if arn is None:
            raise ValueError(f"{where}: forward needs TargetGroupArn or ForwardConfig")
        groups: list[tuple[Any, int]] = [(arn, 1)]
        sticky: int | None = None
    else:
        if not isinstance(fc, dict):
            raise ValueError(f"{where}.ForwardConfig must be a dict")
        tgs = fc.get("TargetGroups")
        if not isinstance(tgs, (list, tuple)) or not 1 <= len(tgs) <= 5:
            raise ValueError(f"{where}.ForwardConfig.TargetGroups must list 1 to 5 target groups")
        groups = []
        for j, g in enumerate(tgs):
            gw = f"{where}.ForwardConfig.TargetGroups[{j}]"
            if not isinstance(g, dict) or "TargetGroupArn" not in g:
                raise ValueError(f"{gw} must be a dict with TargetGroupArn")
            w = int_field(g.get("Weight", 1), 0, 999, f"{gw}.Weight")
            groups.append((g["TargetGroupArn"], w))
        if len({g for g, _ in groups}) != len(groups):
            raise ValueError(f"{where}.ForwardConfig.TargetGroups: a target group is listed twice")
        if arn is not None and (len(groups) != 1 or groups[0][0] != arn):
            raise ValueError(f"{where}: TargetGroupArn and ForwardConfig.TargetGroups disagree")
        if not any(w for _, w in groups):
            raise ValueError(f"{where}.ForwardConfig.TargetGroups: every Weight is 0 "
                             f"(at least one must be > 0)")
        sc = fc.get("TargetGroupStickinessConfig") or {}
        sticky = None
        if not isinstance(sc, dict):
            raise ValueError(f"{where}.ForwardConfig.TargetGroupStickinessConfig must be a dict")
        enabled = sc.get("Enabled", False)
        if enabled not in (True, False):
            raise ValueError(f"{where}.ForwardConfig.TargetGroupStickinessConfig.Enabled "
                             f"must be a bool")
        if enabled:
            sticky = int_field(sc.get("DurationSeconds"), 1, STICKY_MAX,
                                f"{where}.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds")
    for g, _ in groups:
        if g not in target_groups:
            raise ValueError(f"{where}: TargetGroupArn {g!r} is not a known target group")
    return ForwardAction(groups, sticky)


def _parse_redirect(a: Mapping[str, Any], where: str,
                    listener_protocol: str) -> RedirectAction:
    rc = a.get("RedirectConfig")
    if not isinstance(rc, dict):
        raise ValueError(f"{where}.RedirectConfig must be a dict")
    for k in rc:
        if k not in ("Protocol", "Port", "Host", "Path", "Query", "StatusCode"):
            raise ValueError(f"{where}.RedirectConfig: unexpected key {k!r}")
    code = rc.get("StatusCode")
    if code not in ("HTTP_301", "HTTP_302"):
        raise ValueError(f"{where}.RedirectConfig.StatusCode must be HTTP_301 or HTTP_302, "
                         f"got {code!r}")
    parts = {}
    for comp, default in _REDIRECT_DEFAULT.items():
        v = rc.get(comp, default)
        cw = f"{where}.RedirectConfig.{comp}"
        if not isinstance(v, str) or (comp != "Query" and not v) or len(v) > 128:
            raise ValueError(f"{cw} must be a string of 1 to 128 characters, got {v!r}")
        for name in _PLACEHOLDER.findall(v):
            if name not in _REDIRECT_ALLOWED[comp]:
                raise ValueError(f"{cw}: #{{{name}}} is not allowed here")
        if comp == "Protocol" and v not in ("HTTP", "HTTPS", "#{protocol}"):
            raise ValueError(f"{cw} must be HTTP, HTTPS or #{{protocol}}, got {v!r}")
        if comp == "Port" and v != "#{port}":
            int_field(v, 1, 65535, cw)
        if comp == "Path" and not v.startswith("/"):
            raise ValueError(f"{cw} must start with '/', got {v!r}")
        if comp == "Query" and v.startswith("?"):
            raise ValueError(f"{cw} must not include the leading '?'")
        parts[comp] = v
    if listener_protocol == "HTTPS" and parts["Protocol"] == "HTTP":
        raise ValueError(f"{where}.RedirectConfig.Protocol: can't redirect HTTPS to HTTP")
    if all(parts[c] == _REDIRECT_DEFAULT[c] for c in ("Protocol", "Port", "Host", "Path")):
        raise ValueError(f"{where}.RedirectConfig: modify at least one of Protocol, Port, "
                         f"Host or Path (else the redirect loops)")
    return RedirectAction(301 if code == "HTTP_301" else 302, parts)


def _parse_fixed(a: Mapping[str, Any], where: str) -> FixedResponseAction:
    fc = a.get("FixedResponseConfig")
    if not isinstance(fc, dict):
        raise ValueError(f"{where}.FixedResponseConfig must be a dict")
    code = fc.get("StatusCode")
    if not isinstance(code, str) or not re.fullmatch(r"[245]\d\d", code):
        raise ValueError(f"{where}.FixedResponseConfig.StatusCode must be 2XX, 4XX or 5XX, "
                         f"got {code!r}")
    ct = fc.get("ContentType")
    if ct is not None and ct not in _CONTENT_TYPES:
        raise ValueError(f"{where}.FixedResponseConfig.ContentType must be one of "
                         f"{', '.join(_CONTENT_TYPES)}, got {ct!r}")
    body = fc.get("MessageBody", "")
    if not isinstance(body, str) or len(body) > 1024:
        raise ValueError(f"{where}.FixedResponseConfig.MessageBody must be a str of at most "
                         f"1024 characters")
    return FixedResponseAction(int(code), ct, body)


def parse_actions(actions: Sequence[Mapping[str, Any]], where: str,
                  target_groups: Collection[Any],
                  listener_protocol: str = "HTTP") -> Action:
    """Validate ``Actions`` (or ``DefaultActions``) → the terminal action object."""
    if not isinstance(actions, (list, tuple)) or not actions:
        raise ValueError(f"{where}.Actions must be a non-empty list")
    items = []
    for i, a in enumerate(actions):
        aw = f"{where}.Actions[{i}]"
        if not isinstance(a, dict):
            raise ValueError(f"{aw} must be a dict")
        t = a.get("Type")
        if t not in ("forward", "redirect", "fixed-response"):
            raise ValueError(f"{aw}.Type must be forward, redirect or fixed-response "
                             f"(authenticate-* actions are not modeled), got {t!r}")
        order = a.get("Order")
        if order is not None:
            order = int_field(order, 1, 50000, f"{aw}.Order")
        items.append((order if order is not None else i + 1, i, a, aw))
    if len(items) != 1:
        raise ValueError(f"{where}.Actions: exactly one of forward, redirect, fixed-response "
                         f"per rule, got {len(items)}")
    _, _, a, aw = items[0]
    t = a["Type"]
    if t == "forward":
        return _parse_forward(a, aw, target_groups)
    if t == "redirect":
        return _parse_redirect(a, aw, listener_protocol)
    return _parse_fixed(a, aw)


Action = ForwardAction | RedirectAction | FixedResponseAction
