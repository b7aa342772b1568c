"""Depthwise convolution's fast paths (csrc/conv_depthwise*.c): the AVX-512 planes for
stride 1 and 2 with padding (k-1)/2 in float32, and the portable loops for everything else, against
the NumPy reference in float32 and float64 at every ISA level this CPU runs; 1 vs 2
threads bitwise; the layers of MobileNet at small batch."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import ops, reference as ref
from helpers import assert_close


# (x shape, kernel (R, S), stride, padding): SAME and STRIDE2 take the AVX-512 path
SAME = [((2, 5, 9, 7), (3, 3), 1, 1),        # odd plane, 63 = 3 vectors + 15
        ((1, 3, 11, 8), (5, 5), 1, 2),       # batch 1, 5x5
        ((3, 2, 4, 4), (3, 3), 1, 1),        # one vector per plane (MobileNet's 4x4)
        ((2, 3, 2, 2), (3, 3), 1, 1),        # 2x2: most taps masked
        ((1, 2, 1, 1), (3, 3), 1, 1),        # 1x1 plane: only the centre tap
        ((2, 4, 7, 7), (7, 7), 1, 3),        # 7x7 kernel on a 7x7 plane
        ((1, 1, 17, 3), (3, 3), 1, 1),       # C = 1, narrow plane (W < the kernel row)
        ((2, 3, 5, 13), (1, 1), 1, 0),       # 1x1 kernel
        ((2, 3, 6, 9), (3, 5), 1, (1, 2)),   # R != S
        ((1, 2, 40, 37), (3, 3), 1, 1)]      # W not a multiple of 16, many vectors
STRIDE2 = [((2, 3, 9, 8), (3, 3), 2, 1),      # odd H
           ((1, 4, 8, 8), (3, 3), 2, 1),      # batch 1
           ((2, 2, 4, 4), (3, 3), 2, 1),      # MobileNet's last stride-2 plane
           ((1, 3, 1, 2), (3, 3), 2, 1),      # 1x2 plane
           ((2, 2, 11, 37), (3, 3), 2, 1),    # 37 columns: two 32-column dx windows
           ((1, 3, 13, 70), (5, 5), 2, 2),    # 5x5, Q = 35 > 16 (two output vectors)
           ((1, 2, 9, 9), (3, 5), 2, (1, 2)),  # R != S
           ((2, 1, 6, 7), (1, 1), 2, 0)]      # 1x1 kernel
OTHER = [((2, 3, 7, 7), (3, 3), 1, 0),        # "valid" (portable loops)
         ((2, 3, 9, 8), (3, 3), 2, 0),        # stride 2 without padding
         ((1, 2, 9, 10), (3, 3), 3, 1),       # stride 3
         ((1, 2, 6, 6), (4, 4), 1, "same")]   # even kernel, asymmetric "same"


def _data(xs, rs, dt, seed=0):
    rng = np.random.default_rng(seed)
    C = xs[1]
    return (rng.standard_normal(xs).astype(dt), rng.standard_normal((C, 1) + rs).astype(dt),
            rng.standard_normal(C).astype(dt), rng)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", SAME + STRIDE2 + OTHER)
def test_matches_reference(case, dt, level):
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs, rs, dt)
    y = ops.conv2d_forward(x, w, b, s, p, 1, C)
    assert_close(y, ref.conv2d_forward(x, w, b, s, p, 1, C), dt, name="y")
    assert_close(ops.conv2d_forward(x, w, None, s, p, 1, C),
                 ref.conv2d_forward(x, w, None, s, p, 1, C), dt, name="y without bias")
    dy = rng.standard_normal(y.shape).astype(dt)
    for got, want, n in zip(ops.conv2d_backward(dy, x, w, s, p, 1, C),
                            ref.conv2d_backward(dy, x, w, s, p, 1, C), "dx dw db".split()):
        assert_close(got, want, dt, rtol=1e-4 if dt == np.float32 else None, name=n)


@pytest.mark.parametrize("case", SAME[:3] + STRIDE2[:1])
def test_non_contiguous_input(case, level):
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs[:3] + (2 * xs[3],), rs, np.float32)
    xv = x[..., ::2]
    assert not xv.flags.c_contiguous
    y = ops.conv2d_forward(xv, w, b, s, p, 1, C)
    assert_close(y, ref.conv2d_forward(np.ascontiguousarray(xv), w, b, s, p, 1, C),
                 np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32)[..., ::-1]
    for got, want in zip(ops.conv2d_backward(dy, xv, w, s, p, 1, C),
                         ref.conv2d_backward(np.ascontiguousarray(dy),
                                             np.ascontiguousarray(xv), w, s, p, 1, C)):
        assert_close(got, want, np.float32, rtol=1e-4)


def test_backward_accumulates_only_what_is_asked(level):
    """The tensor-level layer asks for some of dx, dw, db: the others stay untouched."""
    x, w, b, rng = _data((2, 6, 9, 10), (3, 3), np.float32)
    xt = cr.tensor(x)
    wt = cr.tensor(w, requires_grad=True)
    y = cr.nn.functional.conv2d(xt, wt, None, 1, 1, 1, 6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(dy)
    assert xt.grad is None
    assert_close(wt.grad.array, ref.conv2d_backward(dy, x, w, 1, 1, 1, 6)[1], np.float32,
                 rtol=1e-4)


# planes per thread that end inside a channel (3 images x 5 channels on 2 threads), and
# MobileNet's 16x16 / 4x4 layers
@pytest.mark.parametrize("case", [((3, 5, 40, 40), (3, 3), 1, 1), ((4, 16, 20, 20), (5, 5), 1, 2),
                                  ((8, 64, 16, 16), (3, 3), 1, 1), ((16, 128, 4, 4), (3, 3), 1, 1),
                                  ((4, 16, 21, 21), (3, 3), 2, 1), ((8, 32, 16, 16), (3, 3), 2, 1)])
def test_threads_bitwise(case, level):
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs, rs, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, 1, C).shape).astype(np.float32)
    res = []
    old = cr.get_num_threads()
    try:
        for n in (1, 2, 1):
            cr.set_num_threads(n)
            res.append((ops.conv2d_forward(x, w, b, s, p, 1, C),)
                       + ops.conv2d_backward(dy, x, w, s, p, 1, C))
    finally:
        cr.set_num_threads(old)
    for run in res[1:]:
        for a, c in zip(res[0], run):
            assert np.array_equal(a, c)
    assert_close(res[0][1], ref.conv2d_backward(dy, x, w, s, p, 1, C)[0], np.float32, rtol=1e-4)


# the backward's plane-wise kernels (H*W > 256: smaller planes run the channel-vector
# kernels), planes in memory order over the threads: 3x3 stride 2 (its own kernel) with odd
# and even H, W, one and several 32-column dx windows, batch 1; stride 1 and 5x5 stride 2;
# and the 3x3 stride-2 dx of smaller planes at least 16 wide
PLANE_BWD = [((1, 3, 17, 17), (3, 3), 2, 1),     # odd H, W, batch 1
             ((2, 2, 32, 32), (3, 3), 2, 1),     # MobileNet's 64@32x32 stride-2 plane
             ((1, 2, 19, 33), (3, 3), 2, 1),     # W = 33: a second window of one column
             ((2, 1, 5, 65), (3, 3), 2, 1),      # three windows, Q = 33 (two dy vectors)
             ((1, 2, 33, 9), (3, 3), 2, 1),      # narrow: one partial window
             ((2, 3, 17, 16), (3, 3), 1, 1),     # stride 1, 272 values
             ((1, 2, 23, 24), (5, 5), 2, 2),     # 5x5 stride 2 (the general loop)
             # <= 256 values, at least 16 wide: dw by channel vectors, dx by the plane kernel
             ((1, 3, 16, 16), (3, 3), 2, 1),     # MobileNet's 128@16x16 stride-2 plane
             ((2, 17, 15, 16), (3, 3), 2, 1),    # odd H, a partial channel block
             ((1, 5, 8, 31), (3, 3), 2, 1)]      # odd W


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", PLANE_BWD)
def test_plane_backward_matches_reference(case, dt, level):
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs, rs, dt)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, 1, C).shape).astype(dt)
    want = ref.conv2d_backward(dy, x, w, s, p, 1, C)
    rtol = 1e-4 if dt == np.float32 else None
    both = ops.conv2d_backward(dy, x, w, s, p, 1, C)
    for got, wnt, n in zip(both, want, "dx dw db".split()):
        assert_close(got, wnt, dt, rtol=rtol, name=n)
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, p, 1, C, need_dw=False)
    assert dw is None
    np.testing.assert_array_equal(dx, both[0])  # dx alone: the same sums
    np.testing.assert_array_equal(db, both[2])
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, p, 1, C, bias=False, need_dx=False)
    assert dx is None and db is None
    np.testing.assert_array_equal(dw, both[1])


# the channel-vector kernels' 3x3 stride-1 sweep runs when both dx and dw are wanted: each
# alone (the other loops) must agree with it bitwise; planes 1x1 ... 16x16, C not a multiple
# of 16
@pytest.mark.parametrize("xs", [(2, 5, 9, 7), (1, 17, 1, 1), (3, 20, 2, 2), (1, 3, 3, 3),
                                (2, 33, 4, 4), (2, 19, 8, 8), (1, 16, 16, 16), (2, 7, 5, 11)])
def test_small_s1_backward_parts(xs, level):
    C = xs[1]
    x, w, b, rng = _data(xs, (3, 3), np.float32)
    dy = rng.standard_normal(xs).astype(np.float32)
    want = ref.conv2d_backward(dy, x, w, 1, 1, 1, C)
    both = ops.conv2d_backward(dy, x, w, 1, 1, 1, C)
    for got, wnt, n in zip(both, want, "dx dw db".split()):
        assert_close(got, wnt, np.float32, rtol=1e-4, name=n)
    dx = ops.conv2d_backward(dy, x, w, 1, 1, 1, C, bias=False, need_dw=False)[0]
    dw = ops.conv2d_backward(dy, x, w, 1, 1, 1, C, bias=False, need_dx=False)[1]
    np.testing.assert_array_equal(dx, both[0])  # the same sums in the same order
    np.testing.assert_array_equal(dw, both[1])


# (above CONV_DW_MIN_WORK, so 2 threads do run)
@pytest.mark.parametrize("case", [((3, 5, 30, 30), (3, 3), 2, 1), ((3, 5, 33, 32), (3, 3), 1, 1),
                                  ((5, 48, 8, 8), (3, 3), 1, 1), ((64, 33, 2, 2), (3, 3), 1, 1),
                                  ((4, 33, 16, 16), (3, 3), 2, 1), ((16, 40, 7, 8), (3, 3), 2, 1)])
def test_backward_threads_bitwise(case, level):
    """dx, dw alone and together: 1 vs 2 threads bitwise (planes in memory order split
    mid-channel; channel blocks)"""
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs, rs, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, 1, C).shape).astype(np.float32)
    res = []
    old = cr.get_num_threads()
    try:
        for n in (1, 2, 1, 2):
            cr.set_num_threads(n)
            res.append(ops.conv2d_backward(dy, x, w, s, p, 1, C)
                       + ops.conv2d_backward(dy, x, w, s, p, 1, C, need_dw=False)[:1]
                       + ops.conv2d_backward(dy, x, w, s, p, 1, C, need_dx=False)[1:])
    finally:
        cr.set_num_threads(old)
    for run in res[1:]:
        for a, c in zip(res[0], run):
            assert np.array_equal(a, c)
