"""The direct strided forward with output channels in the vector lanes (csrc/conv_s2b.c,
plan path "direct_s2": float32, AVX-512, auto algorithm, a stride above 1, 2 to 64 taps, K a
multiple of 16, at least 48 output pixels in the batch; 3x3 s2 in CASES, other kernels and
strides in GENERAL), and its dw inside the implicit_s2 backward (C, K <= 64,
K a multiple of 16). Against the NumPy reference in float32 (float64 keeps
the im2col path: checked too) at every ISA level this CPU runs, PyTorch as oracle, 1 vs 2
threads bitwise (images per thread, and one image shared: channel blocks x pixel ranges),
odd and prime sizes, batch 1, padding 0, 1 and 2, channels that leave partial blocks,
non-contiguous inputs, the workspace limit sending it back to the other paths."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import assert_close, assert_conv_matches_torch, conv_data


# (x shape, w shape, padding): every weight block size (KB 16, 32, 48, 64), several blocks,
# input channels in blocks of near-equal size (~384 KiB of packed weights: 341 -> 2 blocks
# of 171 / 170 for KB 32; 200 -> 2 of 100 for KB 64), odd images, batch 1
CASES = [((1, 7, 33, 31), (48, 7, 3, 3), 1),
         ((4, 5, 19, 13), (16, 5, 3, 3), 1),
         ((3, 3, 24, 24), (64, 3, 3, 3), 0),
         ((1, 130, 34, 34), (32, 130, 3, 3), 1),
         ((6, 17, 14, 14), (128, 17, 3, 3), 1),
         ((1, 9, 40, 38), (80, 9, 3, 3), 1),
         ((2, 4, 30, 30), (32, 4, 3, 3), 2),
         ((1, 11, 31, 35), (96, 11, 3, 3), 1),
         ((1, 341, 16, 15), (32, 341, 3, 3), 1),
         ((2, 200, 12, 12), (64, 200, 3, 3), 1)]


def _data(rng, xs, ws, dtype):
    return conv_data(rng, xs, ws, dtype, 0.5)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, bias, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    b = b if bias else None
    y = ops.conv2d_forward(x, w, b, 2, p)
    assert_close(y, ref.conv2d_forward(x, w, b, 2, p), dtype=dtype, name="y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = ops.conv2d_backward(dy, x, w, 2, p, bias=bias)
    for name, a, e in zip(("dx", "dw", "db"), got, ref.conv2d_backward(dy, x, w, 2, p, bias=bias)):
        assert (a is None) == (e is None)
        if e is not None:
            assert_close(a, e, dtype=dtype, name=name)
    np.testing.assert_array_equal(ops.conv2d_backward(dy, x, w, 2, p, bias=bias, need_dx=False)[1],
                                  got[1])
    plan = ops.conv2d_plan(xs, ws, 2, p, 1, 1, dtype)
    direct = dtype == np.float32 and level == "avx512"
    assert (plan["forward"]["algorithm"] == "direct_s2") == direct, plan
    assert plan["dx"]["algorithm"] != "direct_s2"
    assert (plan["dw"]["algorithm"] == "direct_s2") == (direct and max(xs[1], ws[0]) <= 64), plan
    assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 2, p, 1, dtype)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bitwise_for_one_and_two_threads_and_non_contiguous(case, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(np.float32)

    def run(x, w, b, dy):
        return (ops.conv2d_forward(x, w, b, 2, p),) + tuple(ops.conv2d_backward(dy, x, w, 2, p))
    outs = []
    for threads in (1, 2, 1):
        cr.set_num_threads(threads)
        outs.append(run(x, w, b, dy))
    xn = np.swapaxes(np.swapaxes(x, 2, 3).copy(), 2, 3)
    outs.append(run(xn, np.asfortranarray(w), b[::-1][::-1], dy[:, ::-1][:, ::-1]))
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", [0, 1, 3, 4, 5, 6])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, 2, p, rng=rng)


def test_the_plan_keeps_the_other_paths_outside_its_bounds():
    """K not a multiple of 16, too few output pixels, stride 1, dilation 2, more than 64 taps,
    1x1 (pointwise), a forced algorithm, a workspace limit below one image's slice: never
    direct_s2."""
    if _runtime.isa() != "avx512":
        pytest.skip("the path needs AVX-512")
    assert ops.conv2d_plan((2, 8, 32, 32), (32, 8, 3, 3), 2, 1)["forward"]["algorithm"] == "direct_s2"
    for xs, ws, s, d in (((2, 8, 32, 32), (40, 8, 3, 3), 2, 1), ((1, 8, 12, 12), (32, 8, 3, 3), 2, 1),
                         ((2, 8, 32, 32), (32, 8, 3, 3), 1, 1), ((2, 8, 36, 36), (32, 8, 3, 3), 2, 2),
                         ((2, 8, 40, 40), (32, 8, 9, 8), 2, 1), ((2, 8, 36, 36), (32, 8, 1, 1), 2, 1)):
        plan = ops.conv2d_plan(xs, ws, s, 1, d)
        assert plan["forward"]["algorithm"] != "direct_s2", (xs, ws, s, d, plan)
    try:
        _runtime.set_conv_algo("im2col")
        assert ops.conv2d_plan((2, 8, 32, 32), (32, 8, 3, 3), 2, 1)["forward"]["algorithm"] == "im2col"
    finally:
        _runtime.set_conv_algo(None)
    ops.set_workspace_limit(20000)  # below 8*34*34 + 256*32 floats
    assert ops.conv2d_plan((2, 8, 32, 32), (32, 8, 3, 3), 2, 1)["forward"]["algorithm"] != "direct_s2"


def test_backward_up_to_128_channels_on_large_outputs(level, rng):
    """65-128 channels with 28x28+ outputs and K % 16 == 0: the implicit_s2 backward with the
    direct dw (dx by phases); against the reference, 1 vs 2 threads bitwise; smaller outputs
    keep im2col."""
    xs, ws, p = (2, 70, 55, 57), (96, 70, 3, 3), 1
    x, w, b = _data(rng, xs, ws, np.float32)
    y = ops.conv2d_forward(x, w, b, 2, p)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    outs = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        outs.append(ops.conv2d_backward(dy, x, w, 2, p))
    for name, a, e, o in zip(("dx", "dw", "db"), outs[0], ref.conv2d_backward(dy, x, w, 2, p),
                             outs[1]):
        assert_close(a, e, dtype=np.float32, name=name)
        np.testing.assert_array_equal(a, o)
    plan = ops.conv2d_plan(xs, ws, 2, p)
    avx512 = level == "avx512"
    assert (plan["dx"]["algorithm"] == "implicit_s2") == avx512, plan
    assert (plan["dw"]["algorithm"] == "direct_s2") == avx512, plan
    small = ops.conv2d_plan((2, 70, 53, 57), ws, 2, p)  # 27 x 29 outputs
    assert small["dx"]["algorithm"] != "implicit_s2" and small["dw"]["algorithm"] != "direct_s2"


# other kernels and strides (the forward only; their backward keeps its paths): the speech
# front-end's 10x5 s2 (no padding), ResNet's 7x7 s2 stem (3 input channels), 5x5 s2, 4x4 s2,
# 5x5 s3, 3x3 s(2,1), 2x2 s2, 8x8 s(4,2) (64 taps, the most), 7x5 s(1,3); odd images, batch 1
GENERAL = [((2, 5, 41, 23), (32, 5, 10, 5), 2, 0),
           ((1, 3, 35, 38), (64, 3, 7, 7), 2, 3),
           ((2, 9, 19, 17), (48, 9, 5, 5), 2, 2),
           ((1, 13, 22, 21), (16, 13, 4, 4), 2, 1),
           ((3, 7, 23, 26), (32, 7, 5, 5), 3, 0),
           ((1, 11, 15, 19), (80, 11, 3, 3), (2, 1), 1),
           ((2, 6, 20, 20), (16, 6, 2, 2), 2, 0),
           ((1, 4, 37, 29), (32, 4, 8, 8), (4, 2), (2, 1)),
           ((2, 5, 17, 30), (16, 5, 7, 5), (1, 3), (3, 2))]


@pytest.mark.parametrize("case", range(len(GENERAL)))
def test_other_kernels_and_strides_match_the_reference(level, case, rng):
    xs, ws, s, p = GENERAL[case]
    for dtype in (np.float32, np.float64):
        x, w, b = _data(rng, xs, ws, dtype)
        assert_close(ops.conv2d_forward(x, w, b, s, p), ref.conv2d_forward(x, w, b, s, p),
                     dtype=dtype, name="y")
        assert_close(ops.conv2d_forward(x, w, None, s, p), ref.conv2d_forward(x, w, None, s, p),
                     dtype=dtype, name="y without bias")
        plan = ops.conv2d_plan(xs, ws, s, p, 1, 1, dtype)
        direct = dtype == np.float32 and level == "avx512"
        assert (plan["forward"]["algorithm"] == "direct_s2") == direct, plan


@pytest.mark.parametrize("case", range(len(GENERAL)))
def test_other_kernels_and_strides_bitwise_for_threads(case, rng):
    xs, ws, s, p = GENERAL[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    outs = []
    for threads in (1, 2, 2):
        cr.set_num_threads(threads)
        outs.append(ops.conv2d_forward(x, w, b, s, p))
    outs.append(ops.conv2d_forward(np.asfortranarray(x), np.asfortranarray(w), b, s, p))
    for other in outs[1:]:
        np.testing.assert_array_equal(outs[0], other)


@pytest.mark.parametrize("case", [0, 1, 5, 8])
def test_other_kernels_and_strides_agree_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, s, p = GENERAL[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, s, p, rng=rng)
