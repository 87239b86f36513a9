"""Type stubs of lbcore._handle (compiled)."""
from typing import Any, NamedTuple

from numpy.typing import NDArray


class KernelHandle(NamedTuple):
    address: int
    state: NDArray[Any] | None
    struct: str
    kernels: dict[str, int]
    capsule: Any

def make_handle(address: int, state: Any, struct: str, kernels: dict[str, int]) -> KernelHandle: ...
