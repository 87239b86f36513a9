"""Every ```python block of docs/*.md and README.md runs as written (each page's blocks in
order, in one namespace). Pages whose blocks use numba's ``cache=True`` run from a real
file, which numba needs to place its cache."""
import runpy
from pathlib import Path

import pytest

from _docblocks import ROOT, python_blocks, run_block

PAGES = [p for p in sorted(str(q.relative_to(ROOT)) for q in (ROOT / "docs").glob("*.md"))
         + ["README.md"] if python_blocks(p)]


@pytest.mark.parametrize("page", PAGES)
def test_page_blocks_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    if any("numba" in code for _, code in blocks):
        pytest.importorskip("numba")
        script = tmp_path / (Path(page).stem.replace("-", "_") + "_blocks.py")
        script.write_text("\n".join(code for _, code in blocks))
        monkeypatch.chdir(tmp_path)
        runpy.run_path(str(script), run_name="__docblock__")
        return
    ns = None
    for name, code in blocks:
        ns = run_block(name, code, ns)


def test_every_page_with_code_is_run():
    assert {"README.md", "docs/alb.md", "docs/elb.md", "docs/route53.md"} <= set(PAGES)
