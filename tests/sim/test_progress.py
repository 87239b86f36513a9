"""The progress bar of ``lbcore simulate``: tqdm on a terminal, nothing otherwise."""
import io
import os
import fcntl
import pty
import struct
import sys
import termios

import pytest

from lbcore.sim.progress import progress_bar


def _on_pty(fn):
    """Run ``fn(stream)`` with a text stream on a real pseudo-terminal; return what it
    wrote to the terminal."""
    master, slave = pty.openpty()
    # a new pseudo-terminal is 0 x 0; give it a real terminal's 24 x 80
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        with open(slave, "w", closefd=False) as stream:
            assert stream.isatty()
            fn(stream)
            stream.flush()
        os.set_blocking(master, False)
        chunks = []
        while True:
            try:
                b = os.read(master, 65536)
            except (BlockingIOError, OSError):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(slave)
        os.close(master)


def _run(stream, **kw):
    update, close = progress_bar(stream, **kw)
    for done in (250_000, 500_000, 1_000_000):
        update(done, 1_000_000)
    close()


def test_bar_on_a_terminal_shows_requests_done():
    pytest.importorskip("tqdm")
    out = _on_pty(lambda s: _run(s, delay=0))
    assert "simulating:" in out and "/1.00M" in out and "requests/s" in out


def test_no_bar_when_not_a_terminal_or_disabled_or_quick():
    s = io.StringIO()
    _run(s, delay=0)
    assert s.getvalue() == ""
    assert _on_pty(lambda s: _run(s, delay=0, enabled=False)) == ""
    # within the delay (a run under a second by default) nothing appears
    assert _on_pty(lambda s: _run(s, delay=3600)) == ""


def test_no_bar_and_no_error_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)      # import tqdm -> ImportError
    assert _on_pty(lambda s: _run(s, delay=0)) == ""


def test_bad_delay_names_the_parameter():
    with pytest.raises(TypeError, match="delay"):
        progress_bar(io.StringIO(), delay="1")
    with pytest.raises(ValueError, match="delay"):
        progress_bar(io.StringIO(), delay=-1.0)
