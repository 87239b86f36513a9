"""The numba bridge: @njit(cache=True) really caches (the docs' example runs in
tests/api/test_docs_blocks.py)."""
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")


def _run(script, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


CACHE_SCRIPT = textwrap.dedent("""
    import numba
    import numpy as np
    from lbcore import numba as lbn

    @numba.njit(cache=True)
    def total(keys, seed):
        acc = np.uint64(0)
        for k in keys:
            acc ^= lbn.hash_u64(k, seed)
            acc ^= lbn.flow_hash(6, 2, 0, k & np.uint64(0xFFFFFFFF), 0, 12345,
                                 1, 2, np.uint32(7), lbn.FIELDS_5, False, seed)
        return acc

    keys = np.arange(1000, dtype=np.uint64)
    result = total(keys, np.uint64(3))
    stats = total.stats
    print(int(result), sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
""")


def test_njit_cache_true_is_reused_across_processes(tmp_path):
    script = tmp_path / "cached.py"
    script.write_text(CACHE_SCRIPT)
    cache = tmp_path / "numba_cache"
    first = _run(script, cache).split()
    second = _run(script, cache).split()
    # first process compiles (a miss), second loads the compiled code (a hit, no miss)
    assert first[1:] == ["0", "1"], first
    assert second[1:] == ["1", "0"], second
    assert first[0] == second[0]
    assert any(p.suffix == ".nbi" for p in cache.rglob("*")), "no numba index file written"
    # and the cached code computes what lbcore computes
    import numpy as np
    import lbcore
    expected = 0
    for k in range(1000):
        expected ^= lbcore.hash_key(k, seed=3)
        expected ^= lbcore.flow_hash_fields(6, k, 12345, 1, 2, 7, seed=3)
    assert int(first[0]) == expected
