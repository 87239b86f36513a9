# cython: language_level=3
"""L4 data path kernels (see _l4.pxd) and ``L4Path``, the object lbcore's NLB
and GWLB drive them through. The connection table is a ``lbcore.FlowTable``."""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t

import numpy as np

from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_bounded
from lbcore._hash cimport (lb_mix64, lb_hash_keys, lb_hash_keys_init, lb_flow_hash_keyed,
                           lb_hash_u64, LB_FIELDS_5, LB_FIELDS_3, LB_FIELDS_2)
from lbcore._flow cimport Flow
from lbcore._lock cimport (lb_lock_init, lb_lock_free, lb_lock_acquire,
                           lb_lock_acquire_nogil, lb_lock_release)
from lbcore._maglev cimport lb_maglev_slot
from lbcore._flowtable cimport (FlowTable, lb_flowtable, lb_flow_key, lb_flowtable_make_key,
                                lb_flowtable_add, lb_flowtable_remove,
                                lb_flowtable_forget_target, lb_flowtable_expire,
                                _ft_find, _ft_make_key, _ft_class_of,
                                LB_FT_TCP, LB_FT_UDP, LB_FT_OTHER, LB_FT_CLASSES)
from lbcore._hash import parse_seed
from lbcore._handle import make_handle
from lbcore._flowtable import MAX_CAPACITY, capacity_error, flow_columns
from libc.math cimport INFINITY


cdef extern from *:
    """
    #define lb_l4_prefetch(p) __builtin_prefetch((const void*)(p), 0, 1)
    """
    void lb_l4_prefetch(const void* p) noexcept nogil


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


cdef inline void _route_one(lb_flowtable* t, const lb_flow_key* k, uint64_t kh, uint64_t h,
                            double now, int cls, int32_t nd, const lb_l4_selection* s, lb_rng* rng,
                            int32_t* out_t, uint8_t* out_f) noexcept nogil:
    """Route one flow: key ``k`` with probe hash ``kh``, selection hash ``h``."""
    cdef int32_t e = _ft_find(t, k, kh, cls, now)     # inline lb_flowtable_find
    cdef int32_t tgt
    cdef uint8_t fl
    if e >= 0:
        tgt = t.ent[e].target
        if tgt >= 0 and <size_t>tgt < s.n_targets and s.valid[tgt]:
            out_t[0] = tgt
            out_f[0] = t.ent[e].mark & LB_L4_DROPPED
            return
    fl = LB_L4_NEW
    tgt = _place(h, nd, s.tables, s.off, s.tlen, s.rand, rng, &fl)
    out_t[0] = tgt
    out_f[0] = fl
    if tgt < 0:
        if e >= 0:
            lb_flowtable_remove(t, e)     # pinned to a target it may not keep: forgotten
        return
    if e < 0:
        e = lb_flowtable_add(t, k, kh, cls, tgt, now)
    else:
        t.ent[e].target = tgt                 # re-placed: same entry, new target
    t.ent[e].mark = fl & LB_L4_DROPPED


cdef inline void _prefetch_block(const lb_flowtable* t, size_t blk,
                                 const uint64_t* kh) noexcept nogil:
    """Second prefetch stage: the home index slots (prefetched while hashing) now
    name their entries; fetch those entries' hot fields."""
    cdef size_t b
    cdef int32_t e
    for b in range(blk):
        e = t.index[kh[b] & t.mask]
        if e >= 0:              # the entry's two cache lines
            lb_l4_prefetch(&t.ent[e])
            lb_l4_prefetch((<const char*>&t.ent[e]) + 64)


cdef inline void _prefetch_neighbours(const lb_flowtable* t, size_t blk,
                                      const uint64_t* kh) noexcept nogil:
    """Third stage: a hit moves its entry to the tail of its LRU list, writing its
    list neighbours' links; fetch those (independent loads, overlapped)."""
    cdef size_t b
    cdef int32_t e, p, nx
    for b in range(blk):
        e = t.index[kh[b] & t.mask]
        if e >= 0 and t.ent[e].hash == kh[b]:
            p = t.ent[e].prev
            nx = t.ent[e].next
            if p >= 0:
                lb_l4_prefetch(&t.ent[p].next)
            if nx >= 0:
                lb_l4_prefetch(&t.ent[nx].prev)


