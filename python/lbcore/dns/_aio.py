"""asyncio helpers shared by the server and the prober."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], poll: float = 0.1) -> None:
    """Cancel ``tasks`` and wait until every one has finished, cancelling again each
    ``poll`` seconds: before Python 3.12, ``asyncio.wait_for`` can swallow a cancellation
    that arrives as its inner call completes, and a looping task would then run on."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=poll)
