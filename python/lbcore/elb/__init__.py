"""AWS Elastic Load Balancing policy objects.

Shared pieces: :class:`Target`, :class:`TargetGroup` (targets, health states,
elbv2 attributes), :class:`HealthCheck`. Layer-4 load balancers:
:class:`NetworkLoadBalancer` and :class:`GatewayLoadBalancer` (GENEVE in
:mod:`lbcore.geneve`). Semantics and sources: docs/elb.md.
"""
from lbcore.elb._attributes import (LISTENER_ATTRIBUTES, LOAD_BALANCER_ATTRIBUTES,
                                    TARGET_GROUP_ATTRIBUTES, parse_attributes)
from lbcore.elb.targets import (DRAINING, HEALTHY, INITIAL, STATE_NAMES, UNHEALTHY, UNUSED,
                                HealthCheck, Target, TargetGroup)

__all__ = ["Target", "TargetGroup", "HealthCheck", "INITIAL", "HEALTHY", "UNHEALTHY",
           "DRAINING", "UNUSED", "STATE_NAMES", "TARGET_GROUP_ATTRIBUTES",
           "LOAD_BALANCER_ATTRIBUTES", "LISTENER_ATTRIBUTES", "parse_attributes"]
from lbcore.elb.zones import NodePools, minimum_healthy, node_pools
from lbcore.elb._l4lb import GatewayLoadBalancer, L4Result, NetworkLoadBalancer

__all__ += ["NodePools", "node_pools", "minimum_healthy", "NetworkLoadBalancer",
            "GatewayLoadBalancer", "L4Result"]

# L7: requests, decisions, listener rules, ALB and Classic LB (docs/alb.md)
from lbcore.elb.request import FixedResponse, Forward, Headers, Redirect, Request, SetCookie
from lbcore.elb.rules import Condition, Rule, RuleSet, parse_condition, parse_rule
from lbcore.elb.alb import ApplicationLoadBalancer, Listener
from lbcore.elb.clb import ClassicLoadBalancer

__all__ += ["Request", "Headers", "Forward", "Redirect", "FixedResponse", "SetCookie",
            "Condition", "Rule", "RuleSet", "parse_condition", "parse_rule",
            "ApplicationLoadBalancer", "Listener", "ClassicLoadBalancer"]
