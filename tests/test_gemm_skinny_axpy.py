"""The skinny GEMM's axpy blocks (gemm_skinny_tmpl.h): the big operand stored by columns is
read in long row blocks (up to 256 KiB of raw sums per thread) and K chunks of 8 rows
(32 when it fits the caches).

Shapes cross the block rows (default and shrunk with gemm_set_blocks' mc), the K chunk
(kc), the 64-row thread split units and the vector blocks; every layout that takes the axpy
kernel, both dtypes, both ISA levels, 1 vs 2 threads bitwise, against NumPy in float64.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, _runtime, ops

from test_gemm import _check, _operands

DTYPES = [np.float32, np.float64]
ISAS = [i for i in ("avx512", "avx2", "generic")
        if i == "generic" or i == _runtime.isa_detected()
        or (i == "avx2" and _runtime.isa_detected() == "avx512")]
# the axpy kernel reads the big operand by columns: thin M with B not transposed, thin N
# with A transposed
AXPY_LAYOUTS = [("thin_m", 0, 0), ("thin_m", 1, 0), ("thin_n", 1, 0), ("thin_n", 1, 1)]


@pytest.fixture(params=ISAS)
def isa(request):
    _runtime.set_isa(request.param)
    yield request.param
    _runtime.set_isa(None)
    cr.set_num_threads(2)


def _mnk(side, s, big, K):
    return (s, big, K) if side == "thin_m" else (big, s, K)


def _bits_1_vs_2(a, b, ta, tb):
    outs = []
    for threads in (1, 2, 2):
        cr.set_num_threads(threads)
        outs.append(ops.matmul(a, b, trans_a=bool(ta), trans_b=bool(tb)))
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(outs[2], outs[0])
    return outs[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("side,ta,tb", AXPY_LAYOUTS)
@pytest.mark.parametrize("s,big,K", [(32, 2113, 19), (17, 4099, 9), (1, 70001, 3),
                                     (3, 40009, 61)])
def test_axpy_default_blocks(isa, dtype, side, ta, tb, s, big, K):
    """Past the default block rows: 2048 (f32) / 1024 (f64) rows at a thin side of 32,
    4096 / 2048 at 16 (prime sizes beyond), 65536 / 32768 at 1; K chunks of 32 (operand in
    the caches) and of 8 (40009 x 61: over 8 MB in both dtypes, streamed), with tails."""
    M, N, K = _mnk(side, s, big, K)
    rng = np.random.default_rng(M * 31 + N + K)
    a, b = _operands(rng, M, N, K, ta, tb, dtype)
    _check(_bits_1_vs_2(a, b, ta, tb), a, b, ta, tb, dtype, name=f"{M}x{N}x{K}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("side,ta,tb", AXPY_LAYOUTS)
@pytest.mark.parametrize("kc,mc", [(1, 8), (3, 40), (8, 64), (7, 200), (64, 1000)])
@pytest.mark.parametrize("s,big,K", [(5, 127, 29), (16, 129, 64), (31, 65, 17), (2, 1031, 8)])
def test_axpy_small_blocks(isa, dtype, side, ta, tb, kc, mc, s, big, K):
    """Block rows (mc) and K chunks (kc) shrunk so small products cross every edge; the
    results are the same bits whatever the blocks (one fused sum per element, in order)."""
    M, N, K = _mnk(side, s, big, K)
    rng = np.random.default_rng(M * 7 + N * 3 + K)
    a, b = _operands(rng, M, N, K, ta, tb, dtype)
    _kernels.gemm_set_skinny(True)
    try:
        want = _bits_1_vs_2(a, b, ta, tb)
        _kernels.gemm_set_blocks(kc, mc, 0)
        got = _bits_1_vs_2(a, b, ta, tb)
    finally:
        _kernels.gemm_set_blocks(0, 0, 0)
        _kernels.gemm_set_skinny(None)
    np.testing.assert_array_equal(got, want)
    _check(got, a, b, ta, tb, dtype, name=f"{M}x{N}x{K}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_axpy_non_contiguous_and_epilogue(isa, dtype, rng):
    """A strided view as the big operand, and beta/bias/act on the long-block path."""
    s, big, K = 24, 2300, 21
    bb = rng.standard_normal((K, 2 * big)).astype(dtype)[:, ::2]  # column stride 2
    a = rng.standard_normal((s, K)).astype(dtype)
    c = ops.matmul(a, bb)
    _check(c, a, np.ascontiguousarray(bb), 0, 0, dtype, name="strided")
    b = np.ascontiguousarray(bb)
    c0 = rng.standard_normal((s, big)).astype(dtype)
    bn, bm = rng.standard_normal(big).astype(dtype), rng.standard_normal(s).astype(dtype)
    outs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        out = c0.copy()
        _kernels.gemm(False, False, a, b, out, 0.75, -2.0, bn, bm, _kernels.ACT_RELU)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    want = np.maximum(0.75 * (a.astype(np.float64) @ b.astype(np.float64))
                      - 2.0 * c0.astype(np.float64) + bn[None, :] + bm[:, None], 0)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outs[0], want, **tol)
