"""Type stubs of lbcore._rng (compiled)."""
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lbcore._flow import Flow
from lbcore.flows import Flows

class Random:
    def __init__(self, seed: int = 0) -> None: ...
    def bounded(self, n: int) -> int: ...
    def next_u64(self) -> int: ...
    @property
    def state(self) -> NDArray[Any]: ...
    def uniform(self) -> float: ...

