"""The python blocks of the ELB pages run as written (each page's blocks in order, in one
namespace)."""
import pytest

from _docblocks import python_blocks, run_block


@pytest.mark.parametrize("page", ["docs/elb.md", "docs/alb.md"])
def test_page_examples_run(page):
    blocks = python_blocks(page)
    assert blocks
    ns = None
    for name, code in blocks:
        ns = run_block(name, code, ns)
