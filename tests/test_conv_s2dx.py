"""dx of strided float32 layers by their stride phases, input channels in the vector lanes
(csrc/conv_s2dx.c, plan "direct_s2_dx": AVX-512, auto or implicit algorithm, C a multiple of
16; 3x3 stride 2 with padding 0 or 1 in CASES, other kernels, strides and paddings in
GENERAL). Against the NumPy reference in float32 and float64 (float64
keeps its path) at every ISA level this CPU runs, PyTorch as oracle, 1 vs 2 threads bitwise
(images split between threads, and batch 1: bands of rows and channel blocks), odd and
prime sizes (odd H / W: a phase with one row or column fewer), batch 1, the channel blocks
of 64, 48, 32 and 16, the plan naming the path next to each dw path it joins, and leaving it
where it does not apply."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import assert_close, assert_conv_matches_torch, conv_data


# (x shape, w shape, padding): C = 16, 32, 48, 64, 128 (channel blocks of 16 .. 64), odd and
# prime K, odd / even / prime H and W, 1x1 and 2x2 inputs, batch 1, padding 0 and 1, rows
# wider than one band (W = 57 with 64 channels: bands of 6 rows)
CASES = [((2, 16, 9, 9), (7, 16, 3, 3), 1),
         ((1, 32, 11, 7), (48, 32, 3, 3), 0),
         ((3, 48, 13, 10), (17, 48, 3, 3), 1),
         ((1, 64, 28, 28), (32, 64, 3, 3), 1),
         ((2, 128, 6, 5), (64, 128, 3, 3), 0),
         ((1, 16, 1, 1), (5, 16, 3, 3), 1),
         ((3, 16, 2, 2), (3, 16, 3, 3), 1),
         ((2, 64, 57, 31), (16, 64, 3, 3), 1),
         ((1, 32, 4, 3), (1, 32, 3, 3), 0)]


def _data(rng, xs, ws, dtype):
    return conv_data(rng, xs, ws, dtype, 0.5)


def _dx(x, w, p, dy):
    return ops.conv2d_backward(dy, x, w, 2, p, bias=False, need_dw=False)[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(dtype)
    got = ops.conv2d_backward(dy, x, w, 2, p)
    want = ref.conv2d_backward(dy, x, w, 2, p)
    for name, a, e in zip(("dx", "dw", "db"), got, want):
        assert_close(a, e, dtype=dtype, name=name)
    assert_close(_dx(x, w, p, dy), want[0], dtype=dtype, name="dx alone")
    plan = ops.conv2d_plan(xs, ws, 2, p, 1, 1, dtype)
    on = dtype == np.float32 and level == "avx512"
    assert (plan["dx"]["algorithm"] == "direct_s2_dx") == on, plan
    assert plan["dw"]["algorithm"] != "direct_s2_dx"
    assert plan["dx"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 2, p, 1, dtype,
                                                                       backward=True)


def test_dx_alone_equals_dx_with_dw(rng):
    xs, ws, p = CASES[2]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(np.float32)
    np.testing.assert_array_equal(_dx(x, w, p, dy), ops.conv2d_backward(dy, x, w, 2, p)[0])


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bitwise_for_one_and_two_threads_and_non_contiguous(case, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(np.float32)
    outs, old = [], cr.get_num_threads()
    try:
        for threads in (1, 2, 1):
            cr.set_num_threads(threads)
            outs.append(_dx(x, w, p, dy))
        xn = np.swapaxes(np.swapaxes(x, 2, 3).copy(), 2, 3)
        outs.append(_dx(xn, np.asfortranarray(w), p, dy[:, ::-1][:, ::-1]))
    finally:
        cr.set_num_threads(old)
    for other in outs[1:]:
        np.testing.assert_array_equal(outs[0], other)


@pytest.mark.parametrize("case", [0, 2, 4, 7])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, 2, p, rng=rng)


def test_resnet_layers_route_dx_here_and_keep_their_dw():
    """ResNet-18's 128->256 28x28 at batch 8: dw stays im2col's; 64->128 56x56: dw stays the
    direct tile of the implicit_s2 backward, dx comes here."""
    if _runtime.isa() != "avx512":
        pytest.skip("AVX-512 path")
    a = ops.conv2d_plan((8, 128, 28, 28), (256, 128, 3, 3), 2, 1)
    assert (a["dx"]["algorithm"], a["dw"]["algorithm"]) == ("direct_s2_dx", "direct_s2"), a
    c = ops.conv2d_plan((8, 256, 14, 14), (512, 256, 3, 3), 2, 1)  # R*S*P*Q 441 < 1000
    assert (c["dx"]["algorithm"], c["dw"]["algorithm"]) == ("direct_s2_dx", "im2col"), c
    b = ops.conv2d_plan((8, 64, 56, 56), (128, 64, 3, 3), 2, 1)
    assert (b["dx"]["algorithm"], b["dw"]["algorithm"]) == ("direct_s2_dx", "direct_s2"), b


@pytest.mark.parametrize("xs, ws, p, s", [((2, 24, 9, 9), (16, 24, 3, 3), 1, 2),  # C % 16
                                          ((2, 16, 9, 9), (16, 16, 3, 3), 1, 1),  # stride 1
                                          ((2, 16, 19, 19), (16, 16, 2, 2), 0, 3),  # sh > R
                                          ((2, 16, 29, 29), (16, 16, 9, 8), 1, 2)])  # 72 taps
def test_leaves_the_layers_it_does_not_take(xs, ws, p, s, rng):
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p).shape).astype(np.float32)
    got = ops.conv2d_backward(dy, x, w, s, p, bias=False, need_dw=False)[0]
    assert_close(got, ref.conv2d_backward(dy, x, w, s, p)[0], dtype=np.float32, name="dx")
    assert ops.conv2d_plan(xs, ws, s, p)["dx"]["algorithm"] != "direct_s2_dx"


def test_algorithm_setting(rng):
    """im2col keeps im2col; implicit forces the path (dw then im2col's); a workspace limit
    below one thread's scratch leaves it, with the same values within rounding."""
    if _runtime.isa() != "avx512":
        pytest.skip("AVX-512 path")
    xs, ws, p = CASES[2]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 2, p).shape).astype(np.float32)
    auto = _dx(x, w, p, dy)
    try:
        _runtime.set_conv_algo("im2col")
        assert ops.conv2d_plan(xs, ws, 2, p)["dx"]["algorithm"] == "im2col"
        assert_close(_dx(x, w, p, dy), auto, dtype=np.float32, name="dx im2col")
        _runtime.set_conv_algo("implicit")
        assert ops.conv2d_plan(xs, ws, 2, p)["dx"]["algorithm"] == "direct_s2_dx"
        np.testing.assert_array_equal(_dx(x, w, p, dy), auto)
    finally:
        _runtime.set_conv_algo(None)
    ops.set_workspace_limit(4096)
    assert ops.conv2d_plan(xs, ws, 2, p)["dx"]["algorithm"] != "direct_s2_dx"
    assert_close(_dx(x, w, p, dy), auto, dtype=np.float32, name="dx small limit")


