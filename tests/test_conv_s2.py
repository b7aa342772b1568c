"""Stride-2 3x3 float32 layers on their stride-phase image (csrc/conv_s2.c, plan path
"implicit_s2": forward and dw by implicit products with tap offsets into the 4 phases, dx by
phases; auto algorithm, AVX-512). Against the NumPy reference in float32 and float64
(float64 keeps the im2col path) at every ISA level this CPU runs, PyTorch as oracle, 1 vs 2
threads bitwise (whole blocks of images per thread, and one block shared by both), odd and
prime sizes, batch 1, padding 0 and 1, non-contiguous inputs, the workspace limit changing
the images per block."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import assert_close, assert_conv_matches_reference, assert_conv_matches_torch, conv_data


# (x shape, w shape, padding): odd / even / prime sizes, C = 1, K = 1, batch 1, a batch
# that leaves a partial last block, images of 3x3 (one output row) up to 33x31
CASES = [((2, 3, 13, 11), (5, 3, 3, 3), 1),
         ((1, 7, 17, 19), (11, 7, 3, 3), 0),
         ((5, 1, 9, 10), (3, 1, 3, 3), 1),
         ((3, 13, 3, 3), (1, 13, 3, 3), 0),
         ((1, 16, 32, 32), (32, 16, 3, 3), 1),
         ((11, 5, 16, 15), (7, 5, 3, 3), 1),
         ((9, 6, 8, 8), (17, 6, 3, 3), 1),
         ((2, 4, 33, 31), (3, 4, 3, 3), 0)]


def _data(rng, xs, ws, dtype):
    return conv_data(rng, xs, ws, dtype, 0.5)


def _direct_s2(xs, ws, p):
    """whether the forward takes the direct path instead (test_conv_s2b.py): K a multiple of
    16 and at least 48 output pixels in the batch"""
    P, Q = (xs[2] + 2 * p - 3) // 2 + 1, (xs[3] + 2 * p - 3) // 2 + 1
    return ws[0] % 16 == 0 and xs[0] * P * Q >= 48


def _run(x, w, b, p, dy):
    y = ops.conv2d_forward(x, w, b, 2, p)
    return (y,) + tuple(ops.conv2d_backward(dy, x, w, 2, p, bias=b is not None))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, bias, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    b = b if bias else None
    dy, got = assert_conv_matches_reference(rng, x, w, b, 2, p)
    # dx alone and dw alone: the same values as together
    dx_only = ops.conv2d_backward(dy, x, w, 2, p, bias=bias, need_dw=False)[0]
    dw_only = ops.conv2d_backward(dy, x, w, 2, p, bias=bias, need_dx=False)[1]
    np.testing.assert_array_equal(dx_only, got[0])
    np.testing.assert_array_equal(dw_only, got[1])
    plan = ops.conv2d_plan(xs, ws, 2, p, 1, 1, dtype)
    s2 = dtype == np.float32 and level == "avx512"
    for key in ("forward", "dx", "dw"):
        direct = _direct_s2(xs, ws, p) if key == "forward" else key == "dw" and ws[0] % 16 == 0
        want = "direct_s2" if direct else "implicit_s2"
        if key == "dx" and xs[1] % 16 == 0:  # dx by phases, channels in lanes: conv_s2dx.c
            want = "direct_s2_dx"
        assert (plan[key]["algorithm"] == want) == s2, plan
    assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 2, p, 1, dtype)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bitwise_for_one_and_two_threads_and_non_contiguous(case, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(np.float32)
    outs, old = [], cr.get_num_threads()
    try:
        for threads in (1, 2, 1):
            cr.set_num_threads(threads)
            outs.append(_run(x, w, b, p, dy))
        # non-contiguous views of the same values
        xn = np.swapaxes(np.swapaxes(x, 2, 3).copy(), 2, 3)
        wn = np.asfortranarray(w)
        dyn = dy[:, ::-1][:, ::-1]
        outs.append(_run(xn, wn, b, p, dyn))
    finally:
        cr.set_num_threads(old)
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", [0, 1, 5, 6])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, 2, p, rng=rng)


def test_workspace_limit_sets_the_images_per_block(rng):
    """A smaller limit stacks fewer images per block (dw then sums the blocks in another
    grouping: the same values within rounding) or, below one image, leaves the path."""
    xs, ws, p = (13, 6, 16, 16), (10, 6, 3, 3), 1
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(np.float32)
    full = _run(x, w, b, p, dy)
    for limit, s2 in ((40000, True), (15000, True), (3000, False)):
        ops.set_workspace_limit(limit)
        got = _run(x, w, b, p, dy)
        for name, a, e in zip(("y", "dx", "dw", "db"), got, full):
            assert_close(a, e, dtype=np.float32, name=name)
        if s2 and _runtime.isa() == "avx512":  # forward and dx: the same sums
            np.testing.assert_array_equal(got[0], full[0])
            np.testing.assert_array_equal(got[1], full[1])
        plan = ops.conv2d_plan(xs, ws, 2, p)
        if _runtime.isa() == "avx512":
            assert (plan["forward"]["algorithm"] == "implicit_s2") == s2, (limit, plan)
        assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 2, p)


def test_forced_im2col_keeps_the_im2col_path():
    xs, ws = (4, 8, 16, 16), (16, 8, 3, 3)
    try:
        _runtime.set_conv_algo("im2col")
        plan = ops.conv2d_plan(xs, ws, 2, 1)
        assert {plan[k]["algorithm"] for k in ("forward", "dx", "dw")} == {"im2col"}, plan
    finally:
        _runtime.set_conv_algo(None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_alone_up_to_128_channels(level, dtype, rng):
    """65-128 channels: the forward takes the path, dx and dw keep im2col's products."""
    xs, ws, p = (3, 67, 11, 9), (71, 67, 3, 3), 1
    x, w, b = _data(rng, xs, ws, dtype)
    y = ops.conv2d_forward(x, w, b, 2, p)
    assert_close(y, ref.conv2d_forward(x, w, b, 2, p), dtype=dtype, name="y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    for name, a, e in zip(("dx", "dw", "db"), ops.conv2d_backward(dy, x, w, 2, p),
                          ref.conv2d_backward(dy, x, w, 2, p)):
        assert_close(a, e, dtype=dtype, name=name)
    plan = ops.conv2d_plan(xs, ws, 2, p, 1, 1, dtype)
    s2 = dtype == np.float32 and level == "avx512"
    assert (plan["forward"]["algorithm"] == "implicit_s2") == s2, plan
    assert plan["dx"]["algorithm"] != "implicit_s2" and plan["dw"]["algorithm"] != "implicit_s2"
    big = ops.conv2d_plan((1, 129, 9, 9), (8, 129, 3, 3), 2, 1)
    assert big["forward"]["algorithm"] != "implicit_s2", big
    old = cr.get_num_threads()
    try:
        outs = []
        for threads in (1, 2):
            cr.set_num_threads(threads)
            outs.append(ops.conv2d_forward(x, w, b, 2, p))
    finally:
        cr.set_num_threads(old)
    np.testing.assert_array_equal(outs[0], outs[1])
