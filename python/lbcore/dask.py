"""lbcore on Dask: route batches of flows too large for one process, and sweep scenarios.

:func:`route_flows` routes a dask DataFrame or dask array of flows through a Network or
Gateway Load Balancer (or a :class:`lbcore.Maglev` table) on the active Dask scheduler and
returns exactly what one ``route_many`` call over the whole batch returns.
:func:`sweep` runs variants of a simulation scenario (and seeds) as Dask tasks and gathers
one table; ``lbcore sweep`` is its command line. Needs the ``dask`` extra
(``pip install 'lbcore[dask]'``; a DataFrame input also needs ``dask[dataframe]``).
See docs/dask.md.
"""
from __future__ import annotations

import copy
import itertools
import operator
import sys
from typing import Any, Callable

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from lbcore import Flows, Maglev, flow_hash
from lbcore.elb import GatewayLoadBalancer, L4Result, NetworkLoadBalancer, node_pools

__all__ = ["COLUMNS", "route_flows", "sweep", "parse_vary", "set_key", "SWEEP_FIELDS"]

#: the columns of a flow table, in the order ``lbcore.Flows.columns`` gives them
COLUMNS = ("protocol", "flags", "src_hi", "src_lo", "dst_hi", "dst_lo", "src_port",
           "dst_port", "seq")
# seed of the partitioning hash (any fixed value: it only has to be the same for every chunk)
PARTITION_SEED = 0x6461736B


def _dask():
    try:
        import dask
        from dask import delayed
    except ImportError:
        raise ImportError("lbcore.dask needs dask: pip install 'lbcore[dask]'") from None
    return dask, delayed


# --------------------------------------------------------------------------- balancers
class MaglevSpec:
    """Rebuilds a :class:`lbcore.Maglev` from its public parameters (a compiled table
    cannot be pickled; the same parameters give the same table)."""

    def __init__(self, maglev: Maglev) -> None:
        self.targets = list(maglev.targets)
        self.weights = None if maglev.weights is None else list(maglev.weights)
        self.table_size = int(maglev.table_size)
        self.seed = int(maglev.seed)
        self.fields = maglev.fields
        self.symmetric = bool(maglev.symmetric)
        self.flow_seed = int(maglev.flow_seed)

    def __call__(self) -> Maglev:
        return Maglev(self.targets, weights=self.weights, table_size=self.table_size,
                      seed=self.seed, fields=self.fields, symmetric=self.symmetric,
                      flow_seed=self.flow_seed)


def _factory(balancer: Any) -> tuple[Callable[[], Any], Any]:
    """(a picklable function that builds the balancer, one balancer it built)."""
    if isinstance(balancer, Maglev):
        return MaglevSpec(balancer), balancer
    if isinstance(balancer, (NetworkLoadBalancer, GatewayLoadBalancer)):
        raise TypeError(
            f"balancer: a {type(balancer).__name__} cannot be sent to Dask workers (its "
            f"connection tables are compiled state); pass a function of no arguments that "
            f"builds it (the same load balancer every call), e.g. route_flows(flows, make_lb, "
            f"times)")
    if callable(balancer) and not isinstance(balancer, type):
        built = balancer()
        if isinstance(built, Maglev):
            return MaglevSpec(built), built
        if not isinstance(built, (NetworkLoadBalancer, GatewayLoadBalancer)):
            raise TypeError(f"balancer: the function must build a NetworkLoadBalancer, "
                            f"GatewayLoadBalancer or Maglev, it built a "
                            f"{type(built).__name__}")
        return balancer, built
    raise TypeError(f"balancer must be a lbcore.Maglev or a function that builds a "
                    f"NetworkLoadBalancer / GatewayLoadBalancer, got {type(balancer).__name__}")


