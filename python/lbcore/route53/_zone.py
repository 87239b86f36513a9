"""HostedZone: record sets grouped by (name, type), resolved per routing policy.

Resolution rules (Route 53 Developer Guide, "Choosing a routing policy" and "How Amazon
Route 53 chooses records when health checking is configured"; details in docs/route53.md):

* simple: the one record set, its values in random order;
* weighted: P = w / sum(w) among healthy records with w > 0; zero-weight records only when
  no non-zero record is healthy (then equally); all weights zero: equally; no healthy
  record: every record is treated as healthy;
* latency: the healthy record whose Region has the lowest latency for the client (latency
  table below); ties: first record in zone order;
* failover: PRIMARY while healthy, else SECONDARY when healthy, else PRIMARY;
* geolocation: the client's US state > country > continent > default ``*``; an unhealthy
  record falls back to the next broader match; no healthy match: the most specific
  match; no match and no default: NODATA;
* geoproximity: smallest biased great-circle distance among healthy records (lbcore._geo);
* multivalue: up to 8 healthy records at random; none healthy: up to 8 unhealthy ones;
* IP-based: longest CIDR match in the collection -> location -> record; unmatched or no
  record for the location: the ``*`` record; an unhealthy record falls back to ``*``;
* alias: the target's answer (same type); EvaluateTargetHealth makes the alias record
  healthy only when its target is (a zone target: any of its records healthy; an object:
  ``target.is_healthy(now)``).

Every random answer draws from the zone's seeded generator (``seed``). Time: health is
evaluated at ``now`` (seconds) from the caller, or, when omitted, from the zone's ``clock``
(default :func:`time.monotonic`).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from lbcore import Flows, Geoproximity, PrefixTable, RecordPicker, great_circle_km
from lbcore.route53._health import Clock, HealthReporter, check_clock, check_now
from lbcore.route53._kernels import parse_address
from lbcore.route53._records import CidrRouting, RecordSet, RECORD_TYPES, normalize_name
from lbcore.route53._regions import local_zone_location, region_location
from lbcore.locking import PickleWithoutLock

__all__ = ["HostedZone", "Client", "Clients", "Answer", "BatchAnswer", "NODATA", "NXDOMAIN",
           "distance_latency"]

MAX_MULTIVALUE = 8
# Route 53 Developer Guide, "Managing over 100 weighted records": up to 100 weighted
# records for one name and type
MAX_WEIGHTED = 100
_MAX_ALIAS_DEPTH = 8
_DISPATCH_MAX = 4096          # remembered (name, rtype) dispatches per zone


@dataclass(frozen=True)
class Answer:
    """A DNS answer: ``rcode`` ('NOERROR' / 'NXDOMAIN'), ``values`` in answer order, ``ttl``,
    and the ``record_sets`` that produced it. NOERROR with no record sets is NODATA."""
    rcode: str = "NOERROR"
    values: tuple[str, ...] = ()
    ttl: int | None = None
    record_sets: tuple[RecordSet, ...] = ()

    @property
    def nodata(self) -> bool:
        return self.rcode == "NOERROR" and not self.record_sets

    @property
    def nxdomain(self) -> bool:
        return self.rcode == "NXDOMAIN"

    @property
    def record_set(self) -> RecordSet | None:
        return self.record_sets[0] if self.record_sets else None


NODATA = Answer("NOERROR")
NXDOMAIN = Answer("NXDOMAIN")


@dataclass(frozen=True)
class Client:
    """What the resolver knows of a query's source (EDNS client subnet is the caller's
    business): ``ip``; location (``continent``, ``country``, ``subdivision``,
    ``latitude``/``longitude``); ``latencies``: Region -> milliseconds;
    ``availability_zone``: the AZ of a client inside AWS (Route 53 Resolver), which an
    alias to a Network Load Balancer with zonal DNS affinity answers by."""
    ip: str | None = None
    continent: str | None = None
    country: str | None = None
    subdivision: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    latencies: Mapping[str, float] | None = None
    availability_zone: str | None = None


class Clients:
    """A columnar batch of clients for ``resolve_many``: ``latitudes``/``longitudes``
    (float arrays, NaN = unknown), IP columns in ``lbcore.Flows`` layout (``ip_flags`` bit
    0 = IPv6, 1 << 7 = no address; ``ip_hi``/``ip_lo``), and the ``Client`` objects
    themselves (for the per-query policies)."""

    latitudes: np.ndarray | None
    longitudes: np.ndarray | None
    ip_flags: np.ndarray | None
    ip_hi: np.ndarray | None
    ip_lo: np.ndarray | None

    def __init__(self, clients: Iterable[Client] | None = None, *,
                 latitudes: Sequence[float] | np.ndarray | None = None,
                 longitudes: Sequence[float] | np.ndarray | None = None,
                 ips: Sequence[str | None] | None = None, flows: Flows | None = None) -> None:
        """``flows``: an ``lbcore.Flows`` batch whose source addresses are the client IPs
        (no per-item parsing)."""
        if clients is not None:
            if isinstance(clients, (str, bytes)) or not hasattr(clients, "__iter__"):
                raise TypeError(f"clients must be an iterable of Client, got "
                                f"{type(clients).__name__}")
            clients = list(clients)
            for i, c in enumerate(clients):
                if not isinstance(c, Client):
                    raise TypeError(f"clients[{i}] must be a route53.Client, got "
                                    f"{type(c).__name__}")
        self.items = clients
        if flows is not None and not isinstance(flows, Flows):
            raise TypeError(f"flows must be an lbcore.Flows batch, got {type(flows).__name__}")
        if flows is not None:
            if ips is not None or self.items is not None:
                raise ValueError("flows: give either flows or ips/clients for the addresses")
            self.ip_flags = np.ascontiguousarray(flows.flags & 1, dtype=np.uint8)
            self.ip_hi = np.ascontiguousarray(flows.src_hi, dtype=np.uint64)
            self.ip_lo = np.ascontiguousarray(flows.src_lo, dtype=np.uint64)
            if latitudes is None:
                self.latitudes = self.longitudes = None
            else:
                self.latitudes = np.ascontiguousarray(latitudes, dtype=np.float64)
                self.longitudes = np.ascontiguousarray(longitudes, dtype=np.float64)
                if self.latitudes.shape != self.ip_flags.shape or \
                        self.longitudes.shape != self.ip_flags.shape:
                    raise ValueError("latitudes and longitudes must have one entry per flow")
            self.n = self.ip_flags.shape[0]
            return
        n = len(self.items) if self.items is not None else None
        if latitudes is None and self.items is not None:
            latitudes = [math.nan if c.latitude is None else c.latitude for c in self.items]
            longitudes = [math.nan if c.longitude is None else c.longitude for c in self.items]
        if latitudes is not None:
            self.latitudes = np.ascontiguousarray(latitudes, dtype=np.float64)
            self.longitudes = np.ascontiguousarray(longitudes, dtype=np.float64)
            if self.latitudes.shape != self.longitudes.shape or self.latitudes.ndim != 1:
                raise ValueError("latitudes and longitudes must be 1-D and of equal length")
            n = self.latitudes.shape[0] if n is None else n
            if self.latitudes.shape[0] != n:
                raise ValueError("latitudes must have one entry per client")
        else:
            self.latitudes = self.longitudes = None
        if ips is None and self.items is not None:
            ips = [c.ip for c in self.items]
        if ips is not None:
            m = len(ips)
            n = m if n is None else n
            if m != n:
                raise ValueError("ips must have one entry per client")
            self.ip_flags = np.zeros(m, dtype=np.uint8)
            self.ip_hi = np.zeros(m, dtype=np.uint64)
            self.ip_lo = np.zeros(m, dtype=np.uint64)
            for i, a in enumerate(ips):          # text parsing: a per-item Python step
                if a is None:
                    self.ip_flags[i] = 0x80
                    continue
                v, x = parse_address(a)
                if v == 6:
                    self.ip_flags[i] = 1
                    self.ip_hi[i] = x >> 64
                self.ip_lo[i] = x & 0xFFFFFFFFFFFFFFFF
        else:
            self.ip_flags = self.ip_hi = self.ip_lo = None
        if n is None:
            raise ValueError("clients: give Client objects or columns")
        self.n = n

    def __len__(self) -> int:
        return int(self.n)

    def client(self, i: int) -> Client:
        """Query ``i``'s client (built from the columns when no objects were given)."""
        if self.items is not None:
            return self.items[i]
        lat = None if self.latitudes is None else float(self.latitudes[i])
        lon = None if self.longitudes is None else float(self.longitudes[i])
        if lat is None or lon is None or math.isnan(lat) or math.isnan(lon):
            lat = lon = None                 # a location needs both (as choose_many reads it)
        return Client(latitude=lat, longitude=lon)


