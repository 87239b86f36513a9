"""Type stubs of lbcore._alias (compiled)."""
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lbcore._flow import Flow
from lbcore._roundrobin import WeightedTargets
from lbcore.flows import Flows
from lbcore._handle import KernelHandle

class WeightedRandom(WeightedTargets):
    @property
    def ctypes(self) -> KernelHandle: ...
    def __init__(self, targets: Sequence[Any], weights: ArrayLike | None, *, seed: int = 0, slow_start_seconds: float = 0) -> None: ...
    def pick_many(self, n: int, now: float | None = None) -> Any: ...
    def probabilities(self, now: float | None = None) -> Any: ...

def alias_table(weights: ArrayLike | None) -> Any: ...
