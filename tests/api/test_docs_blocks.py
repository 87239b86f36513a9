"""Every ```python block of README.md and docs/*.md runs as written: each page's blocks in
order, in one namespace, written to files (so numba's cache=True works as it does for a
user). A block marked ``<!-- requires: X -->`` is skipped when X is not installed. Some
pages have further checks on what their blocks computed (PAGE_CHECKS)."""
import importlib.util

import pytest

from _docblocks import ROOT, doc_blocks, run_block

PAGES = [p for p in ["README.md"] + sorted(f"docs/{f.name}" for f in (ROOT / "docs").glob("*.md"))
         if doc_blocks(p)]


def _consistent(ns, blocks):
    assert ns["pick"](ns["mg"].table, ns["hashes"]).tolist() == \
        ns["mg"].select_many(ns["hashes"]).tolist()


def _request_selection(ns, blocks):
    lo = ns["lo"]
    lo._check()
    total = sum(lo.outstanding(t) for t in range(100))
    assert total == 10_000 - (10_000 + 2) // 3       # every third acquire was released


def _numba(ns, blocks):
    counts = ns["counts"]
    assert len(counts) == 8 and int(counts.sum()) == 100_000


def _throttling(ns, blocks):
    assert len(blocks) >= 2


def _dns(ns, blocks):
    # each block starts a server on 127.0.0.1 port 0, asks it, and stops it
    assert len(blocks) == 3


def _testing(ns, blocks):
    # the page's example is a set of hypothesis tests: call each one
    ran = []
    for k, v in list(ns.items()):
        if k.startswith("test_") and callable(v):
            v()
            ran.append(k)
    assert len(ran) >= 3, ran


PAGE_CHECKS = {"docs/consistent.md": _consistent, "docs/request-selection.md": _request_selection,
               "docs/numba.md": _numba, "docs/throttling.md": _throttling,
               "docs/testing.md": _testing, "docs/dns.md": _dns}


def test_the_pages_with_examples_are_found():
    assert {"README.md", "docs/elb.md", "docs/alb.md", "docs/route53.md",
            "docs/throttling.md"} | set(PAGE_CHECKS) <= set(PAGES)
    assert sum(len(doc_blocks(p)) for p in PAGES) >= 14   # README 2, docs 12 (+3 in dns.md)


@pytest.mark.parametrize("page", PAGES)
def test_page_blocks_run_as_written(page, tmp_path):
    blocks = doc_blocks(page)
    missing = sorted({m for _, _, req in blocks for m in req
                      if importlib.util.find_spec(m) is None})
    if missing:
        pytest.skip(f"{page} needs {', '.join(missing)}")
    ns = None
    for name, code, _ in blocks:
        ns = run_block(name, code, ns, directory=tmp_path)
    if page in PAGE_CHECKS:
        PAGE_CHECKS[page](ns, blocks)


def test_requires_comments_are_read():
    readme = doc_blocks("README.md")
    assert readme[0][2] == [] and readme[1][2] == ["numba"]
    assert doc_blocks("docs/numba.md")[0][2] == ["numba"]      # after an example: comment
    assert doc_blocks("docs/testing.md")[0][2] == ["hypothesis"]
    assert all(req == ["dns"] for _, _, req in doc_blocks("docs/dns.md"))   # dnspython
