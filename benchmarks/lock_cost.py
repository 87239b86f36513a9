"""Uncontended cost per call of the thread rule's locks (docs/performance.md, Threads).

Run with the build to measure: ``python benchmarks/lock_cost.py``; it prints the median
over 7 repeats of each call's time (ns), one thread, nothing contending.
"""
from __future__ import annotations

import statistics
import timeit

import numpy as np

import lbcore
from lbcore import FlowTable, Flows, LeastOutstanding, Maglev, TokenBuckets
from lbcore.apigateway import ApiGateway
from lbcore.elb import NetworkLoadBalancer, Target, TargetGroup
from lbcore.route53 import HealthCheck


def ns(stmt, number):
    return statistics.median(timeit.repeat(stmt, number=number, repeat=7)) / number * 1e9


def main() -> None:
    tb = TokenBuckets(1, rate=1e9, burst=1e9)
    ft = FlowTable(1024)
    mg = Maglev(["a", "b", "c"], table_size=1009)
    f = Flows.random(1, seed=1)[0]
    ft.route(f, 0.0, mg)
    lo = LeastOutstanding(["a", "b", "c", "d"])
    gw = ApiGateway()
    gw.add_stage("api", "prod")
    tg = TargetGroup([Target(f"A{i}", "A") for i in range(4)], protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A"], table_size=1009)
    nlb.add_listener("TCP", 80, tg)
    fl = Flows.random(1, seed=2, protocols=(6,))
    flow = Flows(fl.protocol, fl.src_lo, fl.dst_lo, fl.src_port, np.array([80]),
                 np.array([-1]))[0]
    nlb.route(flow, 1.0)
    hc = HealthCheck("h", history=10_000)
    clock = iter(range(10**9))
    rows = [
        ("TokenBuckets.check", lambda: tb.check(0, 1.0), 200_000),
        ("FlowTable.route (hit)", lambda: ft.route(f, 1.0, mg), 200_000),
        ("LeastOutstanding.pick_index + release_index",
         lambda: lo.release_index(lo.pick_index(0.0)), 200_000),
        ("ApiGateway.check", lambda: gw.check(None, "/a", "GET", 1.7e9), 50_000),
        ("NetworkLoadBalancer.route (hit)", lambda: nlb.route(flow, 2.0), 50_000),
        ("HealthCheck.is_healthy", lambda: hc.is_healthy(5.0), 200_000),
        ("HealthCheck.observe", lambda: hc.observe(True, now=float(next(clock))), 5_000),
    ]
    print(f"lbcore {lbcore.__file__}")
    for name, fn, n in rows:
        print(f"{name:48s} {ns(fn, n):8.1f} ns")


if __name__ == "__main__":
    main()
