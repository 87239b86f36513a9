"""Type stubs of lbcore._sim (compiled)."""
from fractions import Fraction
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lbcore._flow import Flow
from lbcore.flows import Flows

class Engine:
    def __init__(self, model: dict[str, Any], seed: Any = 0, *, trace: bool = False) -> None: ...
    @property
    def finished(self) -> Any: ...
    @property
    def heap_peak(self) -> Any: ...
    @property
    def in_flight(self) -> Any: ...
    @property
    def model(self) -> Any: ...
    @property
    def now(self) -> float: ...
    def run(self, n: int) -> Any: ...
    @property
    def selectors(self) -> Any: ...
    @property
    def simulated(self) -> Any: ...
    @property
    def stats(self) -> Any: ...
    @property
    def tracing(self) -> bool: ...
    def trace(self) -> dict[str, NDArray[Any]]: ...

ALGO_CODES: Mapping[str, int]
DIST_CODES: Mapping[str, int]
LAT_BINS: int
LAT_MIN_DECADE: int
LAT_PER_DECADE: int
MAX_COOKIES: int
MODEL_ARRAYS: dict[Any, Any]
MODEL_SIZES: tuple[Any, ...]
OUT_BINS: int
OUTCOMES: tuple[str, ...]
TRACE_FLOW_COLUMNS: dict[str, Any]
TRACE_REQUEST_COLUMNS: dict[str, Any]
STICKY_ARRAYS: dict[Any, Any]
def apply_epoch(selectors: Any, model: Any, epoch: Any, now: float) -> Any: ...
def make_selectors(model: Any, seed: int) -> Any: ...
