"""Run the ```python blocks of a Markdown file as code.

Each block is compiled under a name of its own (``docs/x.md:LINE``) whose source is put
in ``linecache``: tracebacks then show the block's lines, and tools that read a
function's source (hypothesis does) get Python, not the surrounding Markdown. Given a
``directory``, the block is also written there as a file and compiled under that file's
name, so code that needs a real source file (numba's ``@njit(cache=True)``) runs as
written.

A block that needs an optional extra says so in an HTML comment on the line(s) right
before it: ``<!-- requires: numba -->`` (several names: ``<!-- requires: numba, hypothesis -->``).
"""
import linecache
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_COMMENTS = re.compile(r"(?:^<!--.*?-->[ \t]*\n)+\Z", re.M)
_REQUIRES = re.compile(r"<!--\s*requires:\s*([^>]*?)\s*-->")


def doc_blocks(path):
    """[(name, code, requires)] for every ```python block of ``path`` (relative to the repo
    root); ``requires``: the module names of its ``<!-- requires: ... -->`` comments."""
    text = (ROOT / path).read_text()
    out = []
    for m in _BLOCK.finditer(text):
        before = _COMMENTS.search(text, 0, m.start())
        requires = []
        if before:
            for r in _REQUIRES.findall(before.group(0)):
                requires += [x.strip() for x in r.split(",") if x.strip()]
        out.append((f"{path}:{text.count(chr(10), 0, m.start()) + 2}", m.group(1), requires))
    return out


def python_blocks(path):
    """[(name, code)] for every ```python block of ``path`` (relative to the repo root)."""
    return [(name, code) for name, code, _ in doc_blocks(path)]


def run_block(name, code, namespace=None, directory=None):
    """Execute one block; returns its namespace."""
    filename = name
    if directory is not None:
        filename = str(Path(directory) / (re.sub(r"\W", "_", name) + ".py"))
        Path(filename).write_text(code)
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    ns = {"__name__": "__docblock__"} if namespace is None else namespace
    exec(compile(code, filename, "exec"), ns)
    return ns
