"""Type stubs of lbcore._roundrobin (compiled)."""
from fractions import Fraction
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lbcore._flow import Flow
from lbcore._request_selector import RequestSelector
from lbcore.flows import Flows
from lbcore._handle import KernelHandle

FREE: object
class WeightedTargets(RequestSelector):
    def effective_weight(self, target: Any, now: float) -> float: ...
    def in_slow_start(self, target: Any, now: float) -> bool: ...

class RoundRobin(WeightedTargets):
    @property
    def ctypes(self) -> KernelHandle: ...
    def __init__(self, targets: Sequence[Any], *, weights: ArrayLike | None = None, slow_start_seconds: float = 0) -> None: ...
    def pick_many(self, n: int, now: float | None = None) -> Any: ...

