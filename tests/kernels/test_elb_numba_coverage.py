"""Every exported lb_* kernel of the ELB L4 families (geneve, l4) has a numba
binding (each binding is exercised in test_geneve.py / test_l4.py)."""
import lbcore._geneve
import lbcore._l4
from lbcore import numba as lbn


def test_every_geneve_and_l4_kernel_is_bound_for_numba():
    symbols = {getattr(lbn, k).symbol for k in lbn.__all__
               if hasattr(getattr(lbn, k), "symbol")}
    for mod, short in ((lbcore._geneve, "geneve"), (lbcore._l4, "l4")):
        exported = set(mod.__pyx_capi__)
        assert exported and all(n.startswith(f"lb_{short}_") for n in exported), exported
        for name in exported:
            assert f"lbcore_{short}_{name}" in symbols, name
