"""Run a scenario through the compiled loop and turn its counters into a report."""
from __future__ import annotations

import time

import numpy as np

from lbcore.sim._kernels import LAT_BINS, LAT_MIN_DECADE, LAT_PER_DECADE, OUT_BINS, Engine
from lbcore.sim.model import compile_scenario
from lbcore.sim.world import build_world

__all__ = ["simulate", "build_report", "PERCENTILES"]

PERCENTILES = (50, 90, 99)
CHUNK = 1 << 18


def simulate(scenario: dict, *, requests: int | None = None, seed: int | None = None,
             progress=None, trace=None) -> dict:
    """Simulate ``requests`` arrivals of a validated scenario; return the report dict.

    ``progress(done, total)`` is called between chunks of the compiled loop. ``trace``:
    a path to write every request's events to (``lbcore.sim.replay.write_trace``; a
    ``.npz`` file ``lbcore replay`` reads).
    """
    t0 = time.perf_counter()
    seed = scenario["simulation"]["seed"] if seed is None else seed
    model, meta = compile_scenario(scenario, requests=requests, seed=seed)
    # the ALB target groups pick with the load balancer objects' own selectors, the
    # NLB / GWLB ones place flows on their data paths
    engine = Engine(model, seed, trace=trace is not None, world=build_world(scenario, seed))
    t1 = time.perf_counter()
    total = meta["requests"]
    done = 0
    while done < total and not engine.finished:
        done += engine.run(min(CHUNK, total - done))
        if progress is not None:
            progress(done, total)
    t2 = time.perf_counter()
    if trace is not None:
        from lbcore.sim.replay import write_trace
        write_trace(trace, engine.trace(), scenario, seed)
    report = build_report(engine, model, meta, seed)
    report["engine"] = {
        "setup_seconds": round(t1 - t0, 4),
        "loop_seconds": round(t2 - t1, 4),
        "requests_per_second": round(done / (t2 - t1)) if t2 > t1 else None,
    }
    return report


def _lat_edge(b: int) -> float:
    """Upper edge (seconds) of latency histogram bin b."""
    return 10.0 ** (LAT_MIN_DECADE + (b + 1) / LAT_PER_DECADE)


def _percentiles(hist: np.ndarray, edge) -> dict:
    n = int(hist.sum())
    if n == 0:
        return {f"p{q}": None for q in PERCENTILES}
    cum = np.cumsum(hist)
    out = {}
    for q in PERCENTILES:
        b = int(np.searchsorted(cum, q / 100.0 * n, side="left"))
        out[f"p{q}"] = edge(min(b, len(hist) - 1))
    return out


def _lat_ms(hist, lat_sum, n):
    p = _percentiles(hist, _lat_edge)
    out = {k: (None if v is None else round(v * 1e3, 3)) for k, v in p.items()}
    out["mean"] = round(lat_sum / n * 1e3, 3) if n else None
    return out


def _outstanding(hist):
    p = _percentiles(hist, lambda b: b)
    nz = np.nonzero(hist)[0]
    p["max"] = int(nz[-1]) if len(nz) else None
    p["max_is_lower_bound"] = bool(len(nz) and nz[-1] == OUT_BINS - 1)
    return p


