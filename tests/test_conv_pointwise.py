"""The batched 1x1 convolution (csrc/conv_pointwise.c): 1x1 layers without padding run as one
matrix product over the pixels of many images (outputs of at most 8x8, strided 1x1, or
everywhere under CHAINRULE_CONV_ALGO=pointwise). Fast vs reference in float32 and float64,
PyTorch as oracle, 1 vs 2 threads bitwise, every ISA level, and the plan reporting it."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, _runtime, ops, reference as ref
from helpers import HAVE_TORCH, assert_close

DTYPES = [np.float32, np.float64]

# (N, C, H, W, K, stride): one pixel, 2x2, 3x5, 7x7, odd C and K, batch 1, 2 and 33,
# strides 1, 2 and (2, 3), a chunked batch (more images than one product takes)
CASES = [(4, 5, 1, 1, 3, 1), (33, 7, 1, 1, 5, 1), (1, 3, 1, 1, 1, 1), (2, 9, 2, 2, 11, 1),
         (33, 6, 2, 2, 4, 1), (1, 13, 3, 5, 7, 1), (2, 17, 7, 7, 3, 1), (3, 4, 9, 9, 5, 2),
         (2, 8, 7, 7, 6, 2), (1, 5, 7, 9, 4, (2, 3)), (33, 3, 4, 4, 2, 2), (2, 6, 1, 1, 4, 2),
         (40, 64, 4, 4, 48, 1), (3, 5, 8, 8, 9, 1)]


def _data(rng, case, dtype):
    N, C, H, W, K, s = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, 1, 1)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    return x, w, b, s


def _run(x, w, b, s, dy):
    y = ops.conv2d_forward(x, w, b, s)
    return (y,) + tuple(ops.conv2d_backward(dy, x, w, s))


def _want(x, w, b, s, dy):
    return (ref.conv2d_forward(x, w, b, s),) + tuple(ref.conv2d_backward(dy, x, w, s))


def _dy(rng, x, w, s, dtype):
    return rng.standard_normal(ref.conv2d_forward(x, w, None, s).shape).astype(dtype)


@pytest.fixture(params=["auto", "pointwise"])
def algo(request):
    _runtime.set_conv_algo(request.param)
    yield request.param
    _runtime.set_conv_algo(None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_matches_reference(algo, case, dtype, rng):
    x, w, b, s = _data(rng, case, dtype)
    dy = _dy(rng, x, w, s, dtype)
    for bias in (b, None):
        got, want = _run(x, w, bias, s, dy), _want(x, w, bias, s, dy)
        for name, g, e in zip(("y", "dx", "dw", "db"), got, want):
            assert_close(g, e, dtype=dtype, name=name)


@pytest.mark.parametrize("case", CASES)
def test_the_plan_reports_the_batched_path(algo, case):
    N, C, H, W, K, s = case
    plan = ops.conv2d_plan((N, C, H, W), (K, C, 1, 1), s)
    for phase in ("forward", "dx", "dw"):
        step = plan[phase]
        assert step["algorithm"] == "pointwise", plan
        blk = step["blocking"]
        # small outputs: all images in one product (they fit the default workspace)
        assert blk["images_per_block"] == N and blk["blocks"] == 1, plan
        assert blk["columns"] == N * blk["rows_per_block"] * ((W - 1) // (s if isinstance(s, int) else s[1]) + 1)


def test_every_1x1_layer_is_one_product_over_the_batch():
    """16x16 and 56x56 too (no product per image any more), under any algorithm setting;
    a padded 1x1 layer is no pointwise layer."""
    for algo in ("auto", "im2col", "pointwise"):
        try:
            _runtime.set_conv_algo(algo)
            for shapes in (((8, 16, 16, 16), (32, 16, 1, 1)), ((1, 64, 56, 56), (256, 64, 1, 1))):
                plan = ops.conv2d_plan(*shapes)
                for phase in ("forward", "dx", "dw"):
                    blk = plan[phase]["blocking"]
                    assert plan[phase]["algorithm"] == "pointwise" or (
                        phase == "dw" and plan[phase]["algorithm"] == "pointwise_dot"), plan
                    N, _, H, W = shapes[0]
                    assert (blk["images_per_block"], blk["blocks"], blk["columns"]) == (N, 1, N * H * W)
                assert ops.conv2d_workspace_bytes(*shapes) > 0
            assert ops.conv2d_plan(*shapes, padding=1)["forward"]["algorithm"] != "pointwise"
        finally:
            _runtime.set_conv_algo(None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_small_workspace_limit_keeps_the_whole_batch(dtype, rng):
    """The scratch is the packed weights and panels (not a copy of the images): a workspace
    limit below it leaves the plan and the results as they are."""
    x, w, b, s = _data(rng, (33, 6, 3, 3, 5, 1), dtype)
    dy = _dy(rng, x, w, s, dtype)
    want = _want(x, w, b, s, dy)
    ws = ops.conv2d_workspace_bytes(x.shape, w.shape, s, dtype=dtype)
    for limit in (ws, 1):
        ops.set_workspace_limit(limit)
        blk = ops.conv2d_plan(x.shape, w.shape, s, dtype=dtype)["dw"]["blocking"]
        assert blk["images_per_block"] == 33 and blk["blocks"] == 1, blk
        assert ops.conv2d_workspace_bytes(x.shape, w.shape, s, dtype=dtype) == ws
        for name, a, e in zip(("y", "dx", "dw", "db"), _run(x, w, b, s, dy), want):
            assert_close(a, e, dtype=dtype, name=name)


def test_backward_accumulates_and_skips_missing_gradients(rng):
    from chainrule import _kernels
    x, w, b, s = _data(rng, (5, 7, 2, 2, 3, 1), np.float32)  # the binding's None: float32
    dy = _dy(rng, x, w, s, np.float32)
    want = ref.conv2d_backward(dy, x, w, s)
    dx0, dw0, db0 = (rng.standard_normal(a.shape).astype(np.float32) for a in want)
    dx, dw, db = dx0.copy(), dw0.copy(), db0.copy()
    _kernels.conv2d_backward(dx, None, None, dy, x, w, (1, 1), (0, 0), (1, 1))
    _kernels.conv2d_backward(None, dw, db, dy, x, w, (1, 1), (0, 0), (1, 1))
    for name, got, base, e in zip(("dx", "dw", "db"), (dx, dw, db), (dx0, dw0, db0), want):
        assert_close(got - base, e, dtype=np.float32, name=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs(dtype, rng):
    x, w, b, s = _data(rng, (3, 6, 4, 5, 7, 1), dtype)
    xs = np.asfortranarray(x)[:, :, ::-1]
    ws = np.asfortranarray(w)
    dyb = rng.standard_normal((3, 7, 8, 10)).astype(dtype)
    dy = dyb[:, :, ::2, ::2]
    assert not xs.flags.c_contiguous and not dy.flags.c_contiguous
    xc = np.ascontiguousarray(xs)
    got = _run(xs, ws, b[::1], s, dy)
    want = _want(xc, w, b, s, np.ascontiguousarray(dy))
    for name, g, e in zip(("y", "dx", "dw", "db"), got, want):
        assert_close(g, e, dtype=dtype, name=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(33, 7, 1, 1, 5, 1), (32, 64, 4, 4, 96, 1),
                                  (8, 48, 2, 2, 80, 1), (5, 40, 9, 9, 72, 2),
                                  (32, 128, 8, 8, 128, 1)])
def test_thread_count_invariant(case, dtype, rng):
    x, w, b, s = _data(rng, case, dtype)
    dy = _dy(rng, x, w, s, dtype)
    results = {}
    for threads in (1, 2):
        cr.set_num_threads(threads)
        runs = [_run(x, w, b, s, dy) for _ in range(2)]
        for a, c in zip(*runs):
            assert np.array_equal(a, c), f"not repeatable at {threads} threads"
        results[threads] = runs[0]
    for name, a, c in zip(("y", "dx", "dw", "db"), results[1], results[2]):
        assert np.array_equal(a, c), f"{name} differs between 1 and 2 threads"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(33, 7, 1, 1, 5, 1), (6, 37, 2, 2, 41, 1),
                                  (3, 19, 7, 7, 23, 2), (32, 64, 4, 4, 96, 1)])
def test_every_isa_level(level, case, dtype, rng):
    x, w, b, s = _data(rng, case, dtype)
    dy = _dy(rng, x, w, s, dtype)
    for name, g, e in zip(("y", "dx", "dw", "db"), _run(x, w, b, s, dy), _want(x, w, b, s, dy)):
        assert_close(g, e, dtype=dtype, name=f"{name} at {level}")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(33, 7, 1, 1, 5, 1), (2, 9, 2, 2, 11, 1), (3, 4, 9, 9, 5, 2),
                                  (1, 5, 7, 9, 4, (2, 3)), (16, 32, 4, 4, 24, 1)])
def test_matches_torch(case, dtype, rng):
    import torch
    import torch.nn.functional as F
    x, w, b, s = _data(rng, case, dtype)
    dy = _dy(rng, x, w, s, dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = F.conv2d(tx, tw, tb, s)
    ty.backward(torch.tensor(dy))
    got = _run(x, w, b, s, dy)
    for name, g, t in zip(("y", "dx", "dw", "db"), got, (ty, tx.grad, tw.grad, tb.grad)):
        assert_close(g, t.detach().numpy(), dtype, name=name)


# The edges of the direct products (conv_pw_mm_tmpl.h, conv_pw_dw_tmpl.h): weights deeper
# than one slice (C or K > 512) and taller than a block of rows, panels per image (16x16)
# or across images (7x7, 2x2), strided dx written through the panel buffer, threads by rows
# (fewer pixels than output channels) or by panels, dw in 1, 2 and 4 chunks of pixels.
EDGE_CASES = [(2, 600, 3, 3, 20, 1), (3, 20, 5, 5, 530, 1), (2, 16, 16, 16, 24, 1),
              (5, 12, 7, 7, 10, 1), (3, 9, 13, 11, 7, 2), (9, 8, 16, 16, 6, 1),
              (33, 5, 16, 16, 7, 1), (1, 37, 17, 19, 29, (2, 1)), (7, 300, 2, 2, 200, 1),
              (1, 70, 56, 56, 3, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EDGE_CASES)
def test_direct_products_match_reference_and_threads(case, dtype, rng):
    x, w, b, s = _data(rng, case, dtype)
    dy = _dy(rng, x, w, s, dtype)
    want = _want(x, w, b, s, dy)
    results = {}
    for threads in (1, 2):
        cr.set_num_threads(threads)
        results[threads] = _run(x, w, b, s, dy)
        for name, g, e in zip(("y", "dx", "dw", "db"), results[threads], want):
            assert_close(g, e, dtype=dtype, name=f"{name} at {threads} threads")
    for name, a, c in zip(("y", "dx", "dw", "db"), results[1], results[2]):
        assert np.array_equal(a, c), f"{name} differs between 1 and 2 threads"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", EDGE_CASES[:6])
def test_direct_products_at_every_isa_level(level, case, dtype, rng):
    x, w, b, s = _data(rng, case, dtype)
    dy = _dy(rng, x, w, s, dtype)
    for name, g, e in zip(("y", "dx", "dw", "db"), _run(x, w, b, s, dy), _want(x, w, b, s, dy)):
        assert_close(g, e, dtype=dtype, name=f"{name} at {level}")


# Up to 256 output columns (N * P * Q) the micro-kernel reads the weights in place instead of
# packing them (conv_pw_mm_tmpl.h, PW_A_INPLACE_MAX_L); one image alone (<= 256 columns) and
# beside copies of itself (> 256) must give the same bits: the same products in the same order.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(13, 16, 16, 29, 1), (600, 3, 5, 37, 1), (7, 15, 17, 300, 1),
                                  (24, 31, 31, 10, 2), (530, 2, 2, 20, 1)])
def test_weights_read_in_place_give_the_packed_bits(case, dtype, rng):
    C, H, W, K, s = case
    x1 = rng.standard_normal((1, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, 1, 1)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    dy1 = _dy(rng, x1, w, s, dtype)
    P, Q = dy1.shape[2:]
    reps = -(-257 // (P * Q)) + 1  # enough copies for more than 256 columns
    assert P * Q <= 256 < reps * P * Q
    x, dy = np.repeat(x1, reps, axis=0), np.repeat(dy1, reps, axis=0)
    for threads in (1, 2):
        cr.set_num_threads(threads)
        y1, dx1 = ops.conv2d_forward(x1, w, b, s), ops.conv2d_backward(dy1, x1, w, s)[0]
        y, dx = ops.conv2d_forward(x, w, b, s), ops.conv2d_backward(dy, x, w, s)[0]
        assert np.array_equal(y1[0], y[0]) and np.array_equal(y1[0], y[-1])
        assert np.array_equal(dx1[0], dx[0]) and np.array_equal(dx1[0], dx[-1])
        assert_close(y1, ref.conv2d_forward(x1, w, b, s), dtype=dtype, name="y")
        assert_close(dx1, ref.conv2d_backward(dy1, x1, w, s)[0], dtype=dtype, name="dx")



# dw by dot products along the pixels (conv_pw_dot_avx512.c): float32, AVX-512, stride 1, at
# most 8192 weights, 1024+ pixels in all. Shapes: K and C not multiples of the 4x4 tile, a
# map that is not a multiple of 16 pixels (masked tail), small maps several to a slab, a large
# map in several slabs (K + C rows of 2304 pixels pass the slab's 256 KiB), batch 1.
DOT_CASES = [(4, 7, 16, 16, 5), (1, 3, 32, 33, 2), (80, 13, 4, 4, 9), (2, 64, 48, 48, 64),
             (3, 1, 31, 37, 1), (9, 90, 12, 12, 91), (1, 130, 48, 48, 60)]


def _needs_avx512():
    if _runtime.isa() != "avx512":
        pytest.skip("conv_pw_dot_avx512.c needs AVX-512")


@pytest.mark.parametrize("case", DOT_CASES)
def test_dot_dw_matches_reference_and_is_bitwise_across_threads(case, rng):
    _needs_avx512()
    N, C, H, W, K = case
    x, w, b, s = _data(rng, (N, C, H, W, K, 1), np.float32)
    dy = _dy(rng, x, w, s, np.float32)
    plan = ops.conv2d_plan(x.shape, w.shape)
    assert plan["dw"]["algorithm"] == "pointwise_dot", plan
    assert plan["forward"]["algorithm"] == plan["dx"]["algorithm"] == "pointwise"
    want = ref.conv2d_backward(dy, x, w, s)
    got = {}
    for threads in (1, 2, 3):
        cr.set_num_threads(threads)
        dx, dw, db = ops.conv2d_backward(dy, x, w, s)
        assert_close(dw, want[1], dtype=np.float32, name=f"dw at {threads} threads")
        assert_close(dx, want[0], dtype=np.float32, name="dx")
        got[threads] = dw
    assert np.array_equal(got[1], got[2]) and np.array_equal(got[1], got[3])
    # the accumulating entry (into an existing gradient) adds onto dw; the writing one sets it
    gw = rng.standard_normal(w.shape).astype(np.float32)
    acc = gw.copy()
    _kernels.conv2d_backward(None, acc, None, dy, x, w, (1, 1), (0, 0), (1, 1))
    assert_close(acc, gw + want[1], dtype=np.float32, name="dw +=")
    _kernels.conv2d_backward(None, acc, None, dy, x, w, (1, 1), (0, 0), (1, 1), True)
    assert np.array_equal(acc, got[1])


def test_dot_dw_runs_exactly_where_the_rule_says():
    """float32 on AVX-512, stride 1, <= 8192 weights, >= 1024 pixels in all; else the GEMM."""
    _needs_avx512()

    def dw(xs, ws, stride=1, dtype=np.float32):
        return ops.conv2d_plan(xs, ws, stride, dtype=dtype)["dw"]["algorithm"]
    assert dw((4, 8, 16, 16), (16, 8, 1, 1)) == "pointwise_dot"     # 1024 pixels
    assert dw((1, 64, 32, 32), (128, 64, 1, 1)) == "pointwise_dot"  # 8192 weights
    assert dw((1, 64, 32, 32), (129, 64, 1, 1)) == "pointwise"      # 8256 weights
    assert dw((3, 8, 16, 16), (16, 8, 1, 1)) == "pointwise"         # 768 pixels
    assert dw((4, 8, 32, 32), (16, 8, 1, 1), 2) == "pointwise"      # stride 2
    assert dw((4, 8, 16, 16), (16, 8, 1, 1), dtype=np.float64) == "pointwise"
    assert ops.conv2d_plan((4, 8, 16, 16), (16, 8, 3, 3), 1, 1)["dw"]["algorithm"] not in (
        "pointwise", "pointwise_dot")
    for level in ("generic", "avx2"):
        _runtime.set_isa(level)
        try:
            assert dw((4, 8, 16, 16), (16, 8, 1, 1)) == "pointwise"
        finally:
            _runtime.set_isa(None)
