"""docs/dns.md's python blocks run as written (in order, one namespace): each starts a
server on 127.0.0.1 port 0 and stops it."""
import pytest

from _docblocks import python_blocks, run_block

pytest.importorskip("dns.message")


@pytest.mark.timeout(60)
def test_dns_page_examples_run():
    blocks = python_blocks("docs/dns.md")
    assert len(blocks) == 3
    ns = None
    for name, code in blocks:
        ns = run_block(name, code, ns)
