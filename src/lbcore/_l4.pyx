# cython: language_level=3
"""L4 data path kernels (see _l4.pxd) and ``L4Path``, the object lbcore's NLB
and GWLB drive them through."""
from libc.stdint cimport uint8_t, int32_t, int64_t, uint64_t
from libc.math cimport INFINITY
from libc.stdlib cimport malloc, free
import numpy as np

from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_bounded
from lbcore._hash cimport (lb_mix64, lb_splitmix64, lb_hash_keys, lb_hash_keys_init,
                           lb_flow_hash_keyed, lb_hash_u64, LB_FIELDS_5, LB_FIELDS_3)
from lbcore._flow cimport Flow
from lbcore._hash import parse_seed


cdef inline int32_t _place(uint64_t h, int32_t nd, const int32_t* tables,
                           const int64_t* table_off, const int32_t* table_len,
                           const uint8_t* table_random, lb_rng* rng,
                           uint8_t* fl) noexcept nogil:
    cdef int32_t length
    if nd < 0:
        fl[0] |= LB_L4_NO_TARGET
        return -1
    length = table_len[nd]
    if length <= 0:
        fl[0] |= LB_L4_NO_TARGET
        return -1
    if table_random[nd]:
        fl[0] |= LB_L4_DROPPED
        return tables[table_off[nd] + <int64_t>lb_rng_bounded(rng, <uint64_t>length)]
    return tables[table_off[nd] + <int64_t>(h % <uint64_t>length)]


cdef int64_t lb_l4_route_many(
        size_t n, const uint64_t* keys, const uint64_t* hashes, const double* times,
        const double* idle, const int32_t* node,
        const int32_t* tables, const int64_t* table_off, const int32_t* table_len,
        const uint8_t* table_random, const uint8_t* valid, size_t n_targets,
        uint64_t* t_keys, int32_t* t_target, double* t_expires, uint8_t* t_flags,
        uint64_t t_mask, uint64_t* rng_state, int32_t* out_target,
        uint8_t* out_flags) noexcept nogil:
    """Route ``n`` flows; returns the number of slots newly occupied, or -1-i
    if flow i found the table full (the caller grows it and resumes at i)."""
    cdef lb_rng rng
    cdef size_t i
    cdef uint64_t k, slot, probe, reuse
    cdef bint have_reuse, found
    cdef int32_t tgt
    cdef uint8_t fl
    cdef double now
    cdef int64_t added = 0
    rng.s[0] = rng_state[0]; rng.s[1] = rng_state[1]
    rng.s[2] = rng_state[2]; rng.s[3] = rng_state[3]
    for i in range(n):
        k = keys[i]
        now = times[i]
        slot = lb_mix64(k) & t_mask
        have_reuse = False
        found = False
        reuse = 0
        probe = 0
        while probe <= t_mask:
            if not (t_flags[slot] & LB_L4_OCCUPIED):
                break
            if t_keys[slot] == k:
                found = True
                break
            if not have_reuse and t_expires[slot] < now:
                have_reuse = True
                reuse = slot
            slot = (slot + 1) & t_mask
            probe += 1
        fl = 0
        if found:
            tgt = t_target[slot]
            if (t_expires[slot] >= now and tgt >= 0 and <size_t>tgt < n_targets
                    and valid[tgt]):
                t_expires[slot] = now + idle[i]
                out_target[i] = tgt
                out_flags[i] = t_flags[slot] & LB_L4_DROPPED
                continue
        else:
            if have_reuse:
                slot = reuse
            elif probe > t_mask:
                rng_state[0] = rng.s[0]; rng_state[1] = rng.s[1]
                rng_state[2] = rng.s[2]; rng_state[3] = rng.s[3]
                return -1 - <int64_t>i
            else:
                added += 1
        fl = LB_L4_NEW
        tgt = _place(hashes[i], node[i], tables, table_off, table_len, table_random, &rng, &fl)
        out_target[i] = tgt
        out_flags[i] = fl
        if tgt < 0:
            if found:
                t_expires[slot] = -INFINITY     # a dead entry, reusable by any key
            elif not have_reuse:
                added -= 1                      # the empty slot was not used after all
            continue
        t_keys[slot] = k
        t_target[slot] = tgt
        t_expires[slot] = now + idle[i]
        t_flags[slot] = LB_L4_OCCUPIED | (fl & LB_L4_DROPPED)
    rng_state[0] = rng.s[0]; rng_state[1] = rng.s[1]
    rng_state[2] = rng.s[2]; rng_state[3] = rng.s[3]
    return added


