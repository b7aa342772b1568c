"""GEMM with op(A) read in place (few columns of C: gemm.c A_INPLACE_MAX_N): the strided
micro-kernel broadcasts from MR rows of A where they are, B is still packed.

The in-place tile must do exactly the arithmetic of the packed one (same K slices, one fused
sum per element in order), so a product with <= 256 columns equals bit for bit the first
columns of the same product widened past the limit (which packs A); plus float32/float64 vs
the float64 product, odd/prime shapes, non-contiguous A, every K/M/N block edge, the
epilogue, 1 vs 2 threads bitwise, every ISA level.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, ops

from helpers import assert_close

DTYPES = [np.float32, np.float64]
# (M, N, K): N <= 256 and M*N*K above the direct (unpacked) path's limit (96^3)
SHAPES = [(301, 97, 53), (1000, 100, 17), (97, 256, 131), (1031, 33, 61), (13, 250, 400),
          (600, 64, 600), (255, 129, 1025)]


def _tol(dtype, K):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=2e-6 * np.sqrt(K))
    return dict(rtol=1e-13, atol=4e-15 * np.sqrt(K))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("tb", [False, True])
def test_inplace_a_matches_reference_and_packed_bits(level, dtype, M, N, K, tb, rng):
    a = rng.standard_normal((M, K)).astype(dtype)
    wide = rng.standard_normal((K, 300)).astype(dtype)  # 300 columns: A packed
    b = np.ascontiguousarray(wide[:, :N])
    bb = np.ascontiguousarray(b.T) if tb else b
    c = ops.matmul(a, bb, trans_b=tb)
    assert_close(c, a.astype(np.float64) @ b.astype(np.float64), dtype=dtype,
                 name=f"{M}x{N}x{K}", **_tol(dtype, K))
    wb = np.ascontiguousarray(wide.T) if tb else wide
    np.testing.assert_array_equal(c, ops.matmul(a, wb, trans_b=tb)[:, :N])


@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_a_strided_rows_and_small_blocks(level, dtype, rng):
    """A as a view with row stride > K, every block edge crossed (KC=7, MC=30, NC=40)."""
    M, N, K = 203, 71, 97
    big = rng.standard_normal((M, K + 13)).astype(dtype)
    a = big[:, 5:5 + K]
    b = rng.standard_normal((K, N)).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    _kernels.gemm_set_blocks(7, 30, 40)
    try:
        for threads in (1, 2):
            cr.set_num_threads(threads)
            assert_close(ops.matmul(a, b), want, dtype=dtype, name="strided A", **_tol(dtype, K))
    finally:
        _kernels.gemm_set_blocks(0, 0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", [(301, 97, 53), (1000, 100, 17), (97, 256, 131)])
def test_inplace_a_epilogue_threads_bitwise(level, dtype, M, N, K, rng):
    """alpha, beta, both biases and tanh on the in-place tiles; 1 vs 2 threads and run to
    run the same bits."""
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c0 = rng.standard_normal((M, N)).astype(dtype)
    bn = rng.standard_normal(N).astype(dtype)
    bm = rng.standard_normal(M).astype(dtype)
    want = np.tanh(-1.5 * (a.astype(np.float64) @ b) + 0.5 * c0 + bn + bm[:, None])
    outs = []
    for threads in (1, 2, 2):
        cr.set_num_threads(threads)
        c = c0.copy()
        _kernels.gemm(False, False, a, b, c, -1.5, 0.5, bn, bm, _kernels.ACT_TANH)
        assert_close(c, want, dtype=dtype, name="epilogue", **_tol(dtype, K))
        outs.append(c)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[1], outs[2])
