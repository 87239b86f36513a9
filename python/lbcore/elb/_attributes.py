"""elbv2 attributes: the API's ``[{"Key": ..., "Value": ...}]`` lists (string
values) and the equivalent keyword arguments, validated against the key names,
ranges and defaults of the botocore ``elbv2`` model (``TargetGroupAttribute``,
``LoadBalancerAttribute``, ``ListenerAttribute``) and the ELB user guides.

Each spec is ``key -> (families, parser, default)``: ``families`` is the set of
load balancer families the key applies to (``"alb"``, ``"nlb"``, ``"gwlb"``),
``parser(key, text) -> value`` raises ``ValueError`` naming the key, and
``default`` is the API default as a string (or a callable of the target-group
protocol when the default depends on it), or None for a key without a fixed
default (bucket names, prefixes, header names): such a key is kept and shown
only when given.

Keys that do not affect routing (access logs, WAF, header names, ...) are
validated where the model states their values and kept, so a full
``describe_*_attributes`` dump loads unchanged; an unknown key is a ValueError
naming it.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, Union

__all__ = ["parse_attributes", "modify_attributes", "attribute_kwarg_name",
           "TARGET_GROUP_ATTRIBUTES",
           "LOAD_BALANCER_ATTRIBUTES", "LISTENER_ATTRIBUTES", "family_of_protocol"]

ALB, NLB, GWLB = "alb", "nlb", "gwlb"

Parser = Callable[..., Any]
# key -> (families, parser, default string or callable(protocol) -> string)
AttributeSpecs = Mapping[str, tuple[set[str], Parser, Union[str, Callable[[Any], str]]]]
AttributeInput = Union[Sequence[Mapping[str, Any]], Mapping[str, Any], None]


def family_of_protocol(protocol: object) -> str:
    """The load balancer family a target-group / listener protocol belongs to."""
    p = protocol.upper() if isinstance(protocol, str) else protocol
    if p in ("TCP", "UDP", "TCP_UDP", "TLS"):
        return NLB
    if p == "GENEVE":
        return GWLB
    if p in ("HTTP", "HTTPS"):
        return ALB
    raise ValueError(f"protocol must be one of HTTP, HTTPS, TCP, UDP, TCP_UDP, TLS, GENEVE, "
                     f"got {protocol!r}")


def _bool(key: str, text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(f"{key} must be 'true' or 'false', got {text!r}")


def _int_range(lo: int, hi: int, off: bool = False) -> Parser:
    def parse(key: str, text: str) -> int | None:
        if off and text == "off":
            return None
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            value = None
        if value is None or str(value) != text.lstrip("+") or not lo <= value <= hi:
            extra = " or 'off'" if off else ""
            raise ValueError(f"{key} must be an integer {lo}..{hi}{extra}, got {text!r}")
        return value
    return parse


def _choice(*values: str) -> Parser:
    def parse(key: str, text: str) -> str:
        if text not in values:
            raise ValueError(f"{key} must be one of {', '.join(values)}, got {text!r}")
        return text
    return parse


def _stickiness_type(family_values: Mapping[str, Sequence[str]]) -> Parser:
    def parse(key: str, text: str, family: str = "") -> str:
        allowed = family_values.get(family, ())
        if text not in allowed:
            raise ValueError(f"{key} for a {family.upper()} target group must be one of "
                             f"{', '.join(allowed)}, got {text!r}")
        return text
    parse.needs_family = True     # type: ignore[attr-defined]
    return parse


_STICKINESS_TYPES = {ALB: ("lb_cookie", "app_cookie"), NLB: ("source_ip",),
                     GWLB: ("source_ip_dest_ip", "source_ip_dest_ip_proto")}
_STICKY_DEFAULT = {ALB: "lb_cookie", NLB: "source_ip", GWLB: "source_ip_dest_ip_proto"}


def _text(key: str, text: str) -> str:
    """A value the model leaves free-form (bucket names, prefixes, header names)."""
    return text


def _alb_cross_zone(key: str, text: str, family: str = "") -> bool:
    # ALB: cross-zone is always on at the load balancer level (botocore elbv2
    # LoadBalancerAttribute: "The default for Application Load Balancers is true,
    # and can't be changed")
    value = _bool(key, text)
    if family == ALB and not value:
        raise ValueError(f"{key}: cross-zone load balancing is always on for an "
                         f"Application Load Balancer, got {text!r}")
    return value


_alb_cross_zone.needs_family = True     # type: ignore[attr-defined]


def _by_family(defaults: Mapping[str, str]) -> Callable[[str], str]:
    def default(family: str) -> str:
        return defaults[family]
    default.needs_family = True          # type: ignore[attr-defined]
    return default


def _app_cookie_name(key: str, text: str) -> str:
    if text.startswith(("AWSALB", "AWSALBAPP", "AWSALBTG")):
        raise ValueError(f"{key}: names starting with AWSALB, AWSALBAPP or AWSALBTG are "
                         f"reserved, got {text!r}")
    return text


def _udp_like(protocol: str) -> bool:
    return protocol in ("UDP", "TCP_UDP")


# key -> (families, parser, default string or callable(protocol) -> string)
TARGET_GROUP_ATTRIBUTES: AttributeSpecs = {
    "deregistration_delay.timeout_seconds": ({ALB, NLB, GWLB}, _int_range(0, 3600), "300"),
    "stickiness.enabled": ({ALB, NLB, GWLB}, _bool, "false"),
    "stickiness.type": ({ALB, NLB, GWLB}, _stickiness_type(_STICKINESS_TYPES),
                        lambda protocol: _STICKY_DEFAULT[family_of_protocol(protocol)]),
    "load_balancing.cross_zone.enabled": (
        {ALB, NLB}, _choice("true", "false", "use_load_balancer_configuration"),
        "use_load_balancer_configuration"),
    "target_group_health.dns_failover.minimum_healthy_targets.count": (
        {ALB, NLB}, _int_range(1, 1 << 31, off=True), "1"),
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": (
        {ALB, NLB}, _int_range(1, 100, off=True), "off"),
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": (
        {ALB, NLB}, _int_range(1, 1 << 31), "1"),
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": (
        {ALB, NLB}, _int_range(1, 100, off=True), "off"),
    # ALB only (parsed and kept for the ALB worker; lbcore's NLB/GWLB ignore them)
    "load_balancing.algorithm.type": (
        {ALB}, _choice("round_robin", "least_outstanding_requests", "weighted_random"),
        "round_robin"),
    "load_balancing.algorithm.anomaly_mitigation": ({ALB}, _choice("on", "off"), "off"),
    "slow_start.duration_seconds": ({ALB}, lambda k, t: _slow_start(k, t), "0"),
    "stickiness.lb_cookie.duration_seconds": ({ALB}, _int_range(1, 604800), "86400"),
    "stickiness.app_cookie.duration_seconds": ({ALB}, _int_range(1, 604800), "86400"),
    "stickiness.app_cookie.cookie_name": ({ALB}, _app_cookie_name, ""),
    "lambda.multi_value_headers.enabled": ({ALB}, _bool, "false"),
    # NLB only
    "deregistration_delay.connection_termination.enabled": (
        {NLB}, _bool, lambda protocol: "true" if _udp_like(protocol) else "false"),
    "preserve_client_ip.enabled": ({NLB}, _bool, "true"),
    "proxy_protocol_v2.enabled": ({NLB}, _bool, "false"),
    "target_health_state.unhealthy.connection_termination.enabled": (
        {NLB}, _bool, lambda protocol: "false" if _udp_like(protocol) else "true"),
    "target_health_state.unhealthy.draining_interval_seconds": (
        {NLB}, _int_range(0, 360000), "0"),
    # GWLB only
    "target_failover.on_deregistration": ({GWLB}, _choice("rebalance", "no_rebalance"),
                                          "no_rebalance"),
    "target_failover.on_unhealthy": ({GWLB}, _choice("rebalance", "no_rebalance"),
                                     "no_rebalance"),
    # GWLB guide, target group attributes: TCP resets on target failure / deregistration
    "send_tcp_reset.on_unhealthy.enabled": ({GWLB}, _bool, "false"),
    "send_tcp_reset.on_deregistration.enabled": ({GWLB}, _bool, "false"),
    # named by issue 18's audit; not in the botocore model: kept as given
    "waf.http2.traffic_inspection_behavior": ({ALB}, _text, None),
}


def _slow_start(key: str, text: str) -> int:
    value: int = _int_range(0, 900)(key, text)
    if 0 < value < 30:
        raise ValueError(f"{key} must be 0 (off) or 30..900, got {text!r}")
    return value


LOAD_BALANCER_ATTRIBUTES: AttributeSpecs = {
    "load_balancing.cross_zone.enabled": (
        {ALB, NLB, GWLB}, _alb_cross_zone,
        _by_family({ALB: "true", NLB: "false", GWLB: "false"})),
    "dns_record.client_routing_policy": (
        {NLB}, _choice("availability_zone_affinity", "partial_availability_zone_affinity",
                       "any_availability_zone"), "any_availability_zone"),
    "deletion_protection.enabled": ({ALB, NLB, GWLB}, _bool, "false"),
    # kept, not modelled (botocore elbv2 LoadBalancerAttribute): ALB and NLB
    "access_logs.s3.enabled": ({ALB, NLB}, _bool, "false"),
    "access_logs.s3.bucket": ({ALB, NLB}, _text, None),
    "access_logs.s3.prefix": ({ALB, NLB}, _text, None),
    "ipv6.deny_all_igw_traffic": ({ALB, NLB}, _bool, None),    # default depends on scheme
    "zonal_shift.config.enabled": ({ALB, NLB}, _bool, "false"),
    # ALB only
    "idle_timeout.timeout_seconds": ({ALB}, _int_range(1, 4000), "60"),
    "client_keep_alive.seconds": ({ALB}, _int_range(60, 604800), "3600"),
    "connection_logs.s3.enabled": ({ALB}, _bool, "false"),
    "connection_logs.s3.bucket": ({ALB}, _text, None),
    "connection_logs.s3.prefix": ({ALB}, _text, None),
    "health_check_logs.s3.enabled": ({ALB}, _bool, "false"),
    "health_check_logs.s3.bucket": ({ALB}, _text, None),
    "health_check_logs.s3.prefix": ({ALB}, _text, None),
    "routing.http.desync_mitigation_mode": (
        {ALB}, _choice("monitor", "defensive", "strictest"), "defensive"),
    "routing.http.drop_invalid_header_fields.enabled": ({ALB}, _bool, "false"),
    "routing.http.preserve_host_header.enabled": ({ALB}, _bool, "false"),
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": ({ALB}, _bool, "false"),
    "routing.http.xff_client_port.enabled": ({ALB}, _bool, "false"),
    "routing.http.xff_header_processing.mode": (
        {ALB}, _choice("append", "preserve", "remove"), "append"),
    "routing.http2.enabled": ({ALB}, _bool, "true"),
    "waf.fail_open.enabled": ({ALB}, _bool, "false"),
    # named by issue 18's audit; not in the botocore model: kept as given
    "routing.http2.rst_stream_error_forwarding.enabled": ({ALB}, _bool, None),
    "waf.http2.traffic_inspection_behavior": ({ALB}, _text, None),
    # NLB only
    "secondary_ips.auto_assigned.per_subnet": ({NLB}, _int_range(0, 7), "0"),
}

LISTENER_ATTRIBUTES: AttributeSpecs = {
    "tcp.idle_timeout.seconds": ({NLB, GWLB}, _int_range(60, 6000), "350"),
    # GWLB guide, listener attributes
    "send_tcp_reset.on_idle_timeout.enabled": ({GWLB}, _bool, "false"),
    # ALB (botocore elbv2 ListenerAttribute): header names and response headers, kept
    **{f"routing.http.request.x_amzn_{h}.header_name": ({ALB}, _text, None)
       for h in ("mtls_clientcert_serial_number", "mtls_clientcert_issuer",
                 "mtls_clientcert_subject", "mtls_clientcert_validity",
                 "mtls_clientcert_leaf", "mtls_clientcert", "tls_version",
                 "tls_cipher_suite")},
    "routing.http.response.server.enabled": ({ALB}, _bool, "true"),
    **{f"routing.http.response.{h}.header_value": ({ALB}, _text, None)
       for h in ("strict_transport_security", "access_control_allow_origin",
                 "access_control_allow_methods", "access_control_allow_headers",
                 "access_control_allow_credentials", "access_control_expose_headers",
                 "access_control_max_age", "content_security_policy",
                 "x_content_type_options", "x_frame_options")},
}


def attribute_kwarg_name(key: str) -> str:
    """The keyword-argument spelling of an API key: dots become underscores."""
    return key.replace(".", "_")


def parse_attributes(specs: AttributeSpecs, family: str, protocol: str | None = None,
                     attributes: AttributeInput = None,
                     kwargs: Mapping[str, Any] | None = None,
                     what: str = "attributes") -> tuple[dict[str, Any], dict[str, str]]:
    """Validate ``attributes`` (API list or dict) and ``kwargs``; return
    ``(values, strings)``: typed values and API strings for every key of
    ``family`` (defaults filled in)."""
    if not isinstance(specs, Mapping):
        raise TypeError(f"specs must be a mapping of attribute specs (e.g. "
                        f"TARGET_GROUP_ATTRIBUTES), got {type(specs).__name__}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"kwargs must be a mapping, got {type(kwargs).__name__}")
    if not isinstance(what, str):
        raise TypeError(f"what must be a str, got {type(what).__name__}")
    given: dict[str, Any] = {}
    if attributes is not None:
        if isinstance(attributes, (str, bytes)) or not (
                isinstance(attributes, Mapping) or hasattr(attributes, "__iter__")):
            raise TypeError(f"{what} must be a list of {{'Key', 'Value'}} dicts or a dict, "
                            f"got {type(attributes).__name__}")
        if isinstance(attributes, dict):
            items = list(attributes.items())
        else:
            items = []
            for i, a in enumerate(attributes):
                if not isinstance(a, dict) or set(a) - {"Key", "Value"} or "Key" not in a:
                    raise ValueError(f"{what}[{i}] must be a dict with 'Key' and 'Value', "
                                     f"got {a!r}")
                items.append((a["Key"], a.get("Value")))
        for key, value in items:
            if not isinstance(key, str):
                raise TypeError(f"{what}: keys must be str, got {type(key).__name__}")
            if key in given:
                raise ValueError(f"{what}: {key} given twice")
            given[key] = value
    by_kwarg = {attribute_kwarg_name(k): k for k in specs}
    for name, value in (kwargs or {}).items():
        key = by_kwarg.get(name)
        if key is None:
            raise TypeError(f"unexpected keyword argument {name!r} (not a known {what} key)")
        if key in given:
            raise ValueError(f"{what}: {key} given twice")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        given[key] = value
    values: dict[str, Any] = {}
    strings: dict[str, str] = {}
    for key, value in given.items():
        spec = specs.get(key)
        if spec is None:
            raise ValueError(f"{what}: unknown key {key!r} (not an elbv2 attribute lbcore "
                             f"knows)")
        families, parser, _ = spec
        if family not in families:
            raise ValueError(f"{what}: {key} is not supported by a {family.upper()} "
                             f"({', '.join(sorted(f.upper() for f in families))} only)")
        if not isinstance(value, str):
            raise TypeError(f"{key} value must be a str as in the elbv2 API, "
                            f"got {type(value).__name__}")
    for key, (families, parser, default) in specs.items():
        if family not in families:
            continue
        text = given.get(key)
        if text is None:
            if callable(default):
                text = default(family) if getattr(default, "needs_family", False) \
                    else default(protocol)
            else:
                text = default
            if text is None:
                continue            # no fixed default: kept and shown only when given
        if getattr(parser, "needs_family", False):
            values[key] = parser(key, text, family)
        else:
            values[key] = parser(key, text)
        strings[key] = text
    if specs is TARGET_GROUP_ATTRIBUTES and family == ALB and \
            values["load_balancing.algorithm.anomaly_mitigation"] == "on" and \
            values["load_balancing.algorithm.type"] != "weighted_random":
        # botocore elbv2 TargetGroupAttribute: "Only available when
        # load_balancing.algorithm.type is weighted_random"
        raise ValueError(f"{what}: load_balancing.algorithm.anomaly_mitigation 'on' needs "
                         f"load_balancing.algorithm.type weighted_random, got "
                         f"{values['load_balancing.algorithm.type']!r}")
    return values, strings


def modify_attributes(specs: AttributeSpecs, family: str, protocol: str | None,
                      current: Mapping[str, str], attributes: AttributeInput = None,
                      kwargs: Mapping[str, Any] | None = None,
                      what: str = "attributes") -> tuple[dict[str, Any], dict[str, str]]:
    """The Modify*Attributes step: ``current`` (the API strings in force) with the
    keys that ``attributes``/``kwargs`` give replaced, validated as a whole by
    :func:`parse_attributes` -> ``(values, strings)``."""
    _, strings = parse_attributes(specs, family, protocol, attributes, kwargs, what)
    changed = set()
    if attributes is not None:
        changed |= set(attributes) if isinstance(attributes, Mapping) else \
            {a["Key"] for a in attributes}
    changed |= {k for k in specs if attribute_kwarg_name(k) in (kwargs or {})}
    merged = dict(current)
    merged.update({k: strings[k] for k in changed})
    return parse_attributes(specs, family, protocol, merged, None, what)
