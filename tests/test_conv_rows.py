"""Float32 stride-1 layers with large kernels on the row-segment paths (csrc/conv_rows.c):
the forward "implicit_rows" (output rows cut into 16-column segments, or one panel of all
pixels for small outputs; also dx as the convolution of dy with the flipped kernel,
"rows_conv") and the dw path
"rows_dw" (dw^T over the valid output pixels), AVX-512 and the auto algorithm only.
Against the NumPy reference in float32 and float64 (float64 keeps the other paths) at every
ISA level this CPU runs, PyTorch as oracle, 1 vs 2 threads bitwise (one image shared by the
threads and whole images per thread), non-contiguous inputs, and the plan naming the paths."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops
from helpers import assert_conv_matches_reference, assert_conv_matches_torch


# (x shape, w shape, padding, forward path, dw path): odd and prime sizes, N = 1 and 3,
# row segments (larger outputs) and one pixel panel (<= 128 output pixels: the last three),
# K = 5 .. 67 (53, 67: more than one 48-wide column chunk of dw), 5x5 / 7x7 / 5x3 / 5x2
# kernels, padding 0, 2, 3 and asymmetric; the dw path needs a dw beyond 8192 values (else
# the small implicit backward) and 64+ output pixels. Outputs up to 28x28 with 16+ channels in
# and out go to conv_g5.c (tests/test_conv_g5.py), so the cases here keep C or K below 16.
CASES = [((1, 7, 14, 14), (5, 7, 5, 5), 2, "implicit_rows", "implicit"),
         ((3, 7, 14, 14), (5, 7, 5, 5), 2, "implicit_rows", "implicit"),
         ((1, 5, 13, 15), (11, 5, 5, 5), 2, "implicit_rows", "implicit"),
         ((1, 4, 17, 19), (6, 4, 5, 5), 0, "implicit_rows", "implicit"),
         ((3, 6, 23, 13), (7, 6, 7, 7), 3, "implicit_rows", "implicit"),
         ((1, 37, 13, 11), (15, 37, 5, 5), 2, "implicit", "rows_dw"),
         ((3, 15, 14, 14), (53, 15, 5, 5), 2, "implicit_rows", "rows_dw"),
         ((2, 23, 21, 17), (29, 23, 5, 3), (2, 1), "implicit", "rows_dw"),
         ((1, 41, 11, 13), (67, 41, 5, 2), 0, "implicit", "rows_dw"),
         ((3, 31, 19, 14), (15, 31, 5, 5), 2, "implicit_rows", "rows_dw"),
         ((3, 15, 7, 7), (37, 15, 5, 5), 2, "implicit_rows", "rows_dw"),
         ((1, 13, 9, 7), (21, 13, 5, 5), 2, "implicit_rows", "implicit"),
         ((2, 15, 8, 9), (70, 15, 5, 5), 2, "implicit_rows", "rows_dw")]
ROWS = ("implicit_rows", "rows_dw")


def _data(rng, xs, ws, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = (0.2 * rng.standard_normal(ws)).astype(dtype)
    return x, w, rng.standard_normal(ws[0]).astype(dtype)


def _run(x, w, b, p, dy):
    y = ops.conv2d_forward(x, w, b, 1, p)
    return (y,) + tuple(ops.conv2d_backward(dy, x, w, 1, p, bias=b is not None))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_the_reference_and_the_plan_names_the_path(level, case, dtype, bias, rng):
    xs, ws, p, fwd, dw = CASES[case]
    x, w, b = _data(rng, xs, ws, dtype)
    b = b if bias else None
    assert_conv_matches_reference(rng, x, w, b, 1, p)
    plan = ops.conv2d_plan(xs, ws, 1, p, 1, 1, dtype)
    on = dtype == np.float32 and level == "avx512"
    rows_fwd = plan["forward"]["algorithm"] == "implicit_rows"
    assert rows_fwd == (on and fwd == "implicit_rows"), plan
    assert (plan["dw"]["algorithm"] == "rows_dw") == (on and dw == "rows_dw"), plan
    if not on:
        assert {plan[k]["algorithm"] for k in ("forward", "dx", "dw")}.isdisjoint(ROWS), plan


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bitwise_for_one_and_two_threads_and_non_contiguous(case, rng):
    xs, ws, p, _, _ = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, 1, p).shape).astype(np.float32)
    outs = []
    for threads in (1, 2, 1):  # the conftest restores the thread count
        cr.set_num_threads(threads)
        outs.append(_run(x, w, b, p, dy))
    xn = np.swapaxes(np.swapaxes(x, 2, 3).copy(), 2, 3)
    wn = np.asfortranarray(w)
    dyn = dy[:, ::-1][:, ::-1]
    outs.append(_run(xn, wn, b, p, dyn))
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            np.testing.assert_array_equal(a, e)


def test_large_5x5_layers_take_both_paths():
    if _runtime.isa() != "avx512":
        pytest.skip("the row-segment paths need AVX-512")
    # GoogLeNet's 480 -> 48 14x14 with 15 output channels (16+ take conv_g5.c)
    xs, ws = (1, 480, 14, 14), (15, 480, 5, 5)
    plan = ops.conv2d_plan(xs, ws, 1, 2)
    assert [plan[k]["algorithm"] for k in ("forward", "dx", "dw")] == \
        ["implicit_rows", "rows_conv", "rows_dw"], plan
    for key, backward in (("forward", False), ("dw", True)):
        assert plan[key]["workspace_bytes"] == ops.conv2d_workspace_bytes(
            xs, ws, 1, 2, 1, np.float32, backward=backward)
    # 7x7 outputs take the batched pixel panel (conv_k5.c), forward and dx, even with weights
    # beyond 4 MiB (read in place, no packed copy)
    for n in (1, 8):
        plan = ops.conv2d_plan((n, 832, 7, 7), (15, 832, 5, 5), 1, 2)
        assert [plan[k]["algorithm"] for k in ("forward", "dx", "dw")] == \
            ["implicit_rows", "rows_conv", "rows_dw"], plan


@pytest.mark.parametrize("case", [1, 6, 7, 8])
def test_agrees_with_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    xs, ws, p, _, _ = CASES[case]
    x, w, b = _data(rng, xs, ws, np.float32)
    assert_conv_matches_torch(torch, x, w, b, 1, p, rng=rng)
