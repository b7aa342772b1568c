"""Winograd F(2x2, 5x5) (csrc/conv_wino25*.c, conv_plan.c: wino25_auto): the default forward
and dx ("winograd_5x5"; dx is the forward of dy by the flipped kernel) of float32 5x5
stride-1 layers on small images (conv_g5.c's layers: outputs up to 28x28, 16+ channels in
and out) with 8+ outputs a side (odd sides from 13) and at most 28 columns, on AVX-512 CPUs;
dw too ("winograd_5x5": the adjoint in the filter) with 13+ output columns and K a multiple
of 32, else "g5_skip".

Rounding: forward and dx within TOL eps32 of the sum of |terms| against the float64
definition (measured up to 39 on these shapes: the transforms' constants up to 16/24 in G,
5 in B^T, 2 in A^T; the largest at padding 0, whose dx pads dy by 4), dw within TOL_DW
(measured up to 49). float64, other ISA levels, forced algorithms and a small workspace
limit keep the other paths."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import assert_winograd_layer, winograd_err as _err

TOL = 64
TOL_DW = 128
PATH = "winograd_5x5"


def _avx512():
    if _runtime.isa_detected() != "avx512":
        pytest.skip("the F(2x2, 5x5) path runs on AVX-512 CPUs only")


def _paths(xs, ws, pad, dtype=np.float32):
    p = ops.conv2d_plan(xs, ws, 1, pad, dtype=dtype)
    return p["forward"]["algorithm"], p["dx"]["algorithm"], p["dw"]["algorithm"]


def _dw_path(xs, k, pad):
    """dw's path: F(2x2, 5x5) with 13+ output columns, K a multiple of 32 and 2+ blocks of
    about 196 tiles (conv_wino25.c: wino25_G), so 2 block groups"""
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    N, P, Q = xs[0], xs[2] + 2 * ph - 4, xs[3] + 2 * pw - 4
    ti = -(-P // 2) * -(-Q // 2)
    g = min(1 if ti >= 196 else -(-196 // ti), N)
    if g > 1:
        nb = -(-N // g)
        nb = min(nb + (nb > 1 and nb % 2), N)
        g = -(-N // nb)
    return PATH if Q >= 13 and k % 32 == 0 and -(-N // g) >= 2 else "g5_skip"


def _data(rng, xs, k):
    x = rng.standard_normal(xs).astype(np.float32)
    w = (0.2 * rng.standard_normal((k, xs[1], 5, 5))).astype(np.float32)
    return x, w, rng.standard_normal(k).astype(np.float32)


# (x shape, K, padding): batch 1 at 28x28 (one block per image); odd sides 13 and 15 with
# prime channel counts; batch 5 at 10x10 (uneven blocks: 2 + 2 + 1); padding 0 (12x12
# outputs, dx padded by 4), asymmetric padding (1, 2) and (2, 0); 8x8; 28 columns with 14
# rows; batch 3 at 14x14 (blocks of 2 + 1; dw in one block group: g5_skip); dw by F(2x2, 5x5):
# K = 32 at 14x14, 13x15 (odd: partial tiles), 16x28 with padding (2, 1), 28x28 batch 3
# (groups of 1 and 2 blocks), K = 64 at 28x28; batch 1 at 28x28 (one group: g5_skip)
SHAPES = [((1, 24, 28, 28), 20, 2), ((2, 17, 13, 15), 29, 2), ((5, 24, 10, 10), 20, 2),
          ((2, 20, 16, 16), 24, 0), ((2, 19, 12, 14), 23, (1, 2)), ((2, 16, 14, 12), 32, (2, 0)),
          ((3, 32, 8, 8), 16, 2), ((2, 16, 14, 28), 24, 2), ((3, 48, 14, 14), 32, 2),
          ((8, 40, 14, 14), 32, 2), ((8, 20, 13, 15), 32, 2), ((4, 17, 16, 28), 32, (2, 1)),
          ((3, 16, 28, 28), 32, 2), ((2, 24, 28, 28), 64, 2), ((1, 20, 28, 28), 32, 2)]


@pytest.mark.parametrize("xs,k,pad", SHAPES)
def test_forward_dx_bounded_and_bitwise(xs, k, pad, rng):
    """The default plan takes the path for forward and dx (dw: see _dw_path); errors bounded
    against float64; the same bits on 1 and 2 threads, run to run, and for a non-contiguous
    input; workspace as reported."""
    _avx512()
    x, w, b = _data(rng, xs, k)
    ws = w.shape
    assert _paths(xs, ws, pad) == (PATH, PATH, _dw_path(xs, k, pad))
    plan = ops.conv2d_plan(xs, ws, 1, pad)
    assert plan["dw"]["workspace_bytes"] <= ops.get_workspace_limit()
    assert plan["forward"]["workspace_bytes"] == ops.conv2d_workspace_bytes(xs, ws, 1, pad)
    dy, (_, dx, dw, db) = assert_winograd_layer(ops, cr, ref, x, w, b, pad, TOL, TOL_DW,
                                                fortran_dy=True)
    # need_dx only / need_dw only agree with the full backward
    dxo, _, _ = ops.conv2d_backward(dy, x, w, 1, pad, need_dw=False)
    np.testing.assert_array_equal(dxo, dx)
    _, dwo, dbo = ops.conv2d_backward(dy, x, w, 1, pad, need_dx=False)
    np.testing.assert_array_equal(dwo, dw)
    np.testing.assert_array_equal(dbo, db)


def test_bound_is_tight_enough_to_fail(rng):
    """The bound catches an error the size of one wrong term (the test can fail)."""
    _avx512()
    xs, k = (2, 24, 14, 14), 24
    x, w, b = _data(rng, xs, k)
    y = ops.conv2d_forward(x, w, b, 1, 2)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    want = ref.conv2d_forward(x64, w64, b64, 1, 2)
    terms = ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, 2)
    assert _err(y, want, terms) <= TOL
    y[1, 3, 5, 7] += 1e-3 * terms[1, 3, 5, 7]
    assert _err(y, want, terms) > TOL


@pytest.mark.parametrize("xs,ws", [((8, 64, 7, 7), (64, 64, 5, 5)),    # 7x7: g5_skip
                                   ((4, 32, 9, 9), (32, 32, 5, 5)),    # odd 9: g5_skip
                                   ((4, 32, 6, 6), (32, 32, 5, 5)),    # 6x6
                                   ((2, 16, 30, 30), (16, 16, 5, 5)),  # 30 columns
                                   ((4, 32, 14, 14), (32, 32, 3, 3)),  # 3x3
                                   ((4, 8, 14, 14), (32, 8, 5, 5))])   # 8 channels in
def test_other_shapes_keep_their_paths(xs, ws, rng):
    """Outside the measured sizes the other paths stay (and correct)."""
    assert PATH not in _paths(xs, ws, 2)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    pad = ws[2] // 2
    want = ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, 1, pad)
    np.testing.assert_allclose(ops.conv2d_forward(x, w, None, 1, pad), want, rtol=1e-3,
                               atol=1e-3 * np.abs(want).max())


def test_float64_forced_algorithms_and_isa_levels(level, rng):
    """float64, forced algorithms and ISA levels below AVX-512 keep the other paths; every
    level gives results within float32 rounding of float64."""
    xs, ws = (4, 32, 14, 14), (48, 32, 5, 5)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (0.2 * rng.standard_normal(ws)).astype(np.float32)
    taken = _paths(xs, ws, 2)
    assert (taken == (PATH, PATH, "g5_skip")) == (level == "avx512"), taken  # K = 48
    assert PATH not in _paths(xs, ws, 2, np.float64)
    y = ops.conv2d_forward(x, w, None, 1, 2)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    want = ref.conv2d_forward(x64, w64, None, 1, 2)
    assert _err(y, want, ref.conv2d_forward(np.abs(x64), np.abs(w64), None, 1, 2)) <= TOL
    for algo in ("winograd", "im2col", "implicit"):
        _runtime.set_conv_algo(algo)
        assert PATH not in _paths(xs, ws, 2)
        np.testing.assert_allclose(ops.conv2d_forward(x, w, None, 1, 2), want, rtol=1e-3,
                                   atol=1e-4 * np.abs(want).max())


def test_workspace_limit_sends_it_elsewhere(rng):
    """A limit below the path's scratch (U and one block's V and M) sends forward and dx to
    other paths, still correct; the default limit takes it with the scratch within it."""
    _avx512()
    xs, k = (4, 64, 14, 14), 48
    x, w, b = _data(rng, xs, k)
    plan = ops.conv2d_plan(xs, w.shape, 1, 2)
    assert plan["forward"]["algorithm"] == PATH
    need = plan["forward"]["workspace_bytes"]
    assert need <= ops.get_workspace_limit()
    ops.set_workspace_limit(need - 1)
    assert PATH not in _paths(xs, w.shape, 2)
    y = ops.conv2d_forward(x, w, b, 1, 2)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    np.testing.assert_allclose(y, ref.conv2d_forward(x64, w64, b64, 1, 2), rtol=1e-4, atol=1e-3)
    dx, dw, _ = ops.conv2d_backward(dy, x, w, 1, 2)
    dx64, dw64, _ = ref.conv2d_backward(dy64, x64, w64, 1, 2)
    np.testing.assert_allclose(dx, dx64, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dw, dw64, rtol=1e-4, atol=1e-4 * np.abs(dw64).max())


def test_workspace_limit_sends_dw_elsewhere(rng):
    """A limit below dw's scratch (dU and one block's V and M) but above the forward's and
    dx's (the forward of dy by the flipped kernel) sends dw alone to g5_skip, still correct
    and the same bits run to run (1 thread: with 2, forward and dx take a slot each)."""
    _avx512()
    cr.set_num_threads(1)
    xs, k = (4, 32, 28, 28), 64
    x, w, b = _data(rng, xs, k)
    assert _paths(xs, w.shape, 2) == (PATH,) * 3
    fwd = ops.conv2d_plan(xs, w.shape, 1, 2)["forward"]["workspace_bytes"]
    dxf = ops.conv2d_plan(xs[:1] + (k,) + xs[2:], (xs[1], k, 5, 5), 1, 2)["forward"]["workspace_bytes"]
    dw = ops.conv2d_plan(xs, w.shape, 1, 2)["dw"]["workspace_bytes"]
    assert dw > max(fwd, dxf) + 1024
    ops.set_workspace_limit(max(fwd, dxf) + 1024)
    assert _paths(xs, w.shape, 2) == (PATH, PATH, "g5_skip")
    dy = rng.standard_normal(xs[:1] + (k,) + xs[2:]).astype(np.float32)
    outs = [ops.conv2d_backward(dy, x, w, 1, 2) for _ in range(2)]
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)
    dw64 = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), 1, 2)[1]
    np.testing.assert_allclose(outs[0][1], dw64, rtol=1e-4, atol=1e-4 * np.abs(dw64).max())


@pytest.mark.parametrize("xs,k", [((16, 192, 28, 28), 32), ((8, 480, 14, 14), 48)])
def test_googlenet_layers(xs, k, rng):
    """GoogLeNet's 5x5 layers the path takes: forward and dx bounded, the same bits on 1 and
    2 threads; PyTorch agrees within float32 rounding when installed."""
    _avx512()
    x, w, b = _data(rng, xs, k)
    w *= 0.3
    assert _paths(xs, w.shape, 2) == (PATH, PATH, _dw_path(xs, k, 2))
    dy = rng.standard_normal((xs[0], k) + xs[2:]).astype(np.float32)
    outs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        outs.append((ops.conv2d_forward(x, w, b, 1, 2),
                     ops.conv2d_backward(dy, x, w, 1, 2, need_dw=False)[0]))
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)
    y, dx = outs[0]
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    assert _err(y, ref.conv2d_forward(x64, w64, b64, 1, 2),
                ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, 2)) <= TOL
    dx64 = ref.conv2d_backward(dy64, x64, w64, 1, 2)[0]
    assert _err(dx, dx64, ref.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, 2)[0]) <= TOL