cdef size_t lb_l4_route_many(
        size_t n, const lb_flow_key* keys, const uint64_t* key_hashes, const uint64_t* hashes,
        const double* times, const uint8_t* cls, const int32_t* node,
        const int32_t* tables, const int64_t* table_off, const int32_t* table_len,
        const uint8_t* table_random, const uint8_t* valid, size_t n_targets,
        lb_flowtable* table, uint64_t* rng_state,
        int32_t* out_target, uint8_t* out_flags) noexcept nogil:
    """Route flows 0..n-1 in order: flow i has canonical key ``keys[i]`` (see
    lb_flowtable_make_key), probe hash ``key_hashes[i]`` (a function of the key, the
    same for every call on this table), selection hash ``hashes[i]``, time
    ``times[i]``, timeout class ``cls[i]`` (0 TCP, 1 UDP, 2 other) and node
    ``node[i]``. Works in blocks of LB_L4_BLOCK flows and stops before a block that
    could fill the table (size + block > capacity), so no live flow is ever evicted;
    returns the number of flows routed (the caller grows the table and resumes)."""
    cdef lb_rng rng
    cdef lb_l4_selection s
    cdef size_t j = 0, b, blk
    s.tables = tables; s.off = table_off; s.tlen = table_len; s.rand = table_random
    s.valid = valid; s.n_targets = n_targets
    rng.s[0] = rng_state[0]; rng.s[1] = rng_state[1]
    rng.s[2] = rng_state[2]; rng.s[3] = rng_state[3]
    while j < n:
        blk = n - j if n - j < LB_L4_BLOCK else LB_L4_BLOCK
        if <size_t>table.size + blk > <size_t>table.capacity:
            break
        for b in range(blk):
            lb_l4_prefetch(&table.index[key_hashes[j + b] & table.mask])
        _prefetch_block(table, blk, &key_hashes[j])
        _prefetch_neighbours(table, blk, &key_hashes[j])
        for b in range(blk):
            _route_one(table, &keys[j + b], key_hashes[j + b], hashes[j + b], times[j + b],
                       cls[j + b], node[j + b], &s, &rng, &out_target[j + b],
                       &out_flags[j + b])
        j += blk
    rng_state[0] = rng.s[0]; rng_state[1] = rng.s[1]
    rng_state[2] = rng.s[2]; rng_state[3] = rng.s[3]
    return j


cdef inline void _flow_keys(const lb_l4_config* c, uint8_t proto, uint8_t flags, uint64_t src_hi,
                            uint64_t src_lo, uint64_t dst_hi, uint64_t dst_lo, uint16_t sport,
                            uint16_t dport, uint32_t seq, int32_t* node, lb_flow_key* key,
                            uint64_t* kh, uint64_t* h, uint8_t* cls) noexcept nogil:
    """The flow's node (DNS, unless given), table key, its hash (the one hash of the
    flow: it is both the probe hash and, without source-IP stickiness, the selection
    hash) and timeout class."""
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
    _ft_make_key(key, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, f,
                 c.symmetric)        # inline lb_flowtable_make_key
    kh[0] = lb_flow_hash_keyed(&c.kkeys, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                               sport, dport, seq, f, c.symmetric)
    if c.sticky:
        h[0] = lb_hash_u64(src_lo ^ lb_hash_u64(src_hi, c.sticky_seed), c.sticky_seed)
    else:
        h[0] = kh[0]
    cls[0] = <uint8_t>_ft_class_of(proto)


