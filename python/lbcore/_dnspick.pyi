"""Type stubs of lbcore._dnspick (compiled)."""
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lbcore._flow import Flow
from lbcore.flows import Flows

class RecordPicker:
    def __init__(self, seed: int = 0) -> None: ...
    def sample(self, n: int, k: int) -> list[int]: ...
    @property
    def state(self) -> NDArray[Any]: ...
    def weighted(self, weights: ArrayLike | None) -> int: ...
    def weighted_many(self, weights: ArrayLike | None, m: int) -> NDArray[np.int32]: ...

