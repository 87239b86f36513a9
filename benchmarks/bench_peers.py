"""lbcore beside its peer libraries under pytest-benchmark: every case of
:func:`lbcore.bench.cases` (the one definition of the peer comparisons, which
``lbcore bench`` also times), grouped by comparison.

    python -m pytest benchmarks/bench_peers.py --benchmark-enable -q \
        --benchmark-columns=median,rounds

A case's set-up (its comparison's shared inputs, then ``case.make()``) runs outside the
timed region. One call of the timed callable handles ``case.items`` items: divide the
median by it for ns per item (``lbcore bench`` prints that directly). A peer that is not
installed is skipped.
"""
import warnings

import pytest

from lbcore import bench

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    TABLES = bench.cases(quick=True)
CASES = [(title, case) for title, table in TABLES for case in table]
# ids: table number, the table's family ("hash", "lor/p2c", ...), the case's name
IDS = [f"{i:02d}-{title.split(':')[0]}-{case.name}"
       for i, (title, table) in enumerate(TABLES) for case in table]


@pytest.mark.parametrize("title, case", CASES, ids=IDS)
def test_peer_case(benchmark, title, case):
    try:
        fn = case.make()
    except ImportError as exc:
        pytest.skip(f"{bench.NOT_INSTALLED} ({exc.name or exc})")
    benchmark.group = title
    benchmark.extra_info["items"] = case.items
    benchmark.extra_info["note"] = case.note
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark(fn)
