"""The cost of live reconfiguration (docs/performance.md, "Live reconfiguration").

    python benchmarks/reconfig_cost.py            # this tree
    python benchmarks/reconfig_cost.py --steady   # only the steady per-request path

Prints ns per request (min over repeats) for route + complete on a plain forward
(one target group, round robin, 10 targets), the same while requests routed before an
algorithm change are still out (every pick syncs until they are back), and the time of
the reconfiguration calls themselves. Set-up is outside the timed regions."""
from __future__ import annotations

import sys
import time

from lbcore.elb import ApplicationLoadBalancer, Request, Target, TargetGroup


def make(n_rules=10, algorithm="round_robin"):
    tg = TargetGroup([Target(f"t{k}", "az") for k in range(10)], protocol="HTTP",
                     name="web", healthy=True, now=0.0,
                     load_balancing_algorithm_type=algorithm)
    alb = ApplicationLoadBalancer([tg], seed=1)
    rules = [{"Priority": str(i + 1), "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/api/v{i}/*"]}}],
        "Actions": [{"Type": "forward", "TargetGroupArn": "web"}]} for i in range(n_rules)]
    alb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}],
                     rules=rules)
    return tg, alb


def per_request(alb, req, n=20000, repeats=7, t0=1.0):
    best = float("inf")
    route, complete = alb.route, alb.complete
    now = t0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            complete(route(req, now))
        best = min(best, (time.perf_counter() - start) / n)
        now += 1.0
    return best * 1e9


def steady():
    _, alb = make()
    req = Request("GET", f"/api/v9/x", host="a.example")
    alb.complete(alb.route(req, 0.5))
    return per_request(alb, req)


def main():
    print(f"steady route+complete (10 rules, RR): {steady():.0f} ns")
    if "--steady" in sys.argv:
        return
    tg, alb = make(algorithm="least_outstanding_requests")
    req = Request("GET", f"/api/v9/x", host="a.example")
    held = [alb.route(req, 0.5) for _ in range(50)]
    tg.set_attributes(load_balancing_algorithm_type="round_robin")
    alb.complete(alb.route(req, 0.6))         # applies the change
    print(f"route+complete with 50 pre-change leases out: {per_request(alb, req, 5000):.0f} ns")
    for d in held:
        alb.complete(d)
    alb.complete(alb.route(req, 100.0))
    print(f"after they are back: {per_request(alb, req, t0=101.0):.0f} ns")

    def timed(fn, repeats=200):
        best = float("inf")
        for _ in range(repeats):
            s = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - s)
        return best * 1e6
    for n_rules in (10, 100):
        tg, alb = make(n_rules)
        flip = iter(range(10**9))
        print(f"{n_rules} rules: set_rule_priorities (one rule) "
              f"{timed(lambda: alb.set_rule_priorities(80, {1: 60000 - 50000} if next(flip) % 2 == 0 else {10000: 1})):.0f} µs, "
              f"modify_rule (conditions) "
              f"{timed(lambda: alb.modify_rule(80, 2, conditions=[{'Field': 'path-pattern', 'PathPatternConfig': {'Values': ['/x/*']}}])):.0f} µs")
    tg, alb = make()
    algos = iter(["round_robin", "weighted_random"] * 10**6)
    t = iter(float(k) for k in range(1, 10**7))

    def switch():
        tg.set_attributes(load_balancing_algorithm_type=next(algos))
        alb.complete(alb.route(req, next(t)))
    print(f"set_attributes(algorithm) + the route that applies it: {timed(switch):.0f} µs")


if __name__ == "__main__":
    main()
