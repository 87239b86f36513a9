# cython: language_level=3
"""The compiled per-request loop of ``lbcore simulate`` (see _sim.pxd and docs/simulation.md)."""
cimport cython
from libc.stdint cimport int8_t, uint8_t, uint16_t, int32_t, int64_t, uint64_t
from libc.math cimport log, log10, exp, sqrt, cos, floor, llrint, INFINITY, M_PI
from libc.stdlib cimport calloc, malloc, realloc, free

from lbcore._hash cimport LB_FLOW_IPV6
from lbcore._dnspick cimport lb_dnspick_weighted
from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_next, lb_rng_uniform, lb_rng_bounded
from lbcore._lor cimport (lb_lor, lb_lor_acquire, lb_lor_acquire_at, lb_lor_acquire_p2c,
                          lb_lor_release, lb_lor_set_available)
from lbcore._roundrobin cimport lb_roundrobin, lb_roundrobin_pick
from lbcore._alias cimport lb_alias, lb_alias_pick
from lbcore._sticky cimport lb_sticky_cookie_target, lb_sticky_cookie_expiry
from lbcore._l4 cimport (lb_l4_path, lb_l4_route_fields, lb_l4_close_fields, LB_L4_FULL,
                         LB_L4_REFUSED, LB_L4_BLOCK)
from lbcore._bucket cimport (lb_bucket_check_chain, LB_BUCKET_STRIDE, LB_CHECK_ALLOWED,
                             LB_CHECK_LEVEL0)
from lbcore._hash import hash_key, parse_seed
from lbcore._lor import LeastOutstanding, PowerOfTwoChoices
from lbcore._roundrobin import RoundRobin
from lbcore._alias import WeightedRandom
from lbcore._bucket import TokenBuckets

from types import MappingProxyType

import numpy as np

LAT_BINS = LB_SIM_LAT_BINS
LAT_PER_DECADE = LB_SIM_LAT_PER_DECADE
LAT_MIN_DECADE = LB_SIM_LAT_MIN_DECADE
OUT_BINS = LB_SIM_OUT_BINS

# Scenario name -> code of lb_sim_model.tg_algo / .tgt_dist: the only place these names
# meet the _sim.pxd enums, so the Python model compiler and this loop cannot disagree.
ALGO_CODES = MappingProxyType({
    "round_robin": LB_SIM_ROUND_ROBIN,
    "least_outstanding_requests": LB_SIM_LEAST_OUTSTANDING,
    "weighted_random": LB_SIM_WEIGHTED_RANDOM,
    "flow_hash": LB_SIM_FLOW_HASH,
    "power_of_two_choices": LB_SIM_POWER_OF_TWO,
})
DIST_CODES = MappingProxyType({
    "constant": LB_SIM_CONSTANT,
    "exponential": LB_SIM_EXPONENTIAL,
    "lognormal": LB_SIM_LOGNORMAL,
})

# Field name -> dtype of every array the model dict must hold (validated once here).
MODEL_ARRAYS = {
    "rate_t": np.float64, "rate_v": np.float64,
    "client_cdf": np.float64, "tmpl_cdf": np.float64,
    "tmpl_name": np.int32, "tmpl_cost": np.float64,
    "epoch_t": np.float64, "rec_lb": np.int32,
    # Route 53: per (epoch, client class, name) the integer cumulative weights over the
    # records an answer is drawn from, whether it is drawn (else the one record with a
    # weight), and per name its hosted zone's generator state (lbcore.route53)
    "dns_cum": np.uint64, "dns_draw": np.uint8, "dns_state": np.uint64,
    "route_cdf": np.float64, "rtt": np.float64, "lb_insp": np.int32,
    "tg_start": np.int32, "tg_algo": np.int32, "tg_slow_start": np.float64,
    "tgt_weight": np.float64, "tgt_up": np.uint8,
    "tgt_dist": np.int32, "tgt_mean": np.float64, "tgt_sigma": np.float64,
    "wk_start": np.int32, "thr_start": np.int32, "thr_idx": np.int32,
    "b_rate": np.float64, "b_burst": np.float64,
    # flow-hash groups (placed by their NLB / GWLB, Engine(world=)): UDP share per (group,
    # load balancer), IPv6 share, client address ranges, load balancer addresses and ports
    "udp_share": np.float64, "flow_ipv6": np.float64, "cidr_start": np.int32, "cidr_hi": np.uint64,
    "cidr_lo": np.uint64, "cidr_mask_hi": np.uint64, "cidr_mask_lo": np.uint64,
    "lb_dst_hi": np.uint64, "lb_dst_lo": np.uint64, "lb_port": np.int32,
}
MODEL_SIZES = ("C", "R", "NN", "D", "L", "G", "T", "E", "P", "B", "TB")
# ALB lb_cookie stickiness (optional; absent = no sticky group): S cookie slots (sticky
# target groups), per model group its slot (-1: not sticky) and cookie duration (s),
# per client class its users [user_start[c], user_start[c + 1]) (none: every request is
# a new user)
STICKY_ARRAYS = {"tg_slot": np.int32, "tg_stick_dur": np.float64, "user_start": np.int64}
MAX_COOKIES = 1 << 31
cdef int32_t _OWN_SELECTOR = -2     # sel_epoch of a group served by the engine's own selector

# The trace of a run (Engine(trace=True)), one row per simulated request and one per
# flow a flow-hash group placed (docs/simulation.md, "Trace and replay"): column -> dtype.
TRACE_REQUEST_COLUMNS = {
    "time": np.float64, "client": np.int32, "template": np.int32, "user": np.int64,
    "name": np.int32, "record": np.int32, "limit": np.int32, "load_balancer": np.int32,
    "inspected_by": np.int32, "inspect_done": np.float64, "group": np.int32,
    "target": np.int32, "outcome": np.int8, "done": np.float64,
}
TRACE_FLOW_COLUMNS = {
    "flow_request": np.int64, "flow_group": np.int32, "flow_protocol": np.uint8,
    "flow_ipv6": np.uint8, "flow_src_hi": np.uint64, "flow_src_lo": np.uint64,
    "flow_src_port": np.uint16, "flow_target": np.int32,
}
# Trace outcome codes (the report's outcome counters, in their order)
OUTCOMES = ("served", "target_error", "throttled", "dns_no_answer", "fixed_response")


def _sticky_defaults(dict model):
    G, C = int(model["G"]), int(model["C"])
    return {"S": 0, "tg_slot": np.full(G, -1, np.int32), "tg_stick_dur": np.zeros(G),
            "user_start": np.zeros(C + 1, np.int64)}


def make_selectors(dict model, seed):
    """lbcore's request-level selection objects, one per target group (None for flow-hash
    groups): RoundRobin, LeastOutstanding, WeightedRandom or PowerOfTwoChoices over the
    group's dense target indices, the seeded ones seeded from the run's seed and the group
    index. Epoch changes are applied with :func:`apply_epoch`."""
    sd = parse_seed(seed)
    out = []
    tg_start = np.asarray(model["tg_start"])
    slow = np.asarray(model.get("tg_slow_start", np.zeros(len(tg_start) - 1)), dtype=np.float64)
    weights = np.asarray(model["tgt_weight"], dtype=np.float64).reshape(int(model["E"]), -1)
    # (the groups an Engine's world serves, which it sets; a model alone: none)
    world = model.get("served_by_world") or [None] * len(tg_start)
    for g, algo in enumerate(np.asarray(model["tg_algo"]).tolist()):
        a, b = int(tg_start[g]), int(tg_start[g + 1])
        if world[g] is not None:          # the load balancer's own selector (Engine(world=))
            out.append(None)
            continue
        ids = list(range(b - a))
        gseed = hash_key(g, seed=sd)
        ss = int(slow[g])
        if algo == LB_SIM_ROUND_ROBIN:
            out.append(RoundRobin(ids, slow_start_seconds=ss))   # ALB round robin: unweighted
        elif algo == LB_SIM_LEAST_OUTSTANDING:
            out.append(LeastOutstanding(ids, seed=gseed))
        elif algo == LB_SIM_POWER_OF_TWO:
            out.append(PowerOfTwoChoices(ids, seed=gseed))
        elif algo == LB_SIM_WEIGHTED_RANDOM:
            first = weights[:, a:b].max(axis=0)
            out.append(WeightedRandom(ids, np.where(first > 0, first, 1.0), seed=gseed,
                                      slow_start_seconds=ss))
        else:
            out.append(None)
    return out


def apply_epoch(list selectors, dict model, int epoch, double now):
    """Make each group's eligible targets in ``epoch`` available (weight > 0) and the
    others unavailable; weighted random groups also take the epoch's weights."""
    tg_start = np.asarray(model["tg_start"])
    T = int(model["T"])
    w = np.asarray(model["tgt_weight"], dtype=np.float64).ravel()[epoch * T:(epoch + 1) * T]
    for g, sel in enumerate(selectors):
        if sel is None:
            continue
        a = int(tg_start[g])
        for i in range(int(tg_start[g + 1]) - a):
            wi = float(w[a + i])
            if isinstance(sel, WeightedRandom) and wi > 0 and sel.weight(i) != wi:
                sel.set_weight(i, wi, now=now)   # counts, availability, slow start stay
            sel.set_available(i, wi > 0, now=now)