@dataclass
class BatchAnswer:
    """``resolve_many``'s result: ``choice[i]`` indexes ``record_sets`` (the group's record
    sets in zone order): the record set answering query i (for multivalue, the first one
    drawn), -1 = NODATA. ``rcode`` is shared (the name and type are)."""
    rcode: str
    record_sets: tuple[RecordSet, ...]
    choice: np.ndarray

    def __len__(self) -> int:
        return int(self.choice.shape[0])


def distance_latency(client: Client, region: str,
                     regions: Mapping[str, tuple[float, float]] | None = None) -> float | None:
    """The default latency table: the client's own measurement when it has one, else a
    distance model (great-circle km / 100 -> ms, i.e. a round trip at ~2/3 c in fibre)
    when the client has coordinates, else unknown (None)."""
    if not isinstance(client, Client):
        raise TypeError(f"client must be a route53.Client, got {type(client).__name__}")
    if regions is not None and not isinstance(regions, Mapping):
        raise TypeError(f"regions must be a mapping {{region: (lat, lon)}}, got "
                        f"{type(regions).__name__}")
    if client.latencies is not None and region in client.latencies:
        return float(client.latencies[region])
    if client.latitude is not None and client.longitude is not None:
        try:
            lat, lon = region_location(region, regions)
        except ValueError:
            return None
        return float(great_circle_km(client.latitude, client.longitude, lat, lon)) / 100.0
    return None


# ------------------------------------------------------------------ policy groups

class _Group:
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        self.zone = zone
        # the group's records all have its policy's field set (weight, region, ...)
        self.records: tuple[Any, ...] = tuple(records)
        # only records with a health check or EvaluateTargetHealth can be unhealthy
        self.checked = [i for i, r in enumerate(self.records)
                        if r.health_check is not None
                        or (r.alias is not None and r.alias.evaluate_target_health)]
        self.all_ok = (True,) * len(self.records)
        self.all_idx = list(range(len(self.records)))
        # the answer of record i alone, built once (None: an alias, resolved per query)
        self.fixed: list[Answer | None] = [
            None if r.alias is not None else Answer("NOERROR", r.values, r.ttl, (r,))
            for r in self.records]

    def answer(self, rtype: str, client: Client | None, now: float, depth: int) -> Answer:
        """The answer to a query of type ``rtype`` (the query's; the group may be the
        name's CNAME)."""
        chosen = self.choose(client, now)
        if len(chosen) == 1:
            a = self.fixed[chosen[0]]
            if a is not None:
                return a
        elif not chosen:
            return NODATA
        return self.zone._compose(self, chosen, rtype, client, now, depth)

    def healthy(self, now: float) -> Sequence[bool]:
        if not self.checked:
            return self.all_ok
        h = list(self.all_ok)
        for i in self.checked:
            h[i] = self.zone._record_healthy(self.records[i], now)
        return h

    def choose(self, client: Client | None, now: float) -> list[int]:   # -> of record indices ([] = NODATA)
        raise NotImplementedError

    def draw(self, client: Client | None, now: float) -> tuple[list[int], list[int] | None]:
        # the records one answer is drawn from and the integer weights of the draw
        # (None: no draw, the answer is all of them)
        return self.choose(client, now), None

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        out = np.empty(len(clients), dtype=np.int32)
        for i in range(len(clients)):     # per-query policies: see subclasses
            r = self.choose(clients.client(i), now)
            out[i] = r[0] if r else -1
        return out


