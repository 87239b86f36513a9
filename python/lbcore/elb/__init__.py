"""AWS Elastic Load Balancing policy objects.

Shared pieces: :class:`Target`, :class:`TargetGroup` (targets, health states,
elbv2 attributes), :class:`HealthCheckSettings`, zones and nodes
(:func:`node_pools`). Layer 4: :class:`NetworkLoadBalancer` and
:class:`GatewayLoadBalancer` (GENEVE in :mod:`lbcore.geneve`), deciding
:class:`L4Decision` / :class:`L4Result`. Layer 7: :class:`Request`, listener
rules (:class:`RuleSet`), :class:`ApplicationLoadBalancer` and
:class:`ClassicLoadBalancer`, deciding :class:`Forward`, :class:`Redirect` or
:class:`FixedResponse`. Semantics and sources: docs/elb.md, docs/alb.md.

Time: every decision takes ``now`` (seconds) or reads the object's ``clock``
(default :func:`time.monotonic`) when it is omitted (docs/elb.md, "Time").
"""
from __future__ import annotations

import warnings
from typing import Any

from lbcore.elb._alb import ApplicationLoadBalancer, Listener
from lbcore.elb._anomaly import AnomalySettings
from lbcore.elb._attributes import (LISTENER_ATTRIBUTES, LOAD_BALANCER_ATTRIBUTES,
                                    TARGET_GROUP_ATTRIBUTES, family_of_protocol,
                                    parse_attributes)
from lbcore.elb._clb import ClassicLoadBalancer
from lbcore.elb._decisions import (FixedResponse, Forward, L4Decision, L4Result, Redirect,
                                   SetCookie)
from lbcore.elb._gwlb import GatewayLoadBalancer
from lbcore.elb._nlb import NetworkLoadBalancer
from lbcore.elb._request import Headers, Request
from lbcore.elb._rules import Condition, Rule, RuleSet, parse_condition, parse_rule
from lbcore.elb._targets import (DRAINING, HEALTHY, INITIAL, STATE_NAMES, UNAVAILABLE,
                                 UNHEALTHY, UNHEALTHY_DRAINING, UNUSED, HealthCheckSettings,
                                 Target, TargetGroup)
from lbcore.elb._zones import NodePools, minimum_healthy, node_pools

__all__ = [
    # targets, health, attributes, zones
    "Target", "TargetGroup", "HealthCheckSettings", "INITIAL", "HEALTHY", "UNHEALTHY",
    "DRAINING", "UNUSED", "UNHEALTHY_DRAINING", "UNAVAILABLE", "STATE_NAMES",
    "TARGET_GROUP_ATTRIBUTES",
    "LOAD_BALANCER_ATTRIBUTES", "LISTENER_ATTRIBUTES", "parse_attributes",
    "family_of_protocol", "NodePools", "node_pools", "minimum_healthy",
    # layer 4
    "NetworkLoadBalancer", "GatewayLoadBalancer", "L4Decision", "L4Result",
    # layer 7
    "Request", "Headers", "Forward", "Redirect", "FixedResponse", "SetCookie",
    "Condition", "Rule", "RuleSet", "parse_condition", "parse_rule",
    "ApplicationLoadBalancer", "Listener", "ClassicLoadBalancer", "AnomalySettings",
]

_RENAMED = {"HealthCheck": ("HealthCheckSettings", HealthCheckSettings)}


def __getattr__(name: str) -> Any:
    # names kept for one release under their old spelling
    if name in _RENAMED:
        new, obj = _RENAMED[name]
        warnings.warn(f"lbcore.elb.{name} is deprecated: use lbcore.elb.{new} (Route 53's "
                      f"endpoint health check is lbcore.route53.HealthCheck)",
                      DeprecationWarning, stacklevel=2)
        return obj
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
