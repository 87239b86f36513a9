"""Automatic target weights and ordered health observations: per-call cost, side by side
in one process, interleaved rounds, min and median of the rounds. Run:

    python benchmarks/anomaly_cost.py [--rounds 15] [--n 20000]

route + complete on a one-rule listener over 4 targets:
  rr release        round robin, Forward.release() (the one-call path complete had)
  rr complete       round robin, alb.complete(d)
  wr complete       weighted_random, alb.complete(d) (no outcome reported)
  wr outcome        weighted_random + anomaly_mitigation on, alb.complete(d, 200, now=t)
  wr outcome mit.   the same with one target mitigated (weight 1/4) and one error in 8
TargetGroup.observe, 4 targets:
  observe in order  start times increasing
  observe shuffled  the same results, each block of 8 in a random order
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from lbcore.elb import ApplicationLoadBalancer, HealthCheckSettings, Request, Target, TargetGroup

REQ = Request("GET", "/", host="www.example")


def make(algorithm, mitigation="off"):
    tg = TargetGroup([Target(f"t{i}", "az-a") for i in range(4)], protocol="HTTP",
                     name="web", healthy=True, now=0.0,
                     load_balancing_algorithm_type=algorithm,
                     load_balancing_algorithm_anomaly_mitigation=mitigation)
    alb = ApplicationLoadBalancer([tg], seed=1)
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    return alb


def mitigated():
    alb = make("weighted_random", "on")
    t = 0.0
    for i in range(20000):                        # t0 fails every request for 20 s
        t += 0.001
        d = alb.route(REQ, t)
        alb.complete(d, 500 if d.target.id == "t0" else 200, now=t)
    assert alb.describe_target_health("web")[0]["AnomalyDetection"]["MitigationInEffect"] \
        == "yes"
    return alb, t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    n = args.n
    rr, wr, wr_on = make("round_robin"), make("weighted_random"), make("weighted_random", "on")
    wr_mit, t_mit = mitigated()
    clock = {"t": 1.0, "m": t_mit}

    def rr_release():
        route = rr.route
        for _ in range(n):
            route(REQ, 1.0).release()

    def rr_complete():
        route, complete = rr.route, rr.complete
        for _ in range(n):
            complete(route(REQ, 1.0))

    def wr_complete():
        route, complete = wr.route, wr.complete
        for _ in range(n):
            complete(route(REQ, 1.0))

    def wr_outcome():
        route, complete = wr_on.route, wr_on.complete
        t = clock["t"]
        for _ in range(n):
            t += 1e-4
            complete(route(REQ, t), 200, now=t)
        clock["t"] = t

    def wr_outcome_mit():
        route, complete = wr_mit.route, wr_mit.complete
        t = clock["m"]
        for i in range(n):
            t += 1e-4
            complete(route(REQ, t), 500 if i % 8 == 0 else 200, now=t)
        clock["m"] = t

    hc = HealthCheckSettings("HTTP", interval_seconds=5, timeout_seconds=2)
    # one result per target per second (interval 5 s: about 5 kept per target)
    obs_times = [(f"t{i % 4}", 10.0 + 0.25 * i, i % 5 != 0) for i in range(n)]
    rnd = random.Random(1)
    shuffled = []
    for k in range(0, n, 8):
        block = obs_times[k:k + 8]
        rnd.shuffle(block)
        shuffled += block

    def observe(seq):
        def run():
            tg = TargetGroup([Target(f"t{i}", "az-a") for i in range(4)], protocol="HTTP",
                             health_check=hc)
            observe = tg.observe
            for tid, t, ok in seq:
                observe(tid, ok, now=t)
        return run

    cases = {"rr release": rr_release, "rr complete": rr_complete,
             "wr complete": wr_complete, "wr outcome": wr_outcome,
             "wr outcome mit.": wr_outcome_mit,
             "observe in order": observe(obs_times), "observe shuffled": observe(shuffled)}
    res: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.rounds):
        order = list(cases) if r % 2 == 0 else list(reversed(cases))
        for name in order:
            t0 = time.perf_counter()
            cases[name]()
            res[name].append((time.perf_counter() - t0) / n * 1e6)
    base = min(res["rr release"])
    print(f"{'case':18s} {'min µs':>8s} {'median µs':>10s} {'min / rr release':>17s}")
    for name, v in res.items():
        print(f"{name:18s} {min(v):8.2f} {statistics.median(v):10.2f} {min(v) / base:17.2f}")


if __name__ == "__main__":
    main()
