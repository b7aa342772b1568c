"""Large kernels on small images with the padding taps skipped (csrc/conv_g5.c, "g5_skip"):
float32 stride-1 layers with 5x5-and-larger kernels, outputs up to 28x28 and 16+ channels in
and out, forward, dx (the convolution of dy with the flipped kernel) and dw, output channels
in the vector lanes (blocks of 32, a last 16 joining the block before as 48), tiles of <= 7
pixels of one output row, AVX-512 and the auto algorithm only. Against the NumPy reference
(float32; float64 keeps the other paths) at every ISA level this CPU runs, PyTorch as oracle,
1 vs 2 threads bitwise and run to run, non-contiguous inputs, the plan naming the path where
it should and only there, and its scratch within the workspace limit."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops
from helpers import assert_close, assert_conv_matches_reference, assert_conv_matches_torch, conv_data

# (x shape, w shape, padding): batch 1..3 (the first two with a dw of <= 8192 values: the
# forward only, the backward stays the small implicit one); K = 16, 19 (one block, 13 zero lanes), 48 (one
# 48-lane block), 67 (32 + 48), 130 (32 x 3 + 48); C = 16 .. 90 (90: three blocks of input
# channels); 7x7, 9x10, 13x11, 14x14 (two 7-pixel tiles per row), 28x28 outputs; 5x5, 7x7 and
# 7x5 kernels; padding 0, 2, 3, 4 (more than half the kernel) and asymmetric; GoogLeNet's
# 5x5 layers at batch 1
CASES = [((1, 16, 7, 7), (16, 16, 5, 5), 2),
         ((3, 17, 7, 7), (19, 17, 5, 5), 2),
         ((2, 33, 14, 14), (48, 33, 5, 5), 2),
         ((2, 20, 13, 11), (67, 20, 5, 5), 2),
         ((1, 41, 9, 10), (21, 41, 7, 7), 3),
         ((3, 17, 8, 7), (19, 17, 7, 5), (3, 2)),
         ((2, 24, 12, 12), (40, 24, 5, 5), 0),
         ((2, 16, 28, 28), (32, 16, 5, 5), 2),
         ((1, 90, 7, 7), (130, 90, 5, 5), 2),
         ((2, 37, 6, 5), (18, 37, 5, 5), 4),
         ((1, 832, 7, 7), (128, 832, 5, 5), 2),
         ((1, 480, 14, 14), (48, 480, 5, 5), 2)]


def _data(rng, xs, ws, dtype=np.float32):
    return conv_data(rng, xs, ws, dtype, 0.2)


def _run(x, w, b, p, dy):
    y = ops.conv2d_forward(x, w, b, 1, p)
    return (y,) + tuple(ops.conv2d_backward(dy, x, w, 1, p))


def _paths(xs, ws, p, dtype=np.float32):
    plan = ops.conv2d_plan(xs, ws, 1, p, 1, 1, dtype)
    return tuple(plan[k]["algorithm"] for k in ("forward", "dx", "dw"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    assert_conv_matches_reference(rng, x, w, b, 1, p)
    on = dtype == np.float32 and level == "avx512"
    # 5x5 layers with 8+ outputs a side may run Winograd F(2x2, 5x5) instead
    # (tests/test_conv_wino25.py names where)
    paths = tuple("g5_skip" if a == "winograd_5x5" else a for a in _paths(xs, ws, p, dtype))
    # a dw of <= 8192 values keeps the small implicit backward (cases 0, 1)
    small = np.prod(ws) <= 8192
    assert (paths == ("g5_skip",) + (("implicit",) * 2 if small else ("g5_skip",) * 2)) == on, \
        paths
    assert on or "g5_skip" not in paths, paths


@pytest.mark.parametrize("case", range(len(CASES) - 2))
def test_bitwise_for_one_and_two_threads_and_run_to_run(case, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 1, p).shape).astype(np.float32)
    outs = []
    old = cr.get_num_threads()
    try:
        for t in (1, 2, 2):
            cr.set_num_threads(t)
            outs.append(_run(x, w, b, p, dy))
    finally:
        cr.set_num_threads(old)
    # non-contiguous inputs give the same bits (the ops copy them)
    outs.append(_run(np.asfortranarray(x), w[:, ::-1][:, ::-1], b, p, dy[:, ::-1][:, ::-1]))
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)


def test_bitwise_for_threads_on_the_googlenet_layers(rng):
    # batch 8 as in the bench suite: threads split channel blocks and tiles (and dw's units)
    for xs, ws in (((8, 832, 7, 7), (128, 832, 5, 5)), ((8, 480, 14, 14), (48, 480, 5, 5))):
        x, w, b = _data(rng, xs, ws)
        dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
        outs = []
        old = cr.get_num_threads()
        try:
            for t in (1, 2):
                cr.set_num_threads(t)
                outs.append(_run(x, w, b, 2, dy))
        finally:
            cr.set_num_threads(old)
        for a, e in zip(*outs):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", [1, 3, 5, 9])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws)
    assert_conv_matches_torch(torch, x, w, b, 1, p, rng=rng)


def test_the_plan_takes_it_only_for_its_layers():
    if _runtime.isa() != "avx512":
        pytest.skip("conv_g5.c needs AVX-512")
    assert _paths((8, 832, 7, 7), (128, 832, 5, 5), 2) == ("g5_skip",) * 3
    # 480->48 14x14: forward and dx by Winograd F(2x2, 5x5), dw here (K = 48); 192->32 28x28:
    # all three by Winograd (tests/test_conv_wino25.py)
    assert _paths((8, 480, 14, 14), (48, 480, 5, 5), 2) == ("winograd_5x5",) * 2 + ("g5_skip",)
    assert _paths((16, 192, 28, 28), (32, 192, 5, 5), 2) == ("winograd_5x5",) * 3
    # fewer than 16 channels in or out (1 -> 6 at 28x28 ran 5x slower), 3x3, outputs past
    # 28x28, stride 2, dilation, float64
    for xs, ws, s, p, dl in (((16, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1),
                             ((2, 32, 7, 7), (15, 32, 5, 5), 1, 2, 1),
                             ((2, 32, 14, 14), (32, 32, 3, 3), 1, 1, 1),
                             ((1, 16, 29, 29), (16, 16, 5, 5), 1, 2, 1),
                             ((2, 32, 14, 14), (32, 32, 5, 5), 2, 2, 1),
                             ((2, 32, 14, 14), (32, 32, 5, 5), 1, 4, 2)):
        plan = ops.conv2d_plan(xs, ws, s, p, dl)
        assert plan["forward"]["algorithm"] != "g5_skip", (xs, ws, plan)
    assert "g5_skip" not in _paths((2, 32, 7, 7), (32, 32, 5, 5), 2, np.float64)
    # 16 -> 15 and 15 -> 16: dx is a conv with 15 input or output channels, not this path
    # (nor, then, dw)
    for xs, ws in (((2, 16, 7, 7), (15, 16, 5, 5)), ((2, 15, 7, 7), (16, 15, 5, 5))):
        assert "g5_skip" not in _paths(xs, ws, 2), (xs, ws)
    # forced algorithms keep their paths
    for algo in ("im2col", "implicit"):
        _runtime.set_conv_algo(algo)
        assert "g5_skip" not in _paths((8, 832, 7, 7), (128, 832, 5, 5), 2), algo
    _runtime.set_conv_algo(None)


def test_scratch_is_what_the_plan_reports_and_within_the_limit():
    if _runtime.isa() != "avx512":
        pytest.skip("conv_g5.c needs AVX-512")
    xs, ws = (8, 832, 7, 7), (128, 832, 5, 5)
    plan = ops.conv2d_plan(xs, ws, 1, 2)
    for key, backward in (("forward", False), ("dw", True)):
        assert plan[key]["workspace_bytes"] == ops.conv2d_workspace_bytes(
            xs, ws, 1, 2, 1, np.float32, backward=backward)
    # the packed weights of a block of input channels, not of the whole layer (10.6 MB)
    assert plan["forward"]["workspace_bytes"] < 2 << 20
    # a limit below the path's scratch sends the layer elsewhere, with the same results
    rng = np.random.default_rng(5)
    x, w, b = _data(rng, (2, 40, 7, 7), (24, 40, 5, 5))
    dy = rng.standard_normal((2, 24, 7, 7)).astype(np.float32)
    before = _run(x, w, b, 2, dy)
    ops.set_workspace_limit(64 << 10)
    assert "g5_skip" not in _paths((2, 40, 7, 7), (24, 40, 5, 5), 2)
    after = _run(x, w, b, 2, dy)
    for name, a, e in zip(("y", "dx", "dw", "db"), after, before):
        assert_close(a, e, dtype=np.float32, name=name)


# dx of stride-1 layers with 5+ kernel rows and 2+ columns on images past 28x28 (conv_plan.c:
# g5_dx_auto; conv_rows.c keeps those it takes): dx is the convolution of dy padded by R-1
# rows and S-1 columns, whose zero taps conv_g5.c skips; the forward and dw keep their paths.
# 5x3 without padding (the speech 10x5 s2 layers' phases), 5x5 padded, 7x2 with asymmetric
# padding, 40 dx channels (a 48-lane block), and a stride-2 10x5 layer through its phases.
DX_CASES = [((2, 24, 33, 30), (32, 24, 5, 3), 1, 0),
            ((1, 20, 32, 30), (24, 20, 5, 5), 1, 2),
            ((3, 19, 31, 29), (40, 19, 7, 2), 1, (3, 1)),
            ((2, 40, 30, 29), (17, 40, 5, 3), 1, (2, 1)),
            ((2, 16, 40, 31), (32, 16, 10, 5), 2, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(DX_CASES)))
def test_dx_of_larger_images_matches_the_reference(level, case, dtype, rng):
    xs, ws, s, p = DX_CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    assert_conv_matches_reference(rng, x, w, b, s, p)
    plan = ops.conv2d_plan(xs, ws, s, p, 1, 1, dtype)
    paths = tuple(plan[k]["algorithm"] for k in ("forward", "dx", "dw"))
    on = dtype == np.float32 and level == "avx512"
    if s == 2:  # the phases' dx (stride 1, 5x3 and 5x2) take conv_g5.c
        assert (paths == ("direct_s2", "phase", "phase")) == on, paths
    else:
        assert (paths[1] == "g5_skip") == on and "g5_skip" not in (paths[0], paths[2]), paths


@pytest.mark.parametrize("case", range(len(DX_CASES)))
def test_dx_of_larger_images_bitwise_for_threads(case, rng):
    xs, ws, s, p = DX_CASES[case]
    x, w, b = _data(rng, xs, ws)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p).shape).astype(np.float32)
    outs = []
    old = cr.get_num_threads()
    try:
        for t in (1, 2, 2):
            cr.set_num_threads(t)
            outs.append(ops.conv2d_backward(dy, x, w, s, p, need_dw=False)[0])
    finally:
        cr.set_num_threads(old)
    for other in outs[1:]:
        np.testing.assert_array_equal(outs[0], other)


def test_dx_of_larger_images_agrees_with_pytorch(rng):
    torch = pytest.importorskip("torch")
    for xs, ws, s, p in DX_CASES[2:]:
        x, w, b = _data(rng, xs, ws)
        assert_conv_matches_torch(torch, x, w, b, s, p, rng=rng)
