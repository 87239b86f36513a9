"""`lbcore bench`: the table format, every kernel family covered, missing peers reported.

No timing is asserted (speed lives in benchmarks/); these check what the command prints.
"""
import re
import sys

import pytest

from lbcore import bench
from lbcore.cli import main

FAMILIES = ["hash", "flow", "maglev", "jump", "rendezvous", "flowtable", "lor/p2c",
            "roundrobin", "alias", "bucket", "geo", "lpm", "nlb/gwlb", "geneve", "sim"]
PEERS = ["mmh3", "xxhash", "uhashring", "clandestined", "token_bucket", "limits",
         "pyrate_limiter", "jump"]
TIMED = re.compile(r"^  (\S.*?) +(\d+\.\d) ns(?: +x +(\d+\.\d))?(?: +(.*))?$")
MISSING = re.compile(r"^  (\S.*?) +- +not installed \((\w+)\)$")


def _tables(out):
    """{title: [row lines]} from the printed output (tables are separated by blank lines)."""
    blocks = out.strip().split("\n\n")
    assert blocks[0].startswith("lbcore bench")
    tables = {}
    for b in blocks[1:]:
        title, *rows = b.splitlines()
        assert rows, title
        tables[title] = rows
    return tables


def test_bench_quick_covers_every_family(capsys):
    assert main(["bench", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "--quick" in out.splitlines()[0] and "ratio = peer / lbcore" in out
    tables = _tables(out)
    prefixes = {t.split(":")[0] for t in tables}
    for fam in FAMILIES:
        assert any(fam in p.split("/") or fam == p for p in prefixes), fam
    for title, rows in tables.items():
        assert title.endswith(")")                       # the unit: (ns/...)
        first = TIMED.match(rows[0])
        assert first and first.group(1).startswith("lbcore") and first.group(3) is None, rows[0]
        for r in rows[1:]:
            m = TIMED.match(r) or MISSING.match(r)
            assert m, r
            if TIMED.match(r):
                assert m.group(3) is not None, r         # every later row has its ratio
    # the Maglev tables say there is no Maglev peer and what they compare against instead
    maglev = [rows for t, rows in tables.items() if t.startswith("maglev")]
    assert maglev and all(any("implements Maglev" in r for r in rows) for rows in maglev)


def test_missing_peers_are_rows_not_crashes(monkeypatch, capsys):
    for name in PEERS:
        monkeypatch.setitem(sys.modules, name, None)     # import now fails
    comparisons = [bench._hash_per_call, bench._consistent_per_call, bench._bucket_per_call]
    assert bench.run_bench(quick=True, comparisons=comparisons) == 0
    tables = _tables(capsys.readouterr().out)
    missing = {MISSING.match(r).group(2) for rows in tables.values() for r in rows
               if MISSING.match(r)}
    assert missing == set(PEERS)
    for rows in tables.values():                         # lbcore's own rows still timed
        assert TIMED.match(rows[0])


def test_format_table():
    text = bench.format_table("t (ns/x)", [("lbcore.a", 10.0, "note"), ("peer", 25.0, ""),
                                           ("gone", None, "not installed (gone)")])
    lines = text.splitlines()
    assert lines[0] == "t (ns/x)"
    assert TIMED.match(lines[1]).group(2) == "10.0" and TIMED.match(lines[1]).group(4) == "note"
    assert TIMED.match(lines[2]).group(3) == "2.5"
    assert MISSING.match(lines[3]).group(2) == "gone"


def test_row_reports_a_failed_import():
    def make():
        import lbcore_no_such_peer  # noqa: F401
    name, ns, note = bench._row("x", make, 1, True)
    assert ns is None and note == "not installed (lbcore_no_such_peer)"


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_numpy_jump_baseline_is_the_same_algorithm(n):
    # the jump baseline computes what lbcore.jump_hash computes, so the ratio is like for like
    import lbcore
    h = bench._hashes(2000, 9)
    assert bench._jump_numpy(h, n).tolist() == [lbcore.jump_hash(int(k), n) for k in h]


def test_cases_are_data_with_lbcore_first():
    tables = bench.cases(quick=True)
    titles = [t for t, _ in tables]
    assert len(titles) == len(set(titles))
    for title, table in tables:
        assert table and table[0].name.startswith("lbcore"), title
        for case in table:
            assert isinstance(case, bench.Case) and case.items > 0 and callable(case.make)


def test_benchmarks_collect_every_bench_file_and_every_peer_case():
    # `python -m pytest benchmarks` collects the bench_*.py files (benchmarks/conftest.py),
    # and bench_peers.py wraps every case of lbcore.bench, once
    import os
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
    out = subprocess.run([sys.executable, "-m", "pytest", "benchmarks", "--collect-only", "-q",
                          "-p", "no:cacheprovider"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300).stdout
    files = {line.split("::")[0] for line in out.splitlines() if "::" in line}
    assert files == {f"benchmarks/{p.name}" for p in (root / "benchmarks").glob("bench_*.py")}
    peers = [line for line in out.splitlines() if "bench_peers.py::test_peer_case" in line]
    assert len(peers) == sum(len(table) for _, table in bench.cases(quick=True))
    # a file named on the command line is collected once, not twice
    one = subprocess.run([sys.executable, "-m", "pytest", "benchmarks/bench_peers.py",
                          "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300).stdout
    assert sorted(line for line in one.splitlines() if "::" in line) == sorted(peers)
