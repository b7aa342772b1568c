"""The batched pixel panel of the row-segment path (csrc/conv_k5.c): float32 stride-1 layers
with 5x5-and-larger kernels and small outputs (<= 128 pixels), forward ("implicit_rows") and
dx as the convolution of dy with the flipped kernel ("rows_conv") and dw ("rows_dw"), the
pixels of G images side by side in one panel (16-lane vectors straddling two images), the
weights read in place. Against the NumPy reference (float32; float64 keeps the other paths) at every ISA
level, PyTorch as oracle, 1 vs 2 threads bitwise (threads splitting the panel's vectors or the
weights' row blocks), several chunks of images, and the plan naming the path."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import assert_close, assert_conv_matches_reference, assert_conv_matches_torch, conv_data

# (x shape, w shape, padding): batch 1..45 (45 images of 7x7: two chunks of the panel),
# K = 1, 9, 37, 67 (row blocks of 8 and fewer), 7x7 / 9x8 / 11x10 / 8x7 outputs, 5x5 /
# 7x7 / 7x5 kernels, padding 0, 2, 3 and asymmetric; 12x13 outputs with 128 output channels
# (more than 128 pixels: the panel only with 128+ rows of w). 16+ channels in and out go to
# conv_g5.c (tests/test_conv_g5.py): the cases here keep C or K below 16.
CASES = [((1, 7, 7, 7), (9, 7, 5, 5), 2),
         ((4, 13, 7, 7), (37, 13, 5, 5), 2),
         ((3, 5, 9, 8), (1, 5, 5, 5), 2),
         ((2, 11, 15, 14), (67, 11, 5, 5), 0),
         ((5, 6, 9, 10), (21, 6, 7, 7), 3),
         ((3, 17, 8, 7), (15, 17, 7, 5), (3, 2)),
         ((45, 5, 7, 7), (11, 5, 5, 5), 2),
         ((2, 7, 12, 13), (128, 7, 5, 5), 2)]


def _data(rng, xs, ws, dtype=np.float32):
    return conv_data(rng, xs, ws, dtype, 0.2)


def _run(x, w, b, p, dy):
    y = ops.conv2d_forward(x, w, b, 1, p)
    return (y,) + tuple(ops.conv2d_backward(dy, x, w, 1, p))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, rng):
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    assert_conv_matches_reference(rng, x, w, b, 1, p)
    plan = ops.conv2d_plan(xs, ws, 1, p, 1, 1, dtype)
    on = dtype == np.float32 and level == "avx512"
    assert (plan["forward"]["algorithm"] == "implicit_rows") == on, plan


def test_dx_of_layers_with_many_input_channels_takes_the_panel(rng):
    if _runtime.isa() != "avx512":
        pytest.skip("the panel needs AVX-512")
    # dx of 130 -> 11 at 8x7 is the panel forward of dy with 130 output channels
    plan = ops.conv2d_plan((2, 130, 8, 7), (11, 130, 5, 5), 1, 2)
    assert plan["dx"]["algorithm"] == "rows_conv", plan
    x, w, b = _data(rng, (2, 130, 8, 7), (11, 130, 5, 5))
    dy = rng.standard_normal((2, 11, 8, 7)).astype(np.float32)
    dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 2)
    for name, a, e in zip(("dx", "dw", "db"), (dx, dw, db), ref.conv2d_backward(dy, x, w, 1, 2)):
        assert_close(a, e, dtype=np.float32, name=name)
    # 13x14 (182 pixels): the panel for dx (130 rows of w), row segments for the forward
    plan = ops.conv2d_plan((3, 130, 13, 14), (11, 130, 5, 5), 1, 2)
    assert plan["dx"]["algorithm"] == "rows_conv", plan
    x, w, b = _data(rng, (3, 130, 13, 14), (11, 130, 5, 5))
    dy = rng.standard_normal((3, 11, 13, 14)).astype(np.float32)
    outs = []
    old = cr.get_num_threads()
    try:
        for t in (1, 2):
            cr.set_num_threads(t)
            outs.append(ops.conv2d_backward(dy, x, w, 1, 2))
    finally:
        cr.set_num_threads(old)
    for name, a, e in zip(("dx", "dw", "db"), outs[0], ref.conv2d_backward(dy, x, w, 1, 2)):
        assert_close(a, e, dtype=np.float32, name=name)
    for a, e in zip(*outs):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", range(len(CASES)))
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
    xn = np.asfortranarray(x)
    outs.append(_run(xn, w, b, p, dy[:, ::-1][:, ::-1]))
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("case", [1, 3, 6])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, p = CASES[case]
    x, w, b = _data(rng, xs, ws)
    assert_conv_matches_torch(torch, x, w, b, 1, p, rng=rng)


# dw by the panel of all N images (conv_k5.c): dw beyond 8192 values (else the small implicit
# backward), padded and not, batch 1 and 5, K past one 48-wide column chunk
DW_CASES = [((1, 15, 7, 7), (70, 15, 5, 5), 2),
            ((5, 15, 11, 11), (45, 15, 5, 5), 0),
            ((3, 15, 9, 8), (53, 15, 7, 7), 3)]


@pytest.mark.parametrize("case", range(len(DW_CASES)))
def test_dw_by_the_panel_matches_the_reference_bitwise_for_threads(level, case, rng):
    xs, ws, p = DW_CASES[case]
    x, w, b = _data(rng, xs, ws)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 1, p).shape).astype(np.float32)
    plan = ops.conv2d_plan(xs, ws, 1, p)
    assert (plan["dw"]["algorithm"] == "rows_dw") == (level == "avx512"), plan
    outs = []
    old = cr.get_num_threads()
    try:
        for t in (1, 2, 2):
            cr.set_num_threads(t)
            outs.append(ops.conv2d_backward(dy, x, w, 1, p, need_dx=False))
    finally:
        cr.set_num_threads(old)
    _, dw, db = ref.conv2d_backward(dy, x, w, 1, p)
    assert outs[0][0] is None
    assert_close(outs[0][1], dw, dtype=np.float32, name="dw")
    assert_close(outs[0][2], db, dtype=np.float32, name="db")
    for other in outs[1:]:
        for a, e in zip(outs[0][1:], other[1:]):
            np.testing.assert_array_equal(a, e)
