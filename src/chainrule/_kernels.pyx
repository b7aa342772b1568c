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
include "_lstm.pxi"
