"""Depthwise convolution on small planes (csrc/conv_dw_small_avx512.c: float32, AVX-512,
vectors along 16 channels, planes up to 16x16; the stride-1 forward up to 8x8): against the
NumPy reference in float32 and float64 at every ISA level, odd channel counts (a partial
block of 16), planes 1..16 wide, strides 1-3, padding 0..2, batch 1, non-contiguous inputs,
only some of dx/dw/db, 1 vs 2 threads bitwise, and PyTorch as an oracle on MobileNet's
small layers."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import ops, reference as ref
from helpers import assert_close


# (x shape, kernel (R, S), stride, padding)
CASES = [((2, 17, 4, 4), (3, 3), 1, 1),      # one full block + one channel
         ((1, 33, 2, 2), (3, 3), 1, 1),      # batch 1, 2x2 planes, three blocks
         ((3, 16, 1, 1), (3, 3), 1, 1),      # 1x1 plane: the centre tap only
         ((2, 19, 5, 3), (3, 3), 2, 1),      # stride 2, odd plane
         ((2, 40, 7, 9), (3, 3), 2, 0),      # stride 2 without padding
         ((1, 5, 9, 9), (3, 3), 1, 0),       # "valid", fewer channels than lanes
         ((2, 21, 3, 5), (5, 5), 1, 2),      # 5x5 on a plane smaller than the kernel
         ((2, 18, 6, 6), (3, 3), 3, 1),      # stride 3
         ((1, 23, 7, 7), (7, 7), 1, 3),      # 7x7
         ((2, 20, 6, 7), (3, 5), 1, (1, 2)),  # R != S
         ((2, 24, 8, 5), (3, 5), 2, (2, 1)),  # R != S at stride 2
         ((2, 16, 9, 9), (1, 1), 2, 0),      # 1x1 kernel, stride 2
         ((1, 31, 4, 4), (3, 3), 2, 1),      # MobileNet's 4x4 -> 2x2
         ((3, 48, 8, 8), (3, 3), 1, 1),      # 8x8
         ((2, 17, 1, 2), (3, 3), 1, 1),      # 1x2 planes (lane permutes, no transpose)
         ((2, 35, 2, 1), (3, 3), 2, 1),      # 2x1 planes at stride 2: 1x1 output
         ((1, 7, 10, 10), (3, 3), 2, 1),     # 10x10
         ((2, 20, 16, 16), (3, 3), 2, 1),    # the largest plane of the path (stride 2)
         ((1, 17, 13, 11), (3, 3), 1, 1),    # backward on this path, forward plane-wise
         ((2, 9, 16, 16), (5, 5), 1, 2)]     # the largest plane, stride 1 (backward)


def _data(xs, rs, dt, seed=0):
    rng = np.random.default_rng(seed)
    C = xs[1]
    return (rng.standard_normal(xs).astype(dt), rng.standard_normal((C, 1) + rs).astype(dt),
            rng.standard_normal(C).astype(dt), rng)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
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


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[12]])
def test_non_contiguous_input(case, level):
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs[:3] + (2 * xs[3],), rs, np.float32)
    xv = x[..., ::2]
    y = ops.conv2d_forward(xv, w, b, s, p, 1, C)
    assert_close(y, ref.conv2d_forward(np.ascontiguousarray(xv), w, b, s, p, 1, C),
                 np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32)[..., ::-1]
    for got, want in zip(ops.conv2d_backward(dy, xv, w, s, p, 1, C),
                         ref.conv2d_backward(np.ascontiguousarray(dy),
                                             np.ascontiguousarray(xv), w, s, p, 1, C)):
        assert_close(got, want, np.float32, rtol=1e-4)


@pytest.mark.parametrize("case", [CASES[0], CASES[3]])
@pytest.mark.parametrize("need", [(True, False, False), (False, True, False), (False, False, True),
                                  (False, True, True)])
def test_only_what_is_asked(case, need, level):
    xs, rs, s, p = case
    C = xs[1]
    x, w, b, rng = _data(xs, rs, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, 1, C).shape).astype(np.float32)
    got = ops.conv2d_backward(dy, x, w, s, p, 1, C, bias=need[2], need_dx=need[0],
                              need_dw=need[1])
    want = ref.conv2d_backward(dy, x, w, s, p, 1, C)
    for g, wnt, n in zip(got, want, need):
        if n:
            assert_close(g, wnt, np.float32, rtol=1e-4)
        else:
            assert g is None


@pytest.mark.parametrize("case", [((32, 512, 4, 4), (3, 3), 1, 1), ((32, 512, 4, 4), (3, 3), 2, 1),
                                  ((8, 1024, 2, 2), (3, 3), 1, 1), ((5, 37, 8, 8), (3, 3), 2, 1),
                                  ((16, 256, 8, 8), (3, 3), 1, 1), ((3, 16, 5, 5), (3, 3), 1, 1)])
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
    want = ref.conv2d_backward(dy, x, w, s, p, 1, C)
    for g, wnt in zip(res[0][1:], want):
        assert_close(g, wnt, np.float32, rtol=1e-4)


@pytest.mark.parametrize("case", [((32, 512, 4, 4), 1), ((32, 256, 8, 8), 2), ((32, 512, 4, 4), 2),
                                  ((32, 1024, 2, 2), 1), ((32, 256, 8, 8), 1)])
def test_torch_oracle(case):
    torch = pytest.importorskip("torch")
    xs, s = case
    C = xs[1]
    x, w, b, rng = _data(xs, (3, 3), np.float32, seed=3)
    y = ops.conv2d_forward(x, w, b, s, 1, 1, C)
    tx, tw, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, s, 1, 1, C)
    assert_close(y, ty.detach().numpy(), np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    for got, t in zip(ops.conv2d_backward(dy, x, w, s, 1, 1, C), (tx, tw, tb)):
        assert_close(got, t.grad.numpy(), np.float32, rtol=1e-4)