# --------------------------------------------------------------------------- inputs
def _df_chunk(pdf, times):
    cols = tuple(pdf[c].to_numpy() for c in COLUMNS)
    if isinstance(times, str):
        t = pdf[times].to_numpy(dtype=np.float64)
    elif times is None:
        t = None
    else:
        t = np.full(len(pdf), times, dtype=np.float64)
    return cols, t


def _array_chunk(block, t):
    block = np.asarray(block)
    cols = tuple(block[:, j] for j in range(len(COLUMNS)))
    if t is not None and np.ndim(t) == 0:
        t = np.full(block.shape[0], float(t), dtype=np.float64)
    elif t is not None:
        t = np.asarray(t, dtype=np.float64)
    return cols, t


def _check_time_number(times: Any) -> float:
    if isinstance(times, bool) or not isinstance(times, (int, float, np.integer, np.floating)):
        raise TypeError(f"times must be a number, a column name (DataFrame) or an array "
                        f"(dask array), got {type(times).__name__}")
    if not np.isfinite(float(times)):
        raise ValueError("times must be finite")
    return float(times)


def _chunks(flows: Any, times: Any, delayed) -> list:
    """One delayed ``(columns, times)`` per input partition, in order."""
    try:
        import dask.array as da
    except ImportError:
        raise ImportError("lbcore.dask needs dask: pip install 'lbcore[dask]'") from None
    try:
        import dask.dataframe as dd
        frame_types: tuple = (dd.DataFrame,)
    except ImportError:            # dask without pandas: arrays only
        frame_types = ()
    if frame_types and isinstance(flows, frame_types):
        missing = [c for c in COLUMNS if c not in flows.columns]
        if missing:
            raise ValueError(f"flows: the DataFrame lacks the column(s) {', '.join(missing)} "
                             f"(a flow table has {', '.join(COLUMNS)})")
        if isinstance(times, str):
            if times not in flows.columns:
                raise ValueError(f"times: the DataFrame has no column {times!r}")
            frame = flows[list(COLUMNS) + [times]]
        else:
            if times is not None:
                times = _check_time_number(times)
            frame = flows[list(COLUMNS)]
        return [delayed(_df_chunk)(part, times) for part in frame.to_delayed()]
    if isinstance(flows, da.Array):
        if flows.ndim != 2 or flows.shape[1] != len(COLUMNS):
            raise ValueError(f"flows: a dask array of flows has shape (n, {len(COLUMNS)}) "
                             f"(columns {', '.join(COLUMNS)}), got {flows.shape}")
        if flows.dtype.kind not in "ui":
            raise TypeError(f"flows must be an integer dask array, got dtype {flows.dtype}")
        if any(np.isnan(c) for c in flows.chunks[0]):
            flows = flows.compute_chunk_sizes()
        flows = flows.rechunk({1: -1})
        blocks = [b[0] for b in flows.to_delayed()]
        if times is None or np.ndim(times) == 0:
            t = None if times is None else _check_time_number(times)
            return [delayed(_array_chunk)(b, t) for b in blocks]
        if isinstance(times, str):
            raise TypeError("times: a column name needs a DataFrame of flows; with a dask "
                            "array give a number or an array of one time per flow")
        if not isinstance(times, da.Array):
            times = da.from_array(np.asarray(times, dtype=np.float64), chunks=-1)
        if times.ndim != 1 or times.shape[0] != flows.shape[0]:
            raise ValueError(f"times must be a number or one time per flow "
                             f"({flows.shape[0]}), got shape {times.shape}")
        times = times.rechunk((flows.chunks[0],))
        return [delayed(_array_chunk)(b, tb) for b, tb in zip(blocks, times.to_delayed())]
    raise TypeError(f"flows must be a dask DataFrame or a dask array of flows, got "
                    f"{type(flows).__name__}")


# --------------------------------------------------------------------------- tasks
def _check_chunk_times(t: np.ndarray) -> None:
    if t.shape[0] and not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if t.shape[0] > 1 and not np.all(t[1:] >= t[:-1]):
        raise ValueError("times must not decrease within a batch (flows are routed in "
                         "order and time never goes backwards)")