cdef void lb_l4_maglev_fill(size_t n, const uint64_t* target_keys, size_t m,
                            int32_t* table) noexcept nogil:
    """Maglev lookup table (Eisenbud et al., NSDI 2016, section 3.4, Pseudocode 1)
    for ``n`` >= 1 targets identified by 64-bit keys; ``m`` prime and > n.
    ``table`` (m entries) receives target indices 0..n-1."""
    cdef size_t i, j, filled = 0
    cdef uint64_t c
    cdef uint64_t* offset
    cdef uint64_t* skip
    cdef uint64_t* nxt
    offset = <uint64_t*>malloc(3 * n * sizeof(uint64_t))
    if offset == NULL:
        return
    skip = offset + n
    nxt = skip + n
    for j in range(n):
        offset[j] = lb_mix64(target_keys[j] ^ 0x6D61676C65763031ULL) % m
        skip[j] = lb_mix64(target_keys[j] ^ 0x6D61676C65763032ULL) % (m - 1) + 1
        nxt[j] = 0
    for i in range(m):
        table[i] = -1
    while True:
        for j in range(n):
            c = (offset[j] + nxt[j] * skip[j]) % m
            while table[c] >= 0:
                nxt[j] += 1
                c = (offset[j] + nxt[j] * skip[j]) % m
            table[c] = <int32_t>j
            nxt[j] += 1
            filled += 1
            if filled == m:
                free(offset)
                return


def maglev_table(target_keys, size_t m=65537):
    """The Maglev lookup table (int32, ``m`` entries) for 64-bit target keys.

    Entry ``i`` is an index into ``target_keys``. Keys are taken in sorted
    order while filling (as Katran sorts backends), so the table does not
    depend on the order the targets are listed in.
    """
    keys = np.ascontiguousarray(target_keys, dtype=np.uint64)
    if keys.ndim != 1 or keys.shape[0] == 0:
        raise ValueError("target_keys must be a non-empty 1-D array")
    if m <= <size_t>keys.shape[0]:
        raise ValueError(f"m must be larger than the number of targets, got {m}")
    order = np.argsort(keys, kind="stable")
    if np.any(keys[order][1:] == keys[order][:-1]):
        raise ValueError("target_keys must be distinct")
    cdef const uint64_t[::1] k = np.ascontiguousarray(keys[order])
    out = np.empty(m, dtype=np.int32)
    cdef int32_t[::1] o = out
    with nogil:
        lb_l4_maglev_fill(k.shape[0], &k[0], m, &o[0])
    return order.astype(np.int32)[out]