@cython.final        # no subclasses: the loop's cdef calls are direct (and inlinable)
cdef class Engine:
    """One simulation run: the model's arrays, the mutable state and the statistics.

    ``Engine(model, seed)`` takes the dict built by ``lbcore.sim.model.compile_scenario``;
    ``run(n)`` simulates up to n more requests (call it repeatedly for progress) and
    returns how many it simulated (fewer once ``max_time`` is passed).
    """
    cdef readonly dict model
    cdef readonly dict stats
    cdef readonly list selectors       # lbcore._lor objects per group (or None)
    cdef lb_lor** lor                  # their C states, NULL for other groups
    cdef lb_roundrobin** rrs
    cdef lb_alias** als
    cdef int apply_error
    cdef int32_t* tgt_group            # target -> group
    # selection index <-> model target: a group's selector numbers its targets itself
    # (its target group's dense indices when it is the load balancer's, Engine(world=))
    cdef int32_t** sel_map             # per group: selector index -> model target
    cdef int32_t* model_sel            # model target -> its group's selector index
    cdef uint8_t** sel_avail           # per world group: selector index -> may take requests
    cdef int32_t* sel_len              # per world group: selector size (0: none eligible)
    cdef int32_t* sel_epoch            # per world group: the epoch it was synced in (-1: never)
    cdef readonly object world         # lbcore.sim.world.World whose ALB selectors serve groups
    cdef list world_groups             # per group: (target group, zone) of a world group, or None
    cdef dict world_targets            # target group -> {target id (scenario index): model target}
    cdef list sel_keep                 # the arrays sel_map / sel_avail point into
    # with a world, flow-hash groups route on their NLB / GWLB's own data path: per
    # (group, load balancer) slot g * L + lb its L4Path's C state, dense target index ->
    # model target, the epoch it was synced in (-1 never), the objects they point into
    cdef list flow_groups              # per group: its target group (a flow-hash group) or None
    cdef lb_l4_path** l4
    cdef int32_t** l4_map
    cdef int32_t* l4_len
    cdef int32_t* l4_epoch
    cdef list l4_keep
    # a request's TCP flows close when it ends (the load balancer sees the FIN): now, or at
    # its completion, which carries them as a pair in ``conn`` (a free list of pairs)
    cdef lb_sim_flow cur_flow[2]
    cdef int32_t cur_n
    cdef lb_sim_flow* conn
    cdef int32_t* conn_free
    cdef int32_t conn_cap, conn_nfree
    # with a world: step 7 in two draws, the ALB's (a weighted forward's target group,
    # on its own picker) and ours (the zone): per (load balancer, template) the one
    # target group or -1 / -2 (fixed response / drawn), the picker and its positions
    cdef int32_t NTG
    cdef const int32_t* fwd_single
    cdef const double* zone_cdf
    cdef lb_alias** fwd_als
    cdef int32_t** fwd_pos_tg
    cdef list fwd_keep
    cdef lb_rng rng
    cdef int32_t C, R, NN, D, L, G, T, E, P, B, TB, S
    cdef double max_time, tbin_w
    # model pointers
    cdef const double *rate_t
    cdef const double *rate_v
    cdef const double *client_cdf
    cdef const double *tmpl_cdf
    cdef const int32_t *tmpl_name
    cdef const double *tmpl_cost
    cdef const double *epoch_t
    cdef const uint64_t *dns_cum
    cdef const uint8_t *dns_draw
    cdef uint64_t *dns_state          # the zones' generators, NN x 4 words (they advance)
    cdef const int32_t *rec_lb
    cdef const int32_t *lb_insp
    cdef const double *route_cdf
    cdef const double *rtt
    cdef const int32_t *tg_start
    cdef const int32_t *tg_algo
    cdef const double *tgt_weight
    cdef const uint8_t *tgt_up
    cdef const double *udp_share
    cdef double flow_ipv6
    cdef const int32_t *cidr_start
    cdef const uint64_t *cidr_hi
    cdef const uint64_t *cidr_lo
    cdef const uint64_t *cidr_mask_hi
    cdef const uint64_t *cidr_mask_lo
    cdef const uint64_t *lb_dst_hi
    cdef const uint64_t *lb_dst_lo
    cdef const int32_t *lb_port
    cdef const int32_t *tgt_dist
    cdef const double *tgt_mean
    cdef const double *tgt_sigma
    cdef const int32_t *wk_start
    cdef const int32_t *thr_start
    cdef const int32_t *thr_idx
    cdef const double *b_rate
    cdef const double *b_burst
    cdef const int32_t *tg_slot
    cdef const double *tg_stick_dur
    cdef const int64_t *user_start
    # state
    cdef readonly double now
    cdef int32_t piece, epoch
    cdef readonly bint finished
    cdef readonly int64_t simulated
    cdef double *wk_free
    cdef int64_t *b_state              # lbcore's token-bucket table (_bucket.pxd), B rows
    cdef int64_t *outstanding
    cdef lb_sim_completion *heap
    cdef int64_t heap_n, heap_cap
    cdef readonly int64_t heap_peak
    # statistics
    cdef int64_t *cnt_target
    cdef int64_t *err_target
    cdef int64_t *cnt_record
    cdef int64_t *thr_reject
    cdef int64_t *nodata
    cdef int64_t *fixed
    cdef int64_t *tbins
    cdef int64_t *lat_hist
    cdef int64_t *out_hist
    cdef double *lat_sum
    cdef int64_t *cnt_epoch
    cdef int64_t *outcome
    cdef int64_t *cnt_client_record
    cdef int64_t *cnt_flows
    cdef int64_t *cnt_sticky
    cdef int32_t *ck_target            # cookie per (user, slot): target (-1: none)
    cdef double *ck_expiry             # and expiry time
    # the trace (trace=True): this run() call's column buffers, rows written so far
    cdef readonly bint tracing
    cdef list trace_chunks
    cdef int64_t tr_n, tr_cur, tr_flows, tr_base
    cdef double* tr_time
    cdef int32_t* tr_client
    cdef int32_t* tr_template
    cdef int64_t* tr_user
    cdef int32_t* tr_name
    cdef int32_t* tr_record
    cdef int32_t* tr_limit
    cdef int32_t* tr_lb
    cdef int32_t* tr_insp
    cdef double* tr_insp_done
    cdef int32_t* tr_group
    cdef int32_t* tr_target
    cdef int8_t* tr_outcome
    cdef double* tr_done
    cdef int64_t* tf_request
    cdef int32_t* tf_group
    cdef uint8_t* tf_proto
    cdef uint8_t* tf_v6
    cdef uint64_t* tf_hi
    cdef uint64_t* tf_lo
    cdef uint16_t* tf_port
    cdef int32_t* tf_target

    def __cinit__(self):
        self.heap = NULL
        self.lor = NULL
        self.rrs = NULL
        self.als = NULL
        self.tgt_group = NULL
        self.sel_map = NULL
        self.model_sel = NULL
        self.sel_avail = NULL
        self.sel_len = NULL
        self.sel_epoch = NULL
        self.fwd_als = NULL
        self.fwd_pos_tg = NULL

    def __dealloc__(self):
        free(self.conn)
        free(self.conn_free)
        free(self.l4)
        free(self.l4_map)
        free(self.l4_len)
        free(self.l4_epoch)
        free(self.fwd_als)
        free(self.fwd_pos_tg)
        free(self.sel_map)          # (free(NULL) does nothing)
        free(self.model_sel)
        free(self.sel_avail)
        free(self.sel_len)
        free(self.sel_epoch)
        if self.heap != NULL:
            free(self.heap)
        if self.lor != NULL:
            free(self.lor)
        if self.rrs != NULL:
            free(self.rrs)
        if self.als != NULL:
            free(self.als)
        if self.tgt_group != NULL:
            free(self.tgt_group)

    def __init__(self, dict model, seed=0, *, trace=False, world=None):
        cdef str k
        m = {}
        for k in MODEL_SIZES:
            m[k] = int(model[k])
            if m[k] < (0 if k == "B" else 1):
                raise ValueError(f"model[{k!r}] must be >= 1, got {m[k]}")
        for k, dt in MODEL_ARRAYS.items():
            a = np.array(model[k], dtype=dt, copy=True).ravel()
            if a.size == 0:
                a = np.zeros(1, dtype=dt)
            m[k] = a
        dflt = _sticky_defaults(m)
        m["S"] = int(model.get("S", 0))
        if m["S"] < 0:
            raise ValueError(f"model['S'] must be >= 0, got {m['S']}")
        for k, dt in STICKY_ARRAYS.items():
            m[k] = np.array(model.get(k, dflt[k]), dtype=dt, copy=True).ravel()
        m["max_time"] = float(model.get("max_time", INFINITY))
        m["tbin_w"] = float(model["tbin_w"])
        if not m["tbin_w"] > 0:
            raise ValueError("model['tbin_w'] must be > 0")
        self.model = m
        self.C = m["C"]; self.R = m["R"]; self.NN = m["NN"]; self.D = m["D"]
        self.L = m["L"]; self.G = m["G"]; self.T = m["T"]; self.E = m["E"]
        self.P = m["P"]; self.B = m["B"]; self.TB = m["TB"]
        self.S = m["S"]
        self.max_time = m["max_time"]; self.tbin_w = m["tbin_w"]
        expect = {
            "rate_t": self.P, "rate_v": self.P, "client_cdf": self.C, "tmpl_cdf": self.R,
            "tmpl_name": self.R, "tmpl_cost": self.R, "epoch_t": self.E,
            "dns_cum": self.E * self.C * self.NN * self.D, "rec_lb": self.D,
            "dns_draw": self.E * self.C * self.NN, "dns_state": 4 * self.NN,
            "route_cdf": self.E * self.L * self.R * self.G, "rtt": self.C * self.L, "lb_insp": self.L,
            "tg_start": self.G + 1, "tg_algo": self.G, "tg_slow_start": self.G,
            "tgt_weight": self.E * self.T, "tgt_up": self.E * self.T,
            "tgt_dist": self.T, "tgt_mean": self.T, "tgt_sigma": self.T,
            "wk_start": self.T + 1, "thr_start": self.C * self.R + 1,
            "udp_share": self.G * self.L, "flow_ipv6": 1, "cidr_start": 2 * self.C + 1, "lb_dst_hi": 2 * self.L,
            "lb_dst_lo": 2 * self.L, "lb_port": self.L,
            "tg_slot": self.G, "tg_stick_dur": self.G, "user_start": self.C + 1,
        }
        for k, n in expect.items():
            if m[k].size != n:
                raise ValueError(f"model[{k!r}] must have {n} entries, got {m[k].size}")
        if m["tg_start"][self.G] != self.T or m["wk_start"][self.T] < self.T:
            raise ValueError("model['tg_start'] / model['wk_start'] are inconsistent")
        if np.any(np.diff(m["wk_start"]) < 1):
            raise ValueError("model['wk_start']: every target needs at least one worker")
        n_thr = int(m["thr_start"][m["thr_start"].size - 1])
        if n_thr > 0 and (m["thr_idx"][:n_thr].max() >= self.B or m["thr_idx"][:n_thr].min() < 0):
            raise ValueError("model['thr_idx'] out of range")
        for ci in range(m["thr_start"].size - 1):    # a chain charges each bucket once
            chain = m["thr_idx"][m["thr_start"][ci]:m["thr_start"][ci + 1]]
            if np.unique(chain).size != chain.size:
                raise ValueError("model['thr_idx']: a bucket listed twice for one "
                                 "(client, template)")
        if m["rec_lb"][:self.D].max() >= self.L or m["rec_lb"][:self.D].min() < 0:
            raise ValueError("model['rec_lb'] out of range")
        if m["lb_insp"][:self.L].max() >= self.G or m["lb_insp"][:self.L].min() < -1:
            raise ValueError("model['lb_insp'] out of range")
        if m["tg_algo"].min() < 0 or m["tg_algo"].max() > LB_SIM_POWER_OF_TWO:
            raise ValueError("model['tg_algo'] must be codes 0..4 (see ALGO_CODES)")
        if m["tg_start"][0] != 0 or np.any(np.diff(m["tg_start"]) < 0):
            raise ValueError("model['tg_start'] must start at 0 and not decrease")
        if m["wk_start"][0] != 0:
            raise ValueError("model['wk_start'] must start at 0")
        if m["thr_start"][0] != 0 or np.any(np.diff(m["thr_start"]) < 0) or \
                n_thr > m["thr_idx"].size:
            raise ValueError("model['thr_start'] is inconsistent with model['thr_idx']")
        nc = int(m["cidr_start"][2 * self.C])
        if m["cidr_start"][0] != 0 or np.any(np.diff(m["cidr_start"]) < 0) or nc > m["cidr_hi"].size or \
                nc > m["cidr_lo"].size or nc > m["cidr_mask_hi"].size or \
                nc > m["cidr_mask_lo"].size:
            raise ValueError("model['cidr_start'] is inconsistent with the cidr arrays")
        if np.any(m["cidr_start"][2::2] <= m["cidr_start"][:2 * self.C:2]):
            raise ValueError("model['cidr_start']: every client needs an address range")
        if m["lb_port"].min() < 0 or m["lb_port"].max() > 65535:
            raise ValueError("model['lb_port'] must be ports 0..65535")
        if not (np.all(m["udp_share"] >= 0.0) and np.all(m["udp_share"] <= 1.0)):
            raise ValueError("model['udp_share'] must be shares in [0, 1]")
        if not 0.0 <= m["flow_ipv6"][0] <= 1.0:
            raise ValueError("model['flow_ipv6'] must be a share in [0, 1]")
        if m["tg_slot"].min() < -1 or m["tg_slot"].max() >= self.S:
            raise ValueError("model['tg_slot'] must be -1 or a cookie slot 0..S-1")
        for gg in range(self.G):
            if m["tg_slot"][gg] >= 0 and (m["tg_algo"][gg] == LB_SIM_FLOW_HASH or
                                          not 0.0 < m["tg_stick_dur"][gg] < INFINITY):
                raise ValueError(f"model['tg_slot']: sticky group {gg} needs a request-level "
                                 "algorithm and a cookie duration > 0 (model['tg_stick_dur'])")
        if m["user_start"][0] != 0 or np.any(np.diff(m["user_start"]) < 0):
            raise ValueError("model['user_start'] must start at 0 and not decrease")
        if int(m["user_start"][self.C]) * max(self.S, 1) > MAX_COOKIES:
            raise ValueError(f"model['user_start']: users x S must be <= {MAX_COOKIES}")
        if m["rate_v"][self.P - 1] <= 0:
            raise ValueError("model['rate_v']: the last rate piece must be > 0")
        self.rate_t = _dp(m["rate_t"]); self.rate_v = _dp(m["rate_v"])
        self.client_cdf = _dp(m["client_cdf"]); self.tmpl_cdf = _dp(m["tmpl_cdf"])
        self.tmpl_name = _ip(m["tmpl_name"]); self.tmpl_cost = _dp(m["tmpl_cost"])
        self.epoch_t = _dp(m["epoch_t"])
        self.dns_cum = _up(m["dns_cum"]); self.dns_draw = _bp(m["dns_draw"])
        self.lb_insp = _ip(m["lb_insp"])
        self.rec_lb = _ip(m["rec_lb"]); self.route_cdf = _dp(m["route_cdf"])
        self.rtt = _dp(m["rtt"]); self.tg_start = _ip(m["tg_start"])
        self.tg_algo = _ip(m["tg_algo"]); self.tgt_weight = _dp(m["tgt_weight"])
        self.tgt_up = _bp(m["tgt_up"])
        self.udp_share = _dp(m["udp_share"]); self.flow_ipv6 = float(m["flow_ipv6"][0])
        self.cidr_start = _ip(m["cidr_start"])
        self.cidr_hi = _up(m["cidr_hi"]); self.cidr_lo = _up(m["cidr_lo"])
        self.cidr_mask_hi = _up(m["cidr_mask_hi"]); self.cidr_mask_lo = _up(m["cidr_mask_lo"])
        self.lb_dst_hi = _up(m["lb_dst_hi"]); self.lb_dst_lo = _up(m["lb_dst_lo"])
        self.lb_port = _ip(m["lb_port"])
        self.tgt_dist = _ip(m["tgt_dist"]); self.tgt_mean = _dp(m["tgt_mean"])
        self.tgt_sigma = _dp(m["tgt_sigma"]); self.wk_start = _ip(m["wk_start"])
        self.thr_start = _ip(m["thr_start"]); self.thr_idx = _ip(m["thr_idx"])
        self.b_rate = _dp(m["b_rate"]); self.b_burst = _dp(m["b_burst"])
        self.tg_slot = _ip(m["tg_slot"]); self.tg_stick_dur = _dp(m["tg_stick_dur"])
        self.user_start = _qp(m["user_start"])

        W = int(m["wk_start"][self.T])
        B1 = max(self.B, 1)
        s = self.stats = {
            "wk_free": np.zeros(W),
            # the limits as lbcore.TokenBuckets encodes them (exact integer units and
            # nanoseconds, the state ApiGateway checks): every bucket starts full
            "b_state": (np.array(TokenBuckets(
                self.B, rate=np.asarray(m["b_rate"][:self.B]),
                burst=np.asarray(m["b_burst"][:self.B])).state, dtype=np.int64).ravel()
                if self.B > 0 else np.zeros(LB_BUCKET_STRIDE, np.int64)),
            "outstanding": np.zeros(self.T, np.int64),
            "cnt_target": np.zeros(self.T, np.int64), "err_target": np.zeros(self.T, np.int64),
            "cnt_record": np.zeros(self.D, np.int64), "thr_reject": np.zeros(B1, np.int64),
            "nodata": np.zeros(self.NN, np.int64), "fixed": np.zeros(self.L, np.int64),
            "tbins": np.zeros(self.TB * self.T, np.int64),
            "lat_hist": np.zeros(self.T * LB_SIM_LAT_BINS, np.int64),
            "out_hist": np.zeros(self.T * LB_SIM_OUT_BINS, np.int64),
            "lat_sum": np.zeros(self.T), "cnt_epoch": np.zeros(self.E, np.int64),
            # per request: served, target error, throttled, no DNS answer, fixed response
            "outcome": np.zeros(5, np.int64),
            "cnt_client_record": np.zeros(self.C * self.D, np.int64),
            # flows placed by flow-hash groups: [group][IPv4, IPv6][TCP, UDP]
            "cnt_flows": np.zeros(self.G * 4, np.int64),
            # sticky groups' requests: [group][cookie hit, new, re-stuck]
            "cnt_sticky": np.zeros(self.G * 3, np.int64),
            # the cookie store: per (user, slot)
            "ck_target": np.full(max(int(m["user_start"][self.C]) * self.S, 1), -1, np.int32),
            "ck_expiry": np.zeros(max(int(m["user_start"][self.C]) * self.S, 1)),
            # the hosted zones' generators as they advance (the model keeps their start)
            "dns_state": m["dns_state"].copy(),
        }
        self.wk_free = _dp(s["wk_free"])
        self.b_state = _lp(s["b_state"])
        self.outstanding = _lp(s["outstanding"]); self.cnt_target = _lp(s["cnt_target"])
        self.err_target = _lp(s["err_target"]); self.cnt_record = _lp(s["cnt_record"])
        self.thr_reject = _lp(s["thr_reject"]); self.nodata = _lp(s["nodata"])
        self.fixed = _lp(s["fixed"]); self.tbins = _lp(s["tbins"])
        self.lat_hist = _lp(s["lat_hist"]); self.out_hist = _lp(s["out_hist"])
        self.lat_sum = _dp(s["lat_sum"]); self.cnt_epoch = _lp(s["cnt_epoch"])
        self.outcome = _lp(s["outcome"])
        self.cnt_client_record = _lp(s["cnt_client_record"])
        self.cnt_flows = _lp(s["cnt_flows"])
        self.cnt_sticky = _lp(s["cnt_sticky"])
        self.ck_target = <int32_t*> _ip(s["ck_target"]); self.ck_expiry = _dp(s["ck_expiry"])
        self.dns_state = <uint64_t*> _up(s["dns_state"])
        self.heap_cap = 1024
        self.heap = <lb_sim_completion*> malloc(self.heap_cap * sizeof(lb_sim_completion))
        if self.heap == NULL:
            raise MemoryError()
        self.heap_n = 0
        self.heap_peak = 0
        self.now = 0.0
        self.piece = 0
        self.epoch = 0
        self.finished = False
        self.simulated = 0
        lb_rng_seed(&self.rng, parse_seed(seed))
        # request-level selection runs on lbcore's kernels (_lor, _roundrobin, _alias): the
        # world's load balancers' own selectors for the groups it serves, else our own
        self.world = world
        self.world_groups = [None] * self.G
        if world is not None:
            if not callable(getattr(world, "selector", None)) or \
                    not callable(getattr(world, "target_group_picker", None)) or \
                    not callable(getattr(world, "flow_path", None)):
                raise TypeError(f"world must be an lbcore.sim.world.World (build_world), "
                                f"got {type(world).__name__}")
            wg = list(model.get("world_groups") or [])
            if len(wg) != self.G:
                raise ValueError(f"model['world_groups'] must have {self.G} entries with "
                                 f"world given, got {len(wg)}")
            self.world_groups = wg
            self.world_targets = dict(model["world_targets"])
            if model.get("fwd_single") is not None:     # None: step 7 on our own draw
                self._world_forwards(model)
            self._world_flows(model)
        elif np.any(m["tg_algo"][:self.G] == LB_SIM_FLOW_HASH):
            raise ValueError("world: the model has flow-hash target groups, which their "
                             "NLB / GWLB objects place: pass world=build_world(scenario, seed)")
        m["served_by_world"] = self.world_groups
        self.selectors = make_selectors(m, seed)
        self.lor = <lb_lor**> malloc(self.G * sizeof(lb_lor*))
        self.rrs = <lb_roundrobin**> malloc(self.G * sizeof(lb_roundrobin*))
        self.als = <lb_alias**> malloc(self.G * sizeof(lb_alias*))
        self.tgt_group = <int32_t*> malloc(self.T * sizeof(int32_t))
        self.sel_map = <int32_t**> malloc(self.G * sizeof(int32_t*))
        self.model_sel = <int32_t*> malloc(self.T * sizeof(int32_t))
        self.sel_avail = <uint8_t**> malloc(self.G * sizeof(uint8_t*))
        self.sel_len = <int32_t*> malloc(self.G * sizeof(int32_t))
        self.sel_epoch = <int32_t*> malloc(self.G * sizeof(int32_t))
        if self.lor == NULL or self.rrs == NULL or self.als == NULL or self.tgt_group == NULL \
                or self.sel_map == NULL or self.model_sel == NULL or self.sel_avail == NULL \
                or self.sel_len == NULL or self.sel_epoch == NULL:
            raise MemoryError()
        cdef int32_t g, t
        for g in range(self.G):
            self.lor[g] = NULL
            self.rrs[g] = NULL
            self.als[g] = NULL
            sel = self.selectors[g]
            if isinstance(sel, (LeastOutstanding, PowerOfTwoChoices)):
                self.lor[g] = <lb_lor*> <size_t> sel.ctypes.address
            elif isinstance(sel, RoundRobin):
                self.rrs[g] = <lb_roundrobin*> <size_t> sel.ctypes.address
            elif isinstance(sel, WeightedRandom):
                self.als[g] = <lb_alias*> <size_t> sel.ctypes.address
            for t in range(self.tg_start[g], self.tg_start[g + 1]):
                self.tgt_group[t] = g
        # our own selectors number a group's targets from 0 in the model's order
        offsets = np.arange(self.T, dtype=np.int32)
        self.sel_keep = [offsets]
        cdef int32_t[::1] off_v = offsets
        for g in range(self.G):
            self.sel_avail[g] = NULL
            self.sel_len[g] = 0
            if self.world_groups[g] is None:
                self.sel_epoch[g] = _OWN_SELECTOR
                self.sel_map[g] = &off_v[0] + self.tg_start[g]
                for t in range(self.tg_start[g], self.tg_start[g + 1]):
                    self.model_sel[t] = t - self.tg_start[g]
            else:
                self.sel_epoch[g] = -1          # not synced yet
                self.sel_map[g] = NULL
                for t in range(self.tg_start[g], self.tg_start[g + 1]):
                    self.model_sel[t] = -1
        self.apply_error = 0
        apply_epoch(self.selectors, self.model, 0, 0.0)
        if not isinstance(trace, bool):
            raise TypeError(f"trace must be a bool, got {type(trace).__name__}")
        self.tracing = trace
        self.trace_chunks = []
        self.tr_cur = -1

    def _trace_buffers(self, int64_t n):
        """Column arrays for up to n more requests (and 2n flows: an inspection tier
        and a flow-hash target group per request), their pointers set for the loop."""
        req = {k: np.empty(n, dt) for k, dt in TRACE_REQUEST_COLUMNS.items()}
        flo = {k: np.empty(2 * n, dt) for k, dt in TRACE_FLOW_COLUMNS.items()}
        cdef double[::1] v_time = req["time"], v_idone = req["inspect_done"], \
            v_done = req["done"]
        cdef int32_t[::1] v_client = req["client"], v_tmpl = req["template"], \
            v_name = req["name"], v_rec = req["record"], v_lim = req["limit"], \
            v_lb = req["load_balancer"], v_insp = req["inspected_by"], \
            v_group = req["group"], v_target = req["target"], \
            f_group = flo["flow_group"], f_target = flo["flow_target"]
        cdef int64_t[::1] v_user = req["user"], f_req = flo["flow_request"]
        cdef int8_t[::1] v_out = req["outcome"]
        cdef uint8_t[::1] f_proto = flo["flow_protocol"], f_v6 = flo["flow_ipv6"]
        cdef uint64_t[::1] f_hi = flo["flow_src_hi"], f_lo = flo["flow_src_lo"]
        cdef uint16_t[::1] f_port = flo["flow_src_port"]
        self.tr_time = &v_time[0]; self.tr_insp_done = &v_idone[0]; self.tr_done = &v_done[0]
        self.tr_client = &v_client[0]; self.tr_template = &v_tmpl[0]
        self.tr_name = &v_name[0]; self.tr_record = &v_rec[0]; self.tr_limit = &v_lim[0]
        self.tr_lb = &v_lb[0]; self.tr_insp = &v_insp[0]; self.tr_group = &v_group[0]
        self.tr_target = &v_target[0]; self.tr_user = &v_user[0]; self.tr_outcome = &v_out[0]
        self.tf_request = &f_req[0]; self.tf_group = &f_group[0]; self.tf_target = &f_target[0]
        self.tf_proto = &f_proto[0]; self.tf_v6 = &f_v6[0]; self.tf_hi = &f_hi[0]
        self.tf_lo = &f_lo[0]; self.tf_port = &f_port[0]
        self.tr_n = 0
        self.tr_flows = 0
        self.tr_base = self.simulated
        return req, flo

    def trace(self):
        """The trace of every request simulated so far (``Engine(trace=True)``): a dict
        of numpy columns, ``TRACE_REQUEST_COLUMNS`` (one row per request, in time order)
        and ``TRACE_FLOW_COLUMNS`` (one row per flow placed by a flow-hash group;
        ``flow_request`` is its request's row)."""
        if not self.tracing:
            raise ValueError("this engine was made without trace=True")
        cols = {**TRACE_REQUEST_COLUMNS, **TRACE_FLOW_COLUMNS}
        return {k: (np.concatenate([c[k] for c in self.trace_chunks])
                    if self.trace_chunks else np.zeros(0, dt)) for k, dt in cols.items()}

    def _world_forwards(self, dict model):
        """Step 7's tables with a world: the forwards' target groups, the ALBs' pickers
        of the weighted ones (``ApplicationLoadBalancer.target_group_picker``), the zone
        table per (epoch, target group)."""
        cdef int32_t L = self.L, R = self.R, li, r
        self.NTG = int(model["NTG"])
        single = np.ascontiguousarray(np.asarray(model["fwd_single"], np.int32).ravel())
        zone = np.ascontiguousarray(np.asarray(model["zone_cdf"], np.float64).ravel())
        rule = np.asarray(model["fwd_rule"], np.int32).ravel()
        if single.size != L * R or rule.size != L * R or zone.size != self.E * self.NTG * self.G:
            raise ValueError("model['fwd_single'], ['fwd_rule'] and ['zone_cdf'] must have "
                             "L*R, L*R and E*NTG*G entries")
        self.fwd_als = <lb_alias**> calloc(L * R, sizeof(lb_alias*))
        self.fwd_pos_tg = <int32_t**> calloc(L * R, sizeof(int32_t*))
        if self.fwd_als == NULL or self.fwd_pos_tg == NULL:
            raise MemoryError()
        names = [tg["name"] for tg in self.world.scenario["target_groups"]]
        lbs = [lb["name"] for lb in self.world.scenario["load_balancers"]]
        keep = [single, zone]
        cdef int32_t[::1] pos_v
        for li in range(L):
            for r in range(R):
                if single[li * R + r] != -2:
                    continue
                got = self.world.target_group_picker(lbs[li], int(rule[li * R + r]))
                if got is None:
                    raise ValueError(f"{lbs[li]}: the forward of rule {int(rule[li * R + r])} "
                                     "has no target-group picker")
                picker, keys = got
                pos = np.array([names.index(key) for key in keys], dtype=np.int32)
                keep += [picker, pos]
                pos_v = pos
                self.fwd_als[li * R + r] = <lb_alias*> <size_t> picker.ctypes.address
                self.fwd_pos_tg[li * R + r] = &pos_v[0]
        self.fwd_keep = keep
        cdef const int32_t[::1] sv = single
        cdef const double[::1] zv = zone
        self.fwd_single = &sv[0]
        self.zone_cdf = &zv[0]

    def _world_flows(self, dict model):
        """The slots of flow-hash groups (see ``l4``): each synced at its first flow of
        an epoch (``_resync_flow``)."""
        cdef int32_t g
        fg = list(model.get("world_flow_groups") or [])
        if len(fg) != self.G:
            raise ValueError(f"model['world_flow_groups'] must have {self.G} entries with "
                             f"world given, got {len(fg)}")
        for g in range(self.G):
            if (self.tg_algo[g] == LB_SIM_FLOW_HASH) != isinstance(fg[g], str):
                raise ValueError(f"model['world_flow_groups'][{g}] must name the target group "
                                 f"of a flow-hash group (and only of one), got {fg[g]!r}")
        self.flow_groups = fg
        cdef int64_t n = <int64_t>self.G * self.L, k
        self.l4 = <lb_l4_path**> calloc(n, sizeof(lb_l4_path*))
        self.l4_map = <int32_t**> calloc(n, sizeof(int32_t*))
        self.l4_len = <int32_t*> calloc(n, sizeof(int32_t))
        self.l4_epoch = <int32_t*> malloc(n * sizeof(int32_t))
        if self.l4 == NULL or self.l4_map == NULL or self.l4_len == NULL or self.l4_epoch == NULL:
            raise MemoryError()
        for k in range(n):
            self.l4_epoch[k] = -1
        self.l4_keep = [None] * n

    def _resync_flow(self, int32_t g, int32_t lb):
        """Take the data path load balancer ``lb`` places group g's flows with from the
        world as a flow at ``now`` finds it (``World.flow_path``, after
        ``World.advance(now)``), with the map from its dense target indices to the
        model's targets. Called once per (group, load balancer) and epoch."""
        cdef int64_t s = <int64_t>g * self.L + lb
        cdef int32_t n
        tg_name = self.flow_groups[g]
        self.world.advance(self.now)
        lb_name = self.world.scenario["load_balancers"][lb]["name"]
        path, targets = self.world.flow_path(lb_name, tg_name, self.now)
        handle = path.ctypes
        ids = self.world_targets[tg_name]            # target id -> model target
        to_model = np.array([ids.get(t.id, -1) for t in targets], dtype=np.int32)
        cdef int32_t[::1] mv = to_model
        n = to_model.shape[0]
        self.l4_keep[s] = (path, handle, to_model)
        self.l4[s] = <lb_l4_path*> <size_t> handle.address
        self.l4_map[s] = &mv[0] if n else NULL
        self.l4_len[s] = n
        self.l4_epoch[s] = self.epoch

    cdef int32_t _l4_route(self, int32_t g, int32_t lb, uint8_t proto, int v, uint64_t src_hi,
                           uint64_t src_lo, uint16_t sport) noexcept nogil:
        """The flow on load balancer lb's data path for group g (-1: no target); the GIL
        only to sync the slot at an epoch's first flow and to grow the table."""
        cdef int64_t s = <int64_t>g * self.L + lb
        cdef int32_t k
        cdef uint8_t fl
        if self.l4_epoch[s] != self.epoch:
            with gil:
                try:
                    self._resync_flow(g, lb)
                except BaseException:
                    self.apply_error = 1
                    return -1
        while True:
            k = lb_l4_route_fields(self.l4[s], proto, LB_FLOW_IPV6 if v else 0, src_hi,
                                   src_lo, self.lb_dst_hi[2 * lb + v],
                                   self.lb_dst_lo[2 * lb + v], sport,
                                   <uint16_t>self.lb_port[lb], 0, self.now, -1, &fl)
            if k != LB_L4_FULL:
                break
            with gil:
                try:
                    self.l4_keep[s][0].reserve(self.now, LB_L4_BLOCK)
                except BaseException:
                    self.apply_error = 1
                    return -1
        if k == LB_L4_REFUSED:
            self.apply_error = 1
            return -1
        if k < 0 or k >= self.l4_len[s]:
            return -1
        return self.l4_map[s][k]

    cdef void _close_flow(self, const lb_sim_flow* f, double t) noexcept nogil:
        """The request's flow f ended at t: its load balancer forgets it
        (``L4LoadBalancer.close``)."""
        cdef int32_t lb = <int32_t>(f.slot % self.L), v = f.v6
        if self.l4[f.slot] == NULL:
            return
        if lb_l4_close_fields(self.l4[f.slot], 6, LB_FLOW_IPV6 if v else 0, f.src_hi,
                              f.src_lo, self.lb_dst_hi[2 * lb + v], self.lb_dst_lo[2 * lb + v],
                              f.sport, <uint16_t>self.lb_port[lb], 0, t) == LB_L4_REFUSED:
            self.apply_error = 1

    cdef void _close_now(self) noexcept nogil:
        """The request ends now (an error or a fixed response): its flows close."""
        cdef int32_t i
        for i in range(self.cur_n):
            self._close_flow(&self.cur_flow[i], self.now)
        self.cur_n = 0

    cdef int32_t _open_conn(self) noexcept nogil:
        """Park the request's flows until its completion: their pair's index (-1: none;
        -2: out of memory)."""
        cdef int32_t k, i
        cdef lb_sim_flow* grown
        cdef int32_t* grown_free
        if self.cur_n == 0:
            return -1
        if self.conn_nfree == 0:
            k = self.conn_cap * 2 if self.conn_cap else 256
            grown = <lb_sim_flow*> realloc(self.conn, 2 * k * sizeof(lb_sim_flow))
            if grown == NULL:
                return -2
            self.conn = grown
            grown_free = <int32_t*> realloc(self.conn_free, k * sizeof(int32_t))
            if grown_free == NULL:
                return -2
            self.conn_free = grown_free
            for i in range(self.conn_cap, k):
                self.conn_free[self.conn_nfree] = i
                self.conn_nfree += 1
            self.conn_cap = k
        self.conn_nfree -= 1
        k = self.conn_free[self.conn_nfree]
        self.conn[2 * k] = self.cur_flow[0]
        self.conn[2 * k + 1] = self.cur_flow[1]
        if self.cur_n < 2:
            self.conn[2 * k + 1].slot = -1
        self.cur_n = 0
        return k

    cdef void _close_conn(self, int32_t k, double t) noexcept nogil:
        cdef int32_t i
        for i in range(2):
            if self.conn[2 * k + i].slot >= 0:
                self._close_flow(&self.conn[2 * k + i], t)
        self.conn_free[self.conn_nfree] = k
        self.conn_nfree += 1

    cdef int32_t _forward_group(self, int32_t lb, int32_t r, double u) noexcept nogil:
        """Step 7 with a world: the model group of a request of template r on load
        balancer lb (-1: a fixed response): the forward's target group (a weighted one
        drawn by the ALB's own picker, as route draws it), then its zone by u."""
        cdef int32_t k = lb * self.R + r, gi = self.fwd_single[k], pos
        if gi == -1:
            return -1
        if gi == -2:
            pos = lb_alias_pick(self.fwd_als[k], self.now)
            if pos < 0:
                return -1
            gi = self.fwd_pos_tg[k][pos]
        return lb_sim_pick_cdf(self.zone_cdf + (<int64_t>self.epoch * self.NTG + gi) * self.G,
                               self.G, u)

    def _resync(self, int32_t g):
        """Take world group g's selector from its load balancer as a request at ``now``
        finds it (``ApplicationLoadBalancer.selector``, after ``World.advance(now)``),
        with the maps between its indices (the target group's dense ones) and the
        model's targets. Called once per group and epoch, at the group's first request."""
        cdef int32_t i, n, t
        tg_name, zone = self.world_groups[g]
        self.world.advance(self.now)
        sel = self.world.selector(tg_name, zone, self.now)
        self.sel_epoch[g] = self.epoch
        if sel is None:
            self.sel_len[g] = 0         # (the last selector still releases its requests)
            return
        self.lor[g] = NULL
        self.rrs[g] = NULL
        self.als[g] = NULL
        if isinstance(sel, LeastOutstanding):
            self.lor[g] = <lb_lor*> <size_t> sel.ctypes.address
        elif isinstance(sel, RoundRobin):
            self.rrs[g] = <lb_roundrobin*> <size_t> sel.ctypes.address
        elif isinstance(sel, WeightedRandom):
            self.als[g] = <lb_alias*> <size_t> sel.ctypes.address
        else:
            raise TypeError(f"{tg_name}: unexpected selector {type(sel).__name__}")
        n = len(sel)
        tg = self.world.target_groups[tg_name]
        ids = self.world_targets[tg_name]           # target id -> model target
        to_model = np.array([ids.get(tg.target(i).id, -1) for i in range(n)], dtype=np.int32)
        avail = np.array([bool(sel.is_available(i)) for i in range(n)], dtype=np.uint8)
        cdef int32_t[::1] mv = to_model
        cdef uint8_t[::1] av = avail
        self.sel_keep.append((to_model, avail))
        self.sel_map[g] = &mv[0] if n else NULL
        self.sel_avail[g] = &av[0] if n else NULL
        self.sel_len[g] = n
        for i in range(n):
            t = mv[i]
            if t >= 0:
                self.model_sel[t] = i

    cdef int _sync_group(self, int32_t g) noexcept nogil:
        """World group g's selector for this epoch (0; -1 when taking it failed)."""
        with gil:
            try:
                self._resync(g)
            except BaseException:
                self.apply_error = 1
                self.sel_len[g] = 0
                self.sel_epoch[g] = self.epoch
                return -1
        return 0

    cdef void _apply_epoch(self) noexcept nogil:
        """Tell the selection objects which targets are eligible in this epoch (rare: the
        only place the loop takes the GIL)."""
        with gil:
            try:
                apply_epoch(self.selectors, self.model, self.epoch, self.now)
            except BaseException:
                self.apply_error = 1

    @property
    def in_flight(self):
        """Requests still being served (entries of the completion heap)."""
        return self.heap_n

    def run(self, n):
        """Simulate up to ``n`` more requests; return how many were simulated."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        cdef int64_t want = n, done
        cdef int rc
        if self.finished:
            return 0
        if self.tracing:
            req, flo = self._trace_buffers(max(want, 1))
        with nogil:
            rc = self._loop(want, &done)
        if self.tracing:
            self.trace_chunks.append({**{k: v[:done].copy() for k, v in req.items()},
                                      **{k: v[:self.tr_flows].copy() for k, v in flo.items()}})
        self.simulated += done
        if self.apply_error:
            raise RuntimeError("applying an epoch to the selection objects failed")
        if rc != 0:
            raise MemoryError("completion heap could not grow")
        return done

    cdef int _push(self, double t, int32_t target, int32_t conn) noexcept nogil:
        cdef int64_t i, p
        cdef lb_sim_completion* grown
        if self.heap_n == self.heap_cap:
            grown = <lb_sim_completion*> realloc(
                self.heap, 2 * self.heap_cap * sizeof(lb_sim_completion))
            if grown == NULL:
                return -1
            self.heap = grown
            self.heap_cap *= 2
        i = self.heap_n
        self.heap_n += 1
        while i > 0:
            p = (i - 1) >> 1
            if self.heap[p].t <= t:
                break
            self.heap[i] = self.heap[p]
            i = p
        self.heap[i].t = t
        self.heap[i].target = target
        self.heap[i].conn = conn
        if self.heap_n > self.heap_peak:
            self.heap_peak = self.heap_n
        return 0

    cdef void _pop(self) noexcept nogil:
        cdef lb_sim_completion last
        cdef int64_t i = 0, c
        self.heap_n -= 1
        if self.heap_n == 0:
            return
        last = self.heap[self.heap_n]
        while True:
            c = 2 * i + 1
            if c >= self.heap_n:
                break
            if c + 1 < self.heap_n and self.heap[c + 1].t < self.heap[c].t:
                c += 1
            if last.t <= self.heap[c].t:
                break
            self.heap[i] = self.heap[c]
            i = c
        self.heap[i] = last

    cdef int32_t _select(self, int32_t g, int32_t c, int32_t lb) noexcept nogil:
        """Pick a target of group g for a request of client class c entering load
        balancer lb (-1 if the group has no eligible target).

        Round robin, least outstanding, weighted random and power of two choices call
        lbcore's kernels (_roundrobin, _lor, _alias) on the group's selection object,
        whose availability ``apply_epoch`` keeps equal to the epoch's ``weight > 0``;
        flow-hash groups hash a new flow (see :meth:`_flow_pick`).
        """
        cdef int32_t k
        cdef int algo = self.tg_algo[g]
        if algo == LB_SIM_FLOW_HASH:
            return self._flow_pick(g, c, lb)
        if self.sel_epoch[g] != _OWN_SELECTOR:
            if self.sel_epoch[g] != self.epoch:
                self._sync_group(g)
            if self.sel_len[g] == 0:
                return -1
        if self.rrs[g] != NULL:
            k = lb_roundrobin_pick(self.rrs[g], self.now)
        elif self.als[g] != NULL:
            k = lb_alias_pick(self.als[g], self.now)
        elif algo == LB_SIM_POWER_OF_TWO:
            k = lb_lor_acquire_p2c(self.lor[g])
        else:
            k = lb_lor_acquire(self.lor[g])
        return self.sel_map[g][k] if k >= 0 else -1

    cdef bint _may_stick(self, int32_t g, int32_t t) noexcept nogil:
        """Whether a cookie naming target t keeps a request of group g there: t is one of
        the group's targets and may take requests now (a world group: its selector says so,
        as ``Pool.stick`` asks; our own: the epoch's weight > 0)."""
        cdef int32_t i
        if self.sel_epoch[g] == _OWN_SELECTOR:
            return self.tg_start[g] <= t < self.tg_start[g + 1] and \
                self.tgt_weight[<int64_t>self.epoch * self.T + t] > 0.0
        if self.sel_epoch[g] != self.epoch:
            self._sync_group(g)
        i = self.model_sel[t]
        return self.tgt_group[t] == g and 0 <= i < self.sel_len[g] and self.sel_avail[g][i] != 0

    cdef int32_t _sticky(self, int32_t g, int32_t c, int32_t lb, int64_t user) noexcept nogil:
        """Target of sticky group g for a request of ``user`` (-1: a client class without
        users: every request a new user), as lbcore.elb's ALB does with lb_cookie: an
        unexpired cookie (expiry > now) naming a target of this group that is eligible
        now (weight > 0 in the epoch: healthy, or registered under fail open) is a hit
        (least outstanding / power of two choices count it with ``lb_lor_acquire_at``,
        round robin and weighted random draw nothing); otherwise :meth:`_select` picks
        (``new``: no cookie or an expired one; ``re-stuck``: a cookie naming an ineligible
        target). Every forward (re)sets the cookie: the target, expiry
        ``lb_sticky_cookie_expiry`` (now + duration)."""
        cdef int32_t t
        cdef int64_t idx = -1
        cdef int kind = 1
        if user >= 0:
            idx = user * self.S + self.tg_slot[g]
            # the cookie rule lbcore.elb's ALB applies (_sticky.pxd)
            t = lb_sticky_cookie_target(self.ck_target[idx], self.ck_expiry[idx], self.now)
            if t >= 0:
                if self._may_stick(g, t):
                    if self.lor[g] != NULL:
                        lb_lor_acquire_at(self.lor[g], self.model_sel[t])
                    self.ck_expiry[idx] = lb_sticky_cookie_expiry(self.now, self.tg_stick_dur[g])
                    self.cnt_sticky[3 * g] += 1
                    return t
                else:
                    kind = 2
        t = self._select(g, c, lb)
        if t >= 0:
            self.cnt_sticky[3 * g + kind] += 1
            if idx >= 0:
                self.ck_target[idx] = t
                self.ck_expiry[idx] = lb_sticky_cookie_expiry(self.now, self.tg_stick_dur[g])
        return t

    cdef int32_t _throttle(self, int32_t c, int32_t r) noexcept nogil:
        """The throttling limits that apply to (client class c, template r), as one chain
        through lbcore's token-bucket kernel (``lb_bucket_check_chain``, the call
        ``ApiGateway.check`` makes): admitted only if every bucket holds a token, then
        each pays one; refused, nothing is taken. ``now`` becomes integer nanoseconds
        as ``lbcore.seconds_to_ns`` does (``llrint(now * 1e9)``). -1: admitted, else
        the first bucket (in the listed order) that refused."""
        cdef int32_t a = self.thr_start[c * self.R + r]
        cdef int32_t n = self.thr_start[c * self.R + r + 1] - a
        cdef int code
        if n == 0:
            return -1
        cdef double x = self.now * 1e9
        # beyond int64 nanoseconds (292 years): every bucket is full again anyway
        cdef int64_t ns = llrint(x) if x < 9.2e18 else <int64_t>9200000000000000000
        code = lb_bucket_check_chain(self.b_state, self.B, NULL, 0, self.thr_idx + a, n, -1,
                                     ns, 1)
        if code == LB_CHECK_ALLOWED:
            return -1
        return self.thr_idx[a + code - LB_CHECK_LEVEL0]

    def check_throttle(self, client, template, now):
        """The throttling decision of step 5 for one request of client class ``client``
        and template ``template`` at ``now`` seconds (not before the engine's time),
        through the loop's own code: -1 admitted, else the index of the limit that
        refused. For tests and replays on an engine that is not running."""
        cdef double t = float(now)
        if not 0 <= client < self.C or not 0 <= template < self.R:
            raise ValueError(f"client must be in 0..{self.C - 1} and template in "
                             f"0..{self.R - 1}, got {client}, {template}")
        if not (t >= self.now and t * 1e9 < 9.2e18):
            raise ValueError(f"now must be >= the engine's time {self.now} and within "
                             f"lbcore's int64 nanosecond clock, got {now!r}")
        self.now = t
        return self._throttle(client, template)

    cdef int32_t _flow_pick(self, int32_t g, int32_t c, int32_t lb) noexcept nogil:
        """A new flow from client class c to load balancer lb, placed by group g.

        The flow: TCP or UDP (``udp_share[g * L + lb]``: the UDP share of the traffic
        group g places for load balancer lb, by the group's protocol), IPv4 or IPv6
        (``flow_ipv6`` = IPv6 share, among clients with ranges of both versions), a source
        address drawn uniformly from one of the client's ranges of that version, an
        ephemeral source port 1024..65535, the load balancer's address and listener port.
        Draws: uniform (protocol), uniform (version), uniform (range), u64 (address low
        word), u64 (address high word), u64 (port). The load balancer placing it (the NLB,
        or the GWLB of lb's inspection tier) routes it on its own data path at ``now``
        (:meth:`_l4_route`): node by DNS, connection table, the node's Maglev table.
        """
        cdef int32_t k, j, v, n4, n6
        cdef int64_t idx
        cdef double u_proto, u_ver, u_rng
        cdef uint64_t r_addr, r_hi, r_port, src_hi, src_lo
        cdef uint8_t proto
        cdef uint16_t sport
        u_proto = lb_rng_uniform(&self.rng)
        u_ver = lb_rng_uniform(&self.rng)
        u_rng = lb_rng_uniform(&self.rng)
        r_addr = lb_rng_next(&self.rng)
        r_hi = lb_rng_next(&self.rng)
        r_port = lb_rng_next(&self.rng)
        proto = 17 if u_proto < self.udp_share[<int64_t>g * self.L + lb] else 6
        n4 = self.cidr_start[2 * c + 1] - self.cidr_start[2 * c]
        n6 = self.cidr_start[2 * c + 2] - self.cidr_start[2 * c + 1]
        if n6 == 0:
            v = 0
        elif n4 == 0:
            v = 1
        else:
            v = 1 if u_ver < self.flow_ipv6 else 0
        k = n6 if v else n4
        j = <int32_t>(u_rng * k)
        if j >= k:
            j = k - 1
        j += self.cidr_start[2 * c + v]
        src_lo = self.cidr_lo[j] | (r_addr & self.cidr_mask_lo[j])
        src_hi = self.cidr_hi[j] | (r_hi & self.cidr_mask_hi[j])
        sport = <uint16_t>(1024 + r_port % 64512)
        self.cnt_flows[4 * g + 2 * v + (proto == 17)] += 1
        k = self._l4_route(g, lb, proto, v, src_hi, src_lo, sport)
        if proto == 6 and self.cur_n < 2:
            self.cur_flow[self.cur_n].slot = <int64_t>g * self.L + lb
            self.cur_flow[self.cur_n].src_hi = src_hi
            self.cur_flow[self.cur_n].src_lo = src_lo
            self.cur_flow[self.cur_n].sport = sport
            self.cur_flow[self.cur_n].v6 = <uint8_t>v
            self.cur_n += 1
        if self.tracing:
            idx = self.tr_flows
            self.tr_flows += 1
            self.tf_request[idx] = self.tr_base + self.tr_cur
            self.tf_group[idx] = g
            self.tf_proto[idx] = proto
            self.tf_v6[idx] = <uint8_t>v
            self.tf_hi[idx] = src_hi
            self.tf_lo[idx] = src_lo
            self.tf_port[idx] = sport
            self.tf_target[idx] = k
        return k

    cdef double _service(self, int32_t t) noexcept nogil:
        cdef int d = self.tgt_dist[t]
        cdef double u1, u2, z, s
        if d == LB_SIM_CONSTANT:
            return self.tgt_mean[t]
        if d == LB_SIM_EXPONENTIAL:
            return -log(1.0 - lb_rng_uniform(&self.rng)) * self.tgt_mean[t]
        u1 = lb_rng_uniform(&self.rng)
        u2 = lb_rng_uniform(&self.rng)
        z = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2)
        s = self.tgt_sigma[t]
        return self.tgt_mean[t] * exp(s * z - 0.5 * s * s)

    cdef void _drop(self, int32_t t) noexcept nogil:
        """A request that fails at once at a down target: the selection kernel counted it."""
        cdef int32_t g = self.tgt_group[t]
        if self.lor[g] != NULL:
            lb_lor_release(self.lor[g], self.model_sel[t])

    cdef void _release(self, int32_t t) noexcept nogil:
        cdef int32_t g = self.tgt_group[t]
        self.outstanding[t] -= 1
        if self.lor[g] != NULL:
            lb_lor_release(self.lor[g], self.model_sel[t])

    cdef double _serve(self, int32_t t, double arrive, double cost, int32_t conn,
                       double* fin) noexcept nogil:
        """Queue a request arriving at ``arrive`` on target t's earliest-free worker (FIFO);
        record its outstanding count at routing time and push its completion (carrying
        ``conn``, the flows that close then). Returns the completion time, or -1.0 when
        the completion heap cannot grow."""
        cdef double svc = cost * self._service(t), start
        cdef int32_t wk, w_best = self.wk_start[t]
        cdef int64_t i
        for wk in range(self.wk_start[t] + 1, self.wk_start[t + 1]):
            if self.wk_free[wk] < self.wk_free[w_best]:
                w_best = wk
        start = self.wk_free[w_best] if self.wk_free[w_best] > arrive else arrive
        fin[0] = start + svc
        self.wk_free[w_best] = fin[0]
        i = self.outstanding[t]
        if i >= LB_SIM_OUT_BINS:
            i = LB_SIM_OUT_BINS - 1
        self.out_hist[<int64_t>t * LB_SIM_OUT_BINS + i] += 1
        self.outstanding[t] += 1
        if self._push(fin[0], t, conn) != 0:
            return -1.0
        return fin[0]

    cdef void _record(self, int32_t t, double lat) noexcept nogil:
        cdef int64_t bin_
        if lat > 0.0:
            bin_ = <int64_t> floor((log10(lat) - LB_SIM_LAT_MIN_DECADE) * LB_SIM_LAT_PER_DECADE)
        else:
            bin_ = 0
        if bin_ < 0:
            bin_ = 0
        elif bin_ >= LB_SIM_LAT_BINS:
            bin_ = LB_SIM_LAT_BINS - 1
        self.lat_hist[<int64_t>t * LB_SIM_LAT_BINS + bin_] += 1
        self.lat_sum[t] += lat
        bin_ = <int64_t> (self.now / self.tbin_w)
        if bin_ >= self.TB:
            bin_ = self.TB - 1
        self.tbins[bin_ * self.T + t] += 1

    cdef int64_t _trace_request(self, int32_t c, int32_t r, int64_t user,
                                int32_t nm) noexcept nogil:
        """A new trace row for the request arriving now (every decision still -1)."""
        cdef int64_t i = self.tr_n
        self.tr_n += 1
        self.tr_cur = i
        self.tr_time[i] = self.now
        self.tr_client[i] = c
        self.tr_template[i] = r
        self.tr_user[i] = user
        self.tr_name[i] = nm
        self.tr_record[i] = -1
        self.tr_limit[i] = -1
        self.tr_lb[i] = -1
        self.tr_insp[i] = -1
        self.tr_insp_done[i] = -1.0
        self.tr_group[i] = -1
        self.tr_target[i] = -1
        self.tr_outcome[i] = -1
        self.tr_done[i] = -1.0
        return i

    cdef int _loop(self, int64_t want, int64_t* done_out) noexcept nogil:
        cdef int64_t done = 0, i
        cdef double e, rate, end, dt, u_client, u_tmpl, u_route, fin, t_done
        cdef int64_t row
        cdef int32_t c, r, nm, d, lb, g, t, j, rejected, gi, ti
        cdef int64_t user, nu, tr = -1
        cdef double arrive
        cdef const uint8_t* up
        cdef int32_t T = self.T
        while done < want:
            # 1. next arrival of a Poisson process with a piecewise-constant rate
            e = -log(1.0 - lb_rng_uniform(&self.rng))
            while True:
                rate = self.rate_v[self.piece]
                end = self.rate_t[self.piece + 1] if self.piece + 1 < self.P else INFINITY
                if rate > 0.0:
                    dt = e / rate
                    if self.now + dt < end:
                        self.now += dt
                        break
                    e -= (end - self.now) * rate
                self.now = end
                self.piece += 1
            if self.now > self.max_time:
                self.now = self.max_time
                self.finished = True
                break
            # 2. completions up to now release outstanding counts
            while self.heap_n > 0 and self.heap[0].t <= self.now:
                self._release(self.heap[0].target)
                j = self.heap[0].conn
                t_done = self.heap[0].t
                self._pop()
                if j >= 0:
                    self._close_conn(j, t_done)
            # 3. events: the epoch whose tables apply now
            if self.epoch + 1 < self.E and self.epoch_t[self.epoch + 1] <= self.now:
                while self.epoch + 1 < self.E and self.epoch_t[self.epoch + 1] <= self.now:
                    self.epoch += 1
                self._apply_epoch()
            self.cnt_epoch[self.epoch] += 1
            done += 1
            self.cur_n = 0
            u_client = lb_rng_uniform(&self.rng)
            u_tmpl = lb_rng_uniform(&self.rng)
            u_route = lb_rng_uniform(&self.rng)
            c = lb_sim_pick_cdf(self.client_cdf, self.C, u_client)
            r = lb_sim_pick_cdf(self.tmpl_cdf, self.R, u_tmpl)
            # the user (client classes with sessions, when some group is sticky)
            user = -1
            nu = self.user_start[c + 1] - self.user_start[c]
            if nu > 0:
                user = self.user_start[c] + <int64_t>lb_rng_bounded(&self.rng, <uint64_t>nu)
            nm = self.tmpl_name[r]
            if self.tracing:
                tr = self._trace_request(c, r, user, nm)
            # 4. DNS answer for (epoch, client class, name)
            row = (<int64_t>self.epoch * self.C + c) * self.NN + nm
            if self.dns_draw[row]:
                # weighted records: the draw HostedZone.resolve makes, on its generator
                d = lb_dnspick_weighted(self.dns_state + 4 * nm, self.D, self.dns_cum + row * self.D)
            else:
                d = lb_sim_first_weighted(self.dns_cum + row * self.D, self.D)
            if d < 0:
                self.nodata[nm] += 1
                self.outcome[3] += 1
                if tr >= 0:
                    self.tr_outcome[tr] = 3
                continue
            self.cnt_record[d] += 1
            self.cnt_client_record[c * self.D + d] += 1
            lb = self.rec_lb[d]
            # 5. throttling: every bucket that applies must hold a token
            rejected = self._throttle(c, r)
            if tr >= 0:
                self.tr_record[tr] = d
                self.tr_lb[tr] = lb
                self.tr_limit[tr] = rejected
            if rejected >= 0:
                self.thr_reject[rejected] += 1
                self.outcome[2] += 1
                if tr >= 0:
                    self.tr_outcome[tr] = 2
                continue
            up = self.tgt_up + <int64_t>self.epoch * T
            # 6. a Gateway Load Balancer inspection tier in front of the load balancer:
            #    an appliance by flow hash; the request goes on when it is inspected
            arrive = self.now
            gi = self.lb_insp[lb]
            if gi >= 0:
                ti = self._select(gi, c, lb)
                if tr >= 0:
                    self.tr_insp[tr] = ti
                if ti < 0:
                    self._close_now()
                    self.fixed[lb] += 1
                    self.outcome[4] += 1
                    if tr >= 0:
                        self.tr_outcome[tr] = 4
                    continue
                self.cnt_target[ti] += 1
                if not up[ti]:
                    self._close_now()
                    self._drop(ti)
                    self.err_target[ti] += 1
                    self.outcome[1] += 1
                    if tr >= 0:
                        self.tr_outcome[tr] = 1
                        self.tr_insp_done[tr] = self.now
                    continue
                if self._serve(ti, self.now, 1.0, -1, &fin) < 0.0:
                    done_out[0] = done
                    return -1
                self._record(ti, fin - self.now)
                arrive = fin
                if tr >= 0:
                    self.tr_insp_done[tr] = fin
            # 7. listener rules: target group for (load balancer, template)
            if self.fwd_als != NULL:
                g = self._forward_group(lb, r, u_route)
            else:
                g = lb_sim_pick_cdf(
                    self.route_cdf + ((<int64_t>self.epoch * self.L + lb) * self.R + r) * self.G,
                    self.G, u_route)
            if tr >= 0:
                self.tr_group[tr] = g
            if g < 0:
                self._close_now()
                self.fixed[lb] += 1
                self.outcome[4] += 1
                if tr >= 0:
                    self.tr_outcome[tr] = 4
                continue
            if self.tg_slot[g] >= 0:
                t = self._sticky(g, c, lb, user)
            else:
                t = self._select(g, c, lb)
            if tr >= 0:
                self.tr_target[tr] = t
            if t < 0:
                self._close_now()
                self.fixed[lb] += 1
                self.outcome[4] += 1
                if tr >= 0:
                    self.tr_outcome[tr] = 4
                continue
            self.cnt_target[t] += 1
            if not up[t]:
                self._close_now()
                self._drop(t)
                self.err_target[t] += 1
                self.outcome[1] += 1
                if tr >= 0:
                    self.tr_outcome[tr] = 1
                    self.tr_done[tr] = self.now
                continue
            # 8. service on the earliest-free worker of the target (FIFO), statistics
            j = self._open_conn()
            if j == -2 or self._serve(t, arrive, self.tmpl_cost[r], j, &fin) < 0.0:
                done_out[0] = done
                return -1
            self._record(t, fin - self.now + self.rtt[c * self.L + lb])
            self.outcome[0] += 1
            if tr >= 0:
                self.tr_outcome[tr] = 0
                self.tr_done[tr] = fin
        done_out[0] = done
        return 0


cdef double* _dp(object a) except? NULL:
    cdef double[::1] v = a
    return &v[0]

cdef const int32_t* _ip(object a) except? NULL:
    cdef int32_t[::1] v = a
    return &v[0]

cdef int64_t* _lp(object a) except? NULL:
    cdef int64_t[::1] v = a
    return &v[0]

cdef const uint8_t* _bp(object a) except? NULL:
    cdef uint8_t[::1] v = a
    return &v[0]

cdef const int64_t* _qp(object a) except? NULL:
    cdef const int64_t[::1] v = a
    return &v[0]

cdef const uint64_t* _up(object a) except? NULL:
    cdef uint64_t[::1] v = a
    return &v[0]