def _split(chunk, parts: int):
    """Cut one input partition into ``parts`` pieces by the hash of each flow's address
    pair; each piece keeps its rows' order. Returns (summary, placement, pieces): the
    placement -- which rows went to which piece -- goes to the client, which puts the
    results back in place; only the flows travel to the routing tasks."""
    cols, t = chunk
    flows = Flows.from_columns(*cols)
    _check_chunk_times(t)
    n = len(flows)
    summary = (n, float(t[0]) if n else None, float(t[-1]) if n else None)
    if parts == 1:
        return summary, (None, np.array([0, n], np.int64)), [(flows.columns(), t)]
    h = flow_hash(flows, fields="2-tuple", symmetric=True, seed=PARTITION_SEED)
    # the narrowest unsigned type: numpy's stable sort of 8/16-bit keys is a radix sort
    p = (h % np.uint64(parts)).astype(np.uint8 if parts <= 256 else np.uint16
                                      if parts <= 65536 else np.int64)
    order = np.argsort(p, kind="stable")
    edges = np.searchsorted(p[order], np.arange(parts + 1))
    cols = flows.columns()
    pieces = []
    for k in range(parts):
        rows = order[edges[k]:edges[k + 1]]
        pieces.append((tuple(c[rows] for c in cols), t[rows]))
    # row numbers within one partition: 4 bytes each is enough below 2**31 rows
    return summary, (order.astype(np.int32) if n < 2**31 else order, edges), pieces


def _piece(split, k: int):
    return split[2][k]


def _summary(split):
    return split[0]


def _placement(split):
    return split[1]


def _health_probe(lb: Any) -> tuple:
    """What :func:`_plan` needs of a load balancer: its target groups (each once), and for
    a GWLB its zones and cross-zone setting. Small and picklable, so the plan task does
    not build a balancer (whose connection tables may be hundreds of MB)."""
    groups = list({id(tg): tg for tg in lb.target_groups}.values())
    if isinstance(lb, GatewayLoadBalancer):
        return groups, tuple(lb.availability_zones), lb.cross_zone
    return groups, None, None


def _plan(probe, summaries) -> bool:
    """Check the whole batch's times and decide whether its partitions can be routed
    apart: True unless a target state changes within the batch's time span (a
    draining target's delay ends: one route_many samples the states once) or a GWLB
    node places flows at random (one random sequence serves the whole batch)."""
    first = last = None
    for n, t0, t1 in summaries:
        if not n:
            continue
        if last is not None and t0 < last:
            raise ValueError("times must not decrease within a batch (flows are routed "
                             "in order and time never goes backwards)")
        if first is None:
            first = t0
        last = t1
    if first is None:
        return True
    # a copy: advancing must not touch the caller's balancer (local schedulers pass
    # the objects themselves, not pickled copies)
    groups, zones, lb_cross = copy.deepcopy(probe)
    for tg in groups:
        tg.advance(first)
        if zones is not None:
            cross = tg.cross_zone if tg.cross_zone is not None else lb_cross
            if not all(node_pools(tg, zones, cross_zone=cross).healthy):
                return False
        version = tg.version
        tg.advance(last)
        if tg.version != version:
            return False
    return True


def _route_part(factory, node, apart: bool, *pieces):
    """Route one partition (its pieces in input order) through a fresh balancer."""
    if not apart:
        return None
    cols = tuple(np.concatenate([p[0][j] for p in pieces]) for j in range(len(COLUMNS)))
    t = np.concatenate([p[1] for p in pieces])
    res = factory().route_many(Flows.from_columns(*cols), t, node=node)
    flags = res.dropped.astype(np.uint8) | (res.new.astype(np.uint8) << 1)
    return res.target, res.node, res.listener, flags


