"""A progress bar on stderr for long simulations, through tqdm when it is installed.

Nothing is shown when tqdm is absent, when the stream is not a terminal, or when the
run ends within ``delay`` seconds (tqdm's own ``delay``: the bar appears only after it).
"""
from __future__ import annotations

import sys
from typing import Callable, TextIO

__all__ = ["progress_bar"]


def progress_bar(stream: TextIO | None = None, *, delay: float = 1.0,
                 enabled: bool = True) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """``(update, close)`` for :func:`lbcore.sim.simulate`'s ``progress(done, total)``
    callback: ``update`` moves a tqdm bar on ``stream`` (default ``sys.stderr``) to
    ``done`` of ``total`` requests; ``close`` removes it. Both do nothing when
    ``enabled`` is false, the stream is not a tty or tqdm is not installed
    (``pip install 'lbcore[progress]'``)."""
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise TypeError(f"delay must be a number of seconds, got {type(delay).__name__}")
    if not delay >= 0:
        raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
    stream = sys.stderr if stream is None else stream
    tqdm = None
    if enabled and getattr(stream, "isatty", lambda: False)():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if tqdm is None:
            return
        if bar is None:
            bar = tqdm(total=total, file=stream, delay=delay, unit=" requests",
                       unit_scale=True, leave=False, dynamic_ncols=True, desc="simulating")
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close() -> None:
        if bar is not None:
            bar.close()

    return update, close