cdef class L4Path:
    """Flow table + per-node selection tables; the engine of NLB and GWLB.

    ``set_selection(tables, offsets, lengths, random, valid)``: node ``j``
    selects ``tables[offsets[j] + h % lengths[j]]`` (or a uniformly random entry
    of that range when ``random[j]``, marking the flow dropped); ``valid[t]``
    says whether pinned flows may stay on target ``t``.
    """
    cdef object _keys, _target, _expires, _flags
    cdef uint64_t* k
    cdef int32_t* t
    cdef double* e
    cdef uint8_t* f
    cdef readonly uint64_t capacity
    cdef readonly int64_t occupied
    cdef uint64_t rng[4]
    cdef object _tables, _off, _len, _rand, _valid
    cdef const int32_t* tables
    cdef const int64_t* off
    cdef const int32_t* tlen
    cdef const uint8_t* rand
    cdef const uint8_t* valid
    cdef size_t n_targets
    cdef int32_t nnodes
    cdef readonly int last_flags
    cdef readonly int32_t last_node
    # flow -> (key, selection hash, node) for route_flow
    cdef lb_hash_keys kkeys, nkeys
    cdef int fields, symmetric, fallback3, sticky
    cdef uint64_t sticky_seed
    cdef double tcp_idle, other_idle
    cdef object _dns
    cdef const int32_t* dns
    cdef int32_t ndns

    def __init__(self, capacity=1024, *, seed=0):
        cdef uint64_t s = parse_seed(seed)
        cdef lb_rng r
        lb_rng_seed(&r, s)
        self.rng[0] = r.s[0]; self.rng[1] = r.s[1]; self.rng[2] = r.s[2]; self.rng[3] = r.s[3]
        cap = 16
        while cap < capacity:
            cap *= 2
        self._alloc(cap)
        self.set_selection(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(1, np.int32),
                           np.zeros(1, np.uint8), np.zeros(0, np.uint8))
        self.ndns = 0
        self.tcp_idle = 350.0
        self.other_idle = 120.0

    cdef _alloc(self, uint64_t cap):
        self._keys = np.zeros(cap, dtype=np.uint64)
        self._target = np.full(cap, -1, dtype=np.int32)
        self._expires = np.full(cap, -np.inf, dtype=np.float64)
        self._flags = np.zeros(cap, dtype=np.uint8)
        self.k = <uint64_t*><size_t>self._keys.ctypes.data
        self.t = <int32_t*><size_t>self._target.ctypes.data
        self.e = <double*><size_t>self._expires.ctypes.data
        self.f = <uint8_t*><size_t>self._flags.ctypes.data
        self.capacity = cap
        self.occupied = 0

    def set_selection(self, tables, offsets, lengths, random, valid):
        tables = np.ascontiguousarray(tables, dtype=np.int32)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        lengths = np.ascontiguousarray(lengths, dtype=np.int32)
        random = np.ascontiguousarray(random, dtype=np.uint8)
        valid = np.ascontiguousarray(valid, dtype=np.uint8)
        if not (offsets.shape[0] == lengths.shape[0] == random.shape[0]):
            raise ValueError("offsets, lengths and random must have one entry per node")
        if lengths.size and np.any(offsets + np.maximum(lengths, 0) > tables.shape[0]):
            raise ValueError("tables: a node's range reaches past the end")
        if tables.size and (tables.min() < 0 or tables.max() >= max(valid.shape[0], 1)):
            raise ValueError("tables: target indices must be in [0, len(valid))")
        self._tables, self._off, self._len, self._rand, self._valid = \
            tables, offsets, lengths, random, valid
        self.tables = <const int32_t*><size_t>tables.ctypes.data
        self.off = <const int64_t*><size_t>offsets.ctypes.data
        self.tlen = <const int32_t*><size_t>lengths.ctypes.data
        self.rand = <const uint8_t*><size_t>random.ctypes.data
        self.valid = <const uint8_t*><size_t>valid.ctypes.data
        self.n_targets = valid.shape[0]
        self.nnodes = lengths.shape[0]

    def configure(self, uint64_t key_seed, uint64_t node_seed, int fields, bint symmetric,
                  bint fallback3, bint sticky, uint64_t sticky_seed, double tcp_idle,
                  double other_idle):
        """How :meth:`route_flow` turns a Flow into its key, selection hash and node:
        key = flow_hash(flow, fields, symmetric, seed=key_seed) (3-tuple for
        non-TCP/UDP flows when ``fallback3``); selection hash = the key, or
        hash_key(src_lo ^ hash_key(src_hi, s), s) with s = ``sticky_seed`` when
        ``sticky``; node = dns[flow_hash(flow, "2-tuple", symmetric,
        seed=node_seed) % len(dns)]."""
        if fields not in (0, 1, 2):
            raise ValueError(f"fields must be 0, 1 or 2, got {fields}")
        lb_hash_keys_init(&self.kkeys, key_seed)
        lb_hash_keys_init(&self.nkeys, node_seed)
        self.fields = fields
        self.symmetric = symmetric
        self.fallback3 = fallback3
        self.sticky = sticky
        self.sticky_seed = sticky_seed
        self.tcp_idle = tcp_idle
        self.other_idle = other_idle

    def set_dns(self, dns):
        """The nodes DNS hands out (node indices), used when no node is given."""
        dns = np.ascontiguousarray(dns, dtype=np.int32)
        if dns.shape[0] == 0 or dns.min() < 0 or dns.max() >= self.nnodes:
            raise ValueError(f"dns must be a non-empty list of node indices < {self.nnodes}")
        self._dns = dns
        self.dns = <const int32_t*><size_t>dns.ctypes.data
        self.ndns = dns.shape[0]

    def route_flow(self, Flow flow, double now, int32_t node=-1):
        """Route one Flow (hashes computed here, as configured); returns the
        target index (-1 none); sets ``last_flags`` and ``last_node``."""
        cdef int f = self.fields
        cdef uint64_t key, h, nh
        cdef double idle
        cdef int32_t out
        cdef uint8_t fl
        cdef int64_t r
        if node >= self.nnodes:
            raise ValueError(f"node must be < {self.nnodes}, got {node}")
        if node < 0:
            if self.ndns == 0:
                raise ValueError("dns: no nodes set")
            nh = lb_flow_hash_keyed(&self.nkeys, flow.proto, flow.flags, flow.src_hi,
                                    flow.src_lo, flow.dst_hi, flow.dst_lo, flow.sport,
                                    flow.dport, flow.seq, 2, self.symmetric)
            node = self.dns[nh % <uint64_t>self.ndns]
        if self.fallback3 and f == LB_FIELDS_5 and flow.proto != 6 and flow.proto != 17:
            f = LB_FIELDS_3
        key = lb_flow_hash_keyed(&self.kkeys, flow.proto, flow.flags, flow.src_hi, flow.src_lo,
                                 flow.dst_hi, flow.dst_lo, flow.sport, flow.dport, flow.seq,
                                 f, self.symmetric)
        h = key
        if self.sticky:
            h = lb_hash_u64(flow.src_lo ^ lb_hash_u64(flow.src_hi, self.sticky_seed),
                            self.sticky_seed)
        idle = self.tcp_idle if flow.proto == 6 else self.other_idle
        self._reserve(now, 1)
        r = lb_l4_route_many(1, &key, &h, &now, &idle, &node, self.tables, self.off, self.tlen,
                             self.rand, self.valid, self.n_targets, self.k, self.t, self.e,
                             self.f, self.capacity - 1, self.rng, &out, &fl)
        self.occupied += r
        self.last_flags = fl
        self.last_node = node
        return out

    @property
    def n_nodes(self):
        return self._len.shape[0]

    cdef _compact(self, double now, size_t extra):
        """Rehash live entries (expiring at or after ``now``) into a table with
        room for ``extra`` more at load <= 1/2."""
        keys, target, expires, flags = self._keys, self._target, self._expires, self._flags
        live = ((flags & LB_L4_OCCUPIED) != 0) & (expires >= now)
        nlive = int(np.count_nonzero(live))
        cap = 16
        while cap < 2 * (nlive + extra):
            cap *= 2
        self._alloc(cap)
        cdef const uint64_t[::1] lk = np.ascontiguousarray(keys[live])
        cdef const int32_t[::1] lt = np.ascontiguousarray(target[live])
        cdef const double[::1] le = np.ascontiguousarray(expires[live])
        cdef const uint8_t[::1] lf = np.ascontiguousarray(flags[live])
        cdef Py_ssize_t i
        cdef uint64_t slot, mask = self.capacity - 1
        with nogil:
            for i in range(lk.shape[0]):
                slot = lb_mix64(lk[i]) & mask
                while self.f[slot] & LB_L4_OCCUPIED:
                    slot = (slot + 1) & mask
                self.k[slot] = lk[i]
                self.t[slot] = lt[i]
                self.e[slot] = le[i]
                self.f[slot] = lf[i]
        self.occupied = lk.shape[0]

    cdef _reserve(self, double now, size_t n):
        if <uint64_t>(self.occupied + n) * 2 > self.capacity:
            self._compact(now, n)

    def route(self, uint64_t key, uint64_t h, double now, double idle, int32_t node):
        """Route one flow; returns the target index (-1: none) and sets ``last_flags``."""
        cdef int32_t out
        cdef uint8_t fl
        cdef int64_t r
        if node >= self.nnodes:
            raise ValueError(f"node must be < {self.nnodes}, got {node}")
        self._reserve(now, 1)
        r = lb_l4_route_many(1, &key, &h, &now, &idle, &node, self.tables, self.off, self.tlen,
                             self.rand, self.valid, self.n_targets, self.k, self.t, self.e,
                             self.f, self.capacity - 1, self.rng, &out, &fl)
        self.occupied += r
        self.last_flags = fl
        return out

    def route_many(self, keys, hashes, times, idle, nodes):
        """Route a batch (arrays of equal length); returns (targets int32, flags uint8)."""
        cdef const uint64_t[::1] k = np.ascontiguousarray(keys, dtype=np.uint64)
        cdef Py_ssize_t n = k.shape[0]
        cdef const uint64_t[::1] h = np.ascontiguousarray(hashes, dtype=np.uint64)
        cdef const double[::1] tm = np.ascontiguousarray(times, dtype=np.float64)
        cdef const double[::1] idl = np.ascontiguousarray(idle, dtype=np.float64)
        nodes_arr = np.ascontiguousarray(nodes, dtype=np.int32)
        cdef const int32_t[::1] nd = nodes_arr
        if not (h.shape[0] == tm.shape[0] == idl.shape[0] == nd.shape[0] == n):
            raise ValueError("keys, hashes, times, idle and nodes must have the same length")
        if n and nodes_arr.max() >= self._len.shape[0]:
            raise ValueError(f"nodes must be < {self._len.shape[0]}")
        out = np.empty(n, dtype=np.int32)
        flags = np.empty(n, dtype=np.uint8)
        if n == 0:
            return out, flags
        cdef int32_t[::1] o = out
        cdef uint8_t[::1] fo = flags
        self._reserve(np.min(tm), n)
        keep = (self._tables, self._off, self._len, self._rand, self._valid,
                self._keys, self._target, self._expires, self._flags)
        cdef int64_t r
        with nogil:
            r = lb_l4_route_many(n, &k[0], &h[0], &tm[0], &idl[0], &nd[0], self.tables,
                                 self.off, self.tlen, self.rand, self.valid, self.n_targets,
                                 self.k, self.t, self.e, self.f, self.capacity - 1, self.rng,
                                 &o[0], &fo[0])
        del keep
        if r < 0:    # cannot happen at load <= 1/2; kept as a guard
            raise RuntimeError("flow table full")
        self.occupied += r
        return out, flags

    def __len__(self):
        """Entries stored (live or expired but not yet reused)."""
        return int(np.count_nonzero(self._flags & LB_L4_OCCUPIED))

    def live(self, double now):
        """Number of entries still live at ``now``."""
        return int(np.count_nonzero(((self._flags & LB_L4_OCCUPIED) != 0) & (self._expires >= now)))

    def forget_target(self, int32_t target):
        """Expire every entry pinned to ``target`` (they are reused by later flows)."""
        hit = (self._target == target) & ((self._flags & LB_L4_OCCUPIED) != 0)
        self._expires[hit] = -np.inf
        return int(np.count_nonzero(hit))

    def clear(self):
        self._alloc(self.capacity)
