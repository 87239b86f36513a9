"""The public C API compiles from user code: a small Cython module that cimports the
public ``lbcore`` .pxd (``from lbcore cimport ...``) and calls kernels through it gives
the Python entry points' answers."""
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

import lbcore

pytest.importorskip("Cython")
pytest.importorskip("setuptools")

USER_PYX = textwrap.dedent('''
    # cython: language_level=3
    from libc.stdint cimport uint64_t, int32_t
    from lbcore cimport lb_jump_hash, lb_hash_u64, lb_rng, lb_rng_seed, lb_rng_next
    cimport lbcore

    def jump(uint64_t key, int32_t n):
        cdef int32_t b
        with nogil:
            b = lb_jump_hash(key, n)
        return b

    def hash_u64(uint64_t key, uint64_t seed):
        return lb_hash_u64(key, seed)

    def draws(uint64_t seed, int k):
        cdef lb_rng r
        lb_rng_seed(&r, seed)
        return [lb_rng_next(&r) for _ in range(k)]

    def geo_radius():
        return lbcore.LB_GEO_EARTH_RADIUS_KM
    ''')

SETUP = textwrap.dedent('''
    import sys
    from setuptools import setup, Extension
    from Cython.Build import cythonize
    setup(name="lbcore_user", script_args=["build_ext", "--inplace", "-q"],
          ext_modules=cythonize([Extension("lbcore_user", ["lbcore_user.pyx"])],
                                include_path=[sys.argv[1]], quiet=True))
    ''')


def _have_compiler():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


@pytest.mark.skipif(not _have_compiler(), reason="no C compiler")
def test_user_cython_module_cimports_the_public_pxd(tmp_path):
    (tmp_path / "lbcore_user.pyx").write_text(USER_PYX)
    (tmp_path / "setup.py").write_text(SETUP)
    r = subprocess.run([sys.executable, "setup.py", lbcore.get_include()], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    code = textwrap.dedent('''
        import lbcore, lbcore_user
        from lbcore import numba  # noqa: F401  (not needed: only checks nothing clashes)
        print(lbcore_user.jump(12345, 10), lbcore.jump_hash(12345, 10))
        print(lbcore_user.hash_u64(7, 9), int(lbcore.hash_u64_many([7], seed=9)[0]))
        r = lbcore.Random(3)
        print(lbcore_user.draws(3, 4) == [r.next_u64() for _ in range(4)])
        print(lbcore_user.geo_radius())
        ''')
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    a, b = lines[0].split()
    assert a == b
    a, b = lines[1].split()
    assert a == b
    assert lines[2] == "True"
    assert float(lines[3]) == pytest.approx(6371.0088)


def test_public_pxd_declares_every_exported_kernel():
    """Every lb_* name in a compiled module's __pyx_capi__ is cimported by __init__.pxd."""
    import importlib
    from pathlib import Path
    text = (Path(lbcore.get_include()) / "lbcore" / "__init__.pxd").read_text()
    missing = []
    for pxd in sorted((Path(lbcore.get_include()) / "lbcore").glob("_*.pxd")):
        try:
            mod = importlib.import_module(f"lbcore.{pxd.stem}")
        except ImportError:
            continue
        for name in getattr(mod, "__pyx_capi__", {}):
            if name.startswith("lb_") and name not in text:
                missing.append(f"lbcore.{pxd.stem}.{name}")
    assert not missing, f"exported kernels missing from lbcore/__init__.pxd: {missing}"
