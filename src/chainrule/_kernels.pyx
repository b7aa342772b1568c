# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""chainrule._kernels — thin Cython bindings over csrc/*.c.

Layout: every C declaration is in _kernels.pxd (Cython reads it in automatically); this
file holds what all families share (the CPU runtime: ISA level, threads, clock; the
buffer helpers); each family's bindings are in its own include file (_gemm.pxi, ...),
which uses only this file and the .pxd, never another .pxi, so their order is free.

One binding style: arguments are C-contiguous typed memoryviews of the fused type
`floating` (float/double; strided 2-D views for gemm), the GIL is released around the C
call, and only what keeps the C code in bounds is re-checked (chainrule.ops validates the
rest). The exception, for call overhead: the per-step elementwise kernels (activations,
optimizer steps) and matmul_fast take arrays of any rank through the buffer protocol, via
the helpers below (at a small network's size a memoryview per argument costs as much as
the kernel).
"""
from cython cimport floating
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS,
                             PyBUF_FORMAT, PyBUF_STRIDES, PyBUF_WRITABLE)
import numpy as _np

ACT_NONE = CR_ACT_NONE
ACT_TANH = CR_ACT_TANH
ACT_RELU = CR_ACT_RELU
ACT_SIGMOID = CR_ACT_SIGMOID


cdef int _isa_level(name) except -2:
    if not isinstance(name, str):
        raise TypeError(f"set_isa: name must be a str or None, got {type(name).__name__}")
    return cr_isa_from_name(name.encode())


def isa():
    """The instruction-set level every kernel family uses: "avx512", "avx2" or "generic"."""
    return cr_isa_name(cr_isa()).decode()


def isa_detected():
    """The best level this CPU runs (CHAINRULE_ISA and set_isa ignored)."""
    return cr_isa_name(cr_isa_detected()).decode()


def set_isa(name=None):
    """Switch every kernel family to ISA level `name` ("avx512", "avx2", "generic"), capped
    at what this CPU runs; None restores the default (the CPU's best, capped by the
    CHAINRULE_ISA environment variable). Returns the level now in use. For tests."""
    if name is None:
        return cr_isa_name(cr_set_isa(-1)).decode()
    cdef int level = _isa_level(name)
    if level < 0:
        raise ValueError(f"set_isa: unknown ISA {name!r}; expected 'avx512', 'avx2', "
                         f"'generic' or None")
    return cr_isa_name(cr_set_isa(level)).decode()


def cpu_clock_ghz():
    """The core clock in GHz, measured with a chain of dependent adds (0.0 if unavailable)."""
    with nogil:
        g = cr_cpu_clock_ghz()
    return g


def fma_peak_gflops(bint f64, int threads):
    """Measured vector FMA peak in GFLOP/s of `threads` threads at once (0.0 if unavailable)."""
    with nogil:
        g = cr_fma_peak_gflops(f64, threads)
    return g


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    cr_set_num_threads(n)


def get_num_threads():
    return cr_num_threads_setting()


def threads_now():
    """The threads a kernel starting now would use (may probe for contention; cpu.c)."""
    with nogil:
        n = cr_get_num_threads()
    return n


def contention_config(enabled=None, bad_latency_us=None, bad_wait_share=None):
    """Turn the contention probe on/off and set the worker start latency and the wait share
    that count as contended (None: leave on/off unchanged / the defaults 250 us and 0.35).
    Resets the probe."""
    cr_contention_config(-1 if enabled is None else (1 if enabled else 0),
                         -1 if bad_latency_us is None else <int64_t>(bad_latency_us * 1000),
                         -1.0 if bad_wait_share is None else <double>bad_wait_share)


def contention_state():
    """(threads the kernels use now, the last probe's worker start latency in us or None,
    whether the probe is on, the last probe's largest wait share or None)."""
    cdef int64_t lat = -1
    cdef double share = -1
    cdef int on = 0
    n = cr_contention_state(&lat, &share, &on)
    return n, (None if lat < 0 else lat / 1000.0), bool(on), (None if share < 0 else share)


# ---- buffer-protocol helpers (activations, optimizer steps) ---------------------------
cdef int _buf_kind(const char *fn, str name, Py_buffer *b) except -1:
    """1 for float32, 2 for float64; TypeError otherwise (format '=f', '<f' etc. allowed)."""
    cdef const char *f = b.format
    if f != NULL and (f[0] == b'=' or f[0] == b'<' or f[0] == b'@'):
        f += 1
    if f != NULL and f[0] == b'f' and f[1] == 0 and b.itemsize == 4:
        return 1
    if f != NULL and f[0] == b'd' and f[1] == 0 and b.itemsize == 8:
        return 2
    raise TypeError(f"{fn.decode()}: '{name}' must be a float32 or float64 array, "
                    f"got buffer format {(<bytes>b.format).decode() if b.format else '?'}")


cdef int _get(const char *fn, str name, object obj, Py_buffer *b, bint writable) except -1:
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
    if writable:
        flags |= PyBUF_WRITABLE
    try:
        PyObject_GetBuffer(obj, b, flags)
    except (BufferError, TypeError, ValueError) as e:
        raise ValueError(f"{fn.decode()}: '{name}' must be a C-contiguous"
                         f"{' writable' if writable else ''} float array ({e})") from None
    return 0


cdef int _no_overlap(const char *fn, str na, Py_buffer *a, str nb, Py_buffer *b) except -1:
    """The C loops declare their buffers restrict: distinct arrays must not share memory."""
    cdef char *pa = <char *>a.buf
    cdef char *pb = <char *>b.buf
    if a.len > 0 and b.len > 0 and pa < pb + b.len and pb < pa + a.len:
        raise ValueError(f"{fn.decode()}: '{na}' and '{nb}' share memory; they must be "
                         f"distinct arrays")
    return 0


cdef int _same_or_disjoint(const char *fn, str na, Py_buffer *a, str nb,
                           Py_buffer *b) except -1:
    """Elementwise kernels may run in place (a is b) but not on partly overlapping memory."""
    cdef char *pa = <char *>a.buf
    cdef char *pb = <char *>b.buf
    if pa == pb:
        return 0
    if a.len > 0 and b.len > 0 and pa < pb + b.len and pb < pa + a.len:
        raise ValueError(f"{fn.decode()}: '{na}' and '{nb}' partly overlap; they must be the "
                         f"same array or disjoint")
    return 0


# ---- the kernel families (any order) ---------------------------------------------------
include "_gemm.pxi"
include "_linear.pxi"
include "_conv.pxi"
include "_pool.pxi"
include "_rnn.pxi"
include "_optim.pxi"
include "_act.pxi"
include "_spmm.pxi"
include "_norm.pxi"
include "_lstm.pxi"
include "_embed.pxi"
include "_actfn.pxi"
