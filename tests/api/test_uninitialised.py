"""Compiled objects are safe before (and after a failed) __init__: made with
``cls.__new__(cls)`` alone, every method answers or raises TypeError/ValueError/
LookupError/IndexError, never dereferences a NULL buffer, hangs or corrupts the heap.
The calls run in a subprocess, so a crash is a failure of this test, not a lost run."""
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(r'''
    import sys
    import numpy as np
    import lbcore

    flow = lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 1000, 80)
    flows = lbcore.Flows.from_flows([flow, flow])
    hashes = np.arange(4, dtype=np.uint64)
    CALLS = {
        "Maglev": [("select_index", (7,)), ("select", (7,)), ("select_many", (hashes,)),
                   ("select_many", (flows,))],
        "JumpHash": [("select_index", (7,)), ("select_many", (hashes,))],
        "Rendezvous": [("select_index", (7,)), ("select_many", (hashes,))],
        "FlowTable": [("route", (flow, 1.0, lbcore.Maglev(range(3), table_size=307))),
                      ("route_many", (flows, 1.0, lbcore.Maglev(range(3), table_size=307))),
                      ("expire", (2.0,)), ("resize", (16,)), ("__len__", ())],
        "PrefixTable": [("lookup", ("10.0.0.1",)), ("lookup", ("::1",)),
                        ("lookup_many", (np.arange(4, dtype=np.uint32),), {"version": 4}),
                        ("lookup_many", (flows,))],
        "Random": [("bounded", (10,)), ("uniform", ()), ("next_u64", ())],
        "LeastOutstanding": [("pick_index", (0.0,)), ("add", ("x",), {"now": 0.0}),
                             ("pick", (0.0,)), ("release", ("x",))],
        "PowerOfTwoChoices": [("pick_index", (0.0,)), ("add", ("x",), {"now": 0.0}),
                              ("add", ("y",), {"now": 0.0}), ("pick", (0.0,))],
        "RoundRobin": [("pick_index", (0.0,)), ("add", ("x",), {"now": 0.0}),
                       ("pick", (0.0,))],
        "WeightedRandom": [("pick_index", (0.0,)), ("add", ("x",), {"now": 0.0}),
                           ("pick", (0.0,))],
        "TokenBuckets": [("check", (0, 0.0)), ("check_many", (np.zeros(2, np.int64),
                                                              np.zeros(2)))],
        "Geoproximity": [("nearest", (0.0, 0.0))],
    }
    ALLOWED = (TypeError, ValueError, LookupError, IndexError)
    for name, calls in CALLS.items():
        obj = getattr(lbcore, name).__new__(getattr(lbcore, name))
        for call in calls:
            meth, args = call[0], call[1]
            kwargs = call[2] if len(call) > 2 else {}
            try:
                getattr(obj, meth)(*args, **kwargs)
            except ALLOWED:
                pass
            print(name, meth, "ok", flush=True)
    # a second __init__ that fails keeps the object usable, with its old targets
    lor = lbcore.LeastOutstanding(["a", "b"])
    for bad in ([], [["unhashable"]], ["a", "a"]):
        try:
            lor.__init__(bad)
        except ALLOWED:
            pass
    for _ in range(100):
        t = lor.pick(0.0)
        assert t in ("a", "b"), t
    for _ in range(100):
        lor.release("a") if lor.outstanding("a") else lor.release("b")
    print("done")
''')


def test_every_compiled_class_is_safe_without_init():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120)
    last = proc.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert proc.returncode == 0, (f"exit {proc.returncode} after {last[0]!r}\n"
                                  f"{proc.stderr[-2000:]}")
    assert last == ["done"]