cdef size_t _route_flows(size_t n, const uint8_t* proto, const uint8_t* flags,
                         const uint64_t* src_hi, const uint64_t* src_lo,
                         const uint64_t* dst_hi, const uint64_t* dst_lo,
                         const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
                         const int64_t* index, const double* times, int32_t fixed_node,
                         const lb_l4_config* c, const lb_l4_selection* s, lb_flowtable* t,
                         uint64_t* rng_state, int32_t* out_t, int32_t* out_n,
                         uint8_t* out_f, size_t start) noexcept nogil:
    """Hash, pick the node (DNS) and route flows ``index[j]`` (or j when ``index``
    is NULL), j = start..n-1, of a columnar batch; outputs are written at the
    flow's position in the batch. Stops before a block that could fill the table;
    returns the next j."""
    # Per block: hash every flow and prefetch its home index slot; then read the
    # slots and prefetch the entries they name; then route. The table's cache
    # misses overlap instead of queueing one after another.
    cdef lb_rng rng
    cdef size_t j, i, b, blk
    cdef int32_t nd[LB_L4_BLOCK]
    cdef lb_flow_key key[LB_L4_BLOCK]
    cdef uint64_t kh[LB_L4_BLOCK]
    cdef uint64_t h[LB_L4_BLOCK]
    cdef uint8_t cl[LB_L4_BLOCK]
    rng.s[0] = rng_state[0]; rng.s[1] = rng_state[1]
    rng.s[2] = rng_state[2]; rng.s[3] = rng_state[3]
    j = start
    while j < n:
        blk = n - j if n - j < LB_L4_BLOCK else LB_L4_BLOCK
        if <size_t>t.size + blk > <size_t>t.capacity:
            break
        for b in range(blk):
            i = <size_t>index[j + b] if index != NULL else j + b
            nd[b] = fixed_node
            _flow_keys(c, proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i], dst_lo[i],
                       sport[i], dport[i], seq[i], &nd[b], &key[b], &kh[b], &h[b], &cl[b])
            lb_l4_prefetch(&t.index[kh[b] & t.mask])
        _prefetch_block(t, blk, kh)
        _prefetch_neighbours(t, blk, kh)
        for b in range(blk):
            i = <size_t>index[j + b] if index != NULL else j + b
            out_n[i] = nd[b]
            _route_one(t, &key[b], kh[b], h[b], times[i], cl[b], nd[b], s, &rng,
                       &out_t[i], &out_f[i])
        j += blk
    rng_state[0] = rng.s[0]; rng_state[1] = rng.s[1]
    rng_state[2] = rng.s[2]; rng_state[3] = rng.s[3]
    return j


cdef int32_t lb_l4_route_fields(
        lb_l4_path* p, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        double now, int32_t node, uint8_t* out_flags) noexcept nogil:
    cdef lb_flowtable* t = p.table
    cdef lb_flow_key k
    cdef uint64_t kh, h
    cdef uint8_t cl
    cdef int32_t out
    cdef lb_rng rng
    lb_lock_acquire_nogil(p.lock)
    if not (now >= t.now and now < INFINITY) or node >= p.n_nodes or \
            (node < 0 and p.config.ndns == 0):
        lb_lock_release(p.lock)
        return LB_L4_REFUSED
    if t.size + 1 > t.capacity:
        lb_flowtable_expire(t, now)
        if t.size + 1 > t.capacity:
            lb_lock_release(p.lock)
            return LB_L4_FULL
    _flow_keys(p.config, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
               &node, &k, &kh, &h, &cl)
    rng.s[0] = p.rng[0]; rng.s[1] = p.rng[1]; rng.s[2] = p.rng[2]; rng.s[3] = p.rng[3]
    _route_one(t, &k, kh, h, now, cl, node, p.selection, &rng, &out, out_flags)
    p.rng[0] = rng.s[0]; p.rng[1] = rng.s[1]; p.rng[2] = rng.s[2]; p.rng[3] = rng.s[3]
    lb_lock_release(p.lock)
    return out


cdef int32_t lb_l4_close_fields(
        lb_l4_path* p, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        double now) noexcept nogil:
    cdef lb_flowtable* t = p.table
    cdef lb_flow_key k
    cdef uint64_t kh, h
    cdef uint8_t cl
    cdef int32_t node = 0, e, out = 0
    lb_lock_acquire_nogil(p.lock)
    if not (now >= t.now and now < INFINITY):
        lb_lock_release(p.lock)
        return LB_L4_REFUSED
    if p.config.fields == LB_FIELDS_5 and not (p.config.fallback3 and proto != 6 and proto != 17):
        _flow_keys(p.config, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                   &node, &k, &kh, &h, &cl)
        e = _ft_find(t, &k, kh, cl, now)
        if e >= 0:
            lb_flowtable_remove(t, e)
            out = 1
    lb_lock_release(p.lock)
    return out


KEY_SIZE = sizeof(lb_flow_key)


cdef class _PathLock:
    """A plain (non-reentrant) lock with a C fast path (``lb_lock``, a benaphore):
    scalar calls take it on every flow, and an uncontended acquire and release cost one
    atomic add each, instead of a ``with`` on a ``threading`` lock (~0.2 us) or a
    PyThread lock's semaphore and clock read. Waits release the GIL. Also a context
    manager (for the FlowTable the path owns, whose mutators take it)."""
    cdef lb_l4_lock lk

    def __cinit__(self):
        lb_lock_init(&self.lk)

    def __dealloc__(self):
        lb_lock_free(&self.lk)

    cdef void acquire(self) noexcept:
        lb_lock_acquire(&self.lk)

    cdef void release(self) noexcept:
        lb_lock_release(&self.lk)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False