class _Simple(_Group):
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        super().__init__(zone, records)
        r = self.records[0]
        self.shuffled = r.alias is None and len(r.values) > 1
        if self.shuffled:
            self.fixed = [None]                # values in random order per query
            self.values, self.ttl, self.sets = r.values, r.ttl, (r,)

    def choose(self, client: Client | None, now: float) -> list[int]:
        return [0]

    def answer(self, rtype: str, client: Client | None, now: float, depth: int) -> Answer:
        a = self.fixed[0]
        if a is not None:
            return a
        if self.shuffled:                      # the same draw as _compose makes
            v = self.values
            order = self.zone.picker.sample(len(v), len(v))
            return Answer("NOERROR", tuple([v[j] for j in order]), self.ttl, self.sets)
        return self.zone._compose(self, [0], rtype, client, now, depth)

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        return np.zeros(len(clients), dtype=np.int32)


class _Weighted(_Group):
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        super().__init__(zone, records)
        self.weights = [r.weight for r in self.records]
        # Mixed TTLs (guide, "Values specific for weighted records", TTL): Route 53 sets
        # every record's TTL to the one specified last; here, the last non-alias record
        # added to the zone.
        ttls = [r.ttl for r in self.records if r.alias is None]
        self.ttl: int | None = ttls[-1] if ttls else None
        if len(set(ttls)) > 1:
            self.fixed = [a if a is None else Answer(a.rcode, a.values, self.ttl, a.record_sets)
                          for a in self.fixed]
        self.static: tuple[list[int], list[int]] | None = None
        if not self.checked:                   # no record can be unhealthy: fixed set
            self.static = self._eligible(0.0)

    def _eligible(self, now: float) -> tuple[list[int], list[int]]:
        if self.static is not None:
            return self.static
        h = self.healthy(now)
        idx = [i for i, ok in enumerate(h) if ok] or list(range(len(self.records)))
        nz = [i for i in idx if self.weights[i] > 0]
        if nz:
            return nz, [self.weights[i] for i in nz]
        return idx, [1] * len(idx)          # all (remaining) weights zero: equally

    def choose(self, client: Client | None, now: float) -> list[int]:
        idx, w = self._eligible(now)
        return [idx[self.zone.picker.weighted(w)]]

    def draw(self, client: Client | None, now: float) -> tuple[list[int], list[int] | None]:
        idx, w = self._eligible(now)
        return list(idx), list(w)

    def answer(self, rtype: str, client: Client | None, now: float, depth: int) -> Answer:
        idx, w = self.static or self._eligible(now)
        i = idx[self.zone.picker.weighted(w)]
        a = self.fixed[i]
        return a if a is not None else self.zone._compose(self, [i], rtype, client, now, depth)

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        idx, w = self._eligible(now)
        picks = self.zone.picker.weighted_many(np.asarray(w, dtype=np.uint64), len(clients))
        out: np.ndarray = np.asarray(idx, dtype=np.int32)[picks]
        return out


class _Failover(_Group):
    def choose(self, client: Client | None, now: float) -> list[int]:
        prim = [i for i, r in enumerate(self.records) if r.failover == "PRIMARY"]
        sec = [i for i, r in enumerate(self.records) if r.failover == "SECONDARY"]
        if prim and self.zone._record_healthy(self.records[prim[0]], now):
            return prim
        if sec and self.zone._record_healthy(self.records[sec[0]], now):
            return sec
        return prim or sec                   # both unhealthy: PRIMARY

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        r = self.choose(None, now)
        return np.full(len(clients), r[0] if r else -1, dtype=np.int32)


