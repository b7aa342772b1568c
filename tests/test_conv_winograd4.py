"""Winograd F(4x4, 3x3), one image at a time (csrc/conv_winograd4.c, conv_plan.c: wino4_ok /
wino4_auto): the Winograd path of float32 stride-1 3x3 layers with >= 28x28 outputs, forward
and dx (as the forward of dy with the flipped kernel).

Tolerance: float32 outputs within 128 eps32 of the sum of |terms| (conv(|x|, |w|) + |b|)
against the float64 definition. F(4x4) rounds more than F(2x2) (whose bound is 8): its input
and output transforms scale values by up to 4 and 8 and its filter transform by 1/6 and 1/24;
measured ~20 with 16-64 channels, up to ~66 with one input channel. float64 never takes
Winograd (it keeps the implicit / im2col paths)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref

EPS = np.finfo(np.float32).eps
TOL = 128


def _data(rng, xs, ws):
    x = rng.standard_normal(xs).astype(np.float32)
    w = (0.5 * rng.standard_normal(ws)).astype(np.float32)
    return x, w, rng.standard_normal(ws[0]).astype(np.float32)


def _err(y, want, terms):
    return (np.abs(y - want) / (EPS * terms + 1e-30)).max()


def _is_f4(step, q):
    """The plan's Winograd blocking counts 4x4 tiles: tiles = tile rows x ceil(Q / 4)."""
    b = step["blocking"]
    return step["algorithm"] == "winograd" and b["tiles_per_block"] == b["tile_rows_per_block"] * -(-q // 4)


# (x shape, w shape, padding): outputs of >= 28x28, odd and prime sizes (29, 31, 37, 41, 43),
# padding 0-2 (partial tiles at the right and bottom), C = 1, 5, 40, K = 16 (the smallest
# block of output channels), 17, 31, batch 1 and 3
SHAPES = [((1, 16, 28, 28), (16, 16, 3, 3), 1), ((3, 5, 30, 33), (17, 5, 3, 3), 2),
          ((1, 40, 37, 41), (24, 40, 3, 3), 1), ((1, 1, 31, 30), (16, 1, 3, 3), 0),
          ((1, 9, 29, 43), (31, 9, 3, 3), 2)]


@pytest.mark.parametrize("xs,ws,pad", SHAPES)
def test_forced_winograd_runs_f4_on_large_images(xs, ws, pad, rng):
    """Forced Winograd runs F(4x4) from 28x28 outputs on: error bounded against float64, the
    same bits on 1 and 2 threads and on both ISA levels, also with a non-contiguous input and
    with a workspace limit that cuts the image into blocks of one tile row and the output
    channels into blocks of 16 (error bounded there too)."""
    x, w, b = _data(rng, xs, ws)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    want = ref.conv2d_forward(x64, w64, b64, 1, pad)
    terms = ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, pad)
    q = want.shape[3]
    _runtime.set_conv_algo("winograd")
    outs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        assert _is_f4(ops.conv2d_plan(xs, ws, 1, pad)["forward"], q)
        outs.append(ops.conv2d_forward(x, w, b, 1, pad))
    _runtime.set_isa("avx2")
    outs.append(ops.conv2d_forward(x, w, b, 1, pad))
    _runtime.set_isa(None)
    xn = np.asfortranarray(x)  # non-contiguous rows: the wrapper's copy, same bits
    outs.append(ops.conv2d_forward(xn, w, b, 1, pad))
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0])
    assert _err(outs[0], want, terms) <= TOL
    # a small limit: one tile row per block, 16 output channels per block of weights
    ops.set_workspace_limit(4 * 36 * (16 * xs[1] + (xs[1] + 16) * -(-q // 4)) + 4096)
    plan = ops.conv2d_plan(xs, ws, 1, pad)["forward"]
    assert _is_f4(plan, q) and plan["blocking"]["tile_rows_per_block"] == 1, plan
    assert plan["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 1, pad)
    assert _err(ops.conv2d_forward(x, w, b, 1, pad), want, terms) <= TOL


def test_small_images_keep_f2():
    """Below 28x28 outputs forced Winograd keeps F(2x2) (2x2 tiles)."""
    _runtime.set_conv_algo("winograd")
    step = ops.conv2d_plan((1, 16, 27, 28), (16, 16, 3, 3), 1, 1)["forward"]
    assert step["algorithm"] == "winograd" and not _is_f4(step, 28)


# by default (AVX-512): ResNet's 64->64 56x56 (was implicit), 128->128 28x28 at batch 2 (was
# the batched F(2x2)), VGG's 512->512 28x28 (was im2col: its transformed weights go in
# blocks of output channels), an odd 32->48 29x31
DEFAULT = [((1, 64, 56, 56), (64, 64, 3, 3)), ((2, 128, 28, 28), (128, 128, 3, 3)),
           ((1, 512, 28, 28), (512, 512, 3, 3)), ((1, 32, 29, 31), (48, 32, 3, 3))]


@pytest.mark.parametrize("xs,ws", DEFAULT)
def test_default_plan_takes_f4(xs, ws):
    """On AVX-512 the default plan takes F(4x4) for the forward and dx of these layers, within
    the workspace limit; float64 and im2col / implicit forced never do."""
    if _runtime.isa() != "avx512":
        pytest.skip("Winograd is picked by default only on AVX-512 CPUs")
    q = xs[3]
    plan = ops.conv2d_plan(xs, ws, 1, 1)
    assert _is_f4(plan["forward"], q), plan
    assert plan["dx"]["algorithm"] == "winograd_conv", plan
    assert plan["forward"]["workspace_bytes"] <= ops.get_workspace_limit()
    assert ops.conv2d_plan(xs, ws, 1, 1, dtype=np.float64)["forward"]["algorithm"] != "winograd"
    for algo in ("im2col", "implicit"):
        _runtime.set_conv_algo(algo)
        assert ops.conv2d_plan(xs, ws, 1, 1)["forward"]["algorithm"] != "winograd"


@pytest.mark.parametrize("xs,ws", [((1, 32, 29, 31), (48, 32, 3, 3)),
                                   ((3, 33, 28, 30), (40, 33, 3, 3))])
def test_default_forward_and_dx(xs, ws, rng):
    """The default forward and dx (F(4x4) on AVX-512) against float64: error bounded, the same
    bits on 1 and 2 threads; db and dw as the reference (float32 tolerance)."""
    x, w, b = _data(rng, xs, ws)
    y = ops.conv2d_forward(x, w, b, 1, 1)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    assert _err(y, ref.conv2d_forward(x64, w64, b64, 1, 1),
                ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, 1)) <= TOL
    outs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        outs.append(ops.conv2d_backward(dy, x, w, 1, 1))
    for a, c in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(a, c)
    dx, dw, db = outs[0]
    dx64, dw64, db64 = ref.conv2d_backward(dy64, x64, w64, 1, 1)
    dx_terms = ref.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, 1)[0]
    assert _err(dx, dx64, dx_terms) <= TOL
    np.testing.assert_allclose(dw, dw64, rtol=1e-4, atol=1e-3 * np.abs(dw64).max())
    np.testing.assert_allclose(db, db64, rtol=1e-4, atol=1e-3)


# dw of more than 8192 values (smaller ones run the implicit backward on AVX-512): batch 1
# and 3 (before the batched F(2x2) dw), odd and prime sizes, padding 1-2, C = 7 and 33,
# K = 24, 40 and 160
DW_SHAPES = [((3, 33, 29, 31), (40, 33, 3, 3), 1), ((1, 7, 31, 37), (160, 7, 3, 3), 2),
             ((1, 40, 37, 41), (24, 40, 3, 3), 1), ((2, 48, 30, 28), (24, 48, 3, 3), 1)]


@pytest.mark.parametrize("xs,ws,pad", DW_SHAPES)
def test_forced_winograd_dw_by_f4(xs, ws, pad, rng):
    """dw by F(4x4) (the adjoint of the forward in the filter; "winograd_dw") where dx runs
    Winograd on >= 28x28 outputs: error within 64 eps32 of the sum of |terms| against float64
    (measured ~10) on both ISA levels, the same bits on 1 and 2 threads (dx too, bounded as
    the forward), bounded also with a workspace limit that cuts the output channels into
    blocks of 16 and the image into tile rows; db as the reference."""
    x, w, b = _data(rng, xs, ws)
    y = ops.conv2d_forward(x, w, b, 1, pad)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    dx64, want, db64 = ref.conv2d_backward(dy64, x64, w64, 1, pad)
    terms = ref.conv2d_backward(np.abs(dy64), np.abs(x64), w64, 1, pad)[1]
    dx_terms = ref.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, pad)[0]
    _runtime.set_conv_algo("winograd")
    plan = ops.conv2d_plan(xs, ws, 1, pad)
    outs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        outs.append(ops.conv2d_backward(dy, x, w, 1, pad))
    _runtime.set_isa("avx2")
    outs.append(ops.conv2d_backward(dy, x, w, 1, pad))
    _runtime.set_isa(None)
    assert plan["dx"]["algorithm"] == "winograd_conv" and plan["dw"]["algorithm"] == "winograd_dw", plan
    np.testing.assert_array_equal(outs[1][1], outs[0][1])
    for o in outs:  # the ISA levels' products sum a block onto dU in their own orders
        assert _err(o[1], want, terms) <= 64
        assert _err(o[0], dx64, dx_terms) <= TOL  # dx: F(4x4) of the flipped kernel, read in place
    np.testing.assert_array_equal(outs[1][0], outs[0][0])
    np.testing.assert_allclose(outs[0][2], db64, rtol=1e-5, atol=1e-3)
    ops.set_workspace_limit(4 * 36 * (16 * xs[1] + (xs[1] + 16) * -(-y.shape[3] // 4)) + 4096)
    assert ops.conv2d_plan(xs, ws, 1, pad)["dw"]["algorithm"] == "winograd_dw"
    assert _err(ops.conv2d_backward(dy, x, w, 1, pad)[1], want, terms) <= 64