# other kernels, strides and paddings: 5x5 s2 p2, 7x7 s2 p3, 4x4 s2 p1, 5x5 s3 (no padding),
# 3x3 s(2,1), 3x5 s(1,3) p(1,2), 2x2 s2, 8x8 s(2,4) (64 taps), 3x3 s2 p2, and the speech
# front-end's 10x5 s2 on a tall image (taken inside the phase path); odd and prime sizes,
# batch 1, channel blocks of 16, 32 and 48
GENERAL = [((2, 16, 23, 21), (32, 16, 5, 5), 2, 2),
           ((1, 16, 30, 29), (13, 16, 7, 7), 2, 3),
           ((1, 32, 20, 19), (16, 32, 4, 4), 2, 1),
           ((2, 16, 17, 16), (16, 16, 5, 5), 3, 0),
           ((2, 16, 15, 19), (16, 16, 3, 3), (2, 1), 1),
           ((1, 48, 19, 22), (16, 48, 3, 5), (1, 3), (1, 2)),
           ((1, 48, 16, 16), (16, 48, 2, 2), 2, 0),
           ((1, 16, 27, 37), (16, 16, 8, 8), (2, 4), (3, 2)),
           ((3, 16, 9, 9), (16, 16, 3, 3), 2, 2),
           ((1, 32, 241, 81), (32, 32, 10, 5), 2, 0)]


