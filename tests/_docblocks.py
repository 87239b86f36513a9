"""Run the ```python blocks of a Markdown file as code.

Each block is compiled under a name of its own (``docs/x.md:LINE``) whose source is put
in ``linecache``: tracebacks then show the block's lines, and tools that read a
function's source (hypothesis does) get Python, not the surrounding Markdown.
"""
import linecache
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path):
    """[(name, code)] for every ```python block of ``path`` (relative to the repo root)."""
    text = (ROOT / path).read_text()
    return [(f"{path}:{text.count(chr(10), 0, m.start()) + 2}", m.group(1))
            for m in _BLOCK.finditer(text)]


def run_block(name, code, namespace=None):
    """Execute one block; returns its namespace."""
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    ns = {"__name__": "__docblock__"} if namespace is None else namespace
    exec(compile(code, name, "exec"), ns)
    return ns
