"""Batch norm backward with the relu mask recomputed from x (batch_norm_backward(relu=True,
bias=)) and dx written into a given array, dy itself included (out=): bitwise the
relu_out path and the fresh dx, against the reference, 1 vs 2 threads, bad input, PyTorch,
and the models' bn_relu node that uses both."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference as ref
from chainrule.nn import functional as F
from helpers import HAVE_TORCH, assert_close, torch

DTYPES = [np.float32, np.float64]
# NC, short rows (L <= 16, several 256-value runs, a tail of K % 16 values), long rows (cache blocks), N = 1,
# HW = 1, C = 1, prime sizes, on threads
SHAPES = [(7, 5), (1, 3, 1, 1), (5, 7, 3, 3), (33, 300, 2, 2), (3, 41, 4, 4), (2, 3, 5, 7),
          (4, 6, 32, 32), (1, 1, 9, 11), (16, 24, 16, 16), (40, 11, 32, 32)]
MASKS = ((True, True, True), (True, False, True), (False, True, False))


def _data(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 2 + 0.3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    w = (rng.standard_normal(C) + 1).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    return x, dy, w, b


def _near_zero_bias(x, w, mean, invstd):
    """A bias that puts the pre-relu y of some values within rounding of 0 (ties for the
    mask): minus (x - mean) * s of the first sample's first value, in x's dtype."""
    C = x.shape[1]
    s = ((np.ones(C) if w is None else w.astype(np.float64)) * invstd.astype(np.float64))
    x0 = x.reshape(x.shape[0], C, -1)[0, :, 0]
    return (-(x0 - mean) * s.astype(x.dtype)).astype(x.dtype)


def _same(got, want):
    for a, e in zip(got, want):
        assert (a is None) == (e is None)
        if a is not None:
            assert a.dtype == e.dtype and np.array_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_from_x_is_bitwise_relu_out(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    _, mean0, invstd0, _ = ops.batch_norm_forward(x, w, b)
    for wb in ((w, b), (None, None), (w, None), (w, _near_zero_bias(x, w, mean0, invstd0)),
               (None, _near_zero_bias(x, None, mean0, invstd0))):
        y, mean, invstd, _ = ops.batch_norm_forward(x, *wb, relu=True)
        for training in (True, False):
            for mask in MASKS:
                want = ops.batch_norm_backward(dy, x, wb[0], mean, invstd, training, mask,
                                               relu_out=y)
                got = ops.batch_norm_backward(dy, x, wb[0], mean, invstd, training, mask,
                                              relu=True, bias=wb[1])
                _same(got, want)


def test_relu_from_x_in_evaluation_matches_inference_then_relu(rng):
    x, dy, w, b = _data(rng, (6, 5, 4, 3), np.float32)
    rm = rng.standard_normal(5).astype(np.float32)
    rv = rng.uniform(0.5, 2, 5).astype(np.float32)
    y = ops.relu_forward(ops.batch_norm_inference(x, rm, rv, w, b))
    invstd = (1.0 / np.sqrt(rv.astype(np.float64) + 1e-5)).astype(np.float32)
    want = ops.batch_norm_backward(dy, x, w, rm, invstd, False, relu_out=y)
    _same(ops.batch_norm_backward(dy, x, w, rm, invstd, False, relu=True, bias=b), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_out_and_in_place_are_bitwise_the_fresh_dx(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    y, mean, invstd, _ = ops.batch_norm_forward(x, w, b, relu=True)
    for kw in ({}, {"relu_out": y}, {"relu": True, "bias": b}):
        for training in (True, False):
            for mask in ((True, True, True), (True, False, False)):
                want = ops.batch_norm_backward(dy, x, w, mean, invstd, training, mask, **kw)
                out = np.full_like(dy, np.nan)
                got = ops.batch_norm_backward(dy, x, w, mean, invstd, training, mask, out=out,
                                              **kw)
                assert got[0] is out
                _same(got, want)
                g = dy.copy()
                got = ops.batch_norm_backward(g, x, w, mean, invstd, training, mask, out=g,
                                              **kw)
                assert got[0] is g
                _same(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (33, 300, 2, 2), (40, 11, 32, 32), (7, 5)])
def test_matches_the_reference(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    y, mean, invstd, _ = ops.batch_norm_forward(x, w, b, relu=True)
    for training in (True, False):
        got = ops.batch_norm_backward(dy.copy(), x, w, mean, invstd, training, relu=True,
                                      bias=b)
        want = ref.batch_norm_backward(dy, x, w, mean, invstd, training, relu=True, bias=b)
        for a, e in zip(got, want):
            assert_close(a, e, dtype)
        out = np.empty_like(dy)
        r = ref.batch_norm_backward(dy, x, w, mean, invstd, training, relu=True, bias=b,
                                    out=out)
        assert r[0] is out and np.array_equal(out, want[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 16, 16, 16), (32, 1024, 2, 2), (16, 333, 4, 4),
                                   (200, 24, 20)])
def test_one_and_two_threads_agree_bitwise(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    y, mean, invstd, _ = ops.batch_norm_forward(x, w, b, relu=True)
    outs = []
    try:
        for n in (1, 2, 3):
            cr.set_num_threads(n)
            g = dy.copy()
            outs.append(ops.batch_norm_backward(g, x, w, mean, invstd, relu=True, bias=b,
                                                out=g))
    finally:
        cr.set_num_threads(2)
    for other in outs[1:]:
        _same(other, outs[0])


def test_bad_input_names_the_function_and_argument(rng):
    x, dy, w, b = _data(rng, (3, 4, 5), np.float32)
    y, mean, invstd, _ = ops.batch_norm_forward(x, w, b, relu=True)
    fn = "batch_norm_backward"
    for mod in (ops, ref):
        with pytest.raises(ValueError, match=f"{fn}.*relu_out"):
            mod.batch_norm_backward(dy, x, w, mean, invstd, relu_out=y, relu=True, bias=b)
        with pytest.raises(TypeError, match=f"{fn}.*relu"):
            mod.batch_norm_backward(dy, x, w, mean, invstd, relu=1, bias=b)
        with pytest.raises(ValueError, match=f"{fn}.*bias"):
            mod.batch_norm_backward(dy, x, w, mean, invstd, relu=True, bias=b[:3])
        with pytest.raises(ValueError, match=f"{fn}.*out"):
            mod.batch_norm_backward(dy, x, w, mean, invstd, True, (False, True, True),
                                    out=np.empty_like(x))
        with pytest.raises(TypeError, match=f"{fn}.*out"):
            mod.batch_norm_backward(dy, x, w, mean, invstd, out=np.empty(x.shape))
    with pytest.raises(ValueError, match=f"{fn}.*out.*x"):
        ops.batch_norm_backward(dy, x, w, mean, invstd, out=x)
    with pytest.raises(ValueError, match=f"{fn}.*out.*relu_out"):
        ops.batch_norm_backward(dy, x, w, mean, invstd, relu_out=y, out=y)
    big = np.concatenate([dy.ravel(), dy.ravel()])
    with pytest.raises(ValueError, match=f"{fn}.*out.*dy"):
        ops.batch_norm_backward(big[:dy.size].reshape(dy.shape), x, w, mean, invstd,
                                out=big[1:dy.size + 1].reshape(dy.shape))


@pytest.mark.skipif(not HAVE_TORCH, reason="needs PyTorch")
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_pytorch(dtype, rng):
    x, dy, w, b = _data(rng, (8, 6, 5, 7), dtype)
    y, mean, invstd, _ = ops.batch_norm_forward(x, w, b, relu=True)
    g = dy.copy()
    got = ops.batch_norm_backward(g, x, w, mean, invstd, relu=True, bias=b, out=g)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    ty = torch.relu(torch.nn.functional.batch_norm(tx, None, None, tw, tb, True))
    ty.backward(torch.from_numpy(dy))
    for a, e in zip(got, (tx.grad, tw.grad, tb.grad)):
        assert_close(a, e.numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bn_relu_node_is_bitwise_the_unfused_modules(dtype, rng):
    """The bn_relu node recomputes the mask and writes dx over the incoming gradient: the
    gradients are bitwise those of F.relu(bn(x)) (whose backward masks, then normalises)."""
    x = (rng.standard_normal((4, 6, 5, 5)) * 2 + 0.3).astype(dtype)
    a, c = nn.BatchNorm2d(6).to(dtype), nn.BatchNorm2d(6).to(dtype)
    with cr.no_grad():
        a.weight.array[:] = rng.standard_normal(6)
        a.bias.array[:] = rng.standard_normal(6)
    c.load_state_dict(a.state_dict())
    conv = nn.Conv2d(6, 3, 3).to(dtype)
    outs = []
    for fused in (True, False):
        xt = cr.tensor(x, requires_grad=True)
        h = nn.norm.bn_relu(a, xt) if fused else F.relu(c(xt))
        (conv(h) ** 2).sum().backward()
        m = a if fused else c
        outs.append((xt.grad.array, m.weight.grad.array, m.bias.grad.array))
        conv.zero_grad()
    for p, q in zip(*outs):
        assert np.array_equal(p, q)
