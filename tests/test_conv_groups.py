"""Grouped / depthwise convolution, padding="same"/"valid", Conv1d and ConvTranspose2d:
fast vs reference, finite differences, PyTorch as the oracle, bad input, threads."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference as ref
from chainrule.nn import functional as F
from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad, torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")

# (x shape, w shape, stride, padding, dilation, groups)
DEPTHWISE = [((2, 5, 9, 7), (5, 1, 3, 3), 1, 1, 1, 5),
             ((1, 3, 11, 8), (3, 1, 5, 5), 1, 2, 1, 3),
             ((3, 1, 6, 5), (1, 1, 3, 3), 2, 1, 1, 1),
             ((1, 4, 7, 7), (4, 1, 3, 3), (2, 1), 0, 2, 4),
             ((2, 3, 8, 9), (3, 1, 3, 3), (1, 2), 1, 1, 3),
             ((1, 2, 9, 9), (2, 1, 3, 5), 3, (0, 2), (2, 1), 2),
             ((2, 7, 13, 17), (7, 1, 5, 5), 1, "same", 1, 7),
             ((1, 2, 5, 6), (2, 1, 4, 4), 1, "same", 1, 2)]
GROUPED = [((2, 6, 7, 5), (4, 3, 3, 2), 1, (1, 0), 1, 2),
           ((1, 6, 8, 8), (9, 2, 3, 3), 2, 1, 1, 3),
           ((2, 3, 6, 5), (6, 1, 3, 3), 1, 1, 1, 3),  # channel multiplier 2: generic groups
           ((1, 4, 7, 6), (6, 2, 2, 3), 1, "same", (2, 1), 2)]


def _data(xs, ws, dt, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(xs).astype(dt), rng.standard_normal(ws).astype(dt),
            rng.standard_normal(ws[0]).astype(dt), rng)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", DEPTHWISE + GROUPED)
def test_fast_matches_reference(case, dt):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, dt)
    y = ops.conv2d_forward(x, w, b, s, p, d, g)
    assert_close(y, ref.conv2d_forward(x, w, b, s, p, d, g), dt, name="y")
    dy = rng.standard_normal(y.shape).astype(dt)
    for got, want, n in zip(ops.conv2d_backward(dy, x, w, s, p, d, g),
                            ref.conv2d_backward(dy, x, w, s, p, d, g), "dx dw db".split()):
        assert_close(got, want, dt, rtol=1e-4 if dt == np.float32 else None, name=n)


@pytest.mark.parametrize("case", DEPTHWISE[:3] + GROUPED[:2])
def test_finite_differences(case):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, np.float64)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d, g).shape)
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, p, d, g)
    assert_grad_close(dx, numerical_grad(lambda v: ops.conv2d_forward(v, w, b, s, p, d, g), x, dy))
    assert_grad_close(dw, numerical_grad(lambda v: ops.conv2d_forward(x, v, b, s, p, d, g), w, dy))
    assert_grad_close(db, numerical_grad(lambda v: ops.conv2d_forward(x, w, v, s, p, d, g), b, dy))


def _grads(m, t, x, dt, rng):
    xt, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), t(tx)
    assert_close(y.array, ty.detach().numpy(), dt, name="y")
    dy = rng.standard_normal(y.array.shape).astype(dt)
    y.backward(dy)
    ty.backward(torch.tensor(dy))
    pairs = [(xt.grad, tx.grad), (m.weight.grad, t.weight.grad)]
    if m.bias is not None:
        pairs.append((m.bias.grad, t.bias.grad))
    for (got, want), n in zip(pairs, ["dx", "dw", "db"]):
        assert_close(got, want.numpy(), dt, rtol=1e-4 if dt == np.float32 else None,
                     atol=1e-5 if dt == np.float32 else None, name=n)


def _tdt(dt):
    return torch.float64 if dt == np.float64 else torch.float32


def _copy(m, t):
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight.array))
        if m.bias is not None:
            t.bias.copy_(torch.tensor(m.bias.array))


@needs_torch
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", DEPTHWISE + GROUPED)
def test_conv2d_layer_vs_torch(case, dt):
    xs, ws, s, p, d, g = case
    x, _, _, rng = _data(xs, ws, dt)
    m = nn.Conv2d(xs[1], ws[0], ws[2:], s, p, d, g, dtype=dt)
    t = torch.nn.Conv2d(xs[1], ws[0], ws[2:], s, p, d, g).to(_tdt(dt))
    _copy(m, t)
    _grads(m, t, x, dt, rng)


@needs_torch
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("args,xs", [((4, 6, 3), (2, 4, 11)), ((4, 4, 5, 2, 2, 1, 4), (1, 4, 13)),
                                     ((3, 6, 4, 1, "same", 2, 3, False), (2, 3, 9)),
                                     ((1, 2, 3, 1, "valid"), (3, 1, 7))])
def test_conv1d_vs_torch(args, xs, dt):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(dt)
    m = nn.Conv1d(*args, dtype=dt)
    t = torch.nn.Conv1d(*args).to(_tdt(dt))
    assert tuple(t.weight.shape) == m.weight.array.shape
    _copy(m, t)
    _grads(m, t, x, dt, rng)


@needs_torch
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("args,xs", [
    ((4, 3, 3), (2, 4, 5, 6)), ((4, 6, 3, 2, 1, 1), (1, 4, 5, 5)),
    ((2, 3, (2, 3), (2, 1), (1, 0), (1, 0), 1, False), (2, 2, 4, 3)),
    ((4, 6, 3, 2, 0, 0, 2, True, 2), (1, 4, 3, 4))])
def test_conv_transpose2d_vs_torch(args, xs, dt):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs).astype(dt)
    m = nn.ConvTranspose2d(*args, dtype=dt)
    t = torch.nn.ConvTranspose2d(*args).to(_tdt(dt))
    assert tuple(t.weight.shape) == m.weight.array.shape
    _copy(m, t)
    _grads(m, t, x, dt, rng)


def test_conv_transpose2d_finite_differences():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((2, 3, 3, 2))
    b = rng.standard_normal(3)
    f = lambda xa, wa, ba: F.conv_transpose2d(xa, wa, ba, 2, 1, 1).array
    xt, wt, bt = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv_transpose2d(xt, wt, bt, 2, 1, 1)
    dy = rng.standard_normal(y.array.shape)
    y.backward(dy)
    assert_grad_close(xt.grad, numerical_grad(lambda v: f(v, w, b), x, dy))
    assert_grad_close(wt.grad, numerical_grad(lambda v: f(x, v, b), w, dy))
    assert_grad_close(bt.grad, numerical_grad(lambda v: f(x, w, v), b, dy))


@pytest.mark.parametrize("case", [DEPTHWISE[0], GROUPED[0], ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1,
                                                              1, 1)])
def test_need_dw_false_skips_only_dw(case):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, np.float64)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d, g).shape)
    for impl in (ops, ref):
        full = impl.conv2d_backward(dy, x, w, s, p, d, g)
        part = impl.conv2d_backward(dy, x, w, s, p, d, g, need_dw=False)
        assert part[1] is None
        assert np.array_equal(part[0], full[0]) and np.array_equal(part[2], full[2])


def test_conv_transpose2d_frozen_weight_gets_no_gradient(monkeypatch):
    calls = []
    real = ops.conv2d_backward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(ops, "conv2d_backward", spy)
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 3, 3, 2))
    b = rng.standard_normal(3)
    xt = cr.tensor(x, requires_grad=True)
    wt, bt = cr.tensor(w), cr.tensor(b, requires_grad=True)
    y = F.conv_transpose2d(xt, wt, bt, 2, 1, 1)
    dy = rng.standard_normal(y.array.shape)
    y.backward(dy)
    assert wt.grad is None
    assert calls and all(not c.get("need_dw", True) for c in calls)  # no dW computed at all
    want = ops.conv2d_forward(dy, w, None, 2, 1)
    assert_close(xt.grad.array, want, np.float64)
    assert_close(bt.grad.array, dy.sum(axis=(0, 2, 3)), np.float64)
    xt2 = cr.tensor(x)
    bt2 = cr.tensor(b)
    wt2 = cr.tensor(w, requires_grad=True)
    F.conv_transpose2d(xt2, wt2, bt2, 2, 1, 1).backward(dy)
    assert wt2.grad is not None and bt2.grad is None and xt2.grad is None


@pytest.mark.parametrize("case", DEPTHWISE[:2] + [((4, 16, 20, 20), (16, 1, 3, 3), 1, 1, 1, 16)])
def test_depthwise_threads_bitwise(case):
    xs, ws, s, p, d, g = case
    x, w, b, rng = _data(xs, ws, np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, s, p, d, g).shape).astype(np.float32)
    res = []
    old = cr.get_num_threads()
    try:
        for n in (1, 2):
            cr.set_num_threads(n)
            res.append((ops.conv2d_forward(x, w, b, s, p, d, g),)
                       + ops.conv2d_backward(dy, x, w, s, p, d, g))
    finally:
        cr.set_num_threads(old)
    for a, c in zip(*res):
        assert np.array_equal(a, c)


def test_bad_input():
    x, w = np.zeros((1, 6, 5, 5)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match="conv2d_forward.*groups=4"):
        ops.conv2d_forward(x, np.zeros((4, 1, 3, 3)), None, 1, 0, 1, 4)  # 4 does not divide 6
    with pytest.raises(ValueError, match="conv2d_backward.*groups"):
        ops.conv2d_backward(np.zeros((1, 4, 3, 3)), x, w, 1, 0, 1, 3)  # 3 does not divide 4
    with pytest.raises(ValueError, match="channel mismatch.*groups=3"):
        ops.conv2d_forward(x, np.zeros((6, 3, 3, 3)), None, 1, 0, 1, 3)
    with pytest.raises(TypeError, match="groups"):
        ops.conv2d_forward(x, w, None, 1, 0, 1, 2.0)
    with pytest.raises(ValueError, match="stride 1"):
        ops.conv2d_forward(x, w, None, 2, "same", 1, 2)
    with pytest.raises(ValueError, match="'full'"):
        ops.conv2d_forward(x, w, None, 1, "full", 1, 2)
    with pytest.raises(ValueError, match="Conv2d.*padding_mode='mirror'"):  # reflect exists
        nn.Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv2d.*groups=4"):
        nn.Conv2d(6, 4, 3, groups=4)
    with pytest.raises(ValueError, match="ConvTranspose2d.*padding_mode='circular'"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="circular")
    with pytest.raises(ValueError, match="conv_transpose2d.*output_padding"):
        F.conv_transpose2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 2, 3, 3)), None, 1, 0, 1)
    with pytest.raises(ValueError, match="conv1d"):
        F.conv1d(np.zeros((1, 2, 3, 3)), np.zeros((2, 2, 3)))


def test_depthwise_uses_the_init_fan_in_of_a_group():
    m = nn.Conv2d(8, 8, 3, groups=8)
    assert m.weight.array.shape == (8, 1, 3, 3)
    assert np.abs(m.weight.array).max() <= 1 / 3 and np.abs(m.bias.array).max() <= 1 / 3
