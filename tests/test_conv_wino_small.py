"""Winograd F(2x2, 3x3) with small images batched over images (csrc/conv_wino_small.c,
conv_plan.c: wino_small_auto): several whole images per block so the 16 products are wide.

Tolerance: float32 outputs within 8 eps32 of the sum of |terms| (conv(|x|, |w|) + |b|)
against the float64 definition, as the one-image Winograd path (tests/test_conv_plan.py);
measured <= ~2. float64 never takes Winograd (it keeps the implicit / im2col paths)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref

EPS = np.finfo(np.float32).eps
DW_TOL = 8  # dw: measured <= ~1.5


def _avx512():
    if _runtime.isa_detected() != "avx512":
        pytest.skip("the batched Winograd path needs an AVX-512 CPU")


def _f2x2_limit(ws):
    """256+ channels: F(4x4)'s weights (winograd4_small) fit the default 64 MiB workspace;
    8 MiB (tests/conftest.py puts the old limit back) keeps these layers on F(2x2)."""
    if ws[0] >= 256:
        ops.set_workspace_limit(8 << 20)


def _data(rng, xs, ws, dtype=np.float32):
    x = rng.standard_normal(xs).astype(dtype)
    w = (0.5 * rng.standard_normal(ws)).astype(dtype)
    return x, w, rng.standard_normal(ws[0]).astype(dtype)


def _check_error(y, x, w, b, pad):
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    want = ref.conv2d_forward(x64, w64, b64, 1, pad)
    terms = ref.conv2d_forward(np.abs(x64), np.abs(w64), None if b is None else np.abs(b64), 1, pad)
    err = np.abs(y - want) / (EPS * terms + 1e-30)
    assert err.max() <= 8, f"winograd error {err.max():.2f} eps32 x sum|terms|"


# (x shape, w shape, padding): odd sizes 7, 9, 13, N = 1 and 33, C/K odd (3, 17), padding 0-2
SHAPES = [((33, 17, 9, 9), (3, 17, 3, 3), 1), ((5, 3, 7, 7), (17, 3, 3, 3), 2),
          ((4, 6, 13, 13), (5, 6, 3, 3), 0), ((3, 64, 8, 8), (64, 64, 3, 3), 1),
          ((1, 8, 7, 9), (4, 8, 3, 3), 1), ((6, 5, 13, 7), (7, 5, 3, 3), 2),
          ((2, 4, 3, 4), (3, 4, 3, 3), 0), ((16, 64, 8, 8), (64, 64, 3, 3), 1)]  # last: T = 256 in 2 x 128


@pytest.mark.parametrize("xs,ws,pad", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_forced_winograd_batches_small_images(xs, ws, pad, bias, rng):
    """Forced Winograd takes G > 1 images per block (N >= 2), error bounded against float64,
    the same bits on 1 and 2 threads, and the same bits as one image per block (a workspace
    limit that leaves room for one image only)."""
    _avx512()
    x, w, b = _data(rng, xs, ws)
    b = b if bias else None
    _runtime.set_conv_algo("winograd")
    outs = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        plan = ops.conv2d_plan(xs, ws, 1, pad)["forward"]
        assert plan["algorithm"] == "winograd"
        assert (plan["blocking"]["images_per_block"] > 1) == (xs[0] > 1), plan
        outs.append(ops.conv2d_forward(x, w, b, 1, pad))
    np.testing.assert_array_equal(outs[0], outs[1])
    _check_error(outs[0], x, w, b, pad)
    # one image per block: the row-by-row transforms of conv_winograd.c, same bits
    P, Q = xs[2] + 2 * pad - 2, xs[3] + 2 * pad - 2
    one = 4 * (16 * (ws[0] * xs[1] + 16) + 16 * (xs[1] + ws[0]) * ((P + 1) // 2) * ((Q + 1) // 2) + 512)
    ops.set_workspace_limit(one + 4)
    assert ops.conv2d_plan(xs, ws, 1, pad)["forward"]["blocking"]["images_per_block"] == 1
    np.testing.assert_array_equal(ops.conv2d_forward(x, w, b, 1, pad), outs[0])


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_both_isa_levels_agree_with_the_definition(isa, rng):
    """At ISA level avx2 forced Winograd runs one image per block (portable transforms); at
    avx512 several: both within the bound, and the same bits (same operations in the same
    order, products whose rounding does not depend on the block width)."""
    if isa == "avx512":
        _avx512()
    xs, ws = (9, 16, 11, 11), (24, 16, 3, 3)
    x, w, b = _data(rng, xs, ws)
    _runtime.set_conv_algo("winograd")
    _runtime.set_isa(isa)
    G = ops.conv2d_plan(xs, ws, 1, 1)["forward"]["blocking"]["images_per_block"]
    assert (G > 1) == (isa == "avx512")
    y = ops.conv2d_forward(x, w, b, 1, 1)
    _check_error(y, x, w, b, 1)


# (28x28 images run F(4x4) one image at a time: tests/test_conv_winograd4.py; ResNet-20's
# 32->32 16x16 and 64->64 8x8 -- rows of at most 4 4x4 tiles, weights up to 2 MiB -- F(4x4)
# with several images per block: tests/test_conv_wino4s.py)
RESNET = [((8, 32, 20, 20), (32, 32, 3, 3)), ((16, 64, 18, 18), (64, 64, 3, 3)),
          ((2, 256, 14, 14), (256, 256, 3, 3))]


@pytest.mark.parametrize("xs,ws", RESNET)
def test_auto_takes_it_for_small_images_with_many_channels(xs, ws, rng):
    """The default plan: Winograd forward and dx (the flipped kernel) with several images per
    block; float64 and batch 1 never; bounded error, 1 vs 2 threads bitwise, forced bits."""
    _avx512()
    _f2x2_limit(ws)
    plan = ops.conv2d_plan(xs, ws, 1, 1)
    assert plan["forward"]["algorithm"] == "winograd", plan
    assert plan["forward"]["blocking"]["images_per_block"] > 1
    assert plan["dx"]["algorithm"] == "winograd_conv", plan
    assert ops.conv2d_plan(xs, ws, 1, 1, dtype=np.float64)["forward"]["algorithm"] != "winograd"
    assert ops.conv2d_plan((1,) + xs[1:], ws, 1, 1)["forward"]["algorithm"] != "winograd"
    x, w, b = _data(rng, xs, ws)
    dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
    runs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        runs.append((ops.conv2d_forward(x, w, b, 1, 1),
                     ops.conv2d_backward(dy, x, w, 1, 1, need_dw=False, bias=False)[0]))
    _runtime.set_conv_algo("winograd")
    forced = ops.conv2d_forward(x, w, b, 1, 1)
    for a, c in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(runs[0][0], forced)
    _check_error(runs[0][0], x, w, b, 1)
    # dx = conv(dy, w flipped and transposed), padding 1
    wf = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    _check_error(runs[0][1], dy, wf, None, 1)


def test_non_contiguous_inputs_and_float64(rng):
    """Non-contiguous x and w give the contiguous result; float64 stays exact-ish (not
    Winograd) against the reference."""
    _avx512()
    xs, ws = (6, 40, 9, 9), (36, 40, 3, 3)
    x, w, b = _data(rng, xs, ws)
    xn = np.asfortranarray(x)
    wn = np.ascontiguousarray(w.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    assert not xn.flags.c_contiguous and not wn.flags.c_contiguous
    np.testing.assert_array_equal(ops.conv2d_forward(xn, wn, b, 1, 1), ops.conv2d_forward(x, w, b, 1, 1))
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    np.testing.assert_allclose(ops.conv2d_forward(x64, w64, b64, 1, 1),
                               ref.conv2d_forward(x64, w64, b64, 1, 1), rtol=1e-12, atol=1e-12)


def test_pytorch_oracle(rng):
    torch = pytest.importorskip("torch")
    xs, ws = (8, 48, 10, 10), (40, 48, 3, 3)
    x, w, b = _data(rng, xs, ws)
    _runtime.set_conv_algo("winograd")  # F(2x2) (the default is F(4x4) here: test_conv_wino4s.py)
    y = ops.conv2d_forward(x, w, b, 1, 1)
    want = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                      torch.from_numpy(b).double(), 1, 1).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


def _check_dw(dw, dy, x, pad, tol):
    dy64, x64 = dy.astype(np.float64), x.astype(np.float64)
    ws = (dy.shape[1], x.shape[1], 3, 3)
    w0 = np.zeros(ws)
    want = ref.conv2d_backward(dy64, x64, w0, 1, pad)[1]
    terms = ref.conv2d_backward(np.abs(dy64), np.abs(x64), w0, 1, pad)[1]
    err = np.abs(dw - want) / (EPS * terms + 1e-30)
    assert err.max() <= tol, f"winograd dw error {err.max():.2f} eps32 x sum|terms|"
    return err.max()


DW_SHAPES = [((33, 17, 9, 9), (3, 17, 3, 3), 1), ((5, 3, 7, 7), (17, 3, 3, 3), 2),
             ((4, 36, 13, 13), (40, 36, 3, 3), 0), ((2, 4, 3, 4), (3, 4, 3, 3), 0),
             ((3, 20, 10, 9), (24, 20, 3, 3), 1)]


@pytest.mark.parametrize("xs,ws,pad", DW_SHAPES)
def test_winograd_dw(xs, ws, pad, rng):
    """dw by Winograd (the adjoint of the forward in the filter, reduced over the whole
    batch block after block): within DW_TOL eps32 of the sum of |terms| against float64, db
    and dx as with the other paths, 1 vs 2 threads bitwise."""
    _avx512()
    x, w, _ = _data(rng, xs, ws)
    dy = rng.standard_normal((xs[0], ws[0], xs[2] + 2 * pad - 2, xs[3] + 2 * pad - 2)).astype(np.float32)
    _runtime.set_conv_algo("winograd")
    outs = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        plan = ops.conv2d_plan(xs, ws, 1, pad)
        assert plan["dw"]["algorithm"] == ("winograd_dw" if plan["dx"]["algorithm"] != "implicit"
                                           else "implicit"), plan
        outs.append(ops.conv2d_backward(dy, x, w, 1, pad))
    for a, b in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(a, b)
    dx, dw, db = outs[0]
    _check_dw(dw, dy, x, pad, DW_TOL)
    np.testing.assert_allclose(db, dy.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-4)
    want_dx = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                  w.astype(np.float64), 1, pad)[0]
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4 * np.abs(want_dx).max())
    # need_dx=False: the same dw, no dx
    dx2, dw2, _ = ops.conv2d_backward(dy, x, w, 1, pad, need_dx=False)
    assert dx2 is None
    np.testing.assert_array_equal(dw2, dw)


@pytest.mark.parametrize("xs,ws", RESNET)
def test_auto_takes_winograd_dw(xs, ws, rng):
    """The default backward of the small-image layers: dx and dw by Winograd (float64: not),
    dw within the bound, 1 vs 2 threads bitwise."""
    _avx512()
    _f2x2_limit(ws)
    plan = ops.conv2d_plan(xs, ws, 1, 1)
    assert plan["dw"]["algorithm"] == "winograd_dw", plan
    assert ops.conv2d_plan(xs, ws, 1, 1, dtype=np.float64)["dw"]["algorithm"] != "winograd_dw"
    x, w, _ = _data(rng, xs, ws)
    dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
    runs = []
    for threads in (2, 1):
        cr.set_num_threads(threads)
        runs.append(ops.conv2d_backward(dy, x, w, 1, 1, need_dx=False)[1])
    np.testing.assert_array_equal(runs[0], runs[1])
    _check_dw(runs[0], dy, x, 1, DW_TOL)


# dw groups (conv_plan.c wino_dw_plan: up to 4 groups of consecutive blocks, threads take whole
# groups, groups added in order): one block (threads share it), 3 uneven groups, 4 groups of
# 6 blocks (more groups than threads), odd channels and sizes
DW_SPLITS = [((7, 32, 8, 8), (32, 32, 3, 3), 1), ((37, 33, 8, 8), (40, 33, 3, 3), 1),
             ((90, 32, 7, 9), (36, 32, 3, 3), 1), ((20, 48, 12, 12), (32, 48, 3, 3), 0)]


@pytest.mark.parametrize("xs,ws,pad", DW_SPLITS)
def test_winograd_dw_groups_same_bits_on_any_thread_count(xs, ws, pad, rng):
    """dw summed in groups of blocks that threads take whole: the same bits on 1, 2 and 3
    threads (the groups depend on the sizes only), within the bound; a workspace limit that
    leaves room for fewer groups stays within it too."""
    _avx512()
    x, w, _ = _data(rng, xs, ws)
    dy = rng.standard_normal((xs[0], ws[0], xs[2] + 2 * pad - 2, xs[3] + 2 * pad - 2)).astype(np.float32)
    _runtime.set_conv_algo("winograd")
    runs = []
    for threads in (1, 2, 3):
        cr.set_num_threads(threads)
        assert ops.conv2d_plan(xs, ws, 1, pad)["dw"]["algorithm"] == "winograd_dw"
        runs.append(ops.conv2d_backward(dy, x, w, 1, pad, need_dx=False))
    for r in runs[1:]:
        np.testing.assert_array_equal(r[1], runs[0][1])
        np.testing.assert_array_equal(r[2], runs[0][2])
    _check_dw(runs[0][1], dy, x, pad, DW_TOL)
    # two groups at most (the limit holds two dU of 16 K C floats, not three)
    ops.set_workspace_limit(4 * 16 * (ws[0] * ws[1] + 16) * 2 + 4 * 16 * (ws[0] + ws[1]) * 64 * 3)
    two = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        two.append(ops.conv2d_backward(dy, x, w, 1, pad, need_dx=False)[1])
    np.testing.assert_array_equal(two[0], two[1])
    _check_dw(two[0], dy, x, pad, DW_TOL)


@pytest.mark.parametrize("hw,pad", [((4, 3), 1), ((5, 6), 0), ((7, 7), 1), ((9, 8), 0), ((11, 13), 1),
                                    ((14, 14), 1), ((15, 16), 0), ((16, 16), 1), ((6, 17), 2)])
def test_several_tile_rows_per_vector(hw, pad, rng):
    """Up to 8 tiles a row the transforms take 16 // TQ tile rows at once, read from the planes
    in place (conv_wino_small_avx512.c *_rows): every TQ from 1 to 9, odd P and Q, padding
    0-2. Forward (bias, and dx accumulating) the same bits as one image per block; dw within
    the bound; 1 vs 2 threads bitwise."""
    _avx512()
    xs, ws = (5, 12) + hw, (10, 12, 3, 3)
    x, w, b = _data(rng, xs, ws)
    P, Q = hw[0] + 2 * pad - 2, hw[1] + 2 * pad - 2
    dy = rng.standard_normal((xs[0], ws[0], P, Q)).astype(np.float32)
    _runtime.set_conv_algo("winograd")
    runs = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        assert ops.conv2d_plan(xs, ws, 1, pad)["forward"]["blocking"]["images_per_block"] > 1
        runs.append((ops.conv2d_forward(x, w, b, 1, pad),) + ops.conv2d_backward(dy, x, w, 1, pad))
    for a, c in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, c)
    y, dx, dw, _ = runs[0]
    _check_error(y, x, w, b, pad)
    _check_dw(dw, dy, x, pad, DW_TOL)
    want_dx = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), 1, pad)[0]
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4 * np.abs(want_dx).max())
    one = 4 * (16 * (ws[0] * xs[1] + 16) + 16 * (xs[1] + ws[0]) * ((P + 1) // 2) * ((Q + 1) // 2) + 512)
    ops.set_workspace_limit(one + 4)
    assert ops.conv2d_plan(xs, ws, 1, pad)["forward"]["blocking"]["images_per_block"] == 1
    np.testing.assert_array_equal(ops.conv2d_forward(x, w, b, 1, pad), y)


# (x shape, w shape): batched F(2x2) (G > 1, odd channels, 7x7 and 9x5), one image per block
# (4x300: too few tile rows for F(4x4), 300 tiles a row), and a 512-channel 7x7 layer (auto)
DX_FLIP = [((3, 33, 7, 7), (40, 33, 3, 3)), ((2, 41, 9, 5), (35, 41, 3, 3)),
           ((1, 96, 4, 300), (80, 96, 3, 3)), ((2, 512, 7, 7), (512, 512, 3, 3))]


@pytest.mark.parametrize("xs,ws", DX_FLIP)
def test_dx_reads_the_flipped_weights_in_place(xs, ws, rng):
    """dx by F(2x2) transforms w flipped in space and transposed in channels as it reads it
    (no flipped copy): the same bits as the forward of dy by that copy, on 1 and 2 threads,
    and within the Winograd bound of the float64 definition."""
    _avx512()
    if ws[0] < 256:
        _runtime.set_conv_algo("winograd")  # 512: the default plan runs F(2x2) at 7x7
    plan = ops.conv2d_plan(xs, ws, 1, 1)
    assert plan["dx"]["algorithm"] == "winograd_conv", plan
    wf_shape = (ws[1], ws[0], 3, 3)
    assert ops.conv2d_plan((xs[0], ws[0]) + xs[2:], wf_shape, 1, 1)["forward"]["algorithm"] == "winograd"
    x, w, _ = _data(rng, xs, ws)
    dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
    wf = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    for threads in (1, 2):
        cr.set_num_threads(threads)
        dx = ops.conv2d_backward(dy, x, w, 1, 1, need_dw=False, bias=False)[0]
        np.testing.assert_array_equal(dx, ops.conv2d_forward(dy, wf, None, 1, 1))
    _check_error(dx, dy, wf, None, 1)
