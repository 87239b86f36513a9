"""numba bindings of the GENEVE kernel family (lbcore._geneve).

``geneve_check(buf.ctypes, n, strict)`` → header length or a negative code;
``geneve_find_option(buf.ctypes, n, option_class, type)`` → offset of the
option's data or a negative code; ``geneve_write_header(out.ctypes, cap,
opt_words, oam, critical, protocol, vni)`` → 8 or a negative code.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p

__all__ = ["geneve_check", "geneve_find_option", "geneve_write_header"]

geneve_check = bind("_geneve", "lb_geneve_check", _t.int64(u8p, _t.size_t, _t.intc))
geneve_find_option = bind("_geneve", "lb_geneve_find_option",
                          _t.int64(u8p, _t.size_t, _t.uint16, _t.uint8))
geneve_write_header = bind("_geneve", "lb_geneve_write_header",
                           _t.int64(u8p, _t.size_t, _t.uint8, _t.intc, _t.intc, _t.uint16,
                                    _t.uint32))
