"""lbcore.testing.strategies draw valid values, and fail clearly without hypothesis."""
import subprocess
import sys
import textwrap

from hypothesis import given, settings, strategies as st

import lbcore
from lbcore.testing import strategies as lbst


@settings(max_examples=60, deadline=None)
@given(lbst.flows())
def test_flows_are_flows_and_round_trip(f):
    assert isinstance(f, lbcore.Flow)
    assert f.reversed().reversed() == f
    assert lbcore.flow_hash(f, symmetric=True) == lbcore.flow_hash(f.reversed(), symmetric=True)


@settings(max_examples=20, deadline=None)
@given(lbst.flows(v6=True, protocols=(17,)))
def test_flows_respect_family_and_protocol(f):
    assert f.is_ipv6 and f.protocol == 17 and f.sequence is None


@settings(max_examples=30, deadline=None)
@given(lbst.flow_batches(min_size=1, max_size=40))
def test_flow_batches_scalar_equals_batch(flows):
    assert isinstance(flows, lbcore.Flows) and 1 <= len(flows) <= 40
    assert [lbcore.flow_hash(f) for f in flows] == lbcore.flow_hash(flows).tolist()


@settings(max_examples=30, deadline=None)
@given(lbst.target_sets(min_size=2, max_size=8, max_zones=2))
def test_target_sets(ts):
    assert 2 <= len(ts) <= 8
    assert len({t["id"] for t in ts}) == len(ts)
    assert all(t["az"] in ("us-east-1a", "us-east-1b") and 1 <= t["weight"] <= 999 for t in ts)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_health_event_sequences_alternate(data):
    n = data.draw(st.integers(1, 5))
    evs = data.draw(lbst.health_event_sequences(n, horizon=60.0))
    assert [t for t, _, _ in evs] == sorted(t for t, _, _ in evs)
    state = [True] * n
    for t, k, healthy in evs:
        assert 0 <= t <= 60.0 and 0 <= k < n and healthy == (not state[k])
        state[k] = healthy


@settings(max_examples=30, deadline=None)
@given(lbst.throttle_settings(), lbst.arrival_times(max_size=50))
def test_throttle_settings_and_arrivals(cfg, times):
    assert cfg["rate"] > 0 and cfg["burst"] >= 1
    assert times == sorted(times) and len(times) <= 50


def test_docs_example_runs():
    # the example in docs/testing.md, run as written
    import re
    from pathlib import Path
    doc = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
    code = re.search(r"```python\n(.*?)```", doc.read_text(), re.S).group(1)
    ns = {}
    exec(compile(code, str(doc), "exec"), ns)
    tests = [v for k, v in ns.items() if k.startswith("test_")]
    assert tests
    for t in tests:
        t()


def test_import_without_hypothesis_is_a_clear_error():
    code = textwrap.dedent("""
        import sys
        sys.modules["hypothesis"] = None
        try:
            import lbcore.testing.strategies
        except ImportError as e:
            print("IMPORTERROR", e)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "IMPORTERROR" in p.stdout and "pip install 'lbcore[test]'" in p.stdout, p.stderr
