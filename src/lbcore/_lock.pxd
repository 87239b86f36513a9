# cython: language_level=3
"""lb_lock: the one lock of lbcore's objects (the thread rule, docs/architecture.md).

A benaphore: ``count`` is the number of holders plus waiters, changed by one atomic add,
so an uncontended acquire and release cost one atomic instruction each (a PyThread lock,
what ``cython.pymutex`` is before Python 3.13, costs a semaphore try-wait and post,
~30 ns each). Waiters sleep on ``sem``, a PyThread lock created held, which the releaser
posts when someone waits; a waiter holding the GIL gives it up while it sleeps, so a
holder that runs Python code (and so may drop the GIL) always gets to finish.
Not reentrant. Init before use, free once (``__cinit__`` / ``__dealloc__``).
"""
from libc.stdint cimport int64_t
from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_acquire_lock,
                               PyThread_release_lock, WAIT_LOCK, NOWAIT_LOCK)

cdef extern from *:
    """
    #if defined(_MSC_VER)
    #include <intrin.h>
    #define lb_atomic_add64(p, v) _InterlockedExchangeAdd64((volatile long long*)(p), (v))
    #else
    #define lb_atomic_add64(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
    #endif
    """
    int64_t lb_atomic_add64(int64_t* p, int64_t v) noexcept nogil

ctypedef struct lb_lock:
    int64_t count
    PyThread_type_lock sem


cdef inline int lb_lock_init(lb_lock* lk) except -1:
    lk.count = 0
    lk.sem = PyThread_allocate_lock()
    if lk.sem == NULL:
        raise MemoryError()
    PyThread_acquire_lock(lk.sem, NOWAIT_LOCK)       # held: waiters sleep on it
    return 0


cdef inline void lb_lock_free(lb_lock* lk) noexcept:
    if lk.sem != NULL:
        PyThread_free_lock(lk.sem)
        lk.sem = NULL


cdef inline void lb_lock_acquire(lb_lock* lk) noexcept:
    """Acquire while holding the GIL (released only while waiting)."""
    if lb_atomic_add64(&lk.count, 1) > 0:
        with nogil:
            PyThread_acquire_lock(lk.sem, WAIT_LOCK)


cdef inline void lb_lock_acquire_nogil(lb_lock* lk) noexcept nogil:
    """Acquire without the GIL (C callers, nogil sections)."""
    if lb_atomic_add64(&lk.count, 1) > 0:
        PyThread_acquire_lock(lk.sem, WAIT_LOCK)


cdef inline void lb_lock_release(lb_lock* lk) noexcept nogil:
    if lb_atomic_add64(&lk.count, -1) > 1:
        PyThread_release_lock(lk.sem)                # a waiter takes it over
