"""Dict-based model of lbcore.FlowTable (same lazy expiry and eviction rules)."""


def cls_of(proto):
    return "tcp" if proto == 6 else ("udp" if proto == 17 else "other")


def key_of(flow, symmetric=False):
    proto, flags = flow.proto, flow.flags
    s = (flow.src_hi, flow.src_lo, flow.sport)
    d = (flow.dst_hi, flow.dst_lo, flow.dport)
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
        self.entries = {}          # key -> [target, last_seen, stamp, cls]
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
                e[0] = target
            self.stamp += 1
            e[1], e[2] = now, self.stamp
            return e[0]
        if len(self.entries) >= self.capacity:
            expired = [kk for kk, ee in self.entries.items() if self._expired(ee, now)]
            pool = expired or list(self.entries)
            victim = min(pool, key=lambda kk: self.entries[kk][2])
            del self.entries[victim]
        self.stamp += 1
        self.entries[k] = [target, now, self.stamp, cls_of(flow.proto)]
        return target

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
