"""lbcore.dask.sweep and ``lbcore sweep`` on a real dask.distributed LocalCluster (2 worker
processes): each row equals what lbcore.sim.simulate gives that variant and seed in this
process; bad keys and values are one-line errors with exit status 2. The cluster is
bounded in time (pytest-timeout) and closed at the end."""
from __future__ import annotations

import copy
import csv
import io
import json
import subprocess
import sys

import pytest

distributed = pytest.importorskip("distributed")

from lbcore.dask import SWEEP_FIELDS, parse_vary, set_key, sweep  # noqa: E402
from lbcore.sim import DEFAULT_SCENARIO, ScenarioError, simulate  # noqa: E402
from lbcore.sim.scenario import tomllib, validate  # noqa: E402

pytestmark = pytest.mark.timeout(300)

REQUESTS = 4000


@pytest.fixture(scope="module")
def cluster():
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None, host="127.0.0.1")
    try:
        yield c
    finally:
        c.close()


def local_variant(changes: dict, seed_offset=0):
    """The default scenario with ``changes`` applied, simulated here."""
    with open(DEFAULT_SCENARIO, "rb") as f:
        raw = tomllib.load(f)
    data = copy.deepcopy(raw)
    for k, v in changes.items():
        set_key(data, k, v)
    s, problems = validate(data)
    assert not problems
    s["source"] = "default scenario"
    return simulate(s, requests=REQUESTS, seed=s["simulation"]["seed"] + seed_offset)


def check_rows(rows, changes, report, label):
    mine = [r for r in rows if r["variant"] == label and r["seed"] == report["seed"]]
    assert [r["target_group"] for r in mine] == [g["name"] for g in report["target_groups"]]
    for row, g in zip(mine, report["target_groups"]):
        for k, v in changes.items():
            assert row[k] == v
        assert row["requests"] == report["requests"] == REQUESTS
        assert {k: row[k] for k in report["outcomes"]} == report["outcomes"]
        assert (row["group_requests"], row["group_errors"]) == (g["requests"], g["errors"])
        lat = g["latency_ms"]
        assert (row["p50_ms"], row["p90_ms"], row["p99_ms"], row["mean_ms"]) == \
            (lat["p50"], lat["p90"], lat["p99"], lat["mean"])


def test_sweep_on_cluster_equals_local_runs(cluster):
    key = "target_groups.web-use1.targets.0.workers"
    rows = sweep(None, [f"{key}=1,16", "traffic.flows.udp=0.4"], seeds=2, requests=REQUESTS,
                 scheduler=cluster.scheduler_address)
    assert len(rows) == 2 * 2 * 6         # variants x seeds x target groups
    assert list(rows[0]) == ["variant", key, "traffic.flows.udp", *SWEEP_FIELDS]
    reports = {}
    for workers in (1, 16):
        for off in (0, 1):
            changes = {key: workers, "traffic.flows.udp": 0.4}
            reports[workers, off] = local_variant(changes, off)
            check_rows(rows, changes, reports[workers, off],
                       f"{key}={workers},traffic.flows.udp=0.4")
    # the variants and seeds really differ (the comparison above can fail)
    assert reports[1, 0]["target_groups"][0]["latency_ms"] != \
        reports[16, 0]["target_groups"][0]["latency_ms"]
    assert reports[1, 0]["target_groups"] != reports[1, 1]["target_groups"]


def test_sweep_local_scheduler_equals_local_runs():
    rows = sweep(None, ["simulation.seed=5,6"], requests=REQUESTS)
    for seed in (5, 6):
        check_rows(rows, {"simulation.seed": seed},
                   local_variant({"simulation.seed": seed}), f"simulation.seed={seed}")


def test_parse_vary_and_set_key():
    assert parse_vary("a.b=1,2.5,true,x,\"y,z\",[1, 2]") == \
        ("a.b", [1, 2.5, True, "x", "y,z", [1, 2]])
    data = {"a": {"b": 1}, "l": [{"name": "p", "v": 1}, {"name": "q", "v": 2}]}
    set_key(data, "l.q.v", 5)
    set_key(data, "l[0].v", 7)
    set_key(data, "a.c", 3)
    assert data == {"a": {"b": 1, "c": 3}, "l": [{"name": "p", "v": 7}, {"name": "q", "v": 5}]}
    for key, msg in [("z.b", "no key 'z'"), ("l.r.v", "give an index or a name"),
                     ("l.5.v", "has 2 items"), ("a.b.c", "is a value"), ("a..b", "dotted")]:
        with pytest.raises(ValueError, match=msg):
            set_key(data, key, 1)
    for text in ("a.b", "=1", "a=", "a=1,,2"):
        with pytest.raises(ValueError, match="--vary"):
            parse_vary(text)
    with pytest.raises(ScenarioError, match=r"simulation.requests: expected an integer >= 1"):
        sweep(None, ["simulation.requests=0"])
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        sweep(None, ["simulation.seed=1"], seeds=0)
    with pytest.raises(TypeError, match="vary must be a list"):
        sweep(None, "simulation.seed=1")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lbcore", "sweep", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_csv_and_json(cluster, tmp_path):
    out = tmp_path / "sweep.csv"
    p = run_cli("--vary", "traffic.flows.ipv6=0.2,0.9", "--requests", str(REQUESTS),
                "--scheduler", cluster.scheduler_address, "-o", str(out))
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 12
    assert rows[0]["variant"] == "traffic.flows.ipv6=0.2"
    report = local_variant({"traffic.flows.ipv6": 0.9})
    mine = [r for r in rows if r["variant"] == "traffic.flows.ipv6=0.9"]
    assert [int(r["group_requests"]) for r in mine] == \
        [g["requests"] for g in report["target_groups"]]
    assert [float(r["p99_ms"]) for r in mine] == \
        [g["latency_ms"]["p99"] for g in report["target_groups"]]
    p = run_cli("--vary", "simulation.seed=3", "--requests", str(REQUESTS), "--format", "json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    report = local_variant({"simulation.seed": 3})
    assert [r["mean_ms"] for r in rows] == [g["latency_ms"]["mean"]
                                            for g in report["target_groups"]]


@pytest.mark.parametrize("args, message", [
    (["--vary", "simulation.nope=1"], "simulation.nope: unknown key"),
    (["--vary", "simulation.requests=-5"], "simulation.requests: expected an integer >= 1"),
    (["--vary", "nowhere.x=1"], "no key 'nowhere' in the scenario"),
    (["--vary", "simulation.seed"], "expected KEY=V1,V2"),
    (["--vary", "a=1", "/nonexistent/s.toml"], "/nonexistent/s.toml"),
    (["--vary", "simulation.seed=1", "--scheduler", "tcp://127.0.0.1:9"],
     "cannot reach the scheduler"),
])
def test_cli_errors_one_line_exit_2(args, message):
    p = run_cli(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbcore: error: ") and message in lines[0], \
        p.stderr
    assert p.stdout == ""