def _route_all(factory, node, *chunks):
    """Route the whole batch in one task (when its partitions cannot be routed apart)."""
    cols = tuple(np.concatenate([c[0][j] for c in chunks]) for j in range(len(COLUMNS)))
    t = np.concatenate([c[1] for c in chunks])
    res = factory().route_many(Flows.from_columns(*cols), t, node=node)
    flags = res.dropped.astype(np.uint8) | (res.new.astype(np.uint8) << 1)
    return res.target, res.node, res.listener, flags


def _select(spec, chunk):
    cols, _ = chunk
    return spec().select_many(Flows.from_columns(*cols))


# --------------------------------------------------------------------------- route_flows
def route_flows(flows: Any, balancer: Any, times: Any = None, *, node: str | int | None = None,
                partitions: int | None = None) -> L4Result | np.ndarray:
    """Route a dask DataFrame or dask array of flows on the active Dask scheduler.

    ``flows``: a dask DataFrame with the integer columns :data:`COLUMNS` (those of
    :meth:`lbcore.Flows.columns`), or a dask array of shape ``(n, 9)`` in that column
    order. ``balancer``: a :class:`lbcore.Maglev` (returns ``select_many``'s int32
    target indices), or a function of no arguments that builds a
    :class:`~lbcore.elb.NetworkLoadBalancer` or :class:`~lbcore.elb.GatewayLoadBalancer`
    — the same one each call — (returns the :class:`~lbcore.elb.L4Result` that
    ``make_lb().route_many(all_flows, times, node=node)`` returns, exactly).
    ``times``: for a load balancer, a number, the name of a DataFrame column, or one
    time per flow (a dask or numpy array), non-decreasing over the batch.
    ``partitions``: how many routing tasks (default: the input's partition count).

    The flows are shuffled by a hash of their address pair: a flow's node and its
    connection-table key are functions of that pair, so every connection lives in one
    partition, which routes its flows in batch order through its own copy of the load
    balancer. Runs on a ``distributed.Client`` when one is active (dask's default
    scheduler otherwise). See docs/dask.md.
    """
    dask, delayed = _dask()
    factory, probe = _factory(balancer)
    is_maglev = isinstance(probe, Maglev)
    if is_maglev:
        if times is not None:
            raise ValueError("times: Maglev selection does not depend on time; leave "
                             "times None")
        if node is not None:
            raise ValueError("node: a Maglev table has no nodes; leave node None")
    elif times is None:
        raise ValueError("times: a load balancer routes flows at times: give a number, a "
                         "column name or one time per flow")
    if node is not None and not is_maglev:
        probe.route_many(Flows.random(0), 0.0, node=node)    # a bad node is a ValueError
    if partitions is not None:
        if isinstance(partitions, bool) or not hasattr(partitions, "__index__"):
            raise TypeError(f"partitions must be an int, got {type(partitions).__name__}")
        partitions = operator.index(partitions)
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
    chunks = _chunks(flows, times, delayed)
    if is_maglev:
        out = dask.compute(*[delayed(_select)(factory, c) for c in chunks])
        return np.concatenate(out) if out else np.zeros(0, np.int32)
    parts = partitions or max(1, len(chunks))
    splits = [delayed(_split)(c, parts) for c in chunks]
    summaries = [delayed(_summary)(s) for s in splits]
    placements = [delayed(_placement)(s) for s in splits]
    apart = delayed(_plan)(_health_probe(probe), summaries)
    routed = [delayed(_route_part)(factory, node, apart,
                                   *[delayed(_piece)(s, k) for s in splits])
              for k in range(parts)]
    summaries, placements, routed = dask.compute(summaries, placements, routed)
    lengths = np.array([s[0] for s in summaries], dtype=np.int64)
    n = int(lengths.sum())
    if any(r is None for r in routed):
        target, nd, listener, flags = dask.compute(delayed(_route_all)(factory, node, *chunks))[0]
        return L4Result(probe.target_groups, target, nd, listener, flags)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    target = np.full(n, -1, np.int32)
    nd = np.full(n, -1, np.int32)
    listener = np.full(n, -1, np.int32)
    flags = np.zeros(n, np.uint8)
    for k, (t, z, li, fl) in enumerate(routed):
        # partition k holds, in input order, piece k of every input partition
        pos = np.empty(t.shape[0], np.int64)
        at = 0
        for (order, edges), base in zip(placements, offsets):
            a, b = int(edges[k]), int(edges[k + 1])
            pos[at:at + b - a] = base + (np.arange(a, b) if order is None else order[a:b])
            at += b - a
        target[pos] = t
        nd[pos] = z
        listener[pos] = li
        flags[pos] = fl
    return L4Result(probe.target_groups, target, nd, listener, flags)