class _Latency(_Group):
    # Per query: a client's latencies are a per-client mapping, so this is a Python loop
    # over the group's records (a handful of Regions) for each query. With the default
    # latency table the Regions' coordinates are looked up once, here; a batch whose
    # clients carry no latencies of their own is one nearest_many call (choose_many).
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        super().__init__(zone, records)
        self.regions_at_build = zone.regions
        self.sites: list[tuple[int, str, tuple[float, float] | None]] = []
        for i, r in enumerate(self.records):
            try:
                site: tuple[float, float] | None = region_location(r.region, zone.regions)
            except ValueError:
                site = None
            self.sites.append((i, r.region, site))
        # the distance model's lowest latency is the nearest Region: one kernel call
        # (lbcore._geo, bias 0) instead of one great_circle_km per Region
        self.known = bytes(site is not None for _, _, site in self.sites)
        self.geo = None
        if any(self.known):
            self.geo = Geoproximity([0.0 if s is None else s[0] for _, _, s in self.sites],
                                    [0.0 if s is None else s[1] for _, _, s in self.sites])

    def _candidates(self, now: float) -> tuple[list[int], bytes]:
        # the records a query may get (the healthy ones, else all) and, of those, the
        # ones whose Region has coordinates, as the nearest-endpoint mask
        if self.checked:
            h = self.healthy(now)
            idx = [i for i, ok in enumerate(h) if ok] or self.all_idx
        else:
            idx = self.all_idx
        if idx is self.all_idx:
            return idx, self.known
        m = bytearray(len(self.records))
        for i in idx:
            m[i] = self.known[i]
        return idx, bytes(m)

    def choose(self, client: Client | None, now: float) -> list[int]:
        idx, mask = self._candidates(now)
        if client is None:
            return [idx[0]]
        zone = self.zone
        if zone.latency is not None or zone.regions is not self.regions_at_build:
            best, best_ms = idx[0], math.inf
            for i in idx:
                ms = zone._latency(client, self.records[i].region)
                if ms is not None and ms < best_ms:
                    best, best_ms = i, ms
            return [best]
        lats, lat, lon = client.latencies, client.latitude, client.longitude
        located = lat is not None and lon is not None
        if lats is None:                     # distance model only: the nearest Region
            if not located or self.geo is None:
                return [idx[0]]
            j = self.geo.nearest(lat, lon, mask)
            return [idx[0] if j < 0 else j]
        # distance_latency, inlined with the coordinates looked up at build time
        sites = self.sites if idx is self.all_idx else [self.sites[i] for i in idx]
        best, best_ms = idx[0], math.inf
        for i, region, site in sites:
            if lats is not None and region in lats:
                ms = float(lats[region])
            elif located and site is not None:
                ms = float(great_circle_km(lat, lon, site[0], site[1])) / 100.0
            else:
                ms = None
            if ms is not None and ms < best_ms:
                best, best_ms = i, ms
        return [best]

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        # the distance model for every query (no latency table, no client latencies):
        # choose()'s nearest Region, for the whole batch in one kernel call
        zone, items = self.zone, clients.items
        if zone.latency is not None or zone.regions is not self.regions_at_build \
                or self.geo is None or clients.latitudes is None \
                or (items is not None and any(c.latencies is not None for c in items)):
            return super().choose_many(clients, now)
        idx, mask = self._candidates(now)
        lat, lon = clients.latitudes, clients.longitudes
        out = np.full(len(clients), idx[0], dtype=np.int32)
        known = ~(np.isnan(lat) | np.isnan(lon))
        if known.any():
            j = self.geo.nearest_many(lat[known], lon[known], np.frombuffer(mask, np.uint8))
            out[known] = np.where(j < 0, idx[0], j)
        return out


class _Geolocation(_Group):
    # Per query: four dict probes of the client's location keys.
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        super().__init__(zone, records)
        self.by_key = {r.geolocation.key: i for i, r in enumerate(self.records)}
        # one dict per level of the chain (no key tuples built per query)
        self.us_states = {k[2]: i for k, i in self.by_key.items()
                          if k[0] == "subdivision" and k[1] == "US"}
        self.countries = {k[1]: i for k, i in self.by_key.items() if k[0] == "country"}
        self.continents = {k[1]: i for k, i in self.by_key.items() if k[0] == "continent"}
        self.default = self.by_key.get(("*",))

    def chain(self, client: Client | None) -> list[int]:
        out: list[int] = []
        if client is not None:
            country = client.country
            if country == "US" and client.subdivision:
                i = self.us_states.get(client.subdivision)
                if i is not None:
                    out.append(i)
            if country:
                i = self.countries.get(country)
                if i is not None:
                    out.append(i)
            if client.continent:
                i = self.continents.get(client.continent)
                if i is not None:
                    out.append(i)
        if self.default is not None:
            out.append(self.default)
        return out

    def choose(self, client: Client | None, now: float) -> list[int]:
        chain = self.chain(client)
        if not self.checked:
            return chain[:1]
        for i in chain:
            if self.zone._record_healthy(self.records[i], now):
                return [i]
        return chain[:1]                     # nothing healthy: the most specific match


class _Geoproximity(_Group):
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        super().__init__(zone, records)
        lats, lons, biases = [], [], []
        for r in self.records:
            g = r.geoproximity
            if g.coordinates is not None:
                lat, lon = g.coordinates
            elif g.region is not None:
                lat, lon = region_location(g.region, zone.regions)
            else:
                lat, lon = local_zone_location(g.local_zone_group, zone.local_zones)
            lats.append(lat)
            lons.append(lon)
            biases.append(g.bias)
        self.geo = Geoproximity(lats, lons, biases)
        self.all_mask = b"\x01" * len(self.records)

    def _mask(self, now: float) -> bytes:
        if not self.checked:
            return self.all_mask
        h = self.healthy(now)
        if not any(h):
            h = [True] * len(h)
        return bytes(h)

    def choose(self, client: Client | None, now: float) -> list[int]:
        if client is None or client.latitude is None or client.longitude is None:
            return []
        return [self.geo.nearest(client.latitude, client.longitude, self._mask(now))]

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        lat, lon = clients.latitudes, clients.longitudes
        if lat is None or lon is None:
            return np.full(len(clients), -1, dtype=np.int32)
        known = ~(np.isnan(lat) | np.isnan(lon))
        mask = np.frombuffer(self._mask(now), dtype=np.uint8)
        if known.all():
            nearest: np.ndarray = self.geo.nearest_many(lat, lon, mask)
            return nearest
        out = np.full(len(clients), -1, dtype=np.int32)
        out[known] = self.geo.nearest_many(lat[known], lon[known], mask)
        return out


