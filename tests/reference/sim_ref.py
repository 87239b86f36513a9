"""Pure-Python event loop for lbcore._sim.Engine: same model dict, same draws, same counters.

Deliberately simple: one Python step per request, heapq for completions, lists for
state. It draws from lbcore.Random (the same xoshiro256** stream the kernel uses) in
the documented order, so for a seed it must produce *identical* statistics.
"""
import heapq
import itertools
import ipaddress
import math
from fractions import Fraction

import numpy as np

import lbcore
from lbcore import RecordPicker
from reference.bucket_ref import BucketRef
from lbcore._sim import (LAT_BINS, LAT_MIN_DECADE, LAT_PER_DECADE, OUT_BINS, apply_epoch,
                         make_selectors)

def pick(cdf, u):
    if len(cdf) == 0 or cdf[-1] <= 0:
        return -1
    x = u * cdf[-1]
    for i, c in enumerate(cdf):
        if x < c:
            return i
    return len(cdf) - 1




def sticky_ref(scenario, meta):
    """ALB lb_cookie stickiness read from the scenario by the documented rule
    (docs/simulation.md), not from the model's arrays: per model group (meta["groups"]
    numbering), the sticky target group's name and cookie duration — an HTTP/HTTPS group
    with "stickiness.enabled" = "true" and type lb_cookie (the ALB default), duration
    "stickiness.lb_cookie.duration_seconds" (default 86400) — and per client class its
    users (``sessions``; 0 without it, or when no group is sticky)."""
    # the cookie is the load balancer's (one AWSALB per user and load balancer): keyed by
    # the load balancer forwarding to the group
    lb_of = {f["target_group"]: lb["name"] for lb in scenario["load_balancers"]
             for fwd in [lb["default_forward"]] + [r["forward"] for r in lb["rules"]]
             for f in fwd or []}
    name, duration = {}, {}
    for tg in scenario["target_groups"]:
        a = tg["attributes"] or {}
        if tg["protocol"] in ("HTTP", "HTTPS") and a.get("stickiness.enabled") == "true" \
                and a.get("stickiness.type", "lb_cookie") == "lb_cookie" and tg["name"] in lb_of:
            name[tg["name"]] = lb_of[tg["name"]]
            duration[tg["name"]] = float(a.get("stickiness.lb_cookie.duration_seconds", "86400"))
    groups, durs = {}, {}
    for tg_name, subs, _ in meta["groups"]:
        for g in subs:
            if tg_name in name:
                groups[g] = name[tg_name]
                durs[g] = duration[tg_name]
    users = [(c.get("sessions") or 0) if name else 0 for c in scenario["traffic"]["clients"]]
    return {"group": groups, "duration": durs, "users": users}


def _sticky_from_model(m, C):
    """The compiled model's own stickiness arrays in :func:`sticky_ref`'s shape."""
    slot = m.get("tg_slot", [])
    starts = m.get("user_start", [0] * (C + 1))
    return {"group": {g: k for g, k in enumerate(slot) if k >= 0},
            "duration": {g: m["tg_stick_dur"][g] for g, k in enumerate(slot) if k >= 0},
            "users": [starts[c + 1] - starts[c] for c in range(C)]}


def own_alb_selection(model):
    """The model with every ALB group on the engine's own selector and forward draw (no
    ``world_groups``, no ``fwd_single``): what :func:`simulate_ref` draws them with. Its
    flow-hash groups stay on the world's NLB / GWLB objects, as in every run."""
    return dict(model, world_groups=[None] * int(model["G"]), fwd_single=None)