def build_report(engine: Engine, model: dict, meta: dict, seed) -> dict:
    st = engine.stats
    T = model["T"]
    cnt, err = st["cnt_target"], st["err_target"]
    lat_hist = st["lat_hist"].reshape(T, LAT_BINS)
    out_hist = st["out_hist"].reshape(T, OUT_BINS)
    lat_sum = st["lat_sum"]
    served = cnt - err
    n = int(engine.simulated)
    oc = st["outcome"]
    report = {
        "scenario": meta["scenario"], "source": meta["source"], "seed": int(seed),
        "requests": n, "simulated_seconds": round(float(engine.now), 6),
        "outcomes": {
            "served": int(oc[0]), "target_errors": int(oc[1]), "throttled": int(oc[2]),
            "dns_no_answer": int(oc[3]), "fixed_response": int(oc[4]),
        },
        "dns": [], "throttling": [], "target_groups": [], "events": meta["events"],
        "health_changes": meta["health_changes"],
        "epochs": int(model["E"]),
    }
    total_answers = int(st["cnt_record"].sum())
    by_client = st["cnt_client_record"].reshape(model["C"], model["D"])
    for d, (name, sid, routing, alias) in enumerate(meta["records"]):
        a = int(st["cnt_record"][d])
        report["dns"].append({"name": name, "set_identifier": sid, "routing": routing,
                              "alias_target": alias, "answers": a,
                              "share": round(a / total_answers, 6) if total_answers else 0.0,
                              "by_client": {cl: int(by_client[c, d])
                                            for c, cl in enumerate(meta["clients"])}})
    for b, name in enumerate(meta["limits"]):
        report["throttling"].append({"limit": name, "throttled": int(st["thr_reject"][b])})
    tg_start = model["tg_start"]
    app = np.ones(T, dtype=bool)   # targets of application (not inspection) groups
    for g, insp in enumerate(meta["inspection"]):
        if insp:
            app[int(tg_start[g]):int(tg_start[g + 1])] = False
    routed = int(cnt[app].sum())
    for name, subs, zones in meta["groups"]:
        g = subs[0]       # a zonal group's model groups are consecutive, as its targets
        a, b = int(tg_start[g]), int(tg_start[subs[-1] + 1])
        g_cnt = int(cnt[a:b].sum())
        g_served = int(served[a:b].sum())
        group = {
            "name": name, "algorithm": meta["algorithms"][g], "requests": g_cnt,
            "inspection": meta["inspection"][g],
            "share": (None if meta["inspection"][g] else
                      round(g_cnt / routed, 6) if routed else 0.0),
            "errors": int(err[a:b].sum()),
            "latency_ms": _lat_ms(lat_hist[a:b].sum(axis=0), float(lat_sum[a:b].sum()), g_served),
            "outstanding": _outstanding(out_hist[a:b].sum(axis=0)),
            "targets": [],
        }
        if zones[0] is not None:
            group["zonal"] = {"cross_zone": False, "zones": zones,
                              "requests": [int(cnt[int(tg_start[m]):int(tg_start[m + 1])].sum())
                                           for m in subs]}
        if meta["stickiness"][g] is not None:
            hit, new, restuck = (int(x) for x in
                                 st["cnt_sticky"].reshape(-1, 3)[subs].sum(axis=0))
            group["stickiness"] = {
                "type": "lb_cookie", "duration_seconds": meta["stickiness"][g],
                "hits": hit, "new": new, "restuck": restuck,
                "hit_share": round(hit / g_cnt, 6) if g_cnt else 0.0}
        pl = meta["flow_groups"].get(g)
        if pl is not None:
            f = st["cnt_flows"][4 * g:4 * g + 4]
            group["flows"] = {"hash": pl["hash"], "cross_zone": pl["cross_zone"],
                              "nodes": pl["azs"],
                              "tcp_ipv4": int(f[0]), "udp_ipv4": int(f[1]),
                              "tcp_ipv6": int(f[2]), "udp_ipv6": int(f[3])}
        for t in meta["report_order"][a:b]:     # the scenario's order within the group
            _, tid, az = meta["targets"][t]
            group["targets"].append({
                "id": tid, "az": az, "requests": int(cnt[t]),
                "share": round(int(cnt[t]) / g_cnt, 6) if g_cnt else 0.0,
                "errors": int(err[t]),
                "latency_ms": _lat_ms(lat_hist[t], float(lat_sum[t]), int(served[t])),
                "outstanding": _outstanding(out_hist[t]),
            })
        report["target_groups"].append(group)
    order = meta["report_order"]
    report["load_over_time"] = {
        "bin_seconds": float(model["tbin_w"]),
        "targets": [f"{meta['targets'][t][0]}/{meta['targets'][t][1]}" for t in order],
        "counts": st["tbins"].reshape(model["TB"], T).T[order].tolist(),
    }
    report["epoch_table"] = [{"start": float(t0), "requests": int(n_e)}
                             for t0, n_e in zip(model["epoch_t"], st["cnt_epoch"])]
    report["peak_in_flight"] = int(engine.heap_peak)
    return report
