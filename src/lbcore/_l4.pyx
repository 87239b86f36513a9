# cython: language_level=3
"""L4 data path kernels (see _l4.pxd) and ``L4Path``, the object lbcore's NLB
and GWLB drive them through."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.math cimport INFINITY
from libc.stdlib cimport malloc, free
import threading

import numpy as np

from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_bounded
from lbcore._hash cimport (lb_mix64, lb_splitmix64, lb_hash_keys, lb_hash_keys_init,
                           lb_flow_hash_keyed, lb_hash_u64, LB_FIELDS_5, LB_FIELDS_3,
                           LB_FIELDS_2)
from lbcore._flow cimport Flow
from lbcore._maglev cimport lb_maglev_slot
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
    return tables[table_off[nd] + <int64_t>lb_maglev_slot(h, <uint64_t>length)]


ctypedef struct _sel:
    const int32_t* tables
    const int64_t* off
    const int32_t* tlen
    const uint8_t* rand
    const uint8_t* valid
    size_t n_targets


cdef inline int64_t _route_one(uint64_t k, uint64_t h, double now, double idle, int32_t nd,
                               const _sel* s, lb_l4_entry* tab, uint64_t mask, lb_rng* rng,
                               int32_t* out_t, uint8_t* out_f) noexcept nogil:
    """Route one flow. Returns 1 if an empty slot was claimed, 0 if not, -1 if
    the table is full (nothing written)."""
    cdef uint64_t slot = lb_mix64(k) & mask, probe = 0, reuse = 0
    cdef bint have_reuse = False, found = False
    cdef lb_l4_entry* e
    cdef int32_t tgt
    cdef uint8_t fl
    while probe <= mask:
        e = &tab[slot]
        if not (e.flags & LB_L4_OCCUPIED):
            break
        if e.key == k:
            found = True
            break
        if not have_reuse and e.expires < now:
            have_reuse = True
            reuse = slot
        slot = (slot + 1) & mask
        probe += 1
    if found:
        tgt = e.target
        if e.expires >= now and tgt >= 0 and <size_t>tgt < s.n_targets and s.valid[tgt]:
            e.expires = now + idle
            out_t[0] = tgt
            out_f[0] = e.flags & LB_L4_DROPPED
            return 0
    elif have_reuse:
        slot = reuse
    elif probe > mask:
        out_t[0] = -1
        out_f[0] = LB_L4_NO_TARGET
        return -1
    fl = LB_L4_NEW
    tgt = _place(h, nd, s.tables, s.off, s.tlen, s.rand, rng, &fl)
    out_t[0] = tgt
    out_f[0] = fl
    e = &tab[slot]
    if tgt < 0:
        if found:
            e.expires = -INFINITY               # a dead entry, reusable by any key
        return 0
    e.key = k
    e.target = tgt
    e.expires = now + idle
    e.flags = LB_L4_OCCUPIED | (fl & LB_L4_DROPPED)
    return 1 if not (found or have_reuse) else 0


cdef int64_t lb_l4_route_many(
        size_t n, const uint64_t* keys, const uint64_t* hashes, const double* times,
        const double* idle, const int32_t* node,
        const int32_t* tables, const int64_t* table_off, const int32_t* table_len,
        const uint8_t* table_random, const uint8_t* valid, size_t n_targets,
        void* table, uint64_t table_mask, uint64_t* rng_state,
        int32_t* out_target, uint8_t* out_flags) noexcept nogil:
    """Route ``n`` flows whose keys and selection hashes are given; ``table``
    points to ``table_mask + 1`` lb_l4_entry slots (all-zero = empty). Returns
    the number of slots newly occupied, or -1-i if flow i found the table full
    (flows from i on are not routed; the caller grows the table and resumes)."""
    cdef lb_rng rng
    cdef _sel s
    cdef size_t i
    cdef int64_t added = 0, r
    s.tables = tables; s.off = table_off; s.tlen = table_len; s.rand = table_random
    s.valid = valid; s.n_targets = n_targets
    rng.s[0] = rng_state[0]; rng.s[1] = rng_state[1]
    rng.s[2] = rng_state[2]; rng.s[3] = rng_state[3]
    for i in range(n):
        r = _route_one(keys[i], hashes[i], times[i], idle[i], node[i], &s,
                       <lb_l4_entry*>table, table_mask, &rng, &out_target[i], &out_flags[i])
        if r < 0:
            added = -1 - <int64_t>i
            break
        added += r
    rng_state[0] = rng.s[0]; rng_state[1] = rng.s[1]
    rng_state[2] = rng.s[2]; rng_state[3] = rng.s[3]
    return added


cdef extern from *:
    """
    #define lb_l4_prefetch(p) __builtin_prefetch((const void*)(p), 1, 1)
    """
    void lb_l4_prefetch(const void* p) noexcept nogil


ctypedef struct _cfg:
    lb_hash_keys kkeys
    lb_hash_keys nkeys
    int fields
    int symmetric
    int fallback3
    int sticky
    uint64_t sticky_seed
    double tcp_idle
    double other_idle
    const int32_t* dns
    int32_t ndns


cdef inline void _flow_keys(const _cfg* c, uint8_t proto, uint8_t flags, uint64_t src_hi,
                            uint64_t src_lo, uint64_t dst_hi, uint64_t dst_lo, uint16_t sport,
                            uint16_t dport, uint32_t seq, int32_t* node, uint64_t* key,
                            uint64_t* h, double* idle) noexcept nogil:
    cdef int f = c.fields
    cdef uint64_t nh
    if node[0] < 0:
        if c.ndns == 1:
            node[0] = c.dns[0]          # the only answer: no need to hash
        else:
            nh = lb_flow_hash_keyed(&c.nkeys, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                                    sport, dport, seq, LB_FIELDS_2, c.symmetric)
            node[0] = c.dns[lb_maglev_slot(nh, <uint64_t>c.ndns)]
    if c.fallback3 and f == LB_FIELDS_5 and proto != 6 and proto != 17:
        f = LB_FIELDS_3
    key[0] = lb_flow_hash_keyed(&c.kkeys, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                                sport, dport, seq, f, c.symmetric)
    if c.sticky:
        h[0] = lb_hash_u64(src_lo ^ lb_hash_u64(src_hi, c.sticky_seed), c.sticky_seed)
    else:
        h[0] = key[0]
    idle[0] = c.tcp_idle if proto == 6 else c.other_idle


cdef int64_t _route_flows(size_t n, const uint8_t* proto, const uint8_t* flags,
                          const uint64_t* src_hi, const uint64_t* src_lo,
                          const uint64_t* dst_hi, const uint64_t* dst_lo,
                          const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
                          const int64_t* index, const double* times, int32_t fixed_node,
                          const _cfg* c, const _sel* s, lb_l4_entry* tab, uint64_t mask,
                          uint64_t* rng_state, int32_t* out_t, int32_t* out_n,
                          uint8_t* out_f, size_t start, int64_t room,
                          size_t* done) noexcept nogil:
    """Hash, pick the node (DNS) and route flows ``index[j]`` (or j when
    ``index`` is NULL), j = start..n-1, of a columnar batch; outputs are written
    at the flow's position in the batch. Stops before a block that could claim
    more than ``room`` empty slots; ``done`` receives the next j. Returns the
    slots claimed (or -1-j on a full table, which ``room`` prevents)."""
    # Two stages per block of flows: hash every flow of the block and prefetch
    # its home slot, then probe; the table's cache misses overlap instead of
    # queueing one after another.
    cdef lb_rng rng
    cdef size_t j, i, b, blk
    cdef int64_t added = 0, r
    cdef int32_t nd[32]
    cdef uint64_t key[32]
    cdef uint64_t h[32]
    cdef double idle[32]
    rng.s[0] = rng_state[0]; rng.s[1] = rng_state[1]
    rng.s[2] = rng_state[2]; rng.s[3] = rng_state[3]
    j = start
    while j < n:
        blk = n - j if n - j < 32 else 32
        if added + <int64_t>blk > room:
            break
        for b in range(blk):
            i = <size_t>index[j + b] if index != NULL else j + b
            nd[b] = fixed_node
            _flow_keys(c, proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i], dst_lo[i],
                       sport[i], dport[i], seq[i], &nd[b], &key[b], &h[b], &idle[b])
            lb_l4_prefetch(&tab[lb_mix64(key[b]) & mask])
        for b in range(blk):
            i = <size_t>index[j + b] if index != NULL else j + b
            out_n[i] = nd[b]
            r = _route_one(key[b], h[b], times[i], idle[b], nd[b], s, tab, mask, &rng,
                           &out_t[i], &out_f[i])
            if r < 0:
                added = -1 - <int64_t>(j + b)
                j = n
                break
            added += r
        else:
            j += blk
    done[0] = j
    rng_state[0] = rng.s[0]; rng_state[1] = rng.s[1]
    rng_state[2] = rng.s[2]; rng_state[3] = rng.s[3]
    return added


ENTRY_DTYPE = np.dtype([("key", np.uint64), ("expires", np.float64), ("target", np.int32),
                        ("flags", np.uint8)], align=True)
assert ENTRY_DTYPE.itemsize == sizeof(lb_l4_entry)


cdef class L4Path:
    """Flow table + per-node selection tables; the engine of NLB and GWLB.

    ``set_selection(tables, offsets, lengths, random, valid)``: node ``j``
    selects ``tables[offsets[j] + ((h * lengths[j]) >> 64)]`` (the slot rule of
    ``lbcore.Maglev``, so a node's range can be a ``Maglev.table``), or a uniformly random entry
    of that range when ``random[j]``, marking the flow dropped); ``valid[t]``
    says whether pinned flows may stay on target ``t``. ``configure`` and
    ``set_dns`` say how :meth:`route_flow` / :meth:`route_flows` hash a flow.
    """
    cdef object _entries
    cdef lb_l4_entry* tab
    cdef readonly uint64_t capacity
    cdef readonly int64_t occupied
    cdef uint64_t rng[4]
    cdef object _tables, _off, _len, _rand, _valid
    cdef _sel sel
    cdef int32_t nnodes
    cdef readonly int last_flags
    cdef readonly int32_t last_node
    cdef _cfg cfg
    cdef object _dns
    cdef object _lock       # serialises batches that run without the GIL
    cdef bint busy          # a batch is running without the GIL

    def __init__(self, capacity=1024, *, seed=0):
        cdef uint64_t s = parse_seed(seed)
        cdef lb_rng r
        lb_rng_seed(&r, s)
        self.rng[0] = r.s[0]; self.rng[1] = r.s[1]; self.rng[2] = r.s[2]; self.rng[3] = r.s[3]
        self._lock = threading.Lock()
        cap = 16
        while cap < capacity:
            cap *= 2
        self._alloc(cap)
        self.set_selection(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(1, np.int32),
                           np.zeros(1, np.uint8), np.zeros(0, np.uint8))
        self.cfg.ndns = 0
        self.cfg.tcp_idle = 350.0
        self.cfg.other_idle = 120.0

    cdef _alloc(self, uint64_t cap):
        self._entries = np.zeros(cap, dtype=ENTRY_DTYPE)
        self.tab = <lb_l4_entry*><size_t>self._entries.ctypes.data
        self.capacity = cap
        self.occupied = 0

    @property
    def entries(self):
        """The flow table (read-only structured array of ENTRY_DTYPE)."""
        v = self._entries.view()
        v.flags.writeable = False
        return v

    def set_selection(self, tables, offsets, lengths, random, valid):
        tables = np.ascontiguousarray(tables, dtype=np.int32)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        lengths = np.ascontiguousarray(lengths, dtype=np.int32)
        random = np.ascontiguousarray(random, dtype=np.uint8)
        valid = np.ascontiguousarray(valid, dtype=np.uint8)
        if not (offsets.shape[0] == lengths.shape[0] == random.shape[0]) or offsets.shape[0] == 0:
            raise ValueError("offsets, lengths and random must have one entry per node (>= 1)")
        if np.any(offsets < 0) or np.any(offsets + np.maximum(lengths, 0) > tables.shape[0]):
            raise ValueError("tables: a node's range reaches past the end")
        if tables.size and (tables.min() < 0 or tables.max() >= max(valid.shape[0], 1)):
            raise ValueError("tables: target indices must be in [0, len(valid))")
        with self._lock:     # never swap buffers under a running batch
            self._set_selection(tables, offsets, lengths, random, valid)

    cdef _set_selection(self, tables, offsets, lengths, random, valid):
        if self._dns is not None and self._dns.max() >= offsets.shape[0]:
            self._dns = None
            self.cfg.ndns = 0
        self._tables, self._off, self._len, self._rand, self._valid = \
            tables, offsets, lengths, random, valid
        self.sel.tables = <const int32_t*><size_t>tables.ctypes.data
        self.sel.off = <const int64_t*><size_t>offsets.ctypes.data
        self.sel.tlen = <const int32_t*><size_t>lengths.ctypes.data
        self.sel.rand = <const uint8_t*><size_t>random.ctypes.data
        self.sel.valid = <const uint8_t*><size_t>valid.ctypes.data
        self.sel.n_targets = valid.shape[0]
        self.nnodes = lengths.shape[0]

    def configure(self, uint64_t key_seed, uint64_t node_seed, int fields, bint symmetric,
                  bint fallback3, bint sticky, uint64_t sticky_seed, double tcp_idle,
                  double other_idle):
        """How :meth:`route_flow` and :meth:`route_flows` turn a flow into its
        key, selection hash, node and idle timeout: key = flow_hash(flow,
        fields (0/1/2 = 5/3/2-tuple), symmetric, seed=key_seed), 3-tuple for
        non-TCP/UDP flows when ``fallback3``; selection hash = the key, or
        hash_key(src_lo ^ hash_key(src_hi, s), s) with s = ``sticky_seed`` when
        ``sticky``; node = dns[(flow_hash(flow, "2-tuple", symmetric,
        seed=node_seed) * len(dns)) >> 64]; idle = ``tcp_idle`` for TCP, else ``other_idle``."""
        if fields not in (0, 1, 2):
            raise ValueError(f"fields must be 0, 1 or 2, got {fields}")
        self._lock.acquire()
        lb_hash_keys_init(&self.cfg.kkeys, key_seed)
        lb_hash_keys_init(&self.cfg.nkeys, node_seed)
        self.cfg.fields = fields
        self.cfg.symmetric = symmetric
        self.cfg.fallback3 = fallback3
        self.cfg.sticky = sticky
        self.cfg.sticky_seed = sticky_seed
        self.cfg.tcp_idle = tcp_idle
        self.cfg.other_idle = other_idle
        self._lock.release()

    def set_dns(self, dns):
        """The nodes DNS hands out (node indices), used when no node is given."""
        dns = np.ascontiguousarray(dns, dtype=np.int32)
        if dns.shape[0] == 0 or dns.min() < 0 or dns.max() >= self.nnodes:
            raise ValueError(f"dns must be a non-empty list of node indices < {self.nnodes}")
        with self._lock:
            self._dns = dns
            self.cfg.dns = <const int32_t*><size_t>dns.ctypes.data
            self.cfg.ndns = dns.shape[0]

    @property
    def n_nodes(self):
        return self.nnodes

    cdef _compact(self, double now, size_t extra):
        """Rehash live entries (expiring at or after ``now``) into a table where
        they and ``extra`` more fill at most half the slots."""
        old = self._entries
        live = old[((old["flags"] & LB_L4_OCCUPIED) != 0) & (old["expires"] >= now)]
        nlive = live.shape[0]
        cap = 16
        while cap < 2 * (nlive + extra):
            cap *= 2
        self._alloc(cap)
        live = np.ascontiguousarray(live)
        cdef const lb_l4_entry* src = <const lb_l4_entry*><size_t>live.ctypes.data
        cdef Py_ssize_t i, cnt = nlive
        cdef uint64_t slot, mask = self.capacity - 1
        with nogil:
            for i in range(cnt):
                slot = lb_mix64(src[i].key) & mask
                while self.tab[slot].flags & LB_L4_OCCUPIED:
                    slot = (slot + 1) & mask
                self.tab[slot] = src[i]
        self.occupied = nlive

    cdef inline int64_t _room(self):
        """Empty slots that may still be claimed: load is kept <= 3/4."""
        return <int64_t>(self.capacity - self.capacity // 4) - self.occupied

    cdef inline _reserve(self, double now, size_t n):
        if <int64_t>n > self._room():
            self._compact(now, n)

    def route(self, uint64_t key, uint64_t h, double now, double idle, int32_t node):
        """Route one flow by key and selection hash; returns the target index
        (-1: none) and sets ``last_flags``."""
        cdef int32_t out
        cdef uint8_t fl
        cdef lb_rng rng
        if node < 0 or node >= self.nnodes:
            raise ValueError(f"node must be in 0..{self.nnodes - 1}, got {node}")
        if self.busy:
            with self._lock:
                return self.route(key, h, now, idle, node)
        self._reserve(now, 1)
        rng.s[0] = self.rng[0]; rng.s[1] = self.rng[1]; rng.s[2] = self.rng[2]; rng.s[3] = self.rng[3]
        self.occupied += _route_one(key, h, now, idle, node, &self.sel, self.tab,
                                    self.capacity - 1, &rng, &out, &fl)
        self.rng[0] = rng.s[0]; self.rng[1] = rng.s[1]; self.rng[2] = rng.s[2]; self.rng[3] = rng.s[3]
        self.last_flags = fl
        self.last_node = node
        return out

    def route_flow(self, Flow flow, double now, int32_t node=-1):
        """Route one Flow (hashes computed here, as configured); returns the
        target index (-1 none); sets ``last_flags`` and ``last_node``."""
        cdef uint64_t key, h
        cdef double idle
        cdef int32_t out
        cdef uint8_t fl
        cdef lb_rng rng
        if node >= self.nnodes:
            raise ValueError(f"node must be < {self.nnodes}, got {node}")
        if node < 0 and self.cfg.ndns == 0:
            raise ValueError("dns: no nodes set")
        if self.busy:
            with self._lock:
                return self.route_flow(flow, now, node)
        _flow_keys(&self.cfg, flow.proto, flow.flags, flow.src_hi, flow.src_lo, flow.dst_hi,
                   flow.dst_lo, flow.sport, flow.dport, flow.seq, &node, &key, &h, &idle)
        self._reserve(now, 1)
        rng.s[0] = self.rng[0]; rng.s[1] = self.rng[1]; rng.s[2] = self.rng[2]; rng.s[3] = self.rng[3]
        self.occupied += _route_one(key, h, now, idle, node, &self.sel, self.tab,
                                    self.capacity - 1, &rng, &out, &fl)
        self.rng[0] = rng.s[0]; self.rng[1] = rng.s[1]; self.rng[2] = rng.s[2]; self.rng[3] = rng.s[3]
        self.last_flags = fl
        self.last_node = node
        return out

    def route_flows(self, flows, times, int32_t node=-1, index=None, out=None):
        """Route the flows of a ``lbcore.Flows`` batch (those at ``index``, or
        all) at ``times`` (float64, one per flow of the batch). ``out``: optional
        (targets int32, nodes int32, flags uint8) arrays over the whole batch to
        write into. Returns that triple."""
        cols = flows._hash_columns()
        cdef Py_ssize_t nb = cols[0].shape[0]
        tm = np.ascontiguousarray(times, dtype=np.float64)
        if tm.shape[0] != nb:
            raise ValueError(f"times must have one entry per flow ({nb}), got {tm.shape[0]}")
        if node >= self.nnodes:
            raise ValueError(f"node must be < {self.nnodes}, got {node}")
        if node < 0 and self.cfg.ndns == 0:
            raise ValueError("dns: no nodes set")
        if out is None:
            out = (np.full(nb, -1, np.int32), np.full(nb, -1, np.int32), np.zeros(nb, np.uint8))
        ot, on, of = out
        if not (ot.dtype == np.int32 and on.dtype == np.int32 and of.dtype == np.uint8
                and ot.shape[0] == on.shape[0] == of.shape[0] == nb
                and ot.flags.c_contiguous and on.flags.c_contiguous and of.flags.c_contiguous):
            raise ValueError("out must be contiguous (int32, int32, uint8) arrays, one entry per flow")
        cdef const int64_t* ip = NULL
        cdef Py_ssize_t n = nb
        if index is not None:
            index = np.ascontiguousarray(index, dtype=np.int64)
            n = index.shape[0]
            if n and (index.min() < 0 or index.max() >= nb):
                raise ValueError("index out of range")
            ip = <const int64_t*><size_t>index.ctypes.data
        if n == 0:
            return out
        self._lock.acquire()
        try:
            return self._route_flows_locked(cols, tm, node, index, ip, n, out)
        finally:
            self.busy = False
            self._lock.release()

    cdef _route_flows_locked(self, cols, tm, int32_t node, index, const int64_t* ip,
                             Py_ssize_t n, out):
        ot, on, of = out
        cdef const uint8_t* p0 = <const uint8_t*><size_t>cols[0].ctypes.data
        cdef const uint8_t* p1 = <const uint8_t*><size_t>cols[1].ctypes.data
        cdef const uint64_t* p2 = <const uint64_t*><size_t>cols[2].ctypes.data
        cdef const uint64_t* p3 = <const uint64_t*><size_t>cols[3].ctypes.data
        cdef const uint64_t* p4 = <const uint64_t*><size_t>cols[4].ctypes.data
        cdef const uint64_t* p5 = <const uint64_t*><size_t>cols[5].ctypes.data
        cdef const uint16_t* p6 = <const uint16_t*><size_t>cols[6].ctypes.data
        cdef const uint16_t* p7 = <const uint16_t*><size_t>cols[7].ctypes.data
        cdef const uint32_t* p8 = <const uint32_t*><size_t>cols[8].ctypes.data
        cdef const double* pt = <const double*><size_t>tm.ctypes.data
        cdef int32_t* po = <int32_t*><size_t>ot.ctypes.data
        cdef int32_t* pn = <int32_t*><size_t>on.ctypes.data
        cdef uint8_t* pf = <uint8_t*><size_t>of.ctypes.data
        cdef int64_t r, room
        cdef size_t start = 0, done = 0
        cdef double t0 = float(tm.min())
        while True:
            room = self._room()
            if room < 32:
                self._compact(t0, 64)
                room = self._room()
            keep = (cols, tm, index, self._entries, self._tables, self._off, self._len,
                    self._rand, self._valid, self._dns)
            self.busy = True
            with nogil:
                r = _route_flows(n, p0, p1, p2, p3, p4, p5, p6, p7, p8, ip, pt, node, &self.cfg,
                                 &self.sel, self.tab, self.capacity - 1, self.rng, po, pn, pf,
                                 start, room, &done)
            self.busy = False
            del keep
            if r < 0:    # cannot happen: room keeps the load <= 3/4
                raise RuntimeError("flow table full")
            self.occupied += r
            if done >= <size_t>n:
                return out
            start = done
            self._compact(t0, <size_t>n - done)    # room for the rest, all new

    def route_many(self, keys, hashes, times, idle, nodes):
        """Route a batch by keys and selection hashes (arrays of equal length);
        returns (targets int32, flags uint8)."""
        k = np.ascontiguousarray(keys, dtype=np.uint64)
        cdef Py_ssize_t n = k.shape[0]
        h = np.ascontiguousarray(hashes, dtype=np.uint64)
        tm = np.ascontiguousarray(times, dtype=np.float64)
        idl = np.ascontiguousarray(idle, dtype=np.float64)
        nd = np.ascontiguousarray(nodes, dtype=np.int32)
        if not (h.shape[0] == tm.shape[0] == idl.shape[0] == nd.shape[0] == n):
            raise ValueError("keys, hashes, times, idle and nodes must have the same length")
        if n and (nd.max() >= self.nnodes or nd.min() < 0):
            raise ValueError(f"nodes must be in 0..{self.nnodes - 1}")
        out = np.empty(n, dtype=np.int32)
        flags = np.empty(n, dtype=np.uint8)
        if n == 0:
            return out, flags
        with self._lock:
            self._reserve(float(tm.min()), n)
            self._route_many_locked(k, h, tm, idl, nd, out, flags, n)
        return out, flags

    cdef _route_many_locked(self, k, h, tm, idl, nd, out, flags, Py_ssize_t n):
        keep = (k, h, tm, idl, nd, self._entries, self._tables, self._off, self._len,
                self._rand, self._valid)
        cdef const uint64_t* pk = <const uint64_t*><size_t>k.ctypes.data
        cdef const uint64_t* ph = <const uint64_t*><size_t>h.ctypes.data
        cdef const double* pt = <const double*><size_t>tm.ctypes.data
        cdef const double* pi = <const double*><size_t>idl.ctypes.data
        cdef const int32_t* pn = <const int32_t*><size_t>nd.ctypes.data
        cdef int32_t* po = <int32_t*><size_t>out.ctypes.data
        cdef uint8_t* pf = <uint8_t*><size_t>flags.ctypes.data
        cdef int64_t r
        self.busy = True
        with nogil:
            r = lb_l4_route_many(n, pk, ph, pt, pi, pn, self.sel.tables, self.sel.off,
                                 self.sel.tlen, self.sel.rand, self.sel.valid,
                                 self.sel.n_targets, self.tab, self.capacity - 1, self.rng,
                                 po, pf)
        self.busy = False
        del keep
        if r < 0:
            raise RuntimeError("flow table full")
        self.occupied += r

    def __len__(self):
        """Entries stored (live or expired but not yet reused)."""
        return int(np.count_nonzero(self._entries["flags"] & LB_L4_OCCUPIED))

    def live(self, double now):
        """Number of entries still live at ``now``."""
        e = self._entries
        return int(np.count_nonzero(((e["flags"] & LB_L4_OCCUPIED) != 0) & (e["expires"] >= now)))

    def forget_target(self, int32_t target):
        """Expire every entry pinned to ``target`` (they are reused by later flows)."""
        with self._lock:
            e = self._entries
            hit = (e["target"] == target) & ((e["flags"] & LB_L4_OCCUPIED) != 0)
            e["expires"][hit] = -np.inf
            return int(np.count_nonzero(hit))

    def clear(self):
        with self._lock:
            self._alloc(self.capacity)
