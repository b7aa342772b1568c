"""Depthwise convolution's fast paths (csrc/conv_depthwise*.c): the AVX-512 planes for
stride 1 and 2 with padding (k-1)/2 in float32, and the portable loops for everything else, against
the NumPy reference in float32 and float64 at every ISA level this CPU runs; 1 vs 2
threads bitwise; the layers of MobileNet at small batch."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
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
