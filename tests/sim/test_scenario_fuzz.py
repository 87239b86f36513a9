"""Scenario-file mutation fuzz: every value of the default scenario (walking the TOML tree:
tables, arrays and scalars alike) replaced by wrong types, empty, huge and nested values;
`lbcore validate` and then `lbcore simulate` on each must end in exit 0 or 2 with one
`lbcore: error:`/`lbcore: warning:` line per message -- never a traceback or another
status. The CLI has no catch-all handler, so a validation gap fails here.

The suite runs a deterministic sample (LBCORE_SCENARIO_FUZZ=N for N mutations,
LBCORE_SCENARIO_FUZZ=all for every one); the counts are printed with -s.
"""
import json
import math
import os
import random
import subprocess
import sys
import traceback

import pytest

from lbcore.cli import main
from lbcore.sim import DEFAULT_SCENARIO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BASE = tomllib.loads(DEFAULT_SCENARIO.read_text())
SAMPLE = 300


def _nest(depth):
    v = [1]
    for _ in range(depth):
        v = [v]
    return v


REPLACEMENTS = [
    ("empty string", ""), ("2,000 characters", "x" * 2000), ("a line break", "a\nb"),
    ("a NUL", "a\x00b"), ("unicode", "ü.例え"), ("zero", 0), ("minus one", -1),
    ("huge int", 2**63 - 1), ("huge float", 1e300), ("nan", math.nan), ("inf", math.inf),
    ("a fraction", 0.5), ("true", True), ("empty array", []), ("mixed array", [1, "a", {}]),
    ("empty table", {}), ("nested table", {"k": {"k": {"k": [1]}}}), ("nested 40", _nest(40)),
]


# -- a small TOML writer (inline tables, one line per top-level key) -----------------------

def _s(v):
    out = ['"']
    for c in v:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out) + '"'


def _v(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return _s(v)
    if isinstance(v, list):
        return "[" + ", ".join(_v(x) for x in v) + "]"
    return "{" + ", ".join(f"{_s(k)} = {_v(x)}" for k, x in v.items()) + "}"


def dumps(doc: dict) -> str:
    return "".join(f"{_s(k)} = {_v(v)}\n" for k, v in doc.items())


def _paths(v, path=()):
    """Every location in the tree (not the root)."""
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        yield path + (k,)
        yield from _paths(x, path + (k,))


def _replaced(path, value):
    doc = json.loads(json.dumps(BASE))          # a deep copy (the default has no nan/inf)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _near_misses(v):
    """Values of the right type that are slightly or grossly off: a typo'd name or choice,
    a time in ms where seconds are meant, a sign flip."""
    if isinstance(v, str):
        return [("typo", v + "x"), ("upper case", v.upper()), ("trailing dot", v + ".")]
    if isinstance(v, bool):
        return [("negated", not v)]
    if isinstance(v, (int, float)):
        return [("x1000", v * 1000), ("negated", -v), ("plus one", v + 1)]
    return []


def _at(path):
    node = BASE
    for k in path:
        node = node[k]
    return node


def mutations():
    out = []
    for path in _paths(BASE):
        for what, value in REPLACEMENTS + _near_misses(_at(path)):
            out.append((path, what, value))
    # deletions of every table key, too (a required key missing)
    out += [(p, "deleted", None) for p in _paths(BASE) if isinstance(p[-1], str)]
    return out


def _deleted(path):
    doc = json.loads(json.dumps(BASE))
    node = doc
    for k in path[:-1]:
        node = node[k]
    del node[path[-1]]
    return doc


def text_of(path, what, value):
    return dumps(_deleted(path) if what == "deleted" else _replaced(path, value))


def _run_cli(capsys, argv):
    """(exit status, stderr) of one in-process CLI run; a traceback is returned as text."""
    try:
        code = main(argv)
    except BaseException:                         # noqa: B036 -- recorded, then asserted
        return None, traceback.format_exc()
    _, err = capsys.readouterr()
    return code, err


def check_file(capsys, path):
    """validate, then simulate when it validates; a list of failures (empty: fine)."""
    failures = []
    code, err = _run_cli(capsys, ["validate", path])
    runs = [("validate", code, err)]
    if code == 0:
        code, err = _run_cli(capsys, ["simulate", path, "--requests", "200", "--quiet"])
        runs.append(("simulate", code, err))
    for cmd, code, err in runs:
        if code not in (0, 2):
            failures.append(f"{cmd}: exit {code}: {err[-2000:]}")
            continue
        for line in err.splitlines():
            if not line.startswith(("lbcore: error: ", "lbcore: warning: ")):
                failures.append(f"{cmd}: stray stderr line {line[:200]!r}")
    return runs[-1][1], failures


def _selected():
    every = mutations()
    want = os.environ.get("LBCORE_SCENARIO_FUZZ", str(SAMPLE))
    if want == "all":
        return every
    return random.Random(20).sample(every, min(int(want), len(every)))


def test_the_writer_round_trips_the_default_scenario():
    assert tomllib.loads(dumps(BASE)) == BASE


def test_mutated_scenarios_exit_0_or_2_never_a_traceback(capsys, tmp_path):
    chosen = _selected()
    counts = {0: 0, 2: 0}
    failures = []
    f = tmp_path / "m.toml"
    for path, what, value in chosen:
        f.write_text(text_of(path, what, value), encoding="utf-8")
        code, bad = check_file(capsys, str(f))
        if bad:
            failures.append((".".join(map(str, path)), what, bad[0][-700:]))
        else:
            counts[code] += 1
    with capsys.disabled():
        print(f"\nscenario fuzz: {len(chosen)} mutations tried (of {len(mutations())}), "
              f"exit 0: {counts[0]}, exit 2: {counts[2]}, tracebacks/other: {len(failures)}")
    assert not failures, failures[:5]
    assert counts[2] > len(chosen) // 2         # most mutations really are invalid


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_few_mutations_through_a_real_process(tmp_path, index):
    every = mutations()
    path, what, value = random.Random(7 + index).choice(
        [m for m in every if m[1] in ("2,000 characters", "nested 40", "nan", "empty string")])
    f = tmp_path / "m.toml"
    f.write_text(text_of(path, what, value), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "lbcore", "validate", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 2), p.stderr
    assert "Traceback" not in p.stderr
