"""Winograd F(4x4, 3x3) with small images batched, several whole images per block
(csrc/conv_wino4s*.c, conv_plan.c: wino4s_ok): the default forward ("winograd4_small"), dx
("winograd4_small_conv": the forward of dy by the flipped kernel) and dw
("winograd4_small_dw": the adjoint in the filter) of float32 stride-1 3x3 layers with outputs
below 28x28, at most 16 columns, 32+ channels in and out, on AVX-512 CPUs.

Tolerances as tests/test_conv_winograd4.py: forward and dx within 128 eps32 of the sum of
|terms| against the float64 definition, dw within 64. float64, other ISA levels and forced
algorithms keep the other paths."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import assert_winograd_layer, winograd_err as _err

TOL = 128
PATHS = ("winograd4_small", "winograd4_small_conv", "winograd4_small_dw")


def _avx512():
    if _runtime.isa_detected() != "avx512":
        pytest.skip("the batched F(4x4) path runs on AVX-512 CPUs only")


def _paths(xs, ws, pad, dtype=np.float32):
    p = ops.conv2d_plan(xs, ws, 1, pad, dtype=dtype)
    return p["forward"]["algorithm"], p["dx"]["algorithm"], p["dw"]["algorithm"]


# (x shape, K, padding): ResNet-20's 32->32 16x16 and 64->64 8x8 at batch 32 (8 blocks of
# 4 images; 2 of 16), 14x14 and 7x7 (partial tiles), odd sizes 9x11 and 13x6 (padding 0),
# padding 2, odd batches 3, 5, 7 and 35 (uneven blocks), C = 33, K = 40, 48
SHAPES = [((32, 32, 16, 16), 32, 1), ((32, 64, 8, 8), 64, 1), ((6, 48, 14, 14), 40, 1),
          ((5, 32, 7, 7), 48, 1), ((3, 33, 9, 11), 40, 1), ((7, 32, 13, 6), 32, 0),
          ((4, 32, 12, 12), 36, 2), ((35, 32, 7, 7), 32, 1),
          ((4, 40, 7, 7), 100, 1)]  # one block: U in panels of 12 rows (8 + a 4-row one), dU in rounds of 64 + 36


def _data(rng, xs, k):
    x = rng.standard_normal(xs).astype(np.float32)
    w = (0.5 * rng.standard_normal((k, xs[1], 3, 3))).astype(np.float32)
    return x, w, rng.standard_normal(k).astype(np.float32)


@pytest.mark.parametrize("xs,k,pad", SHAPES)
def test_forward_dx_dw_bounded_and_bitwise(xs, k, pad, rng):
    """The default plan takes the path for forward, dx and dw; errors bounded against
    float64; the same bits on 1 and 2 threads, run to run, and for a non-contiguous input;
    workspace as reported."""
    _avx512()
    x, w, b = _data(rng, xs, k)
    ws = w.shape
    assert _paths(xs, ws, pad) == PATHS
    plan = ops.conv2d_plan(xs, ws, 1, pad)
    assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 1, pad)
    blk = plan["forward"]["blocking"]
    assert blk["images_per_block"] > 1 and blk["blocks"] == -(-xs[0] // blk["images_per_block"])
    assert_winograd_layer(ops, cr, ref, x, w, b, pad, TOL, 64)


def test_small_limit_many_blocks_and_dw_groups(rng):
    """A workspace limit that leaves 2 images per block: 16 blocks, dw summed in 4 groups;
    still bounded, and the same bits on 1 and 2 threads."""
    _avx512()
    xs, k = (32, 32, 16, 16), 32
    x, w, b = _data(rng, xs, k)
    ops.set_workspace_limit(600 << 10)
    plan = ops.conv2d_plan(xs, w.shape, 1, 1)
    assert (plan["forward"]["algorithm"], plan["forward"]["blocking"]["images_per_block"]) == (PATHS[0], 2)
    assert _paths(xs, w.shape, 1) == PATHS
    y = ops.conv2d_forward(x, w, b, 1, 1)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    assert _err(y, ref.conv2d_forward(x64, w64, b64, 1, 1),
                ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, 1)) <= TOL
    outs = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        outs.append(ops.conv2d_backward(dy, x, w, 1, 1))
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)
    dx64, dw64, _ = ref.conv2d_backward(dy64, x64, w64, 1, 1)
    assert _err(outs[0][0], dx64, ref.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, 1)[0]) <= TOL
    assert _err(outs[0][1], dw64, ref.conv2d_backward(np.abs(dy64), np.abs(x64), w64, 1, 1)[1]) <= 64


@pytest.mark.parametrize("xs,ws", [((1, 32, 16, 16), (32, 32, 3, 3)),  # batch 1: one image
                                   ((8, 32, 20, 20), (32, 32, 3, 3)),  # 5 tiles a row
                                   ((8, 16, 16, 16), (32, 16, 3, 3)),  # 16 channels in
                                   ((8, 32, 28, 28), (32, 32, 3, 3))])  # 28x28: F(4x4) per image
def test_other_shapes_keep_their_paths(xs, ws, rng):
    """Batch 1, rows of more than 4 tiles, fewer than 32 channels and 28x28 outputs keep the
    other paths (and stay correct)."""
    assert PATHS[0] not in _paths(xs, ws, 1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    want = ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    np.testing.assert_allclose(ops.conv2d_forward(x, w, None, 1, 1), want, rtol=1e-3,
                               atol=1e-3 * np.abs(want).max())


def test_float64_forced_algorithms_and_isa_levels(level, rng):
    """float64, forced algorithms and ISA levels below AVX-512 keep the other paths; every
    level gives results within float32 rounding of float64."""
    xs, ws = (6, 32, 8, 8), (40, 32, 3, 3)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    taken = _paths(xs, ws, 1)
    assert (taken == PATHS) == (level == "avx512"), taken
    assert not set(_paths(xs, ws, 1, np.float64)) & set(PATHS)
    y = ops.conv2d_forward(x, w, None, 1, 1)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    want = ref.conv2d_forward(x64, w64, None, 1, 1)
    assert _err(y, want, ref.conv2d_forward(np.abs(x64), np.abs(w64), None, 1, 1)) <= TOL
    for algo in ("winograd", "im2col", "implicit"):
        _runtime.set_conv_algo(algo)
        assert not set(_paths(xs, ws, 1)) & set(PATHS)


@pytest.mark.parametrize("xs,k", [((32, 32, 16, 16), 32), ((32, 64, 8, 8), 64), ((5, 32, 7, 7), 48)])
def test_pytorch_oracle(xs, k, rng):
    """Forward, dx and dw as PyTorch's within float32 rounding."""
    torch = pytest.importorskip("torch")
    _avx512()
    x, w, b = _data(rng, xs, k)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, 1, 1)
    dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.from_numpy(dy))
    y = ops.conv2d_forward(x, w, b, 1, 1)
    dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 1)
    for mine, theirs in ((y, ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        t = theirs.detach().numpy()
        np.testing.assert_allclose(mine, t, rtol=1e-3, atol=2e-5 * np.abs(t).max() * np.sqrt(xs[1] * 9))


def test_512_channels_7x7_batch_8(rng):
    """512 -> 512 7x7 at batch 8: U (38 MiB) beyond half the default limit, taken with 16+
    tiles per block (batch 2, 8 tiles, keeps F(2x2)); the scratch within the limit (14x14:
    dw in a single group); bounded, the same bits on 1 and 2 threads."""
    _avx512()
    xs, k = (8, 512, 7, 7), 512
    assert _paths((2,) + xs[1:], (k, 512, 3, 3), 1)[0] == "winograd"
    for shape in (xs, (4, 512, 7, 7), (8, 512, 14, 14)):
        assert _paths(shape, (k, 512, 3, 3), 1) == PATHS
        for threads in (1, 2):
            cr.set_num_threads(threads)
            plan = ops.conv2d_plan(shape, (k, 512, 3, 3), 1, 1)
            for part in ("forward", "dx", "dw"):
                assert plan[part]["workspace_bytes"] <= ops.get_workspace_limit(), plan
    x, w, b = _data(rng, xs, k)
    w *= 0.1
    dy = rng.standard_normal((8, k, 7, 7)).astype(np.float32)
    outs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        outs.append((ops.conv2d_forward(x, w, b, 1, 1),) + tuple(ops.conv2d_backward(dy, x, w, 1, 1)))
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)
    y, dx, dw, db = outs[0]
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    assert _err(y, ref.conv2d_forward(x64, w64, b64, 1, 1),
                ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, 1)) <= TOL
    dx64, dw64, _ = ref.conv2d_backward(dy64, x64, w64, 1, 1)
    assert _err(dx, dx64, ref.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, 1)[0]) <= TOL
    assert _err(dw, dw64, ref.conv2d_backward(np.abs(dy64), np.abs(x64), w64, 1, 1)[1]) <= 64
