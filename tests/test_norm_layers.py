"""Group, layer and instance norm: finite differences (float64), PyTorch as oracle
(functional forward/backward, modules over train/eval steps with running statistics,
state dicts), thread-count invariance, bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from helpers import HAVE_TORCH, assert_close, torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")


def _affine(rng, shape, dtype, which):
    w = (rng.standard_normal(shape) + 1).astype(dtype) if which in ("both", "weight") else None
    b = rng.standard_normal(shape).astype(dtype) if which in ("both", "bias") else None
    return w, b


def _call(f, x, w, b, grad=True):
    """(y, inputs) with the Tensors that need gradients (None stays None)."""
    ts = [None if a is None else cr.tensor(a, requires_grad=grad) for a in (x, w, b)]
    return f(*ts), ts


# ---------------------------------------------------------------- finite differences
GN_CASES = [((3, 6, 4, 5), 3), ((2, 4, 7), 2), ((1, 5, 3, 3), 5), ((4, 6), 1), ((2, 3, 5), 3)]
LN_CASES = [((4, 7), (7,)), ((3, 2, 5), (5,)), ((2, 3, 4, 5), (4, 5)), ((1, 6), 6),
            ((5, 3, 3), (3, 3))]
IN_CASES = [(2, 3, 5, 4), (1, 2, 7), (3, 1, 3, 3)]


@pytest.mark.parametrize("shape, G", GN_CASES)
@pytest.mark.parametrize("which", ["both", "weight", "bias", "none"])
def test_group_norm_finite_differences(shape, G, which, rng):
    x = rng.standard_normal(shape) * 2 + 1
    w, b = _affine(rng, shape[1], np.float64, which)
    ts = [cr.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]

    def f(*args):
        it = iter(args)
        xx = next(it)
        ww = next(it) if w is not None else None
        bb = next(it) if b is not None else None
        return F.group_norm(xx, G, ww, bb, eps=1e-3)
    assert cr.gradcheck(f, tuple(ts), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("shape, ns", LN_CASES)
def test_layer_norm_finite_differences(shape, ns, rng):
    x = rng.standard_normal(shape) * 2 + 1
    s = (ns,) if isinstance(ns, int) else ns
    w, b = _affine(rng, s, np.float64, "both")
    ts = tuple(cr.tensor(a, requires_grad=True) for a in (x, w, b))
    assert cr.gradcheck(lambda x, w, b: F.layer_norm(x, ns, w, b, 1e-3), ts, atol=1e-6,
                        rtol=1e-5)
    assert cr.gradcheck(lambda x: F.layer_norm(x, ns, eps=1e-3), ts[:1], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("shape", IN_CASES)
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_finite_differences(shape, use_input_stats, rng):
    C = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    w, b = _affine(rng, C, np.float64, "both")
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    ts = tuple(cr.tensor(a, requires_grad=True) for a in (x, w, b))

    def f(x, w, b):
        return F.instance_norm(x, rm.copy(), rv.copy(), w, b, use_input_stats, 0.1, 1e-3)
    assert cr.gradcheck(f, ts, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("shape", IN_CASES + [(1, 3, 2, 1)])
@pytest.mark.parametrize("affine", ["both", "none", "weight"])
def test_instance_norm_without_running_stats_finite_differences(shape, affine, rng):
    """No running statistics: the row kernels (group norm with C groups)."""
    C = shape[1]
    w, b = _affine(rng, C, np.float64, affine)
    x = cr.tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    ts = (x,) + tuple(cr.tensor(a, requires_grad=True) for a in (w, b) if a is not None)

    def f(x, *wb):
        return F.instance_norm(x, None, None, *(wb + (None,) * (2 - len(wb))), eps=1e-3)
    assert cr.gradcheck(f, ts, atol=1e-6, rtol=1e-5)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", IN_CASES + [(1, 7, 3, 5), (8, 16, 32, 32)])
def test_instance_norm_without_running_stats_matches_torch(shape, dtype, rng):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = _affine(rng, C, dtype, "both")
    y, (cx, cw, cb) = _call(lambda x, w, b: F.instance_norm(x, None, None, w, b, eps=1e-4),
                            x, w, b)
    y.backward(dy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.instance_norm(tx, None, None, tw, tb, eps=1e-4)
    ty.backward(torch.tensor(dy))
    assert_close(y.array, ty.detach().numpy(), dtype, name="y")
    for name, a, t in (("dx", cx, tx), ("dweight", cw, tw), ("dbias", cb, tb)):
        assert_close(a.grad, t.grad.numpy(), dtype, name=name,
                     scale=max(1.0, float(np.abs(t.grad.numpy()).max())))


def test_gradients_only_where_needed(rng):
    x = rng.standard_normal((4, 6, 5))
    w = cr.tensor(np.ones(6), requires_grad=True)
    b = cr.tensor(np.zeros(6))
    y = F.group_norm(x, 2, w, b)
    (y * y).sum().backward()
    assert w.grad is not None and b.grad is None
    xt = cr.tensor(x, requires_grad=True)
    y = F.layer_norm(xt, 5, cr.tensor(np.ones(5)), None)
    (y * y).sum().backward()
    assert xt.grad is not None


def test_one_and_two_threads_agree_bitwise(rng):
    x = rng.standard_normal((16, 32, 24, 24)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    outs = []
    for n in (1, 2):
        cr.set_num_threads(n)
        res = []
        for f in (lambda t: F.group_norm(t, 8, w, b), lambda t: F.layer_norm(t, (24, 24)),
                  lambda t: F.instance_norm(t, weight=w, bias=b)):
            w = cr.tensor(np.linspace(0.5, 2, 32, dtype=np.float32), requires_grad=True)
            b = cr.tensor(np.linspace(-1, 1, 32, dtype=np.float32), requires_grad=True)
            xt = cr.tensor(x, requires_grad=True)
            y = f(xt)
            y.backward(dy)
            res += [y.array, xt.grad.array]
        outs.append(res)
    for a, e in zip(*outs):
        assert np.array_equal(a, e)


def test_non_contiguous_input(rng):
    x = rng.standard_normal((3, 8, 5, 6))[:, ::2, :, ::-1]
    y = F.group_norm(x, 2).array
    want = F.group_norm(np.ascontiguousarray(x), 2).array
    assert np.array_equal(y, want)
    g = x.reshape(3, 2, -1)
    e = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
    assert_close(y, e.reshape(x.shape), np.float64)


# ---------------------------------------------------------------- PyTorch oracle
@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, G", GN_CASES + [((8, 32, 16, 16), 8)])
def test_group_norm_matches_torch(shape, G, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = _affine(rng, shape[1], dtype, "both")
    (y, (cx, cw, cb)) = _call(lambda x, w, b: F.group_norm(x, G, w, b, 1e-4), x, w, b)
    y.backward(dy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.group_norm(tx, G, tw, tb, 1e-4)
    ty.backward(torch.tensor(dy))
    assert_close(y.array, ty.detach().numpy(), dtype, name="y")
    for name, a, t in (("dx", cx, tx), ("dweight", cw, tw), ("dbias", cb, tb)):
        assert_close(a.grad, t.grad.numpy(), dtype, name=name,
                     scale=max(1.0, float(np.abs(t.grad.numpy()).max())))


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, ns", LN_CASES + [((4, 50, 384), (384,))])
def test_layer_norm_matches_torch(shape, ns, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    s = (ns,) if isinstance(ns, int) else ns
    w, b = _affine(rng, s, dtype, "both")
    y, (cx, cw, cb) = _call(lambda x, w, b: F.layer_norm(x, ns, w, b), x, w, b)
    y.backward(dy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.layer_norm(tx, s, tw, tb)
    ty.backward(torch.tensor(dy))
    assert_close(y.array, ty.detach().numpy(), dtype, name="y")
    for name, a, t in (("dx", cx, tx), ("dweight", cw, tw), ("dbias", cb, tb)):
        assert_close(a.grad, t.grad.numpy(), dtype, name=name,
                     scale=max(1.0, float(np.abs(t.grad.numpy()).max())))


@needs_torch
@pytest.mark.parametrize("shape", IN_CASES + [(8, 16, 32, 32)])
@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_matches_torch(shape, use_input_stats, rng):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    w, b = _affine(rng, C, np.float32, "both")
    rm = rng.standard_normal(C).astype(np.float32)
    rv = rng.uniform(0.5, 2, C).astype(np.float32)
    crm, crv = rm.copy(), rv.copy()
    y, (cx, cw, cb) = _call(lambda x, w, b: F.instance_norm(x, crm, crv, w, b, use_input_stats,
                                                            0.3, 1e-4), x, w, b)
    y.backward(dy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tm, tv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.instance_norm(tx, tm, tv, tw, tb, use_input_stats, 0.3, 1e-4)
    ty.backward(torch.tensor(dy))
    assert_close(y.array, ty.detach().numpy(), np.float32, name="y")
    assert_close(crm, tm.numpy(), np.float32, name="running_mean")
    assert_close(crv, tv.numpy(), np.float32, name="running_var")
    for name, a, t in (("dx", cx, tx), ("dweight", cw, tw), ("dbias", cb, tb)):
        assert_close(a.grad, t.grad.numpy(), np.float32, name=name,
                     scale=max(1.0, float(np.abs(t.grad.numpy()).max())))


def _copy_params(m, t, rng):
    """The same non-trivial parameters in chainrule module m and torch module t."""
    for name, p in m.named_parameters():
        v = (rng.standard_normal(p.array.shape) + (1 if name == "weight" else 0))
        p.array[...] = v
        with torch.no_grad():
            getattr(t, name).copy_(torch.tensor(p.array))


def _check_step(m, t, x, dy, step):
    xc = cr.tensor(x, requires_grad=True)
    y = m(xc)
    y.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx)
    ty.backward(torch.tensor(dy))
    assert_close(y.array, ty.detach().numpy(), np.float32, name=f"y step {step}")
    assert_close(xc.grad, tx.grad.numpy(), np.float32, name=f"dx step {step}",
                 scale=max(1.0, float(np.abs(tx.grad.numpy()).max())))
    for name, p in m.named_parameters():
        tg = getattr(t, name).grad.numpy()
        assert_close(p.grad, tg, np.float32, name=name, scale=max(1.0, float(np.abs(tg).max())))
        p.grad = None
        getattr(t, name).grad = None
    sd, tsd = m.state_dict(), t.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert_close(sd[k], tsd[k].numpy(), np.float32, name=f"{k} step {step}")


@needs_torch
@pytest.mark.parametrize("cls, shape", [("InstanceNorm2d", (4, 3, 6, 5)),
                                        ("InstanceNorm2d", (3, 5, 5)),
                                        ("InstanceNorm1d", (4, 3, 11)),
                                        ("InstanceNorm1d", (3, 9))])
@pytest.mark.parametrize("kwargs", [{}, {"affine": True}, {"track_running_stats": True},
                                    {"affine": True, "track_running_stats": True,
                                     "momentum": 0.5, "eps": 1e-3},
                                    {"track_running_stats": True, "momentum": None}])
def test_instance_norm_module_matches_torch_over_steps(cls, shape, kwargs, rng):
    m = getattr(nn, cls)(3, **kwargs)
    t = getattr(torch.nn, cls)(3, **kwargs)
    _copy_params(m, t, rng)
    for step, train in enumerate([True, True, False, True, False]):
        m.train(train)
        t.train(train)
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        _check_step(m, t, x, rng.standard_normal(shape).astype(np.float32), step)


@needs_torch
@pytest.mark.parametrize("make", [lambda M: M.GroupNorm(3, 6), lambda M: M.GroupNorm(2, 6, affine=False),
                                  lambda M: M.GroupNorm(1, 6, eps=1e-3),
                                  lambda M: M.LayerNorm([5, 4]),
                                  lambda M: M.LayerNorm(4, elementwise_affine=False),
                                  lambda M: M.LayerNorm(4, bias=False)])
def test_group_and_layer_norm_modules_match_torch(make, rng):
    m, t = make(nn), make(torch.nn)
    assert repr(m).split("(")[0] == repr(t).split("(")[0]
    _copy_params(m, t, rng)
    for step in range(2):
        x = (rng.standard_normal((3, 6, 5, 4)) * 2 + step).astype(np.float32)
        _check_step(m, t, x, rng.standard_normal(x.shape).astype(np.float32), step)
    t2 = make(torch.nn)
    m2 = make(nn)
    m2.load_state_dict(t.state_dict())
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    assert_close(m2(x).array, t(torch.tensor(x)).detach().numpy(), np.float32)
    assert list(m2.state_dict()) == list(t2.state_dict())


def test_double_modules_and_defaults():
    m = nn.InstanceNorm2d(4)
    assert m.weight is None and m.running_mean is None and not m.affine
    assert list(m.state_dict()) == []
    assert list(nn.InstanceNorm2d(4, track_running_stats=True).state_dict()) == [
        "running_mean", "running_var", "num_batches_tracked"]
    g = nn.GroupNorm(2, 4).double()
    y = g(np.ones((2, 4, 3)) * np.arange(3))
    assert y.array.dtype == np.float64
    assert_close(y.array.mean(-1), np.zeros((2, 4)), np.float64)


# ---------------------------------------------------------------- bad input
def test_bad_input_is_rejected_with_clear_messages():
    x = np.zeros((4, 6, 5), np.float32)
    with pytest.raises(ValueError, match="group_norm: the 6 channels .* num_groups=4"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="GroupNorm: num_channels must be divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"group_norm: weight must have shape \(6,\)"):
        F.group_norm(x, 2, np.ones(5, np.float32))
    with pytest.raises(TypeError, match="group_norm: weight has dtype float64"):
        F.group_norm(x, 2, np.ones(6))
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(4, 6, 5\) does not end"):
        F.layer_norm(x, (6,))
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be >= 1"):
        nn.LayerNorm((3, 0))
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial"):
        F.instance_norm(np.zeros((4, 6, 1), np.float32))
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.instance_norm(x, use_input_stats=False)
    with pytest.raises(ValueError, match="InstanceNorm2d: expected 3D .* or 4D input"):
        nn.InstanceNorm2d(6)(x[0])
    with pytest.raises(ValueError, match="InstanceNorm1d: expected input with 3 channels"):
        nn.InstanceNorm1d(3, affine=True)(x)
    with pytest.raises(ValueError, match="eps must be a float >= 0"):
        nn.LayerNorm(5, eps=-1)
