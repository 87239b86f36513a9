# Shared boundary code of the consistent selectors (included by _maglev, _jump,
# _rendezvous): turning a flow or a 64-bit hash into the uint64 the kernels take.
from lbcore._flow cimport Flow
from lbcore._hash cimport (lb_hash_keys, lb_hash_keys_init, lb_flow_hash_keyed,
                           lb_flow_hash_many)

cdef object _MAXU64 = (1 << 64) - 1


cdef inline uint64_t _key_of(object x, const lb_hash_keys* keys, int fields,
                             int symmetric) except? 0xFFFFFFFFFFFFFFFF:
    """The 64-bit hash of one flow (hashed with the selector's options) or a
    hash given as an int in [0, 2**64)."""
    cdef Flow f
    if type(x) is Flow:
        f = <Flow>x
        return lb_flow_hash_keyed(keys, f.protocol, f.flags, f.src_hi, f.src_lo, f.dst_hi,
                                  f.dst_lo, f.src_port, f.dst_port, f.seq, fields, symmetric)
    if type(x) is int:
        # Cython's inlined digit reader; OverflowError when negative or >= 2**64 (two
        # Python comparisons against 0 and 2**64-1 cost more than the whole conversion)
        try:
            return <uint64_t>x
        except OverflowError:
            raise ValueError(f"flow_or_hash: a hash must be in [0, 2**64), got {x}") from None
    return _key_of_other(x, keys, fields, symmetric)


cdef uint64_t _key_of_other(object x, const lb_hash_keys* keys, int fields,
                            int symmetric) except? 0xFFFFFFFFFFFFFFFF:
    if isinstance(x, (bool, np.bool_)) or not hasattr(x, "__index__"):
        raise TypeError("flow_or_hash must be a lbcore.Flow or an int hash, "
                        f"got {type(x).__name__}")
    return _key_of(x.__index__(), keys, fields, symmetric)


cdef int _check_columns(Py_ssize_t n, const uint8_t[::1] flags,
                        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                        const uint16_t[::1] sport, const uint16_t[::1] dport,
                        const uint32_t[::1] seq) except -1:
    # lbcore.Flows guarantees one length; a duck-typed batch (any object with
    # __lbcore_columns__) must not make a kernel read past a shorter column
    if (flags.shape[0] != n or src_hi.shape[0] != n or src_lo.shape[0] != n
            or dst_hi.shape[0] != n or dst_lo.shape[0] != n or sport.shape[0] != n
            or dport.shape[0] != n or seq.shape[0] != n):
        raise ValueError("flows_or_hashes: the batch's columns must all have the same "
                         f"length (protocol has {n})")
    return 0


cdef object _batch_input(object x):
    """The Python part of a batch (it may run Python code, and a concurrent rebuild with
    it): the columns of lbcore.Flows (a tuple) or the hashes of an int array."""
    columns = getattr(x, "__lbcore_columns__", None)
    if columns is None:
        return as_hash_array(x)
    return tuple(columns())


cdef object _batch_hashes(object inp, int fields, int symmetric, uint64_t seed):
    """uint64 hashes of _batch_input's result, hashed with the options: runs no Python
    code, so the caller reads the options and its tables in one consistent snapshot."""
    if type(inp) is not tuple:
        return inp
    c = <tuple>inp
    return _hash_cols(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8],
                      fields, symmetric, seed)


cdef object _hash_cols(
        const uint8_t[::1] proto, const uint8_t[::1] flags,
        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
        const uint16_t[::1] sport, const uint16_t[::1] dport, const uint32_t[::1] seq,
        int fields, int symmetric, uint64_t seed):
    cdef Py_ssize_t n = proto.shape[0]
    _check_columns(n, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq)
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    if n:
        with nogil:
            lb_flow_hash_many(n, &proto[0], &flags[0], &src_hi[0], &src_lo[0], &dst_hi[0],
                              &dst_lo[0], &sport[0], &dport[0], &seq[0], fields, symmetric,
                              seed, &o[0])
    return out


