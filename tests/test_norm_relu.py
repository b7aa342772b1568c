"""Batch norm fused with a ReLU (ops.batch_norm_forward(relu=True), batch_norm_backward
(relu_out=)): bitwise the same as the two separate kernels, against the reference, 1 vs 2
threads, bad input; and the models' fused BatchNorm2d + ReLU (nn.norm.bn_relu) against
the unfused modules and PyTorch."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference as ref
from chainrule.nn import functional as F
from helpers import HAVE_TORCH, assert_close, torch

DTYPES = [np.float32, np.float64]
# NC, short rows (L <= 16, several 512-value runs), long rows (cache blocks), N = 1,
# HW = 1, C = 1, prime sizes, on threads
SHAPES = [(7, 5), (1, 3, 1, 1), (5, 7, 3, 3), (33, 300, 2, 2), (3, 41, 4, 4), (2, 3, 5, 7),
          (4, 6, 32, 32), (1, 1, 9, 11), (16, 24, 16, 16), (40, 11, 32, 32)]


def _data(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 2 + 0.3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    w = (rng.standard_normal(C) + 1).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    return x, dy, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_fused_is_bitwise_the_two_kernels(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    for wb in ((w, b), (None, None), (w, None)):
        y, mean, invstd, var = ops.batch_norm_forward(x, *wb)
        r = ops.relu_forward(y)
        fy, fmean, finvstd, fvar = ops.batch_norm_forward(x, *wb, relu=True)
        for a, e in ((fy, r), (fmean, mean), (finvstd, invstd), (fvar, var)):
            assert a.dtype == e.dtype and np.array_equal(a, e)
        assert (fy >= 0).all() and (wb[1] is not None or (fy == 0).any())
        g = ops.relu_backward(dy, r)
        for training in (True, False):
            for mask in ((True, True, True), (True, False, True), (False, True, False)):
                want = ops.batch_norm_backward(g, x, wb[0], mean, invstd, training, mask)
                got = ops.batch_norm_backward(dy, x, wb[0], mean, invstd, training, mask,
                                              relu_out=fy)
                for a, e in zip(got, want):
                    assert (a is None) == (e is None)
                    if a is not None:
                        assert np.array_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 5), (5, 7, 3, 3), (3, 41, 4, 4), (4, 6, 32, 32)])
def test_fused_matches_reference(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    got = ops.batch_norm_forward(x, w, b, 1e-5, relu=True)
    want = ref.batch_norm_forward(x, w, b, 1e-5, relu=True)
    for a, e in zip(got, want):
        assert a.dtype == dtype
        assert_close(a, e, dtype)
    y, mean, invstd, _ = want
    scale = max(1.0, float(np.abs(dy).sum() / shape[1]))
    for training in (True, False):
        got = ops.batch_norm_backward(dy, x, w, mean, invstd, training, relu_out=y)
        exp = ref.batch_norm_backward(dy, x, w, mean, invstd, training, relu_out=y)
        for name, a, e in zip(("dx", "dweight", "dbias"), got, exp):
            assert_close(a, e, dtype, name=name, scale=scale if name != "dx" else None)


def test_relu_semantics_nan_and_negative_zero():
    x = np.array([[1.0, np.nan], [-1.0, 2.0], [3.0, -2.0]])
    y = ops.batch_norm_forward(x, relu=True)[0]
    assert np.array_equal(y, ops.relu_forward(ops.batch_norm_forward(x)[0]), equal_nan=True)
    assert np.isnan(y[:, 1]).all()
    assert np.array_equal(y, ref.batch_norm_forward(x, relu=True)[0], equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 16, 16, 16), (32, 1024, 2, 2), (16, 333, 4, 4),
                                   (4096, 40)])
def test_fused_one_and_two_threads_agree_bitwise(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    outs = []
    for n in (1, 2):  # conftest restores the thread count
        cr.set_num_threads(n)
        y, mean, invstd, var = ops.batch_norm_forward(x, w, b, relu=True)
        outs.append((y, mean, invstd, var)
                    + ops.batch_norm_backward(dy, x, w, mean, invstd, relu_out=y))
    for a, e in zip(*outs):
        assert np.array_equal(a, e)


def test_bad_input(rng):
    x = rng.standard_normal((4, 3, 2, 2))
    _, mean, invstd, _ = ops.batch_norm_forward(x)
    for mod in (ops, ref):
        with pytest.raises(TypeError, match="batch_norm_forward: argument 'relu' must be a bool"):
            mod.batch_norm_forward(x, relu=1)
        with pytest.raises(ValueError, match="batch_norm_backward: argument 'relu_out' must "
                                             r"have the shape of 'x' \(4, 3, 2, 2\)"):
            mod.batch_norm_backward(x, x, None, mean, invstd, relu_out=x[:2])
        with pytest.raises(TypeError, match="batch_norm_backward"):
            mod.batch_norm_backward(x, x, None, mean, invstd, relu_out=x.astype(np.float32))


# ---------------------------------------------------------------- bn_relu (autograd)
def _unfused(bn, x):
    return F.relu(bn(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 5, 4, 4), (2, 3, 1, 1), (1, 3, 2, 1), (4, 7, 9, 11), (8, 3)])
def test_bn_relu_is_bitwise_relu_of_bn_over_steps(shape, dtype, rng):
    """Several train and eval steps: outputs, gradients and running statistics equal."""
    C = shape[1]
    mods = []
    for fused in (True, False):
        bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(C, momentum=None)
        if dtype == np.float64:
            bn = bn.double()
        bn.weight.array[...] = rng.standard_normal(C) + 1
        bn.bias.array[...] = rng.standard_normal(C) * 0.5
        mods.append(bn)
    mods[1].load_state_dict(mods[0].state_dict())
    for step in range(4):
        xs = (rng.standard_normal(shape) * 2 + 0.2).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        if step == 2:
            for m in mods:
                m.eval()
        outs = []
        for bn, f in zip(mods, (nn.norm.bn_relu, _unfused)):
            x = cr.tensor(xs, requires_grad=True)
            bn.zero_grad()
            y = f(bn, x)
            y.backward(g)
            outs.append((y.array, x.grad, bn.weight.grad, bn.bias.grad, bn.running_mean,
                         bn.running_var, bn.num_batches_tracked))
        for a, e in zip(*outs):
            assert np.array_equal(a, e)


def test_bn_relu_runs_hooks_and_subclass_forward(rng):
    bn = nn.BatchNorm2d(3)
    seen = []
    h = bn.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    x = cr.tensor(rng.standard_normal((2, 3, 4, 4)).astype(np.float32))
    y = nn.norm.bn_relu(bn, x)
    assert seen == [(2, 3, 4, 4)] and (y.array >= 0).all()
    h.remove()

    class Twice(nn.BatchNorm2d):
        def forward(self, input):
            return super().forward(input) * 2
    t = Twice(3)
    assert np.array_equal(nn.norm.bn_relu(t, x).array, F.relu(Twice(3)(x)).array)


def test_bn_relu_finite_differences(rng):
    x = cr.tensor(rng.standard_normal((4, 3, 2, 3)) + 0.3, requires_grad=True)
    bn = nn.BatchNorm2d(3).double()
    bn.weight.array[...] = rng.standard_normal(3) + 1
    bn.bias.array[...] = rng.standard_normal(3)
    g = rng.standard_normal(x.shape)
    nn.norm.bn_relu(bn, x).backward(g)
    num = np.zeros(x.shape)
    h = 1e-6
    for i in np.ndindex(*x.shape):
        for s in (1, -1):
            xp = x.array.copy()
            xp[i] += s * h
            with cr.no_grad():
                num[i] += s * (nn.norm.bn_relu(bn, cr.tensor(xp)).array * g).sum() / (2 * h)
    np.testing.assert_allclose(x.grad, num, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
def test_bn_relu_matches_pytorch(dtype, rng):
    C, shape = 5, (6, 5, 3, 4)
    bn = nn.BatchNorm2d(C)
    tbn = torch.nn.BatchNorm2d(C)
    if dtype == np.float64:
        bn, tbn = bn.double(), tbn.double()
    w = rng.standard_normal(C).astype(dtype) + 1
    bn.weight.array[...] = w
    with torch.no_grad():
        tbn.weight.copy_(torch.from_numpy(w))
    for step in range(4):
        if step == 3:
            bn.eval()
            tbn.eval()
        xs = (rng.standard_normal(shape) + 0.2).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        x = cr.tensor(xs, requires_grad=True)
        bn.zero_grad()
        nn.norm.bn_relu(bn, x).backward(g)
        tx = torch.from_numpy(xs).requires_grad_()
        tbn.zero_grad()
        y = torch.relu(tbn(tx))
        y.backward(torch.from_numpy(g))
        assert_close(x.grad, tx.grad.numpy(), dtype, name="dx")
        assert_close(bn.weight.grad, tbn.weight.grad.numpy(), dtype, name="dweight", scale=10)
        assert_close(bn.bias.grad, tbn.bias.grad.numpy(), dtype, name="dbias", scale=10)
        assert_close(bn.running_mean, tbn.running_mean.numpy(), dtype)
        assert_close(bn.running_var, tbn.running_var.numpy(), dtype)


# ---------------------------------------------------------------- residual (bn + r, relu)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_residual_is_bitwise_the_separate_kernels(shape, dtype, rng):
    x, dy, w, b = _data(rng, shape, dtype)
    r = rng.standard_normal(shape).astype(dtype)
    y = ops.batch_norm_forward(x, w, b)[0]
    for relu in (False, True):
        want = y + r
        if relu:
            want = ops.relu_forward(want)
        got = ops.batch_norm_forward(x, w, b, relu=relu, residual=r)[0]
        assert np.array_equal(got, want)
        assert_close(got, ref.batch_norm_forward(x, w, b, relu=relu, residual=r)[0], dtype)


def test_residual_bad_input(rng):
    x = rng.standard_normal((4, 3, 2, 2))
    for mod in (ops, ref):
        with pytest.raises(ValueError, match="batch_norm_forward: argument 'residual' must "
                                             r"have the shape of 'x' \(4, 3, 2, 2\)"):
            mod.batch_norm_forward(x, residual=x[:, :2])
        with pytest.raises(TypeError, match="batch_norm_forward"):
            mod.batch_norm_forward(x, residual=x.astype(np.float32))


def _unfused_add(bn, x, r):
    return F.relu(bn(x) + r)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 5, 4, 4), (2, 3, 1, 1), (4, 7, 9, 11), (8, 3)])
def test_bn_add_relu_is_bitwise_the_three_calls_over_steps(shape, dtype, rng):
    C = shape[1]
    mods = []
    for _ in range(2):
        bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(C)
        if dtype == np.float64:
            bn = bn.double()
        mods.append(bn)
    mods[0].weight.array[...] = rng.standard_normal(C) + 1
    mods[0].bias.array[...] = rng.standard_normal(C) * 0.5
    mods[1].load_state_dict(mods[0].state_dict())
    for step in range(4):
        xs = (rng.standard_normal(shape) * 2 + 0.2).astype(dtype)
        rs = rng.standard_normal(shape).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        if step == 2:
            for m in mods:
                m.eval()
        outs = []
        for bn, f in zip(mods, (nn.norm.bn_add_relu, _unfused_add)):
            x = cr.tensor(xs, requires_grad=True)
            r = cr.tensor(rs, requires_grad=True)
            bn.zero_grad()
            y = f(bn, x, r)
            (y * cr.tensor(g)).sum().backward()
            outs.append((y.array, x.grad, r.grad, bn.weight.grad, bn.bias.grad,
                         bn.running_mean, bn.running_var, bn.num_batches_tracked))
        for a, e in zip(*outs):
            assert np.array_equal(a, e)


def test_bn_add_relu_falls_back_on_broadcast_and_shared_input(rng):
    bn = nn.BatchNorm2d(3).double()
    x = cr.tensor(rng.standard_normal((4, 3, 2, 2)), requires_grad=True)
    r = cr.tensor(rng.standard_normal((3, 1, 1)), requires_grad=True)
    y = nn.norm.bn_add_relu(bn, x, r)
    y.sum().backward()
    assert r.grad.shape == (3, 1, 1)
    # the residual is the input itself (an identity shortcut): gradients of both paths add
    x2 = cr.tensor(x.array.copy(), requires_grad=True)
    nn.norm.bn_add_relu(bn, x2, x2).sum().backward()
    x3 = cr.tensor(x.array.copy(), requires_grad=True)
    _unfused_add(bn, x3, x3).sum().backward()
    assert np.array_equal(x2.grad, x3.grad)


def test_bn_add_relu_finite_differences(rng):
    bn = nn.BatchNorm2d(3).double()
    bn.weight.array[...] = rng.standard_normal(3) + 1
    r = cr.tensor(rng.standard_normal((4, 3, 2, 3)), requires_grad=True)
    x = cr.tensor(rng.standard_normal((4, 3, 2, 3)) + 0.3, requires_grad=True)
    assert cr.gradcheck(lambda x, r: nn.norm.bn_add_relu(bn, x, r), (x, r), atol=1e-6,
                        rtol=1e-5)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_resnet_block_matches_pytorch_with_fused_kernels(rng):
    from chainrule import models
    m = models.resnet20().double()
    x = rng.standard_normal((2, 3, 8, 8))
    xt = cr.tensor(x)
    y = m(xt)
    y.sum().backward()
    from chainrule.bench import _torch_cnn
    tm = _torch_cnn.resnet20(torch).double()
    tm.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    ty = tm(torch.from_numpy(x))
    ty.sum().backward()
    assert_close(y.array, ty.detach().numpy(), np.float64)
    assert_close(m.conv1.weight.grad, tm.conv1.weight.grad.numpy(), np.float64, scale=10)
    assert_close(m.layer3[2].bn2.weight.grad, tm.layer3[2].bn2.weight.grad.numpy(),
                 np.float64, scale=10)
