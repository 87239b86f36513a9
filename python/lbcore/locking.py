"""The house lock convention (docs/architecture.md, "Threads: one rule").

A stateful Python-level policy object keeps its lock in an attribute named ``_lock``.
A lock can neither be pickled nor shared between copies, so :class:`PickleWithoutLock`
pickles the object's ``__dict__`` without it and gives the restored object a fresh,
unlocked one.
"""
from __future__ import annotations

import threading

__all__ = ["PickleWithoutLock"]


class PickleWithoutLock:
    """Mixin: pickle/deepcopy the whole ``__dict__`` except ``_lock``, which the copy
    gets new (unlocked) -- so a copy taken while another thread holds the lock is
    usable at once."""

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        if "_lock" in state:
            state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if "_lock" in state:
            self._lock = threading.Lock()
