"""GEMM: ops.matmul and _kernels.gemm against NumPy (float64 products) and reference.matmul.

Covers every transpose combination, both dtypes, shapes around the register tiles (MR x NR)
and cache blocks (KC, MC, NC, also shrunk with gemm_set_blocks so small matrices cross every
block edge), strided / Fortran-ordered operands, the alpha/beta/bias/act epilogue, 1 and 2
threads, bitwise reproducibility and every micro-kernel path this CPU can run.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import _kernels, ops, reference

from helpers import assert_close

DTYPES = [np.float32, np.float64]


def _paths():
    """Every micro-kernel path this CPU runs (best first)."""
    _kernels.gemm_set_path(None)
    best = _kernels.gemm_path()
    order = ["avx512", "avx2", "generic"]
    return order[order.index(best):]


PATHS = _paths()


@pytest.fixture(params=PATHS)
def path(request):
    _kernels.gemm_set_path(request.param)
    assert _kernels.gemm_path() == request.param
    yield request.param
    _kernels.gemm_set_path(None)


@pytest.fixture
def small_blocks():
    """Tiny cache blocks: KC=7, MC=30, NC=40 make even 100x100 products cross every edge."""
    _kernels.gemm_set_blocks(7, 30, 40)
    yield
    _kernels.gemm_set_blocks(0, 0, 0)


def _operands(rng, M, N, K, ta, tb, dtype):
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return a, b


def _expected(a, b, ta, tb):
    A = (a.T if ta else a).astype(np.float64)
    B = (b.T if tb else b).astype(np.float64)
    return A @ B


def _tol(dtype, K):
    """GEMM error grows like sqrt(K) * eps * |a||b|; scale atol by the data, not per element."""
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=2e-6 * np.sqrt(max(K, 1)))
    return dict(rtol=1e-13, atol=4e-15 * np.sqrt(max(K, 1)))


def _check(c, a, b, ta, tb, dtype, name="c"):
    e = _expected(a, b, ta, tb)
    K = a.shape[0] if ta else a.shape[1]
    assert c.dtype == np.dtype(dtype)
    assert_close(c, e, dtype=dtype, name=name, **_tol(dtype, K))


# sizes around MR (12/6/4), NR (32/16/8), KC (256), MC (480/240) and primes
EDGE_SIZES = [1, 2, 3, 5, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 64, 65, 97, 127, 128, 129]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(M=st.sampled_from(EDGE_SIZES), N=st.sampled_from(EDGE_SIZES),
       K=st.sampled_from(EDGE_SIZES + [255, 256, 257]))
def test_matmul_edge_sizes(path, dtype, ta, tb, M, N, K):
    rng = np.random.default_rng(M * 10007 + N * 101 + K)
    a, b = _operands(rng, M, N, K, ta, tb, dtype)
    _check(ops.matmul(a, b, trans_a=bool(ta), trans_b=bool(tb)), a, b, ta, tb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(M=st.integers(1, 100), N=st.integers(1, 100), K=st.integers(1, 60),
       threads=st.sampled_from([1, 2]))
def test_matmul_every_block_edge(path, small_blocks, dtype, ta, tb, M, N, K, threads):
    cr.set_num_threads(threads)
    rng = np.random.default_rng(M * 7919 + N * 31 + K)
    a, b = _operands(rng, M, N, K, ta, tb, dtype)
    _check(ops.matmul(a, b, trans_a=bool(ta), trans_b=bool(tb)), a, b, ta, tb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", [(481, 35, 300), (241, 530, 513), (128, 1024, 10),
                                   (128, 10, 1024), (10, 1024, 128), (1000, 3, 77),
                                   (600, 600, 600), (2, 997, 1), (1, 1, 1000)])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_large_and_skinny(dtype, M, N, K, threads):
    cr.set_num_threads(threads)
    rng = np.random.default_rng(M + N + K)
    for ta, tb in [(0, 0), (1, 1), (0, 1)]:
        a, b = _operands(rng, M, N, K, ta, tb, dtype)
        _check(ops.matmul(a, b, trans_a=bool(ta), trans_b=bool(tb)), a, b, ta, tb, dtype)


@pytest.fixture(params=[True, False], ids=["skinny", "packed"])
def skinny(request):
    """The skinny path forced on (whenever a side of C is <= 32) or off."""
    _kernels.gemm_set_skinny(request.param)
    yield request.param
    _kernels.gemm_set_skinny(None)


# thin side x big side x K: odd, prime, 1, around the 4-row / 4-column / vector blocks and
# the axpy K chunks (32 KiB of rows), thin sides up to the limit (32)
SKINNY_SHAPES = [(1, 1000, 1), (1, 257, 997), (2, 131, 67), (3, 64, 300), (4, 65, 64),
                 (5, 127, 129), (7, 33, 17), (13, 300, 77), (16, 513, 31), (17, 97, 1031),
                 (31, 200, 5), (32, 129, 260)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("s,big,K", SKINNY_SHAPES)
def test_matmul_skinny_shapes(path, skinny, dtype, ta, tb, s, big, K):
    """Both orientations (thin N and thin M), every layout of the big operand (dot and axpy
    kernels, thin operand repacked or not), on every ISA path, skinny path on and off."""
    rng = np.random.default_rng(s * 1009 + big + K)
    for M, N in [(big, s), (s, big)]:
        a, b = _operands(rng, M, N, K, ta, tb, dtype)
        _check(ops.matmul(a, b, trans_a=bool(ta), trans_b=bool(tb)), a, b, ta, tb, dtype,
               name=f"{M}x{N}x{K}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", [(300, 5, 200), (3, 270, 150), (1, 129, 64)])
def test_gemm_skinny_epilogue_and_bits(path, dtype, M, N, K, rng):
    """alpha/beta/biases/act on the skinny path, and the same bits on 1 and 2 threads and
    run to run (rows are split between threads; each element's sum never changes)."""
    _kernels.gemm_set_skinny(True)
    try:
        for ta, tb in [(0, 0), (1, 1), (1, 0)]:
            a, b = _operands(rng, M, N, K, ta, tb, dtype)
            c0 = rng.standard_normal((M, N)).astype(dtype)
            bn, bm = rng.standard_normal(N).astype(dtype), rng.standard_normal(M).astype(dtype)
            outs = []
            for threads in [2, 2, 1]:
                cr.set_num_threads(threads)
                c = c0.copy()
                _kernels.gemm(bool(ta), bool(tb), a, b, c, -1.5, 0.5, bn, bm, _kernels.ACT_TANH)
                outs.append(c)
            want = np.tanh(-1.5 * _expected(a, b, ta, tb) + 0.5 * c0.astype(np.float64)
                           + bn.astype(np.float64)[None, :] + bm.astype(np.float64)[:, None])
            assert_close(outs[0], want, dtype=dtype, **_tol(dtype, K))
            np.testing.assert_array_equal(outs[1], outs[0])
            np.testing.assert_array_equal(outs[2], outs[0])
    finally:
        _kernels.gemm_set_skinny(None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_matches_reference(dtype, rng):
    for M, N, K in [(1, 1, 1), (5, 7, 3), (13, 33, 17), (40, 3, 29)]:
        for ta in (False, True):
            for tb in (False, True):
                a, b = _operands(rng, M, N, K, ta, tb, dtype)
                got = ops.matmul(a, b, trans_a=ta, trans_b=tb)
                want = reference.matmul(a, b, trans_a=ta, trans_b=tb)
                assert want.dtype == got.dtype == np.dtype(dtype)
                assert_close(got, want, dtype=dtype, **_tol(dtype, K))


def test_reference_matmul_is_the_definition():
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    b = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    want = [[1 * 1 + 2 * 2, 1 * 0 + 2 * 1, -1], [3 + 8, 4, -3], [5 + 12, 6, -5]]
    np.testing.assert_array_equal(reference.matmul(a, b), want)
    np.testing.assert_array_equal(ops.matmul(a, b), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_strided_and_fortran_inputs(dtype, rng):
    M, N, K = 37, 45, 53
    big_a = rng.standard_normal((2 * M + 3, 2 * K + 5)).astype(dtype)
    big_b = rng.standard_normal((2 * K + 1, 3 * N)).astype(dtype)
    views_a = {
        "slice": big_a[3:3 + M, 5:5 + K],            # row stride > K, read in place
        "fortran": np.asfortranarray(big_a[:M, :K]),  # column-major, read as a transpose
        "step": big_a[::2, ::2][:M, :K],             # no contiguous dim: copied
        "transposed": big_a[:K, :M].T,                # a view of a transpose
        "negative": big_a[:M, :K][::-1],              # negative row stride: copied
    }
    views_b = {
        "slice": big_b[1:1 + K, 2:2 + N],
        "fortran": np.asfortranarray(big_b[:K, :N]),
        "step": big_b[::2, ::3][:K, :N],
        "transposed": big_b[:N, :K].T,
    }
    for na, va in views_a.items():
        for nb, vb in views_b.items():
            want = va.astype(np.float64) @ vb.astype(np.float64)
            got = ops.matmul(va, vb)
            assert_close(got, want, dtype=dtype, name=f"a {na}, b {nb}", **_tol(dtype, K))
            # trans flags on top of transposed views
            got_t = ops.matmul(va.T, vb.T, trans_a=True, trans_b=True)
            assert_close(got_t, want, dtype=dtype, name=f"a {na}.T, b {nb}.T", **_tol(dtype, K))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_kernel_reads_leading_dimensions(dtype, rng):
    """_kernels.gemm writes into a row slice of a bigger C and reads sliced A/B in place."""
    M, N, K = 20, 30, 40
    A = rng.standard_normal((M, K + 9)).astype(dtype)[:, 4:4 + K]
    B = rng.standard_normal((K, N + 7)).astype(dtype)[:, :N]
    Cbig = np.full((M, N + 11), 7.0, dtype=dtype)
    C = Cbig[:, 3:3 + N]
    _kernels.gemm(False, False, A, B, C, 1.0, 0.0)
    assert_close(C, A.astype(np.float64) @ B.astype(np.float64), dtype=dtype, **_tol(dtype, K))
    assert (Cbig[:, :3] == 7).all() and (Cbig[:, 3 + N:] == 7).all(), "wrote outside C"


def _act(x, act):
    if act == _kernels.ACT_TANH:
        return np.tanh(x)
    if act == _kernels.ACT_RELU:
        return np.maximum(x, 0)
    if act == _kernels.ACT_SIGMOID:
        return 1 / (1 + np.exp(-x))
    return x


ACTS = ["ACT_NONE", "ACT_TANH", "ACT_RELU", "ACT_SIGMOID"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("M,N,K", [(7, 9, 5), (50, 70, 300), (130, 12, 40), (150, 90, 30)])
def test_gemm_epilogue(path, dtype, act, M, N, K, rng):
    act = getattr(_kernels, act)
    for ta, tb in [(0, 0), (1, 1)]:
        for alpha, beta, with_bn, with_bm in [(1.0, 0.0, False, False), (0.5, 2.0, True, False),
                                              (-1.5, 1.0, True, True), (2.0, 0.0, False, True)]:
                a, b = _operands(rng, M, N, K, ta, tb, dtype)
                c0 = rng.standard_normal((M, N)).astype(dtype)
                bn = rng.standard_normal(N).astype(dtype) if with_bn else None
                bm = rng.standard_normal(M).astype(dtype) if with_bm else None
                c = c0.copy()
                _kernels.gemm(bool(ta), bool(tb), a, b, c, alpha, beta, bn, bm, act)
                want = alpha * _expected(a, b, ta, tb) + beta * c0.astype(np.float64)
                if bn is not None:
                    want = want + bn.astype(np.float64)[None, :]
                if bm is not None:
                    want = want + bm.astype(np.float64)[:, None]
                assert_close(c, _act(want, act), dtype=dtype, **_tol(dtype, K),
                             name=f"alpha={alpha} beta={beta} bn={with_bn} bm={with_bm}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", [(3, 4, 5), (40, 50, 60), (200, 300, 100)])
def test_gemm_beta_zero_ignores_nan_in_c(path, dtype, M, N, K, rng):
    a, b = _operands(rng, M, N, K, 0, 0, dtype)
    c = np.full((M, N), np.nan, dtype=dtype)
    _kernels.gemm(False, False, a, b, c, 1.0, 0.0)
    assert np.isfinite(c).all()
    _check(c, a, b, 0, 0, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_k_zero_gives_epilogue_only(dtype, rng):
    a = np.empty((4, 0), dtype)
    b = np.empty((0, 6), dtype)
    c0 = rng.standard_normal((4, 6)).astype(dtype)
    bn = rng.standard_normal(6).astype(dtype)
    c = c0.copy()
    _kernels.gemm(False, False, a, b, c, 1.0, 0.5, bn, None, _kernels.ACT_RELU)
    assert_close(c, np.maximum(0.5 * c0 + bn, 0), dtype=dtype)
    np.testing.assert_array_equal(ops.matmul(a, b), np.zeros((4, 6), dtype))
    assert ops.matmul(np.empty((0, 3), dtype), np.ones((3, 5), dtype)).shape == (0, 5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", [(64, 64, 64), (129, 1024, 10), (300, 10, 700), (700, 500, 600)])
def test_gemm_bitwise_reproducible(path, dtype, M, N, K, rng):
    """Same inputs -> same bits, run to run; and the same bits on 1 and 2 threads
    (every C tile is owned by one thread and its K sum always runs in the same order)."""
    a, b = _operands(rng, M, N, K, 0, 1, dtype)
    cr.set_num_threads(2)
    first = ops.matmul(a, b, trans_b=True)
    for _ in range(3):
        np.testing.assert_array_equal(ops.matmul(a, b, trans_b=True), first)
    cr.set_num_threads(1)
    np.testing.assert_array_equal(ops.matmul(a, b, trans_b=True), first)


def test_gemm_path_control():
    with pytest.raises(ValueError, match="unknown or unsupported"):
        _kernels.gemm_set_path("sse9")
    _kernels.gemm_set_path("generic")
    assert _kernels.gemm_path() == "generic"
    _kernels.gemm_set_path(None)
    assert _kernels.gemm_path() == PATHS[0]


def test_gemm_called_from_python_threads(rng):
    """The kernels release the GIL; concurrent calls must not share packing buffers."""
    import threading
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    want = ops.matmul(a, b)
    out = [None] * 4

    def work(i):
        for _ in range(5):
            out[i] = ops.matmul(a, b)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in out:
        np.testing.assert_array_equal(o, want)


# ---- bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [ops.matmul, reference.matmul])
def test_matmul_bad_input(fn):
    f32 = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ.*\(3, 4\)"):
        fn(f32, np.ones((5, 2), np.float32))
    with pytest.raises(TypeError, match=r"matmul: mixed float dtypes"):
        fn(f32, np.ones((4, 2), np.float64))
    with pytest.raises(TypeError, match=r"matmul: argument 'b' must have dtype float32 or float64, got int64"):
        fn(f32, np.ones((4, 2), np.int64))
    with pytest.raises(TypeError, match=r"matmul: argument 'a' must have dtype.*complex128"):
        fn(np.ones((3, 4), complex), f32.T)
    with pytest.raises(ValueError, match=r"matmul: argument 'a' must be 2-D, got shape \(4,\)"):
        fn(np.ones(4, np.float32), f32)
    with pytest.raises(ValueError, match=r"matmul: argument 'b' must be 2-D, got shape \(1, 3, 4\)"):
        fn(f32, np.ones((1, 3, 4), np.float32))
    with pytest.raises(TypeError, match=r"matmul: argument 'a' .* got None"):
        fn(None, f32)
    with pytest.raises(ValueError, match=r"inner dimensions differ"):
        fn(f32, np.ones((4, 2), np.float32), trans_a=True)
    with pytest.raises(ValueError, match=r"inner dimensions differ"):
        fn(f32, np.ones((4, 2), np.float32), trans_b=True)


def test_gemm_kernel_bad_input():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"gemm: shapes do not agree"):
        _kernels.gemm(False, False, a, b, np.empty((3, 6), np.float32))
    with pytest.raises(ValueError, match=r"gemm: bias_n has length 4, expected 5"):
        _kernels.gemm(False, False, a, b, np.empty((3, 5), np.float32), 1.0, 0.0,
                      np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"gemm: act must be"):
        _kernels.gemm(False, False, a, b, np.empty((3, 5), np.float32), act=9)
    with pytest.raises(ValueError, match=r"gemm: c must be row-major"):
        _kernels.gemm(False, False, a, b, np.empty((5, 3), np.float32).T)
    with pytest.raises(ValueError, match=r"gemm: a has byte strides"):
        _kernels.gemm(False, False, np.ones((6, 8), np.float32)[::2, ::2], b,
                      np.empty((3, 5), np.float32))
    with pytest.raises((TypeError, ValueError)):
        _kernels.gemm(False, False, a, b.astype(np.float64), np.empty((3, 5), np.float32))


def test_isa_environment_variable_forces_a_lower_path():
    import os
    import subprocess
    import sys
    # 50x40 @ 40x50: large enough for the micro-kernels (tiny products take the naive loop)
    code = ("import numpy as np, chainrule as cr; a = np.arange(2000.).reshape(50, 40) % 7; "
            "print(cr._kernels.gemm_path(), repr(float(cr.ops.matmul(a, a.T).sum())))")
    a = np.arange(2000.).reshape(50, 40) % 7
    for want in PATHS:
        env = dict(os.environ, CHAINRULE_ISA=want)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out[0] == want and float(out[1]) == float((a @ a.T).sum())  # small ints: exact
    # an unknown name falls back to the best path
    env = dict(os.environ, CHAINRULE_ISA="nonsense")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == PATHS[0]


def test_cpu_clock_measurement_is_plausible():
    ghz = _kernels.cpu_clock_ghz()
    if PATHS[0] == "generic" and ghz == 0:
        pytest.skip("clock measurement not implemented on this CPU")
    assert 0.3 < ghz < 10.0