# --------------------------------------------------------------------------- sweep
#: the columns of a sweep table, after ``variant`` and one column per varied key
SWEEP_FIELDS = ("seed", "requests", "served", "target_errors", "throttled", "dns_no_answer",
                "fixed_response", "target_group", "group_requests", "group_errors",
                "p50_ms", "p90_ms", "p99_ms", "mean_ms")


def _split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at the commas outside brackets, braces and quotes."""
    out, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` → ``(KEY, [values])``. Each value is read as a TOML value
    (``0.5``, ``true``, ``"x"``, ``[1, 2]``), a bare word as a string."""
    if not isinstance(text, str):
        raise TypeError(f"vary must be a str KEY=V1,V2,..., got {type(text).__name__}")
    key, eq, rest = text.partition("=")
    key = key.strip()
    if not eq or not key or not rest.strip():
        raise ValueError(f"--vary: expected KEY=V1,V2,..., got {text!r}")
    values = []
    for v in _split_values(rest):
        if not v:
            raise ValueError(f"--vary {key}: an empty value in {rest!r}")
        try:
            values.append(tomllib.loads(f"v = {v}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(v)
    return key, values


def _segments(key: str) -> list[str]:
    return [s for s in key.replace("[", ".").replace("]", "").split(".")]


def set_key(data: dict, key: str, value: Any) -> None:
    """Set the dotted ``key`` of a parsed scenario: ``simulation.requests``, a list item
    by index (``target_groups.0.algorithm`` or ``target_groups[0].algorithm``) or by its
    ``name`` (``target_groups.web.algorithm``). The last key may be one the file leaves
    out (validation then says whether the schema knows it); ValueError otherwise."""
    segs = _segments(key)
    if any(not s for s in segs):
        raise ValueError(f"--vary: {key!r} is not a dotted key path")
    node: Any = data
    path = ""
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if isinstance(node, list):
            names = [item.get("name") for item in node if isinstance(item, dict)]
            if seg.isdigit():
                j = int(seg)
                if j >= len(node):
                    raise ValueError(f"--vary: {key}: {path} has {len(node)} items, no "
                                     f"index {j}")
            elif seg in names:
                j = names.index(seg)
            else:
                raise ValueError(f"--vary: {key}: {path} is a list: give an index or a "
                                 f"name ({', '.join(map(str, names))})")
            if last:
                node[j] = value
                return
            node, path = node[j], f"{path}[{seg}]"
            continue
        if not isinstance(node, dict):
            raise ValueError(f"--vary: {key}: {path} is a value, it has no key {seg!r}")
        if last:
            node[seg] = value
            return
        if seg not in node:
            known = ", ".join(sorted(node)) or "none"
            raise ValueError(f"--vary: {key}: no key {seg!r}"
                             f"{' under ' + path if path else ''} in the scenario "
                             f"(there: {known})")
        node, path = node[seg], f"{path}.{seg}" if path else seg


def _variants(raw: dict, source: str, vary: list[tuple[str, list[Any]]]) -> list:
    """Every combination of the varied values: (label, {key: value}, validated scenario)."""
    from lbcore.sim.scenario import ScenarioError, validate

    keys = [k for k, _ in vary]
    if len(set(keys)) != len(keys):
        raise ValueError("--vary: a key is varied twice")
    out = []
    for combo in itertools.product(*[vs for _, vs in vary]):
        data = copy.deepcopy(raw)
        for k, v in zip(keys, combo):
            set_key(data, k, v)
        label = ",".join(f"{k}={_show(v)}" for k, v in zip(keys, combo)) or "base"
        s, problems = validate(data)
        if problems:
            raise ScenarioError(f"{source} [{label}]", problems)
        s["source"] = source
        out.append((label, dict(zip(keys, combo)), s))
    return out


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _run_variant(label: str, values: dict, scenario: dict, requests, seed: int) -> list[dict]:
    """Simulate one variant with one seed → its rows (one per target group)."""
    from lbcore.sim import simulate

    r = simulate(scenario, requests=requests, seed=seed)
    rows = []
    for g in r["target_groups"]:
        lat = g["latency_ms"]
        row = {"variant": label, **values, "seed": r["seed"], "requests": r["requests"],
               **r["outcomes"], "target_group": g["name"], "group_requests": g["requests"],
               "group_errors": g["errors"], "p50_ms": lat["p50"], "p90_ms": lat["p90"],
               "p99_ms": lat["p99"], "mean_ms": lat["mean"]}
        rows.append(row)
    return rows


def sweep(scenario: str | None, vary: list[str] | list[tuple[str, list[Any]]], *,
          seeds: int = 1, requests: int | None = None, scheduler: str | None = None
          ) -> list[dict]:
    """Simulate every variant of a scenario file (each combination of the ``vary``
    values, each with ``seeds`` seeds: the variant's ``simulation.seed`` and the next
    ones) as Dask tasks; return one row per (variant, seed, target group) with the
    fields ``variant``, the varied keys, then :data:`SWEEP_FIELDS`.

    ``scenario``: a TOML file (None: lbcore's default scenario). ``vary``: ``KEY=V1,V2``
    strings (see :func:`parse_vary`, :func:`set_key`). ``scheduler``: a
    ``distributed`` scheduler address (``tcp://host:port``); None runs the tasks on
    dask's local threaded scheduler (the simulation loop releases the GIL). A bad key or value raises ValueError (a
    :class:`lbcore.sim.ScenarioError` for a value the schema refuses) before anything
    runs. Each row equals what ``lbcore.sim.simulate`` gives that variant locally.
    """
    from lbcore.sim import DEFAULT_SCENARIO, ScenarioError

    dask, delayed = _dask()
    if isinstance(seeds, bool) or not hasattr(seeds, "__index__"):
        raise TypeError(f"seeds must be an int, got {type(seeds).__name__}")
    seeds = operator.index(seeds)
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if isinstance(vary, str):
        raise TypeError("vary must be a list of KEY=V1,V2 strings, not one str")
    pairs = [parse_vary(v) if isinstance(v, str) else (v[0], list(v[1])) for v in vary]
    path = DEFAULT_SCENARIO if scenario is None else scenario
    source = "default scenario" if scenario is None else str(scenario)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise ScenarioError(source, [("", f"cannot read the file: {exc.strerror}")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [("", f"invalid TOML: {exc}")]) from None
    variants = _variants(raw, source, pairs)
    tasks = []
    for label, values, s in variants:
        base = s["simulation"]["seed"]
        for k in range(seeds):
            tasks.append(delayed(_run_variant)(label, values, s, requests,
                                               (base + k) % (1 << 64)))
    if scheduler is None:
        results = dask.compute(*tasks, scheduler="threads")
    else:
        from distributed import Client
        with Client(scheduler, timeout="5s", set_as_default=False) as client:
            results = client.gather(client.compute(list(tasks)))
    return [row for rows in results for row in rows]
