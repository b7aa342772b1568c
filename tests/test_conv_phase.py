"""Strided float32 layers run as one stride-1 convolution of their phase image
(csrc/conv_phase.c, plan path "phase": stride 2 on one or both axes, no dilation, kernels
whose phase split adds at most 10% zero taps, on AVX-512 CPUs). Against the NumPy reference
in float32 and float64 (float64 keeps the im2col path) at every ISA level this CPU runs,
PyTorch as oracle, 1 vs 2 threads bitwise, the plan naming the path, and the workspace
limit splitting the batch into chunks without changing the results."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops
from helpers import assert_close, assert_conv_matches_reference, assert_conv_matches_torch


# (x shape, w shape, stride, padding, dilation): odd sizes, 10x5 / 20x5 / 4x3 / 2x7 / 4x4
# kernels, stride (2,2) (2,1) (1,2), padding 0 1 2 and asymmetric, N = 1, C = 1, odd K;
# the last ones (3x3, 5x3 and 7x7 with stride 2 rows: too many zero taps; dilation 2) keep
# the other paths
CASES = [((2, 3, 17, 13), (5, 3, 10, 5), 2, 0, 1),
         ((1, 1, 41, 23), (7, 1, 20, 5), 2, (1, 2), 1),
         ((2, 4, 15, 16), (3, 4, 4, 3), (2, 1), (2, 1), 1),
         ((2, 4, 15, 17), (3, 4, 2, 7), (1, 2), (0, 2), 1),
         ((3, 5, 19, 11), (9, 5, 4, 4), 2, 1, 1),
         ((1, 6, 23, 21), (5, 6, 10, 5), 2, (2, 0), 1),
         ((2, 3, 13, 11), (5, 3, 3, 3), 2, 1, 1),
         ((2, 3, 21, 15), (5, 3, 10, 5), 2, 0, 2),
         ((2, 4, 15, 16), (3, 4, 5, 3), (2, 1), (2, 1), 1),
         ((1, 3, 29, 27), (8, 3, 7, 7), 2, 3, 1),
         ((2, 2, 23, 71), (4, 2, 10, 5), 2, (1, 2), 1),
         ((1, 3, 21, 104), (5, 3, 5, 10), (1, 2), (1, 3), 1)]
# the last two: rows of 33+ columns per phase (conv_phase_avx512.c's 16-wide copies and tails)
PHASE = [True, True, True, True, True, True, False, False, False, False, True, True]


def _data(rng, xs, ws, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = (0.5 * rng.standard_normal(ws)).astype(dtype)
    return x, w, rng.standard_normal(ws[0]).astype(dtype)


def _run(x, w, b, s, p, d, dy):
    y = ops.conv2d_forward(x, w, b, s, p, d)
    return (y,) + tuple(ops.conv2d_backward(dy, x, w, s, p, d, bias=b is not None))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, bias, rng):
    xs, ws, s, p, d = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    b = b if bias else None
    assert_conv_matches_reference(rng, x, w, b, s, p, d)
    plan = ops.conv2d_plan(xs, ws, s, p, d, 1, dtype)
    phase = PHASE[case] and dtype == np.float32 and level == "avx512"
    for key in ("forward", "dx", "dw"):
        assert (plan[key]["algorithm"] == "phase") == phase, plan


@pytest.mark.parametrize("case", [c for c in range(len(CASES)) if PHASE[c]])
def test_bitwise_for_one_and_two_threads_and_non_contiguous(case, rng):
    xs, ws, s, p, d = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d).shape).astype(np.float32)
    outs = []
    for threads in (1, 2, 1):
        cr.set_num_threads(threads)
        outs.append(_run(x, w, b, s, p, d, dy))
    # non-contiguous views of the same values
    xn = np.swapaxes(np.swapaxes(x, 2, 3).copy(), 2, 3)
    wn = np.asfortranarray(w)
    dyn = dy[:, ::-1][:, ::-1]
    outs.append(_run(xn, wn, b, s, p, d, dyn))
    for other in outs[2:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)
    for a, e in zip(outs[0], outs[1]):  # 2 threads: the same sums, split by images / planes
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", [0, 1, 4])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, s, p, d = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, s, p, d, rng=rng)


def test_workspace_limit_chunks_the_batch(rng):
    """A small limit runs the phase image one image at a time (or leaves the path when the
    stride-1 layer no longer fits): the same values within rounding either way."""
    xs, ws, s, p, d = (5, 4, 33, 21), (6, 4, 10, 5), 2, 1, 1
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d).shape).astype(np.float32)
    full = _run(x, w, b, s, p, d, dy)
    # the phase image of one image: 16 x 17 x 12 floats (13 KB); its stride-1 layer
    # needs ~17 KB: chunks of 2 (forward) and 1 (backward), of 1, then no phase path
    for limit, phase in ((30000, True), (20000, True), (10000, False)):
        ops.set_workspace_limit(limit)
        got = _run(x, w, b, s, p, d, dy)
        for name, a, e in zip(("y", "dx", "dw", "db"), got, full):
            assert_close(a, e, dtype=np.float32, name=name)
        plan = ops.conv2d_plan(xs, ws, s, p, d)
        if _runtime.isa() == "avx512":
            assert (plan["forward"]["algorithm"] == "phase") == phase, (limit, plan)
        assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, s, p, d)