class _Multivalue(_Group):
    # Per query: a random subset of up to 8 records (one partial shuffle per query).
    def choose(self, client: Client | None, now: float) -> list[int]:
        h = self.healthy(now)
        idx = [i for i, ok in enumerate(h) if ok] or list(range(len(self.records)))
        take = self.zone.picker.sample(len(idx), MAX_MULTIVALUE)
        return [idx[j] for j in take]

    def draw(self, client: Client | None, now: float) -> tuple[list[int], list[int] | None]:
        raise ValueError("a multivalue answer is a random subset, not one weighted draw")


class _IpBased(_Group):
    def __init__(self, zone: HostedZone, records: Iterable[RecordSet]) -> None:
        super().__init__(zone, records)
        cid = self.records[0].cidr.collection_id
        for r in self.records:
            if r.cidr.collection_id != cid:
                raise ValueError("cidr (CidrRoutingConfig.CollectionId): all IP-based records "
                                 "of one name and type must use the same CIDR collection")
        coll = zone.cidr_collections.get(cid)
        if coll is None:
            raise ValueError(f"cidr (CidrRoutingConfig.CollectionId): unknown CIDR collection "
                             f"{cid!r}")
        self.locations = sorted(coll)
        loc_index = {name: i for i, name in enumerate(self.locations)}
        prefixes, values = [], []
        for name in self.locations:
            for block in coll[name]:
                prefixes.append(block)
                values.append(loc_index[name])
        self.table = PrefixTable(prefixes, values)
        self.record_of_location = [-1] * len(self.locations)
        self.default = -1
        for i, r in enumerate(self.records):
            if r.cidr.location_name == "*":
                self.default = i
            elif r.cidr.location_name in loc_index:
                self.record_of_location[loc_index[r.cidr.location_name]] = i
            else:
                raise ValueError(f"cidr (CidrRoutingConfig.LocationName): location "
                                 f"{r.cidr.location_name!r} is not in collection {cid!r}")

    def _map(self, now: float) -> list[int]:
        """location index (last slot: no match) -> record index, health applied."""
        h = self.healthy(now)
        d = self.default
        out = []
        for rec in self.record_of_location + [-1]:
            if rec >= 0 and (h[rec] or d < 0 or not h[d]):
                out.append(rec)              # healthy, or no healthy default to fall to
            else:
                out.append(d)
        return out

    def choose(self, client: Client | None, now: float) -> list[int]:
        if client is None or client.ip is None:
            loc = -1
        else:
            loc = self.table.lookup(client.ip)
        r = self._map(now)[loc]
        return [] if r < 0 else [r]

    def choose_many(self, clients: Clients, now: float) -> np.ndarray:
        if clients.ip_flags is None:
            loc = np.full(len(clients), -1, dtype=np.int32)
        else:
            loc = self.table.lookup_many((clients.ip_flags & 1, clients.ip_hi, clients.ip_lo))
            loc[clients.ip_flags & 0x80 != 0] = -1
        m = np.asarray(self._map(now), dtype=np.int32)
        return m[np.where(loc < 0, len(self.locations), loc)]


_GROUPS = {"simple": _Simple, "weighted": _Weighted, "failover": _Failover,
           "latency": _Latency, "geolocation": _Geolocation, "geoproximity": _Geoproximity,
           "multivalue": _Multivalue, "ip": _IpBased}


def _check_prefix_lengths(coll_id: str, locations: Any) -> dict[str, list[Any]]:
    out = {}
    if not isinstance(locations, Mapping):
        raise TypeError(f"cidr_collections[{coll_id!r}] must map location names to CIDR lists")
    import ipaddress
    for name, blocks in locations.items():
        if name == "*":
            raise ValueError("cidr_collections: '*' is the default location, it holds no "
                             "CIDR blocks (0.0.0.0/0 and ::/0 are expressed by it)")
        CidrRouting(coll_id, name)          # validates the location name
        if isinstance(blocks, str):
            blocks = [blocks]
        checked = []
        for b in blocks:
            try:
                net = ipaddress.ip_network(b, strict=True)
            except ValueError as exc:
                raise ValueError(f"cidr_collections (CidrBlock): {b!r}: {exc}") from None
            top = 24 if net.version == 4 else 48
            if not 1 <= net.prefixlen <= top:
                raise ValueError(f"cidr_collections (CidrBlock): {b!r}: Route 53 accepts IPv"
                                 f"{net.version} prefix lengths /1 to /{top}")
            checked.append(net)
        out[name] = checked
    return out


# ------------------------------------------------------------------ the zone