def simulate_ref(model, seed, n, world, sticky=None):
    """``world``: ``build_world(scenario, seed)`` of the scenario the model was compiled
    from; its NLB / GWLB objects place the flows (``route``, one call per flow).
    ``sticky``: the scenario's :func:`sticky_ref` (None: the model's own arrays, so only
    the loop is checked). ALB groups use the engine's own selectors: run the engine on
    :func:`own_alb_selection` of the model."""
    m = {k: (np.asarray(v).ravel().tolist() if isinstance(v, np.ndarray) else v)
         for k, v in model.items()}
    C, R, NN, D, L, G, T, E, P, B, TB = (int(m[k]) for k in
                                          ("C", "R", "NN", "D", "L", "G", "T", "E", "P", "B", "TB"))
    rng = lbcore.Random(seed)
    zones = []
    for nm in range(NN):           # each DNS name's hosted zone generator, as the model left it
        zones.append(RecordPicker())
        zones[-1].__setstate__(tuple(m["dns_state"][4 * nm:4 * nm + 4]))
    now, piece, epoch = 0.0, 0, 0
    wk_free = [0.0] * m["wk_start"][T]
    # exact token buckets (the documented encoding: a float rate is the nearest rational
    # with denominator <= 1000, time is round(now * 1e9) ns), all-or-nothing per request
    buckets_ref = [BucketRef(Fraction(m["b_rate"][b]).limit_denominator(1000),
                             int(m["b_burst"][b])) for b in range(B)]
    outstanding = [0] * T
    heap = []
    st = {
        "cnt_target": [0] * T, "err_target": [0] * T, "cnt_record": [0] * D,
        "thr_reject": [0] * max(B, 1), "nodata": [0] * NN, "fixed": [0] * L,
        "tbins": [0] * (TB * T), "lat_hist": [0] * (T * LAT_BINS),
        "out_hist": [0] * (T * OUT_BINS), "lat_sum": [0.0] * T, "cnt_epoch": [0] * E,
        "outcome": [0] * 5,
        "cnt_client_record": [0] * (C * D),   # served, target error, throttled, no DNS answer, fixed response
        "cnt_flows": [0] * (G * 4),
        "cnt_sticky": [0] * (G * 3),           # sticky groups: hit, new, re-stuck
    }

    # request-level selection: lbcore's RoundRobin / LeastOutstanding / WeightedRandom /
    # PowerOfTwoChoices objects (tested against their own references), driven the same way
    selectors = make_selectors(model, seed)
    group_of = [g for g in range(G) for _ in range(m["tg_start"][g], m["tg_start"][g + 1])]

    def drop(t):
        sel = selectors[group_of[t]]
        if sel is not None:                    # flow-hash groups have no request selector
            sel.release(t - m["tg_start"][group_of[t]])

    apply_epoch(selectors, model, 0, 0.0)

    lbs = world.scenario["load_balancers"]
    opened = []          # the current request's TCP flows: (load balancer, flow)
    closes = []          # (completion time, seq, load balancer, flow) of served requests
    close_seq = itertools.count()

    def flow_pick(g, c, lb):
        """A new flow drawn as the loop draws it, routed by the load balancer object
        placing group g's flows for lb (its GWLB for an inspection tier, else the NLB)."""
        u_proto, u_ver, u_rng = rng.uniform(), rng.uniform(), rng.uniform()
        r_addr, r_hi, r_port = rng.next_u64(), rng.next_u64(), rng.next_u64()
        udp = u_proto < m["udp_share"][g * L + lb]
        cs = m["cidr_start"]
        n4, n6 = cs[2 * c + 1] - cs[2 * c], cs[2 * c + 2] - cs[2 * c + 1]
        v = 0 if n6 == 0 else 1 if n4 == 0 else int(u_ver < m["flow_ipv6"][0])
        k = n6 if v else n4
        j = cs[2 * c + v] + min(int(u_rng * k), k - 1)
        lo = m["cidr_lo"][j] | (r_addr & m["cidr_mask_lo"][j])
        hi = m["cidr_hi"][j] | (r_hi & m["cidr_mask_hi"][j])
        if v:
            src = ipaddress.IPv6Address((hi << 64) | lo)
            dst = ipaddress.IPv6Address((m["lb_dst_hi"][2 * lb + 1] << 64) | m["lb_dst_lo"][2 * lb + 1])
        else:
            src = ipaddress.IPv4Address(lo & 0xFFFFFFFF)
            dst = ipaddress.IPv4Address(m["lb_dst_lo"][2 * lb] & 0xFFFFFFFF)
        flow = lbcore.Flow("udp" if udp else "tcp", src, dst, 1024 + r_port % 64512,
                           m["lb_port"][lb])
        st["cnt_flows"][4 * g + 2 * v + int(udp)] += 1
        tg = m["world_flow_groups"][g]
        world.advance(now)
        obj = (world.inspection[lbs[lb]["name"]] if lbs[lb].get("inspection") == tg
               else world.load_balancers[lbs[lb]["name"]])
        d = obj.route(flow, now)
        if not udp:
            opened.append((obj, flow))      # a TCP connection: it closes when the request ends
        return -1 if d.target is None else m["world_targets"][tg][d.target.id]

    def select(g, c, lb):
        a, bnd = m["tg_start"][g], m["tg_start"][g + 1]
        algo = m["tg_algo"][g]
        if algo == 3:
            return flow_pick(g, c, lb)
        w = m["tgt_weight"][epoch * T:(epoch + 1) * T]
        if not any(w[t] > 0 for t in range(a, bnd)):
            return -1
        # lbcore._roundrobin / _lor / _alias
        return a + selectors[g].pick(now)          # the RequestSelector protocol: counted

    # ALB lb_cookie stickiness: cookies[(client class, user, load balancer)] = (target, expiry)
    if sticky is None:
        sticky = _sticky_from_model(m, C)
    sticky_group, duration, users = sticky["group"], sticky["duration"], sticky["users"]
    cookies = {}

    def sticky_select(g, c, lb, user):
        """The documented lb_cookie rule: a cookie is honoured while unexpired and naming a
        target of group g with weight > 0 now; the selector counts a honoured request on
        its target; every forward sets the cookie (target, now + duration)."""
        key = (c, user, sticky_group[g])
        w = m["tgt_weight"][epoch * T:(epoch + 1) * T]
        kind = 1                               # new
        if user is not None and key in cookies:
            t, expiry = cookies[key]
            if expiry > now:
                if m["tg_start"][g] <= t < m["tg_start"][g + 1] and w[t] > 0:
                    selectors[g].acquire_at(t - m["tg_start"][g], now)   # counted like a pick
                    cookies[key] = (t, now + duration[g])
                    st["cnt_sticky"][3 * g] += 1
                    return t
                kind = 2                       # re-stuck
        t = select(g, c, lb)
        if t >= 0:
            st["cnt_sticky"][3 * g + kind] += 1
            if user is not None:
                cookies[key] = (t, now + duration[g])
        return t

    def serve(t, arrive, cost):
        dist, mean = m["tgt_dist"][t], m["tgt_mean"][t]
        if dist == 0:
            svc = mean
        elif dist == 1:
            svc = -math.log(1.0 - rng.uniform()) * mean
        else:
            u1, u2 = rng.uniform(), rng.uniform()
            z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
            s = m["tgt_sigma"][t]
            svc = mean * math.exp(s * z - 0.5 * s * s)
        svc = cost * svc
        workers = range(m["wk_start"][t], m["wk_start"][t + 1])
        wbest = min(workers, key=lambda k: (wk_free[k], k))
        fin = max(wk_free[wbest], arrive) + svc
        wk_free[wbest] = fin
        st["out_hist"][t * OUT_BINS + min(outstanding[t], OUT_BINS - 1)] += 1
        outstanding[t] += 1
        heapq.heappush(heap, (fin, t))
        return fin

    def record(t, lat):
        b = int(math.floor((math.log10(lat) - LAT_MIN_DECADE) * LAT_PER_DECADE)) if lat > 0 else 0
        st["lat_hist"][t * LAT_BINS + min(max(b, 0), LAT_BINS - 1)] += 1
        st["lat_sum"][t] += lat
        st["tbins"][min(int(now / m["tbin_w"]), TB - 1) * T + t] += 1

    done = 0
    max_time = m.get("max_time", math.inf)
    while done < n:
        for obj, f in opened:        # the last request ended without a completion: at its time
            obj.close(f, now)
        opened.clear()
        e = -math.log(1.0 - rng.uniform())
        while True:
            rate = m["rate_v"][piece]
            end = m["rate_t"][piece + 1] if piece + 1 < P else math.inf
            if rate > 0 and now + e / rate < end:
                now += e / rate
                break
            if rate > 0:
                e -= (end - now) * rate
            now = end
            piece += 1
        if now > max_time:
            now = max_time
            break
        while heap and heap[0][0] <= now:
            _, t = heapq.heappop(heap)
            outstanding[t] -= 1
            drop(t)
        while closes and closes[0][0] <= now:
            at, _, obj, f = heapq.heappop(closes)
            obj.close(f, at)
        if epoch + 1 < E and m["epoch_t"][epoch + 1] <= now:
            while epoch + 1 < E and m["epoch_t"][epoch + 1] <= now:
                epoch += 1
            apply_epoch(selectors, model, epoch, now)
        st["cnt_epoch"][epoch] += 1
        done += 1
        u_client, u_tmpl, u_route = (rng.uniform() for _ in range(3))
        c = pick(m["client_cdf"], u_client)
        r = pick(m["tmpl_cdf"], u_tmpl)
        user = rng.bounded(users[c]) if users[c] > 0 else None
        nm = m["tmpl_name"][r]
        off = ((epoch * C + c) * NN + nm) * D
        cum = m["dns_cum"][off:off + D]
        weights = [b - a for a, b in zip([0] + cum[:-1], cum)]
        if m["dns_draw"][off // D]:
            # weighted records: the hosted zone's own generator (lbcore.route53's picker)
            d = zones[nm].weighted(weights)
        else:
            d = next((i for i, w in enumerate(weights) if w > 0), -1)
        if d < 0:
            st["nodata"][nm] += 1
            st["outcome"][3] += 1
            continue
        st["cnt_record"][d] += 1
        st["cnt_client_record"][c * D + d] += 1
        lb = m["rec_lb"][d]
        buckets = m["thr_idx"][m["thr_start"][c * R + r]:m["thr_start"][c * R + r + 1]]
        rejected = -1
        now_ns = round(now * 1e9)
        for b in buckets:
            if buckets_ref[b].tokens(now_ns) < 1 and rejected < 0:
                rejected = b
        if rejected >= 0:
            st["thr_reject"][rejected] += 1
            st["outcome"][2] += 1
            continue
        for b in buckets:
            assert buckets_ref[b].try_acquire(now_ns)
        w = m["tgt_weight"][epoch * T:(epoch + 1) * T]
        up = m["tgt_up"][epoch * T:(epoch + 1) * T]
        arrive = now
        gi = m["lb_insp"][lb]
        if gi >= 0:          # inspection appliance first
            ti = select(gi, c, lb)
            if ti < 0:
                st["fixed"][lb] += 1
                st["outcome"][4] += 1
                continue
            st["cnt_target"][ti] += 1
            if not up[ti]:
                drop(ti)
                st["err_target"][ti] += 1
                st["outcome"][1] += 1
                continue
            arrive = serve(ti, now, 1.0)
            record(ti, arrive - now)
        off = ((epoch * L + lb) * R + r) * G
        g = pick(m["route_cdf"][off:off + G], u_route)
        if g < 0:
            t = -1
        elif g in sticky_group:
            t = sticky_select(g, c, lb, user)
        else:
            t = select(g, c, lb)
        if t < 0:
            st["fixed"][lb] += 1
            st["outcome"][4] += 1
            continue
        st["cnt_target"][t] += 1
        if not up[t]:
            drop(t)
            st["err_target"][t] += 1
            st["outcome"][1] += 1
            continue
        fin = serve(t, arrive, m["tmpl_cost"][r])
        for obj, f in opened:        # served: its connections close when it completes
            heapq.heappush(closes, (fin, next(close_seq), obj, f))
        opened.clear()
        record(t, fin - now + m["rtt"][c * L + lb])
        st["outcome"][0] += 1
    st["outstanding"] = outstanding
    st["cookies"] = cookies
    st["now"] = now
    st["done"] = done
    return st


def reference_engine(scenario, model, seed, **kw):
    """The compiled engine set up as :func:`simulate_ref` runs: ALB groups on its own
    selectors (:func:`own_alb_selection`), flows placed by ``build_world(scenario,
    seed)``'s NLB / GWLB objects."""
    from lbcore._sim import Engine
    from lbcore.sim.world import build_world
    return Engine(own_alb_selection(model), seed, world=build_world(scenario, seed), **kw)


def reference_run(scenario, model, seed, n, sticky=None):
    """:func:`simulate_ref` with its own world of the scenario, seeded as the engine's."""
    from lbcore.sim.world import build_world
    return simulate_ref(model, seed, n, build_world(scenario, seed), sticky)
