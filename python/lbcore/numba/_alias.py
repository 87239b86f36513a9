"""numba bindings of the alias-method kernels (lbcore._alias).

Index level: ``alias_build(n, weights_f64p, prob_f64p, alias_i32p)`` and
``alias_sample(n, prob_f64p, alias_i32p, rng_u64p)`` where ``rng`` is a
C-contiguous uint64 array of 4 words (xoshiro256** state), e.g. from
``lbcore.Random(seed).state``. Object level: ``alias_pick(state, now)`` /
``alias_pick_many(state, n, now, out)`` with ``state = WeightedRandom.ctypes.state.ctypes``.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u64p, i32p, f64p

__all__ = ["alias_build", "alias_sample", "alias_pick", "alias_pick_many"]

alias_build = bind("_alias", "lb_alias_build", _t.intc(_t.int32, f64p, f64p, i32p))
alias_sample = bind("_alias", "lb_alias_sample", _t.int32(_t.int32, f64p, i32p, u64p))
alias_pick = bind("_alias", "lb_alias_pick", _t.int32(u8p, _t.float64))
alias_pick_many = bind("_alias", "lb_alias_pick_many",
                       _t.void(u8p, _t.size_t, _t.float64, i32p))
