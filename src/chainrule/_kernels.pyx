# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""chainrule._kernels — thin Cython bindings over csrc/*.c.

Each kernel family lives in its own include file (_gemm.pxi, _conv.pxi, ...). Bindings
take C-contiguous typed memoryviews (fused float/double), release the GIL and call C.
All shape checking happens in chainrule.ops before these are called; the bindings only
re-check what is needed to keep the C code in bounds.
"""
from cython cimport floating
from libc.stdint cimport int64_t

cdef extern from "chainrule.h" nogil:
    void cr_set_num_threads(int n)
    int cr_get_num_threads()
    int CR_ACT_NONE, CR_ACT_TANH, CR_ACT_RELU, CR_ACT_SIGMOID

ACT_NONE = CR_ACT_NONE
ACT_TANH = CR_ACT_TANH
ACT_RELU = CR_ACT_RELU
ACT_SIGMOID = CR_ACT_SIGMOID


cdef extern from "chainrule.h" nogil:
    int cr_isa()
    int cr_isa_detected()
    int cr_set_isa(int level)
    const char *cr_isa_name(int level)
    int cr_isa_from_name(const char *name)
    double cr_cpu_clock_ghz()


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


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    cr_set_num_threads(n)


def get_num_threads():
    return cr_get_num_threads()


include "_gemm.pxi"
include "_linear.pxi"
include "_conv.pxi"
include "_pool.pxi"
include "_rnn.pxi"
include "_optim.pxi"
include "_act.pxi"