@cython.embedsignature(False)
cdef class L4Path:
    """L4Path(capacity=1024, *, seed=0)
--

Connection table (a ``lbcore.FlowTable``) + per-node selection tables; the
    engine of NLB and GWLB.

    ``set_selection(tables, offsets, lengths, random, valid)``: node ``j``
    selects ``tables[offsets[j] + ((h * lengths[j]) >> 64)]`` (the slot rule of
    ``lbcore.Maglev``, so a node's range can be a ``Maglev.table``), or a uniformly random entry
    of that range when ``random[j]``, marking the flow dropped); ``valid[t]``
    says whether pinned flows may stay on target ``t`` (checked on every hit, so a
    health change costs nothing until the flow's next packet). ``configure`` and
    ``set_dns`` say how :meth:`route_flow` / :meth:`route_flows` key and hash a flow.
    The table grows as needed: live flows are never evicted (up to 2**26 entries,
    ``lbcore.FlowTable``'s limit).

    Time never goes backwards: each call's times must be finite, non-decreasing
    within a batch and not before the latest time already routed (ValueError).

    Threads: every method holds the path's lock while it touches the table (the
    batches run without the GIL inside it); the ``flow_table`` shares that lock, so
    its mutating methods (``resize``, ``expire``, ...) wait for a running batch.
    """
    cdef FlowTable _ft
    cdef lb_flowtable* tab
    cdef uint64_t rng[4]
    cdef object _tables, _off, _len, _rand, _valid
    cdef lb_l4_selection sel
    cdef int32_t nnodes
    cdef readonly int last_flags
    cdef readonly int32_t last_node
    cdef lb_l4_config cfg
    cdef object _dns
    cdef object _decide     # (target, node, dropped) -> the decision object (set_selection)
    cdef list _decisions    # the objects _decide made since the last set_selection
    cdef _PathLock _lock    # held by every method that touches the table
    cdef lb_l4_path handle  # the C view of the above (ctypes)

    def __init__(self, capacity=1024, *, seed=0):
        cdef uint64_t s = parse_seed(seed)
        cdef lb_rng r
        lb_rng_seed(&r, s)
        self.rng[0] = r.s[0]; self.rng[1] = r.s[1]; self.rng[2] = r.s[2]; self.rng[3] = r.s[3]
        self._lock = _PathLock()
        cap = max(int(capacity), LB_L4_BLOCK)
        if cap > MAX_CAPACITY:
            raise capacity_error("capacity", cap)
        self._ft = FlowTable(cap, idle_timeout={"tcp": 350.0, "udp": 120.0, "other": 120.0})
        self._ft.owner_lock = self._lock    # its public mutators wait for our batches
        self.tab = &self._ft.t
        self.set_selection(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(1, np.int32),
                           np.zeros(1, np.uint8), np.zeros(0, np.uint8))
        self.cfg.ndns = 0

    def __reduce__(self):
        # Everything a decision reads, taken under the path's lock: the connection
        # table (exact), the selection arrays, the hashing configuration, the DNS
        # node list and the generator. The lock itself is not state: a restored
        # path makes its own (and shares it with its table, as __init__ does).
        cdef int j
        with self._lock:
            table = self._ft.snapshot()
            cfg = (tuple(int(self.cfg.kkeys.k[j]) for j in range(8)),
                   tuple(int(self.cfg.nkeys.k[j]) for j in range(8)),
                   int(self.cfg.fields), bool(self.cfg.symmetric), bool(self.cfg.fallback3),
                   bool(self.cfg.sticky), int(self.cfg.sticky_seed))
            sel = tuple(np.array(a, copy=True) for a in
                        (self._tables, self._off, self._len, self._rand, self._valid))
            dns = None if self._dns is None else np.array(self._dns, copy=True)
            rng = tuple(int(self.rng[j]) for j in range(4))
            return (_restore_l4path, (type(self), table, sel, cfg, dns, rng,
                                      int(self.last_flags), int(self.last_node), self._decide))

    @property
    def flow_table(self):
        """The connection table (a ``lbcore.FlowTable`` driven by the L4 kernels
        through find/add with the flow key hash; inspect it, e.g. ``entries()``,
        its ``route``/``route_many`` refuse). It shares this path's lock: ``resize`` and
        the other mutators wait for a running batch."""
        return self._ft

    @property
    def capacity(self):
        return self.tab.capacity

    def set_selection(self, tables, offsets, lengths, random, valid, decide=None):
        """Install the selection tables (see the class doc) and ``decide``, the
        callable :meth:`route_decision` turns (target, node, dropped) into its
        result with: made once per combination until the next call, swapped with
        the tables under one lock so a concurrent route never pairs old tables with
        new decisions."""
        if decide is not None and not callable(decide):
            raise TypeError(f"decide must be callable or None, got {type(decide).__name__}")
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
            self._decide = decide
            self._decisions = [None] * (2 * (valid.shape[0] + 1) * lengths.shape[0])

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
        table key, hash, selection hash, node and timeout: key = the flow with the
        fields unused by ``fields`` (0/1/2 = 5/3/2-tuple) zeroed, both directions
        as one when ``symmetric`` (``lb_flowtable_make_key``), 3-tuple for
        non-TCP/UDP flows when ``fallback3``; its hash = flow_hash(flow, fields,
        symmetric, seed=key_seed); selection hash = that hash, or
        hash_key(src_lo ^ hash_key(src_hi, s), s) with s = ``sticky_seed`` when
        ``sticky``; node = dns[(flow_hash(flow, "2-tuple", symmetric,
        seed=node_seed) * len(dns)) >> 64]; idle timeout ``tcp_idle`` for TCP, else
        ``other_idle`` (the table's TCP / UDP+other classes)."""
        if fields not in (0, 1, 2):
            raise ValueError(f"fields must be 0, 1 or 2, got {fields}")
        if not (tcp_idle > 0 and other_idle > 0):
            raise ValueError("tcp_idle and other_idle must be > 0")
        with self._lock:
            lb_hash_keys_init(&self.cfg.kkeys, key_seed)
            lb_hash_keys_init(&self.cfg.nkeys, node_seed)
            self.cfg.fields = fields
            self.cfg.symmetric = symmetric
            self.cfg.fallback3 = fallback3
            self.cfg.sticky = sticky
            self.cfg.sticky_seed = sticky_seed
            self._set_timeouts(tcp_idle, other_idle, other_idle)

    cdef _set_timeouts(self, double tcp, double udp, double other):
        self.tab.timeout[LB_FT_TCP] = tcp
        self.tab.timeout[LB_FT_UDP] = udp
        self.tab.timeout[LB_FT_OTHER] = other
        self._ft.idle_timeout = {"tcp": tcp, "udp": udp, "other": other}

    def set_timeouts(self, double tcp, double udp, double other):
        """Idle timeout per class (TCP, UDP, other) for :meth:`route` and
        :meth:`route_many`, whose callers give the class per flow."""
        if not (tcp > 0 and udp > 0 and other > 0):
            raise ValueError("timeouts must be > 0")
        with self._lock:
            self._set_timeouts(tcp, udp, other)

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

    cdef _check_time(self, double now, str name):
        """``now`` must be finite and not before the latest time routed."""
        if not (now >= self.tab.now and now < INFINITY):
            raise ValueError(f"{name} must be finite and must not go backwards (got {now} "
                             f"after {self.tab.now})")

    cdef _check_times(self, tm, str name):
        """A batch's times (in routing order): finite, non-decreasing, the first not
        before the latest time routed."""
        if not np.isfinite(tm).all():
            raise ValueError(f"{name} must be finite")
        if tm.shape[0] > 1 and not (np.diff(tm) >= 0).all():
            raise ValueError(f"{name} must not decrease within a batch (flows are "
                             f"routed in order)")
        self._check_time(float(tm[0]), name)

    cdef _make_room(self, double now, size_t n):
        """Make room for ``n`` new entries: drop expired entries, then grow."""
        cdef int64_t need = <int64_t>self.tab.size + <int64_t>n
        if need <= self.tab.capacity:
            return
        lb_flowtable_expire(self.tab, now)
        need = <int64_t>self.tab.size + <int64_t>n
        if need <= self.tab.capacity:
            return
        cap = max(2 * self.tab.capacity, need)
        if cap > MAX_CAPACITY:
            if need > MAX_CAPACITY:
                raise ValueError(f"flow_capacity: the connection table would need {need} "
                                 f"entries (live flows + room for a block), more than the "
                                 f"limit of 2**26")
            cap = MAX_CAPACITY
        self._ft.grow_to(cap)
        self.tab = &self._ft.t

    def route(self, uint64_t key, uint64_t h, double now, int cls, int32_t node):
        """Route one flow by a synthetic key (the table key has ``src_lo = key``,
        all else zero; probe hash mix64(key)), selection hash ``h`` and timeout
        class ``cls`` (0 TCP, 1 UDP, 2 other); returns the target index (-1:
        none) and sets ``last_flags``."""
        cdef int32_t out
        cdef uint8_t fl
        cdef lb_rng rng
        cdef lb_flow_key k
        if node < 0 or node >= self.nnodes:
            raise ValueError(f"node must be in 0..{self.nnodes - 1}, got {node}")
        if cls < 0 or cls >= LB_FT_CLASSES:
            raise ValueError(f"cls must be 0, 1 or 2, got {cls}")
        self._lock.acquire()
        try:
            self._check_time(now, "now")
            self._make_room(now, 1)
            lb_flowtable_make_key(&k, 0, 0, 0, key, 0, 0, 0, 0, 0, LB_FIELDS_5, 0)
            rng.s[0] = self.rng[0]; rng.s[1] = self.rng[1]; rng.s[2] = self.rng[2]; rng.s[3] = self.rng[3]
            _route_one(self.tab, &k, lb_mix64(key), h, now, cls, node, &self.sel, &rng, &out, &fl)
            self.rng[0] = rng.s[0]; self.rng[1] = rng.s[1]; self.rng[2] = rng.s[2]; self.rng[3] = rng.s[3]
        finally:
            self._lock.release()
        self.last_flags = fl
        self.last_node = node
        return out

    cdef int32_t _route_flow_locked(self, Flow flow, double now, int32_t* node,
                                    uint8_t* fl) except -2:
        """route_flow's work; the caller holds the lock. Returns the target (-1 none)."""
        cdef uint64_t kh, h
        cdef uint8_t cl
        cdef lb_flow_key k
        cdef int32_t out
        cdef lb_rng rng
        self._check_time(now, "now")
        _flow_keys(&self.cfg, flow.protocol, flow.flags, flow.src_hi, flow.src_lo,
                   flow.dst_hi, flow.dst_lo, flow.src_port, flow.dst_port, flow.seq, node,
                   &k, &kh, &h, &cl)
        self._make_room(now, 1)
        rng.s[0] = self.rng[0]; rng.s[1] = self.rng[1]; rng.s[2] = self.rng[2]; rng.s[3] = self.rng[3]
        _route_one(self.tab, &k, kh, h, now, cl, node[0], &self.sel, &rng, &out, fl)
        self.rng[0] = rng.s[0]; self.rng[1] = rng.s[1]; self.rng[2] = rng.s[2]; self.rng[3] = rng.s[3]
        self.last_flags = fl[0]
        self.last_node = node[0]
        return out

    cdef _check_node(self, int32_t node):
        if node >= self.nnodes:
            raise ValueError(f"node must be < {self.nnodes}, got {node}")
        if node < 0 and self.cfg.ndns == 0:
            raise ValueError("dns: no nodes set")

    def route_flow(self, Flow flow, double now, int32_t node=-1):
        """Route one Flow (keys and hashes computed here, as configured); returns
        the target index (-1 none); sets ``last_flags`` and ``last_node``."""
        cdef int32_t out
        cdef uint8_t fl
        self._check_node(node)
        self._lock.acquire()        # always: a batch or a growth may be under way
        try:
            out = self._route_flow_locked(flow, now, &node, &fl)
        finally:
            self._lock.release()
        return out

    def close_flow(self, Flow flow, double now):
        """The flow's connection ended at ``now`` (its FIN or RST seen): its entry
        leaves the table, so the next flow with the same fields is placed afresh.
        True when it had one; False too when the path keys flows by fewer than five
        fields (that entry stands for every connection of the pair: it stays until
        idle). ``now`` must not go back (ValueError)."""
        cdef int32_t r
        self._check_time(now, "now")
        self._fill_handle()
        with nogil:
            r = lb_l4_close_fields(&self.handle, flow.protocol, flow.flags, flow.src_hi,
                                   flow.src_lo, flow.dst_hi, flow.dst_lo, flow.src_port,
                                   flow.dst_port, flow.seq, now)
        if r == LB_L4_REFUSED:
            self._check_time(now, "now")       # (raced by a later route: say so)
        return r == 1

    def route_decision(self, Flow flow, double now, int32_t node=-1):
        """:meth:`route_flow`, returning ``decide(target, node, dropped)`` (the
        callable given to :meth:`set_selection`; target -1 = none, dropped 0/1)
        instead of the index: one object per combination and build, reused, so a
        load balancer's per-flow result costs no allocation and no second lock.
        None when no ``decide`` was given."""
        cdef int32_t out
        cdef uint8_t fl
        cdef Py_ssize_t i
        self._check_node(node)
        self._lock.acquire()
        try:
            out = self._route_flow_locked(flow, now, &node, &fl)
            if self._decide is None:
                return None
            i = ((out + 1) * self.nnodes + node) * 2 + (fl & LB_L4_DROPPED)
            d = self._decisions[i]
            if d is None:
                d = self._decide(out, node, fl & LB_L4_DROPPED)
                self._decisions[i] = d
        finally:
            self._lock.release()
        return d

    def route_flows(self, flows, times, int32_t node=-1, index=None, out=None):
        """Route the flows of a ``lbcore.Flows`` batch (those at ``index``, or
        all) at ``times`` (float64, one per flow of the batch). ``out``: optional
        (targets int32, nodes int32, flags uint8) arrays over the whole batch to
        write into. Returns that triple."""
        cols = flow_columns(flows)
        cdef Py_ssize_t nb = cols[0].shape[0]
        tm = np.ascontiguousarray(times, dtype=np.float64)
        if tm.ndim != 1 or tm.shape[0] != nb:
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
        ts = tm if index is None else tm[index]
        with self._lock:
            self._check_times(ts, "times")
            return self._route_flows_locked(cols, tm, node, index, ip, n, out)

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
        cdef size_t start = 0
        cdef double t0 = float(tm[0]) if index is None else float(tm[index[0]])   # the earliest
        self._make_room(t0, LB_L4_BLOCK)
        while True:
            keep = (cols, tm, index, self._ft, self._tables, self._off, self._len,
                    self._rand, self._valid, self._dns)
            with nogil:
                start = _route_flows(n, p0, p1, p2, p3, p4, p5, p6, p7, p8, ip, pt, node,
                                     &self.cfg, &self.sel, self.tab, self.rng, po, pn, pf,
                                     start)
            del keep
            if start >= <size_t>n:
                return out
            self._make_room(t0, <size_t>n - start)    # room for the rest, all new

    def route_many(self, keys, hashes, times, classes, nodes):
        """Route a batch by synthetic keys (see :meth:`route`), selection hashes,
        times, timeout classes and nodes (arrays of equal length), in order;
        returns (targets int32, flags uint8)."""
        k = np.ascontiguousarray(keys, dtype=np.uint64)
        cdef Py_ssize_t n = k.shape[0]
        h = np.ascontiguousarray(hashes, dtype=np.uint64)
        tm = np.ascontiguousarray(times, dtype=np.float64)
        cl = np.ascontiguousarray(classes, dtype=np.uint8)
        nd = np.ascontiguousarray(nodes, dtype=np.int32)
        if not (h.shape[0] == tm.shape[0] == cl.shape[0] == nd.shape[0] == n):
            raise ValueError("keys, hashes, times, classes and nodes must have the same length")
        if n and (nd.max() >= self.nnodes or nd.min() < 0):
            raise ValueError(f"nodes must be in 0..{self.nnodes - 1}")
        if n and cl.max() >= LB_FT_CLASSES:
            raise ValueError("classes must be 0, 1 or 2")
        out = np.empty(n, dtype=np.int32)
        flags = np.empty(n, dtype=np.uint8)
        if n == 0:
            return out, flags
        fk = np.zeros(n * sizeof(lb_flow_key), dtype=np.uint8)
        kh = np.empty(n, dtype=np.uint64)
        cdef lb_flow_key* pk = <lb_flow_key*><size_t>fk.ctypes.data
        cdef const uint64_t[::1] vk = k
        cdef uint64_t[::1] vh = kh
        cdef Py_ssize_t i
        for i in range(n):
            lb_flowtable_make_key(&pk[i], 0, 0, 0, vk[i], 0, 0, 0, 0, 0, LB_FIELDS_5, 0)
            vh[i] = lb_mix64(vk[i])
        with self._lock:
            self._check_times(tm, "times")
            self._route_many_locked(fk, kh, h, tm, cl, nd, out, flags, n)
        return out, flags

    cdef _route_many_locked(self, fk, kh, h, tm, cl, nd, out, flags, Py_ssize_t n):
        keep = (fk, kh, h, tm, cl, nd, self._ft, self._tables, self._off, self._len,
                self._rand, self._valid)
        cdef const lb_flow_key* pk = <const lb_flow_key*><size_t>fk.ctypes.data
        cdef const uint64_t* pkh = <const uint64_t*><size_t>kh.ctypes.data
        cdef const uint64_t* ph = <const uint64_t*><size_t>h.ctypes.data
        cdef const double* pt = <const double*><size_t>tm.ctypes.data
        cdef const uint8_t* pc = <const uint8_t*><size_t>cl.ctypes.data
        cdef const int32_t* pn = <const int32_t*><size_t>nd.ctypes.data
        cdef int32_t* po = <int32_t*><size_t>out.ctypes.data
        cdef uint8_t* pf = <uint8_t*><size_t>flags.ctypes.data
        cdef size_t done = 0, r
        cdef double t0 = float(tm[0])     # the earliest (times checked non-decreasing)
        self._make_room(t0, LB_L4_BLOCK)
        while done < <size_t>n:
            with nogil:
                r = lb_l4_route_many(n - done, pk + done, pkh + done, ph + done, pt + done,
                                     pc + done, pn + done, self.sel.tables, self.sel.off,
                                     self.sel.tlen, self.sel.rand, self.sel.valid,
                                     self.sel.n_targets, self.tab, self.rng, po + done,
                                     pf + done)
            done += r
            if done < <size_t>n:
                self._make_room(t0, <size_t>n - done)
        del keep

    cdef void _fill_handle(self) noexcept:
        self.handle.table = self.tab
        self.handle.config = &self.cfg
        self.handle.selection = &self.sel
        self.handle.rng = self.rng
        self.handle.n_nodes = self.nnodes
        self.handle.lock = &self._lock.lk

    @property
    def ctypes(self):
        """A ``KernelHandle`` (see ``lbcore._handle``) over an ``lb_l4_path``: the
        connection table, configuration, selection, generator and lock that
        ``lb_l4_route_fields`` routes one flow with, without the GIL (lbcore's
        simulator places its flows so). Valid while the path lives, until its next
        ``set_selection`` or ``set_dns`` (fetch it again after those)."""
        with self._lock:
            self._fill_handle()
            return make_handle(<size_t>&self.handle, None, "lb_l4_path", {
                "lb_l4_route_fields": <size_t>&lb_l4_route_fields,
                "lb_l4_close_fields": <size_t>&lb_l4_close_fields})

    def reserve(self, double now, Py_ssize_t n):
        """Make room for ``n`` more flows at ``now`` (drop expired entries, then grow
        the table): what ``lb_l4_route_fields``'s caller does when it answers
        LB_L4_FULL. ValueError when ``now`` goes back or the table would pass its
        limit."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        with self._lock:
            self._check_time(now, "now")
            self._make_room(now, <size_t>n)
            self.handle.table = self.tab

    def __len__(self):
        """Entries stored (live, or expired but not yet removed)."""
        return self.tab.size

    def live(self, double now):
        """Number of entries still live at ``now``."""
        cdef int32_t e, count = 0
        cdef lb_flowtable* t
        with self._lock:
            t = self.tab
            for e in range(t.fresh):
                if t.ent[e].cls < LB_FT_CLASSES and now - t.ent[e].last_seen <= t.timeout[t.ent[e].cls]:
                    count += 1
        return count

    def forget_target(self, int32_t target):
        """Forget every flow pinned to ``target``; returns how many."""
        with self._lock:
            return lb_flowtable_forget_target(self.tab, target)

    def clear(self):
        with self._lock:
            self._ft.reallocate(self.tab.capacity)


def _restore_l4path(cls, table, sel, cfg, dns, rng, last_flags, last_node, decide=None):
    """Unpickle an L4Path (see L4Path.__reduce__); the arrays are validated as
    set_selection and set_dns validate them."""
    if not (isinstance(cls, type) and issubclass(cls, L4Path)):
        raise TypeError("_restore_l4path: not an L4Path class")
    make, args = table
    ft = make(*args)
    if not isinstance(ft, FlowTable):
        raise TypeError("L4Path state: the connection table is not a FlowTable")
    cdef L4Path p = cls(1, seed=0)
    cdef FlowTable t = ft
    cdef int j
    p.set_selection(*sel, decide=decide)
    kk, nk, fields, sym, fb3, sticky, sseed = cfg
    if len(kk) != 8 or len(nk) != 8 or fields not in (0, 1, 2) or len(rng) != 4:
        raise ValueError("L4Path state: invalid hashing configuration")
    with p._lock:
        for j in range(8):
            p.cfg.kkeys.k[j] = kk[j]
            p.cfg.nkeys.k[j] = nk[j]
        p.cfg.fields, p.cfg.symmetric, p.cfg.fallback3 = fields, sym, fb3
        p.cfg.sticky, p.cfg.sticky_seed = sticky, sseed
        for j in range(4):
            p.rng[j] = rng[j]
        t.owner_lock = p._lock
        p._ft = t
        p.tab = &t.t
        p.last_flags = last_flags
        p.last_node = last_node
    if dns is not None:
        p.set_dns(dns)
    return p
