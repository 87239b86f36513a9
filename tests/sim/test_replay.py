"""Trace files of ``lbcore simulate --trace`` and their replay through lbcore's public
policy objects (``lbcore replay``): the trace agrees with the report it came with, and
the objects built from the scenario (lbcore.sim.world) decide every request's DNS answer,
throttling and listener rule exactly as the simulator did."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from lbcore._sim import Engine, OUTCOMES, TRACE_FLOW_COLUMNS, TRACE_REQUEST_COLUMNS
from lbcore.sim import load_scenario, simulate
from lbcore.sim.model import compile_scenario
from lbcore.sim.scenario import validate
from lbcore.sim.world import build_world
from lbcore.sim.replay import FIELDS, read_trace, replay, write_trace
from lbcore.testing import strategies as lbst



def _trace(scenario, n, seed):
    model, meta = compile_scenario(scenario, requests=n, seed=seed)
    eng = Engine(model, seed, trace=True, world=build_world(scenario, seed))
    done = 0
    while done < n and not eng.finished:
        done += eng.run(min(n - done, 7_000))     # several chunks: rows keep their order
    return eng, eng.trace(), meta


def test_trace_columns_agree_with_the_report(tmp_path):
    path = tmp_path / "run.npz"
    rep = simulate(load_scenario(), requests=30_000, trace=str(path))
    cols, scenario, seed = read_trace(path)
    assert seed == 2026 and scenario["simulation"]["name"] == rep["scenario"]
    assert set(cols) == set(TRACE_REQUEST_COLUMNS) | set(TRACE_FLOW_COLUMNS)
    n = rep["requests"]
    assert all(len(cols[k]) == n for k in TRACE_REQUEST_COLUMNS)
    assert np.all(np.diff(cols["time"]) >= 0)
    out = np.bincount(cols["outcome"], minlength=5)
    assert dict(zip(OUTCOMES, out.tolist())) == {
        "served": rep["outcomes"]["served"], "target_error": rep["outcomes"]["target_errors"],
        "throttled": rep["outcomes"]["throttled"],
        "dns_no_answer": rep["outcomes"]["dns_no_answer"],
        "fixed_response": rep["outcomes"]["fixed_response"]}
    answers = np.bincount(cols["record"][cols["record"] >= 0], minlength=len(rep["dns"]))
    assert answers.tolist() == [d["answers"] for d in rep["dns"]]
    # every served request completes after it arrives; a flow row names its request
    served = cols["outcome"] == 0
    assert np.all(cols["done"][served] >= cols["time"][served])
    assert np.all(np.diff(cols["flow_request"]) >= 0) and cols["flow_request"].max() < n
    flows = sum(g["flows"][k] for g in rep["target_groups"] if "flows" in g
                for k in ("tcp_ipv4", "udp_ipv4", "tcp_ipv6", "udp_ipv6"))
    assert len(cols["flow_request"]) == flows


def test_tracing_changes_nothing_the_engine_counts():
    s = load_scenario()
    model, _ = compile_scenario(s, requests=20_000, seed=5)
    a = Engine(model, 5, world=build_world(s, 5))
    b = Engine(model, 5, trace=True, world=build_world(s, 5))
    a.run(20_000)
    b.run(12_000)
    b.run(8_000)
    for k, v in a.stats.items():
        assert np.array_equal(v, b.stats[k]), k
    with pytest.raises(ValueError, match="trace=True"):
        a.trace()
    with pytest.raises(TypeError, match="trace"):
        Engine(model, 5, trace=1, world=build_world(s, 5))
    with pytest.raises(TypeError, match="world must be"):
        Engine(model, 5, world=object())


def _default_at_a_thirtieth_of_its_rate():
    # every event of the default scenario (the last at 230 s) within 40,000 requests
    from lbcore.sim import DEFAULT_SCENARIO, parse_scenario
    text = DEFAULT_SCENARIO.read_text()
    for rps in (3000, 4500, 3500):
        text = text.replace(f"rps = {rps}\n", f"rps = {rps // 30}\n")
    return parse_scenario(text, "default at 1/30 rate")


@pytest.mark.parametrize("slow", [False, True], ids=["first-13s", "all-events"])
def test_default_scenario_replays_without_difference(slow):
    s = _default_at_a_thirtieth_of_its_rate() if slow else load_scenario()
    eng, cols, meta = _trace(s, 40_000, 2026)
    if slow:       # the run saw the failures, the region failure and the weight change
        assert eng.now > 235 and len(meta["health_changes"]) >= 6
        assert len(set(cols["record"][cols["name"] == meta["dns_names"].index(
            "www.example.com")].tolist())) == 2
    result = replay(cols, s, 2026)
    assert result.ok, result.difference
    assert result.requests == 40_000


def test_default_scenario_replays_every_field():
    s = load_scenario()
    _, cols, _ = _trace(s, 5_000, 2026)
    result = replay(cols, s, 2026)
    assert result.ok, result.difference


@settings(max_examples=int(__import__("os").environ.get("LBCORE_REPLAY_EXAMPLES", 15)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(lbst.scenarios())
def test_drawn_scenarios_replay_without_difference(data):
    import copy
    s, problems = validate(copy.deepcopy(data))
    assert not problems, problems
    seed = s["simulation"]["seed"]
    _, cols, _ = _trace(s, 400, seed)
    result = replay(cols, s, seed)
    assert result.ok, result.difference


def test_a_planted_difference_is_found_at_its_row_and_field():
    s = load_scenario()
    _, cols, meta = _trace(s, 3_000, 2026)
    # a weighted answer swapped for the other record of its name
    api = [i for i, (name, _, _, _) in enumerate(meta["records"]) if name == "api.example.com"]
    row = int(np.flatnonzero(np.isin(cols["record"], api))[10])
    bad = {k: v.copy() for k, v in cols.items()}
    bad["record"][row] = api[0] if cols["record"][row] == api[1] else api[1]
    d = replay(bad, s, 2026).difference
    assert d is not None and d.request == row and d.field == "record"
    assert "api-" in str(d) and f"request {row}" in str(d)
    # an admitted request marked throttled by the first limit: the limit differs there
    row = int(np.flatnonzero((cols["limit"] < 0) & (cols["record"] >= 0))[25])
    bad = {k: v.copy() for k, v in cols.items()}
    bad["limit"][row] = 0
    d = replay(bad, s, 2026).difference
    assert d is not None and d.request == row and d.field == "limit"
    with pytest.raises(ValueError, match="unknown fields"):
        replay(cols, s, 2026, check=("record", "colour"))


def test_cli_traces_and_replays(tmp_path):
    trace = tmp_path / "t.npz"
    run = [sys.executable, "-m", "lbcore"]
    p = subprocess.run(run + ["simulate", "--requests", "5000", "--quiet", "--trace",
                              str(trace)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(run + ["replay", str(trace), "--quiet"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and "5,000 requests replayed" in p.stdout, (p.stdout, p.stderr)
    assert "no difference in " + ", ".join(FIELDS) in p.stdout
    # a flow placed elsewhere than the objects place it: exit 1 at its request
    cols, scenario, seed = read_trace(trace)
    bad = {k: v.copy() for k, v in cols.items()}
    j = int(np.flatnonzero(bad["flow_target"] >= 0)[40])
    bad["flow_target"][j] = -1
    bad["inspected_by"][bad["flow_request"][j]] = -1
    bad["target"][bad["flow_request"][j]] = -1
    planted = tmp_path / "planted.npz"
    write_trace(planted, bad, scenario, seed)
    p = subprocess.run(run + ["replay", str(planted), "--quiet", "--check",
                              "inspected_by,flow_target"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 1 and "first difference" in p.stdout and "request " in p.stdout
    p = subprocess.run(run + ["replay", str(planted), "--quiet", "--check", "record,limit"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a trace")
    p = subprocess.run(run + ["replay", str(junk)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "not a readable .npz trace" in p.stderr
    # a trace whose columns were cut short: an error, not a traceback
    cols, scenario, seed = read_trace(trace)
    cut = tmp_path / "cut.npz"
    write_trace(cut, {**cols, "time": cols["time"][:10]}, scenario, seed)
    p = subprocess.run(run + ["replay", str(cut), "--quiet"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "columns of different lengths" in p.stderr, p.stderr
    np.savez(tmp_path / "noscn.npz", format=np.array("lbcore-trace-1"), seed=np.array(1))
    p = subprocess.run(run + ["replay", str(tmp_path / "noscn.npz")], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "no readable scenario" in p.stderr, p.stderr
    p = subprocess.run(run + ["replay", str(trace), "--check", "colour"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "unknown fields colour" in p.stderr
