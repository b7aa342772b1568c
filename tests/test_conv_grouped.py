"""Grouped convolution's own kernels (csrc/conv_grouped.c: one parallel region over images x
groups; the implicit float32 AVX-512 path for stride 1, the im2col path elsewhere) against
the NumPy reference in float32 and float64 at every ISA level this CPU runs, PyTorch as the
oracle, 1 vs 2 threads bitwise, the plan's report, and bad groups."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref
from helpers import HAVE_TORCH, assert_close, torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")

# (x shape, w shape, stride, padding, dilation, groups): C/g and K/g odd and unequal, odd
# and prime H/W, batch 1, stride 1 and 2, padding 0/1/2, dilation 1 and 2, 1x1 kernels
CASES = [((2, 6, 9, 7), (10, 3, 3, 3), 1, 1, 1, 2),
         ((1, 9, 11, 13), (15, 3, 3, 3), 1, 1, 1, 3),
         ((2, 12, 7, 7), (4, 3, 3, 3), 1, 0, 1, 4),
         ((1, 8, 13, 11), (24, 1, 3, 3), 1, 2, 2, 8),
         ((3, 20, 6, 5), (28, 5, 5, 3), 1, (2, 1), 1, 4),
         ((2, 96, 9, 9), (64, 3, 3, 3), 1, 1, 1, 32),
         ((1, 10, 9, 8), (6, 5, 3, 3), 2, 1, 1, 2),
         ((2, 15, 11, 10), (9, 5, 3, 3), 2, 0, 1, 3),
         ((2, 64, 8, 8), (64, 2, 3, 3), 2, 1, 1, 32),
         ((1, 12, 7, 9), (20, 3, 1, 1), 1, 0, 1, 4),
         ((2, 64, 5, 6), (96, 2, 1, 1), 1, 0, 1, 32),
         ((1, 6, 9, 9), (9, 2, 1, 1), 2, 1, 1, 3),
         ((2, 8, 10, 9), (6, 4, 3, 3), 1, 3, 1, 2),   # padding beyond the kernel: im2col dx
         ((1, 4, 6, 7), (6, 2, 2, 3), 1, "same", (2, 1), 2)]


def _data(xs, ws, dt, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(xs).astype(dt), rng.standard_normal(ws).astype(dt),
            rng.standard_normal(ws[0]).astype(dt), rng)


def _check(x, w, b, s, p, d, g, dt, rng):
    y = ops.conv2d_forward(x, w, b, s, p, d, g)
    xc = np.ascontiguousarray(x)
    assert_close(y, ref.conv2d_forward(xc, w, b, s, p, d, g), dt, name="y")
    dy = rng.standard_normal(y.shape).astype(dt)
    got = ops.conv2d_backward(dy, x, w, s, p, d, g, bias=b is not None)
    want = ref.conv2d_backward(dy, xc, w, s, p, d, g, bias=b is not None)
    for a, e, n in zip(got, want, "dx dw db".split()):
        if e is None:
            assert a is None
        else:
            assert_close(a, e, dt, rtol=1e-4 if dt == np.float32 else None, name=n)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_matches_reference(case, dt, level):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, dt)
    _check(x, w, b, s, p, d, g, dt, rng)
    _check(x, w, None, s, p, d, g, dt, rng)


@pytest.mark.parametrize("case", CASES[:2] + CASES[6:7])
def test_non_contiguous_input(case, level):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs[:3] + (2 * xs[3],), ws, np.float32)
    xv = x[..., ::2]
    assert not xv.flags.c_contiguous
    _check(xv, w, b, s, p, d, g, np.float32, rng)


def test_grouped_kernels_run():
    """The plan names the grouped kernels for ResNeXt's layers (implicit on AVX-512 float32
    stride 1, im2col for stride 2 and float64)."""
    pl = ops.conv2d_plan((8, 256, 28, 28), (256, 8, 3, 3), 1, 1, 1, 32)
    want = "grouped_implicit" if _runtime.isa() == "avx512" else "grouped_im2col"
    assert [pl[k]["algorithm"] for k in ("forward", "dx", "dw")] == [want] * 3
    assert pl["forward"]["threads"] >= 1 and pl["forward"]["workspace_bytes"] > 0
    pl = ops.conv2d_plan((8, 256, 56, 56), (256, 8, 3, 3), 2, 1, 1, 32, np.float64)
    assert pl["forward"]["algorithm"] == "grouped_im2col"
    # wide groups keep the ungrouped plans, run once per group
    pl = ops.conv2d_plan((8, 256, 28, 28), (256, 128, 3, 3), 1, 1, 1, 2)
    assert not pl["forward"]["algorithm"].startswith("grouped")


@pytest.mark.parametrize("case", [((3, 64, 13, 11), (64, 2, 3, 3), 1, 1, 1, 32),
                                  ((5, 24, 9, 9), (36, 8, 3, 3), 1, 1, 1, 3),
                                  ((3, 30, 12, 11), (20, 6, 3, 3), 2, 1, 1, 5),
                                  ((4, 64, 7, 7), (64, 4, 1, 1), 1, 0, 1, 16)])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_threads_bitwise(case, dt, level):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, dt)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d, g).shape).astype(dt)
    res = []
    old = cr.get_num_threads()
    try:
        for n in (1, 2, 1):
            cr.set_num_threads(n)
            res.append((ops.conv2d_forward(x, w, b, s, p, d, g),)
                       + ops.conv2d_backward(dy, x, w, s, p, d, g))
    finally:
        cr.set_num_threads(old)
    for run in res[1:]:
        for a, c in zip(res[0], run):
            assert np.array_equal(a, c)
    assert_close(res[0][2], ref.conv2d_backward(dy, x, w, s, p, d, g)[1], dt,
                 rtol=1e-4 if dt == np.float32 else None)


@needs_torch
@pytest.mark.parametrize("case", CASES)
def test_torch_oracle(case):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, np.float64, seed=1)
    y = ops.conv2d_forward(x, w, b, s, p, d, g)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, p, d, g)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, s, p, d, g)
    ty.backward(torch.tensor(dy))
    for a, t in ((y, ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_backward_only_what_is_asked(level):
    x, w, b, rng = _data((2, 12, 9, 10), (8, 3, 3, 3), np.float32)
    dy = rng.standard_normal((2, 8, 9, 10)).astype(np.float32)
    dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 1, 1, 4, bias=False, need_dx=False)
    assert dx is None and db is None
    assert_close(dw, ref.conv2d_backward(dy, x, w, 1, 1, 1, 4)[1], np.float32, rtol=1e-4)
    dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 1, 1, 4, need_dw=False)
    assert dw is None
    want = ref.conv2d_backward(dy, x, w, 1, 1, 1, 4)
    assert_close(dx, want[0], np.float32, rtol=1e-4)
    assert_close(db, want[2], np.float32, rtol=1e-4)


@pytest.mark.parametrize("xs, ws, g", [((1, 6, 5, 5), (4, 2, 3, 3), 4),  # 4 does not divide C
                                       ((1, 8, 5, 5), (6, 2, 3, 3), 4),  # nor K
                                       ((1, 8, 5, 5), (8, 3, 3, 3), 4)])  # w's C / groups
def test_bad_groups(xs, ws, g):
    x, w, b, _ = _data(xs, ws, np.float32)
    with pytest.raises(ValueError, match="conv2d_forward"):
        ops.conv2d_forward(x, w, b, 1, 1, 1, g)
    with pytest.raises(ValueError, match="conv2d_plan"):
        ops.conv2d_plan(xs, ws, 1, 1, 1, g)


def test_batch_zero():
    x = np.zeros((0, 8, 5, 5), np.float32)
    w = np.ones((8, 2, 3, 3), np.float32)
    assert ops.conv2d_forward(x, w, None, 1, 1, 1, 4).shape == (0, 8, 5, 5)
    dx, dw, db = ops.conv2d_backward(np.zeros((0, 8, 5, 5), np.float32), x, w, 1, 1, 1, 4)
    assert dx.shape == x.shape and not dw.any() and not db.any()