class HostedZone(PickleWithoutLock):
    """A hosted zone: record sets, CIDR collections, and the seeded generator that makes
    every random answer. ``resolve(name, rtype, client, now)`` -> :class:`Answer`;
    ``resolve_many(name, rtype, clients, now)`` -> :class:`BatchAnswer`.

    ``regions`` / ``local_zones``: coordinate tables for geoproximity records that name an
    AWS Region or Local Zone group (default: ``lbcore.route53.REGION_COORDINATES`` and the
    Local Zone metro table). ``latency``: the latency table, a callable
    ``(client, region) -> ms or None`` (default :func:`distance_latency`).
    """

    def __init__(self, name: str, record_sets: Iterable[RecordSet] = (), *, seed: int = 0,
                 cidr_collections: Mapping[str, Mapping[str, Any]] | None = None,
                 health_checks: Mapping[str, HealthReporter] | None = None,
                 regions: Mapping[str, tuple[float, float]] | None = None,
                 local_zones: Mapping[str, tuple[float, float]] | None = None,
                 latency: Callable[[Client, str], float | None] | None = None,
                 clock: Clock | None = None) -> None:
        self.name = normalize_name(name, "name")
        self.picker = RecordPicker(seed)
        self.regions = regions
        self.local_zones = local_zones
        if latency is not None and not callable(latency):
            raise TypeError("latency must be a callable (client, region) -> ms or None")
        self.latency = latency
        if cidr_collections is not None and not isinstance(cidr_collections, Mapping):
            raise TypeError(f"cidr_collections must be a mapping {{collection id: "
                            f"{{location: [CIDR, ...]}}}}, got {type(cidr_collections).__name__}")
        if health_checks is not None and not isinstance(health_checks, Mapping):
            raise TypeError(f"health_checks must be a mapping {{id: health check}}, got "
                            f"{type(health_checks).__name__}")
        self.cidr_collections = {cid: _check_prefix_lengths(cid, locs)
                                 for cid, locs in (cidr_collections or {}).items()}
        self.health_checks = dict(health_checks or {})
        self._clock = check_clock(clock)
        self._groups: dict[tuple[str, str], list[RecordSet]] = {}
        self._compiled: dict[tuple[str, str], _Group] = {}
        # (name as asked, rtype) -> a fixed Answer (NXDOMAIN / NODATA) or the _Group
        self._dispatch: dict[tuple[Any, Any], Any] = {}
        self._names: set[str] = set()
        self._nonterminals: set[str] = set()     # ancestors of names, inside the zone
        # The thread rule: add (record sets, compiled groups, the dispatch memo) and the
        # memo's fills hold this lock, so a resolve racing an add never stores a group
        # compiled from the old record sets after add cleared the memo. Answers read the
        # memo without it (one dict lookup); health checks lock themselves.
        self._lock = threading.Lock()
        for rs in record_sets:
            self.add(rs)

    # -- building
    @property
    def clock(self) -> Clock:
        return self._clock

    def add(self, rs: RecordSet) -> RecordSet:
        """Add a record set; rejected (ValueError naming the field) when it conflicts with
        the record sets already under its name and type."""
        with self._lock:
            return self._add(rs)

    def upsert(self, rs: RecordSet) -> RecordSet:
        """ChangeResourceRecordSets ``UPSERT``: replace the record set with the same
        name, type and set identifier (in its place among them, so weighted draws keep
        their order), or add it when there is none; a conflict raises ValueError and
        leaves the zone as it was."""
        if not isinstance(rs, RecordSet):
            raise TypeError(f"record set must be a RecordSet, got {type(rs).__name__}")
        with self._lock:
            group = self._groups.get((rs.name, rs.type), [])
            for i, old in enumerate(group):
                if old.set_identifier == rs.set_identifier:
                    del group[i]
                    try:
                        self._add(rs)
                    except BaseException:
                        group.insert(i, old)
                        raise
                    group.insert(i, group.pop())
                    return rs
            return self._add(rs)

    def _add(self, rs: RecordSet) -> RecordSet:
        if not isinstance(rs, RecordSet):
            raise TypeError(f"record set must be a RecordSet, got {type(rs).__name__}")
        if rs.name != self.name and not rs.name.endswith("." + self.name):
            raise ValueError(f"name (Name): {rs.name!r} is not in zone {self.name!r}")
        key = (rs.name, rs.type)
        group: list[Any] = self._groups.get(key, [])
        if rs.type == "CNAME" and rs.name == self.name:
            raise ValueError(f"type (Type): {rs.name} CNAME: a CNAME record cannot have the "
                             f"name of the hosted zone (the zone apex)")
        if group:
            if group[0].policy != rs.policy:
                raise ValueError(f"routing policy: {rs.name} {rs.type} "
                                 f"{rs.set_identifier!r} is a {rs.policy} record set, but "
                                 f"{rs.name} {rs.type} has {group[0].policy} record sets; "
                                 f"one name and type has one routing policy")
            if rs.policy == "weighted" and len(group) >= MAX_WEIGHTED:
                raise ValueError(f"weight (Weight): {rs.name} {rs.type} "
                                 f"{rs.set_identifier!r}: at most {MAX_WEIGHTED} weighted "
                                 f"record sets per name and type")
            if rs.policy == "latency" and any(r.region == rs.region for r in group):
                raise ValueError(f"region (Region): {rs.name} {rs.type} "
                                 f"{rs.set_identifier!r}: {rs.name} {rs.type} already has a "
                                 f"latency record set for {rs.region}; one per Region")
            if rs.policy == "simple":
                raise ValueError(f"name (Name): {rs.name} {rs.type} already has a simple "
                                 f"record set")
            if any(r.set_identifier == rs.set_identifier for r in group):
                raise ValueError(f"set_identifier (SetIdentifier): duplicate "
                                 f"{rs.set_identifier!r} for {rs.name} {rs.type}")
            if rs.policy == "failover" and any(r.failover == rs.failover for r in group):
                raise ValueError(f"failover (Failover): {rs.name} {rs.type} already has a "
                                 f"{rs.failover} record")
            geo: Any = rs.geolocation       # set for a geolocation record, cidr for IP-based
            cidr: Any = rs.cidr
            if rs.policy == "geolocation" and any(r.geolocation.key == geo.key for r in group):
                raise ValueError(f"geolocation (GeoLocation): duplicate location "
                                 f"{rs.geolocation} for {rs.name} {rs.type}")
            if rs.policy == "ip" and any(r.cidr == rs.cidr for r in group):
                raise ValueError(f"cidr (CidrRoutingConfig): duplicate location "
                                 f"{cidr.location_name!r} for {rs.name} {rs.type}")
        types_here = {t for (n, t) in self._groups if n == rs.name}
        if (rs.type == "CNAME" and types_here - {"CNAME"}) or \
                (rs.type != "CNAME" and "CNAME" in types_here):
            raise ValueError(f"type (Type): a CNAME cannot coexist with other types at {rs.name}")
        if isinstance(rs.health_check, str) and rs.health_check not in self.health_checks:
            raise ValueError(f"health_check (HealthCheckId): unknown health check "
                             f"{rs.health_check!r}")
        group.append(rs)
        self._groups[key] = group
        self._names.add(rs.name)
        parent = rs.name
        while parent != self.name:
            parent = parent.partition(".")[2]
            self._nonterminals.add(parent)
        self._compiled.pop(key, None)
        self._dispatch.clear()
        if rs.policy in ("geoproximity", "ip"):
            self._group(key)                 # validate locations / collection now
        return rs

    def record_sets(self, name: str | None = None, rtype: str | None = None) -> list[RecordSet]:
        return [r for (n, t), g in self._groups.items() for r in g
                if (name is None or n == normalize_name(name)) and (rtype is None or t == rtype)]

    def has_name(self, name: str) -> bool:
        """Whether ``name`` exists in the zone (RFC 8020): it owns record sets, or it is an
        empty non-terminal (a name with no records of its own above one that has some, such
        as ``b.example.com`` when only ``a.b.example.com`` has records). A name that does
        not exist resolves to NXDOMAIN; one that exists, to an answer or NODATA."""
        n = normalize_name(name, "name")
        return n in self._names or n in self._nonterminals

    def _group(self, key: tuple[str, str]) -> _Group:
        g = self._compiled.get(key)
        if g is None:
            recs = self._groups[key]
            g = _GROUPS[recs[0].policy](self, recs)
            self._compiled[key] = g
        return g

    # -- health
    def _health_check(self, rs: RecordSet) -> HealthReporter | None:
        hc = rs.health_check
        return self.health_checks[hc] if isinstance(hc, str) else hc

    def _record_healthy(self, rs: RecordSet, now: float, depth: int = 0) -> bool:
        hc = self._health_check(rs)
        if hc is not None and not hc.is_healthy(now):
            return False
        a = rs.alias
        if a is not None and a.evaluate_target_health:
            if a.target is not None:
                return bool(a.target.is_healthy(now))
            key = (a.dns_name, rs.type)
            if key in self._groups and depth < _MAX_ALIAS_DEPTH:
                return any(self._record_healthy(r, now, depth + 1) for r in self._groups[key])
        return True

    def _latency(self, client: Client, region: str) -> float | None:
        if self.latency is not None:
            return self.latency(client, region)
        return distance_latency(client, region, self.regions)

    # -- resolving
    def _lookup(self, name: str, rtype: str) -> tuple[str, tuple[str, str] | None, str | None]:
        n = normalize_name(name, "name")
        if rtype not in RECORD_TYPES:
            raise ValueError(f"rtype must be one of {sorted(RECORD_TYPES)}, got {rtype!r}")
        if n not in self._names:
            return n, None, "NODATA" if n in self._nonterminals else "NXDOMAIN"
        key = (n, rtype)
        if key not in self._groups:
            key = (n, "CNAME")
            if key not in self._groups:
                return n, None, "NODATA"
        return n, key, None

    def resolve(self, name: str, rtype: str, client: Client | None = None,
                now: float | None = None) -> Answer:
        """Answer one query for ``name``/``rtype`` from ``client`` at time ``now``
        (seconds; omitted: the zone's clock)."""
        if now is None:
            now = self._clock()
        if type(now) is not float or now - now != 0.0:     # not a finite float
            now = check_now(now)
        if client is not None and type(client) is not Client and \
                not isinstance(client, Client):
            raise TypeError(f"client must be a Client, got {type(client).__name__}")
        try:
            hit = self._dispatch[(name, rtype)]
        except (KeyError, TypeError):                     # TypeError: unhashable input
            hit = self._route(name, rtype)
        if hit.__class__ is Answer:
            return hit
        g: _Group = hit
        return g.answer(rtype, client, now, 0)

    def answer_weights(self, name: str, rtype: str, client: Client | None = None,
                       now: float | None = None) -> tuple[list[RecordSet], list[int] | None]:
        """What :meth:`resolve` draws its answer from at ``now``, without drawing:
        ``(record_sets, weights)``. ``weights`` None: no draw, the answer holds
        ``record_sets`` (one, or none for NODATA / NXDOMAIN); else the integer weights
        of the one draw among ``record_sets`` (weighted routing: the healthy records
        with non-zero weight, the zone's generator picks record i with probability
        ``weights[i] / sum(weights)``). For a simulator that makes the zone's draw
        itself: the same generator state and these weights give ``resolve``'s answer.
        A multivalue name raises ValueError (its answer is a random subset)."""
        if now is None:
            now = self._clock()
        now = check_now(now)
        if client is not None and not isinstance(client, Client):
            raise TypeError(f"client must be a Client, got {type(client).__name__}")
        hit = self._route(name, rtype)
        if hit.__class__ is Answer:
            return [], None
        g: _Group = hit
        idx, w = g.draw(client, now)
        return [g.records[i] for i in idx], w

    def _route(self, name: str, rtype: str) -> Any:
        """What answers ``name``/``rtype``: NXDOMAIN, NODATA or the group, remembered per
        (name as asked, rtype) until the zone changes (validation happens here, once)."""
        with self._lock:
            _, key, miss = self._lookup(name, rtype)
            hit: Any
            if miss == "NXDOMAIN":
                hit = NXDOMAIN
            elif miss == "NODATA":
                hit = NODATA
            else:
                assert key is not None
                hit = self._group(key)
            if len(self._dispatch) >= _DISPATCH_MAX:       # bounded: names are the caller's
                self._dispatch.clear()
            self._dispatch[(name, rtype)] = hit
            return hit

    def _resolve(self, name: str, rtype: str, client: Client | None, now: float,
                 depth: int) -> Answer:
        try:
            hit = self._dispatch[(name, rtype)]
        except (KeyError, TypeError):
            hit = self._route(name, rtype)
        if hit.__class__ is Answer:
            return hit
        g: _Group = hit
        return g.answer(rtype, client, now, depth)

    def _compose(self, g: _Group, chosen: list[int], rtype: str, client: Client | None,
                 now: float, depth: int) -> Answer:
        """The answer of the records ``chosen`` of ``g`` when it is not one fixed record's:
        an alias, several values of a simple record (random order), multivalue."""
        recs = [g.records[i] for i in chosen]
        first = recs[0]
        if first.alias is not None:
            a = first.alias
            if a.target is not None:
                per_client = getattr(a.target, "alias_answer", None)
                if per_client is not None:        # answers per client (NLB zonal affinity)
                    vals = tuple(per_client(rtype, client, now))
                else:
                    fn = getattr(a.target, "alias_values", None)
                    vals = tuple(fn(rtype)) if fn is not None else (a.dns_name,)
                return Answer("NOERROR", vals, 60, (first,))
            if a.dns_name in self._names:          # a target inside the zone
                if depth >= _MAX_ALIAS_DEPTH:
                    return NODATA
                inner = self._resolve(a.dns_name, rtype, client, now, depth + 1)
                if inner.nxdomain or inner.nodata:
                    return inner
                return Answer("NOERROR", inner.values, inner.ttl, (first,) + inner.record_sets)
            return Answer("NOERROR", (a.dns_name,), 60, (first,))
        values: list[str] = []
        for r in recs:
            values.extend(r.values)
        if first.policy == "simple" and len(values) > 1:
            order = self.picker.sample(len(values), len(values))
            values = [values[j] for j in order]
        return Answer("NOERROR", tuple(values), first.ttl, tuple(recs))

    def resolve_many(self, name: str, rtype: str, clients: Clients | Iterable[Client],
                     now: float | None = None) -> BatchAnswer:
        """Which record set answers each of many queries for one name and type at ``now``
        (seconds, one time for the batch; omitted: the zone's clock).

        ``clients``: a list of :class:`Client` or a :class:`Clients` batch. Geoproximity
        (lbcore._geo), IP-based (lbcore._lpm) and weighted (lbcore._dnspick) groups make one
        kernel call for the whole batch; simple and failover answers are the same for every
        client at one ``now``; latency, geolocation and multivalue choose per query in
        Python (per-client latency maps, string location keys, a random subset each).
        """
        now = check_now(self._clock() if now is None else now)
        if not isinstance(clients, Clients):
            clients = Clients(clients)
        with self._lock:
            _, key, miss = self._lookup(name, rtype)
            if miss is None:
                assert key is not None
                g = self._group(key)
        if miss is not None:
            rcode = "NXDOMAIN" if miss == "NXDOMAIN" else "NOERROR"
            return BatchAnswer(rcode, (), np.full(len(clients), -1, dtype=np.int32))
        return BatchAnswer("NOERROR", g.records, g.choose_many(clients, now))

    # -- loading from the AWS API
    @classmethod
    def from_aws(cls, resource_record_sets: Iterable[Mapping[str, Any]] | Mapping[str, Any],
                 *, cidr_collections: Mapping[str, Any] | None = None,
                 health_checks: Mapping[str, HealthReporter] | Iterable[Mapping[str, Any]]
                 | None = None, alias_targets: Mapping[str, HealthReporter] | None = None,
                 name: str | None = None, seed: int = 0, **kwargs: Any) -> HostedZone:
        """Build a zone from ``list_resource_record_sets()['ResourceRecordSets']``.

        ``cidr_collections``: ``{CollectionId: {LocationName: [CidrBlock, ...]}}`` (or
        ``{CollectionId: [{"CidrBlock": ..., "LocationName": ...}, ...]}`` as
        ``list_cidr_blocks`` pages give them). ``health_checks``: ``{Id: object with
        is_healthy(now)}`` or a list of ``get_health_check()['HealthCheck']`` dicts
        (turned into :class:`HealthCheck` / :class:`CalculatedHealthCheck`).
        ``alias_targets``: ``{DNSName: object with is_healthy(now)}`` for aliases that
        leave the zone (load balancers, ...).
        """
        from lbcore.route53._aws import parse_cidr_collections, parse_health_checks, \
            parse_record_set
        if isinstance(resource_record_sets, Mapping):
            items = list(resource_record_sets.get("ResourceRecordSets", ()))
        else:
            items = list(resource_record_sets)
        hcs = parse_health_checks(health_checks)
        colls = parse_cidr_collections(cidr_collections)
        if alias_targets is not None and not isinstance(alias_targets, Mapping):
            raise TypeError(f"alias_targets must be a mapping {{DNSName: health}}, got "
                            f"{type(alias_targets).__name__}")
        targets = {normalize_name(k, "alias_targets"): v for k, v in (alias_targets or {}).items()}
        rsets = [parse_record_set(d, targets) for d in items]
        if name is None:
            soa = [r.name for r in rsets if r.type == "SOA"]
            names = soa or sorted((r.name for r in rsets), key=lambda n: (n.count("."), n))
            if not names:
                raise ValueError("name: cannot infer the zone name from an empty record list")
            name = names[0]
        return cls(name, rsets, seed=seed, cidr_collections=colls, health_checks=hcs, **kwargs)
