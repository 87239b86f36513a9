"""Every exported lb_* kernel of the consistent-selection families has a numba
binding (each binding is exercised in the family's own test file)."""
import lbcore._flowtable
import lbcore._jump
import lbcore._maglev
import lbcore._rendezvous
from lbcore import numba as lbn


def test_every_consistent_kernel_is_bound_for_numba():
    symbols = {getattr(lbn, k).symbol for k in lbn.__all__
               if hasattr(getattr(lbn, k), "symbol")}
    for mod, short in ((lbcore._maglev, "maglev"), (lbcore._jump, "jump"),
                       (lbcore._rendezvous, "rendezvous"), (lbcore._flowtable, "flowtable")):
        exported = set(mod.__pyx_capi__)
        assert exported and all(n.startswith(f"lb_{short}_") for n in exported), exported
        for name in exported:
            assert f"lbcore_{short}_{name}" in symbols, name