@pytest.mark.parametrize("case", range(len(GENERAL)))
def test_other_kernels_and_strides_match_the_reference(level, case, rng):
    xs, ws, s, p = GENERAL[case]
    for dtype in (np.float32, np.float64):
        x, w, b = _data(rng, xs, ws, dtype)
        dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p).shape).astype(dtype)
        want = ref.conv2d_backward(dy, x, w, s, p)
        got = ops.conv2d_backward(dy, x, w, s, p)
        for name, a, e in zip(("dx", "dw", "db"), got, want):
            assert_close(a, e, dtype=dtype, name=name)
        dx = ops.conv2d_backward(dy, x, w, s, p, bias=False, need_dw=False)[0]
        assert_close(dx, want[0], dtype=dtype, name="dx alone")
        dw = ops.conv2d_backward(dy, x, w, s, p, need_dx=False)[1]
        assert_close(dw, want[1], dtype=dtype, name="dw alone")
        plan = ops.conv2d_plan(xs, ws, s, p, 1, 1, dtype)
        on = dtype == np.float32 and level == "avx512"
        assert (plan["dx"]["algorithm"] == "direct_s2_dx") == on, plan
        # dw with output channels in the lanes (conv_s2b.c) where K % 16 == 0 and R*S*P*Q >=
        # 1000 (3x3 s2 layers: the implicit_s2 path's own rule); the phase path keeps its dw
        if on:
            assert plan["dw"]["algorithm"] == GENERAL_DW[case], plan


GENERAL_DW = ["direct_s2", "im2col", "phase", "im2col", "direct_s2", "direct_s2", "im2col",
              "direct_s2", "direct_s2", "phase"]


@pytest.mark.parametrize("case", range(len(GENERAL)))
def test_other_kernels_and_strides_bitwise_for_threads(case, rng):
    xs, ws, s, p = GENERAL[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p).shape).astype(np.float32)
    outs = []
    for threads in (1, 2, 2):
        cr.set_num_threads(threads)
        outs.append(ops.conv2d_backward(dy, x, w, s, p))
    outs.append(ops.conv2d_backward(dy[:, ::-1][:, ::-1], np.asfortranarray(x), w, s, p))
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)


def test_phase_layers_take_it_where_dy_padding_is_small():
    """The phase path's dx moves to direct_s2_dx when H*W <= P*Q*sh*sw / 0.9 (few zero taps
    off dy's edges): the tall speech layer, not the 76x98 one (fill 0.86)."""
    if _runtime.isa() != "avx512":
        pytest.skip("AVX-512 path")
    tall = ops.conv2d_plan((4, 32, 341, 79), (32, 32, 10, 5), 2, 0)
    assert (tall["dx"]["algorithm"], tall["dw"]["algorithm"]) == ("direct_s2_dx", "phase"), tall
    wide = ops.conv2d_plan((4, 32, 76, 98), (64, 32, 10, 5), 2, 0)
    assert (wide["dx"]["algorithm"], wide["dw"]["algorithm"]) == ("phase", "phase"), wide


@pytest.mark.parametrize("case", [0, 3, 5, 9])
def test_other_kernels_and_strides_agree_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, s, p = GENERAL[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, s, p, rng=rng)
