"""Dict-based model of lbcore.FlowTable (same lazy expiry and eviction rules)."""


def cls_of(proto):
    return "tcp" if proto == 6 else ("udp" if proto == 17 else "other")


CLASSES = ("tcp", "udp", "other")


def key_of(flow, symmetric=False, fields=0):
    """Canonical key (lb_flowtable_make_key): ``fields`` 0/1/2 = 5-tuple (+ ISN),
    3-tuple (protocol, addresses), 2-tuple (addresses) with the rest zeroed."""
    proto, flags = flow.protocol, flow.flags
    sport, dport = (flow.src_port, flow.dst_port) if fields == 0 else (0, 0)
    if fields:
        flags &= ~2
        if fields == 2:
            proto = 0
    s = (flow.src_hi, flow.src_lo, sport)
    d = (flow.dst_hi, flow.dst_lo, dport)
    seq = flow.seq if flags & 2 else 0
    if symmetric:
        seq = 0
        flags &= ~2
        if s > d:
            s, d = d, s
    return (proto, flags, s, d, seq)


class FlowTableRef:
    def __init__(self, capacity, timeouts, symmetric=False):
        self.capacity = capacity
        self.timeouts = timeouts
        self.symmetric = symmetric
        self.entries = {}          # key -> [target, last_seen, stamp, cls, mark]
        self.stamp = 0

    def _expired(self, e, now):
        return now - e[1] > self.timeouts[e[3]]

    def lookup(self, flow, now):
        k = key_of(flow, self.symmetric)
        e = self.entries.get(k)
        if e is None:
            return -1
        if self._expired(e, now):
            del self.entries[k]
            return -1
        self.stamp += 1
        e[1], e[2] = now, self.stamp
        return e[0]

    def insert(self, flow, target, now):
        k = key_of(flow, self.symmetric)
        e = self.entries.get(k)
        if e is not None:
            if self._expired(e, now):
                e[0], e[4] = target, 0
            self.stamp += 1
            e[1], e[2] = now, self.stamp
            return e[0]
        self._evict_if_full(now)
        self.stamp += 1
        self.entries[k] = [target, now, self.stamp, cls_of(flow.protocol), 0]
        return target

    def _evict_if_full(self, now):
        if len(self.entries) >= self.capacity:
            expired = [kk for kk, ee in self.entries.items() if self._expired(ee, now)]
            pool = expired or list(self.entries)
            victim = min(pool, key=lambda kk: self.entries[kk][2])
            del self.entries[victim]

    # -- the find/add primitives (a canonical key from key_of, an explicit class) --
    def find(self, k, cls, now):
        """lb_flowtable_find: the live entry of key k (refreshed, moved to class
        ``cls`` = 0/1/2), or None (absent, or expired: removed)."""
        e = self.entries.get(k)
        if e is None:
            return None
        if self._expired(e, now):
            del self.entries[k]
            return None
        self.stamp += 1
        e[1], e[2], e[3] = now, self.stamp, CLASSES[cls]
        return e

    def add(self, k, cls, target, now):
        """lb_flowtable_add: the entry of key k → target (an existing entry is
        refreshed, and retargeted with mark 0 when expired)."""
        e = self.entries.get(k)
        if e is not None:
            if self._expired(e, now):
                e[0], e[4] = target, 0
            self.stamp += 1
            e[1], e[2], e[3] = now, self.stamp, CLASSES[cls]
            return e
        self._evict_if_full(now)
        self.stamp += 1
        e = self.entries[k] = [target, now, self.stamp, CLASSES[cls], 0]
        return e

    def remove(self, k):
        self.entries.pop(k, None)

    def resize(self, capacity):
        assert capacity >= len(self.entries)
        self.capacity = capacity

    def route_many(self, flows, now, choose):
        """choose(list of miss positions) -> list of targets."""
        out = [self.lookup(f, now) for f in flows]
        miss = [i for i, t in enumerate(out) if t < 0]
        if miss:
            chosen = choose(miss)
            for i, t in zip(miss, chosen):
                out[i] = self.insert(flows[i], int(t), now)
        return out

    def forget_target(self, target):
        gone = [k for k, e in self.entries.items() if e[0] == target]
        for k in gone:
            del self.entries[k]
        return len(gone)

    def expire(self, now):
        gone = [k for k, e in self.entries.items() if self._expired(e, now)]
        for k in gone:
            del self.entries[k]
        return len(gone)
