"""nn.functional: finite differences (float64) for every function and reduction, PyTorch as
an oracle for values and gradients (float32 and float64), stability and error messages."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from helpers import HAVE_TORCH, assert_close

f64 = np.float64
REDUCTIONS = ["mean", "sum", "none"]
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")


def T(a, requires_grad=True, dtype=f64):
    return cr.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def check_torch(cr_fn, torch_fn, arrays, grad_mask=None, dtype=f64, rng=None, consts=()):
    """Run cr_fn and torch_fn on the same arrays, push the same random upstream gradient,
    compare outputs and every input's gradient (tinygrad's helper_test_op)."""
    import torch
    rng = rng or np.random.default_rng(0)
    grad_mask = grad_mask or [True] * len(arrays)
    ct = [cr.tensor(a, dtype=dtype, requires_grad=g) for a, g in zip(arrays, grad_mask)]
    tt = [torch.tensor(np.asarray(a, dtype=dtype), requires_grad=g)
          for a, g in zip(arrays, grad_mask)]
    out_c = cr_fn(*ct, *consts)
    out_t = torch_fn(*tt, *[torch.as_tensor(c) for c in consts])
    assert out_c.dtype == np.dtype(dtype)
    assert_close(out_c.data, out_t.detach().numpy(), name="output")
    dout = rng.standard_normal(out_c.shape).astype(dtype)
    out_c.backward(dout)
    out_t.backward(torch.tensor(dout))
    for i, (c, t) in enumerate(zip(ct, tt)):
        if t.requires_grad:
            assert_close(c.grad, t.grad.numpy(), name=f"grad of input {i}")


# ---------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations_gradcheck_and_arrays(rng, name):
    x = T(rng.standard_normal((3, 4)))
    x.data[np.abs(x.data) < 1e-3] = 0.3
    fn = getattr(F, name)
    assert cr.gradcheck(fn, (x,))
    out = fn(x.data)  # a plain array is a constant
    assert isinstance(out, cr.Tensor) and not out.requires_grad
    assert_close(out.data, getattr(x, name)().data)


def test_sigmoid_extreme_values_are_finite():
    x = cr.tensor(np.array([-1e4, -50, 0, 50, 1e4], np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = F.sigmoid(x)
        y.sum().backward()
    assert_close(y.data, np.array([0, 1.9287498e-22, 0.5, 1, 1], np.float32))
    assert np.all(np.isfinite(x.grad))


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations_match_torch(rng, name, dtype):
    import torch
    check_torch(getattr(F, name), getattr(torch, name), [rng.standard_normal((5, 7)) * 3],
                dtype=dtype)


# ---------------------------------------------------------------------------- softmax
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradcheck(rng, name, dim):
    x = T(rng.standard_normal((3, 4, 5)))
    assert cr.gradcheck(lambda t: getattr(F, name)(t, dim), (x,))


def test_softmax_values_and_stability():
    x = np.array([[1e4, -1e4, 0.0], [1.0, 2.0, 3.0], [-1e4, -1e4 + 1, -1e4 + 2]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = F.softmax(x, 1).data
        lp = F.log_softmax(cr.tensor(x, requires_grad=True), 1)
        lp.sum().backward()
    e = np.exp([1.0, 2.0, 3.0])
    assert_close(p[1], e / e.sum())
    assert_close(p[2], e / e.sum())
    assert_close(p[0], [1.0, 0.0, 0.0])
    assert_close(lp.data[0], [0.0, -2e4, -1e4])
    assert_close(lp.data[2], np.log(e / e.sum()))
    assert_close(p.sum(axis=1), np.ones(3))


def test_softmax_dim_errors():
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        F.softmax(np.zeros((2, 3)), 2)
    with pytest.raises(TypeError, match="dim must be an int"):
        F.log_softmax(np.zeros((2, 3)), None)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_match_torch(rng, dim, dtype):
    import torch
    x = rng.standard_normal((4, 6)) * 5
    check_torch(lambda t: F.softmax(t, dim), lambda t: torch.softmax(t, dim), [x], dtype=dtype)
    check_torch(lambda t: F.log_softmax(t, dim), lambda t: torch.log_softmax(t, dim), [x],
                dtype=dtype)


# ---------------------------------------------------------------------------- losses
def _probs(rng, *shape):
    return rng.uniform(0.05, 0.95, shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_gradcheck(rng, reduction):
    x, t = T(rng.standard_normal((3, 4))), T(rng.standard_normal((3, 4)))
    assert cr.gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, t))
    want = (x.data - t.data) ** 2
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    assert_close(F.mse_loss(x, t.data, reduction=reduction).data, want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradcheck(rng, reduction):
    p, t = T(_probs(rng, 5, 3)), T(_probs(rng, 5, 3))
    assert cr.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), (p, t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck(rng, reduction):
    x, t = T(rng.standard_normal((5, 3)) * 3), T(_probs(rng, 5, 3))
    assert cr.gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), (x, t))


def test_bce_clamps_log_at_minus_100():
    p = cr.tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(p, t, reduction="none")
    assert_close(loss.data, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad))
    assert_close(p.grad, [-1e12, 1e12, 0.0, 0.0])  # (p - t) / max(p (1 - p), 1e-12)


def test_bce_with_logits_stable_at_large_logits():
    x = cr.tensor(np.array([1e4, -1e4, 1e4, -1e4, 0.0]), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        loss.sum().backward()
    assert_close(loss.data, [0.0, 0.0, 1e4, 1e4, np.log(2.0)])
    assert_close(x.grad, [0.0, 0.0, 1.0, -1.0, -0.5])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_indices_gradcheck(rng, reduction, smoothing):
    x = T(rng.standard_normal((6, 4)) * 2)
    y = np.array([0, 3, 1, 1, 2, 3])
    assert cr.gradcheck(lambda a: F.cross_entropy(a, y, label_smoothing=smoothing,
                                                  reduction=reduction), (x,))
    logp = x.data - np.log(np.exp(x.data).sum(1, keepdims=True))
    q = np.full((6, 4), smoothing / 4)
    q[np.arange(6), y] += 1 - smoothing
    want = -(q * logp).sum(1)
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    assert_close(F.cross_entropy(x, y, smoothing, reduction).data, want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probabilities_gradcheck(rng, reduction, smoothing):
    x = T(rng.standard_normal((5, 3)))
    p = rng.uniform(size=(5, 3))
    t = T(p / p.sum(1, keepdims=True))
    assert cr.gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=smoothing,
                                                     reduction=reduction), (x, t))


def test_cross_entropy_single_sample_and_lists(rng):
    x = T(rng.standard_normal(5))
    assert cr.gradcheck(lambda a: F.cross_entropy(a, 3), (x,))
    assert cr.gradcheck(lambda a: F.cross_entropy(a, 3, reduction="none"), (x,))
    batched = F.cross_entropy(x.data[None], [3])
    assert_close(F.cross_entropy(x, 3).data, batched.data)
    assert F.cross_entropy(x, 3, reduction="none").shape == ()


def test_cross_entropy_large_logits_are_finite():
    x = cr.tensor(np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 1e4]], np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(x, np.array([1, 2]))
        loss.backward()
    assert_close(loss.data, np.float32(1e4))  # (2e4 + 0) / 2
    assert np.all(np.isfinite(x.grad))


def test_loss_errors():
    x = cr.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"target shape \(3, 2\) must equal input shape \(2, 3\)"):
        F.mse_loss(x, np.zeros((3, 2)))
    with pytest.raises(TypeError, match="mixed float dtypes"):
        F.mse_loss(x, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="reduction must be"):
        F.mse_loss(x, np.zeros((2, 3)), reduction="avg")
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="class index 3 is out of range for 3 classes"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="class index -1"):
        F.cross_entropy(x, np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="class indices must be an int array"):
        F.cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="int class indices or float probabilities"):
        F.cross_entropy(x, np.array([True, False]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.cross_entropy(np.zeros((2, 3, 4)), np.array([0, 1]))
    with pytest.raises(TypeError, match="Tensor or a float ndarray"):
        F.relu([1.0, 2.0])


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_match_torch(rng, reduction, dtype):
    import torch
    import torch.nn.functional as TF
    x = rng.standard_normal((6, 4)) * 2
    t = rng.standard_normal((6, 4))
    p, q = _probs(rng, 6, 4), _probs(rng, 6, 4)
    idx = rng.integers(0, 4, 6)
    soft = rng.uniform(size=(6, 4))
    soft /= soft.sum(1, keepdims=True)
    kw = {"reduction": reduction}
    check_torch(lambda a, b: F.mse_loss(a, b, **kw), lambda a, b: TF.mse_loss(a, b, **kw),
                [x, t], dtype=dtype)
    check_torch(lambda a, b: F.binary_cross_entropy(a, b, **kw),
                lambda a, b: TF.binary_cross_entropy(a, b, **kw), [p, q], dtype=dtype)
    check_torch(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw),
                lambda a, b: TF.binary_cross_entropy_with_logits(a, b, **kw), [x, q], dtype=dtype)
    for ls in (0.0, 0.3):
        check_torch(lambda a, y: F.cross_entropy(a, idx, label_smoothing=ls, **kw),
                    lambda a, y: TF.cross_entropy(a, torch.as_tensor(idx), label_smoothing=ls,
                                                  **kw), [x, t], [True, False], dtype=dtype)
        check_torch(lambda a, b: F.cross_entropy(a, b, label_smoothing=ls, **kw),
                    lambda a, b: TF.cross_entropy(a, b, label_smoothing=ls, **kw),
                    [x, soft], dtype=dtype)


# ---------------------------------------------------------------------------- dense, conv, pool
@pytest.mark.parametrize("xshape", [(5, 4), (1, 4), (4,), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(rng, xshape, bias):
    x = T(rng.standard_normal(xshape))
    w = T(rng.standard_normal((3, 4)))
    b = T(rng.standard_normal(3)) if bias else None
    out = F.linear(x, w, b)
    want = x.data @ w.data.T + (b.data if bias else 0)
    assert out.shape == xshape[:-1] + (3,)
    assert_close(out.data, want)
    args = (x, w, b) if bias else (x, w)
    assert cr.gradcheck(lambda *a: F.linear(*a), args)


def test_linear_data_input_skips_dx(rng):
    x = rng.standard_normal((6, 4))  # a constant
    w = T(rng.standard_normal((3, 4)))
    b = T(rng.standard_normal(3))
    assert cr.gradcheck(lambda w, b: F.linear(x, w, b), (w, b))
    assert cr.gradcheck(lambda b: F.linear(x, w.data, b), (b,))


def test_linear_errors():
    x = np.zeros((2, 4))
    with pytest.raises(TypeError, match="mixed float dtypes"):
        F.linear(x, np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 5\).*\(3, 5\).*\(2, 4\)"):
        F.linear(x, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        F.linear(x, np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.linear(x, np.zeros(4))
    with pytest.raises(TypeError, match="int64"):
        F.linear(np.zeros((2, 4), np.int64), np.zeros((3, 4)))


CONV_CASES = [  # (x shape, w shape, stride, padding, dilation)
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1),
    ((1, 2, 8, 7), (3, 2, 3, 2), (2, 1), (1, 2), 1),
    ((2, 2, 9, 9), (2, 2, 3, 3), 2, 1, (2, 1)),
    ((1, 3, 5, 5), (2, 3, 1, 1), 1, 0, 1),
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_gradcheck(rng, xs, ws, stride, padding, dilation, bias):
    x, w = T(rng.standard_normal(xs)), T(rng.standard_normal(ws))
    b = T(rng.standard_normal(ws[0])) if bias else None
    args = (x, w, b) if bias else (x, w)
    assert cr.gradcheck(lambda *a: F.conv2d(*(a if bias else (*a, None)), stride=stride,
                                            padding=padding, dilation=dilation), args)


def test_conv2d_unbatched_and_errors(rng):
    x, w = T(rng.standard_normal((2, 5, 4))), T(rng.standard_normal((3, 2, 2, 2)))
    out = F.conv2d(x, w, padding=1)
    assert out.shape == (3, 6, 5)
    assert_close(out.data, F.conv2d(x.data[None], w.data, padding=1).data[0])
    assert cr.gradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x, w))
    with pytest.raises(TypeError, match="mixed float dtypes"):
        F.conv2d(x.array.astype(np.float32), w)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\) or \(C, H, W\)"):
        F.conv2d(x.data[0], w)
    with pytest.raises(ValueError, match=r"weight must have shape.*got \(2, 2, 2\)"):
        F.conv2d(x, w.data[0])
    with pytest.raises(ValueError, match="channels|C"):  # the kernel's own shape check
        F.conv2d(x, np.zeros((3, 5, 2, 2)))


POOL_CASES = [((2, 3, 6, 6), 2, None, 0), ((1, 2, 7, 5), (3, 2), (2, 1), (1, 0)),
              ((2, 1, 5, 5), 3, 1, 1)]


@pytest.mark.parametrize("shape,k,s,p", POOL_CASES)
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pool_gradcheck(rng, name, shape, k, s, p):
    x = T(rng.permutation(np.prod(shape)).reshape(shape) * 0.01)  # distinct: no ties
    assert cr.gradcheck(lambda t: getattr(F, name)(t, k, s, p), (x,))


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_match_torch(rng, dtype):
    import torch.nn.functional as TF
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((5, 6)), rng.standard_normal(5)
    check_torch(F.linear, TF.linear, [x, w, b], dtype=dtype)
    check_torch(F.linear, TF.linear, [x, w], [False, True], dtype=dtype)
    for xs, ws, stride, padding, dilation in CONV_CASES:
        x, w, b = (rng.standard_normal(xs), rng.standard_normal(ws),
                   rng.standard_normal(ws[0]))
        kw = dict(stride=stride, padding=padding, dilation=dilation)
        check_torch(lambda a, c, d: F.conv2d(a, c, d, **kw),
                    lambda a, c, d: TF.conv2d(a, c, d, **kw), [x, w, b], dtype=dtype)
    for shape, k, s, p in POOL_CASES:
        x = rng.standard_normal(shape)
        check_torch(lambda t: F.max_pool2d(t, k, s, p),
                    lambda t: TF.max_pool2d(t, k, s, p), [x], dtype=dtype)
        check_torch(lambda t: F.avg_pool2d(t, k, s, p),
                    lambda t: TF.avg_pool2d(t, k, s, p), [x], dtype=dtype)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pool_unbatched_and_errors(rng, name):
    fn = getattr(F, name)
    x = T(rng.permutation(2 * 5 * 6).reshape(2, 5, 6) * 0.1)
    out = fn(x, 2, 1, 1)
    assert_close(out.data, fn(x.data[None], 2, 1, 1).data[0])
    assert cr.gradcheck(lambda t: fn(t, 2, 1, 1), (x,))
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\) or \(C, H, W\)"):
        fn(np.zeros((5, 6)), 2)
    with pytest.raises(TypeError, match="int64"):
        fn(np.zeros((1, 1, 4, 4), np.int64), 2)


# ---------------------------------------------------------------------------- fast paths
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
def test_cross_entropy_index_dtypes_and_range(rng, dtype):
    x = cr.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    y = np.array([0, 3, 1, 2, 3], dtype)
    loss = F.cross_entropy(x, y)
    assert loss.dtype == np.float32
    logp = x.array - np.log(np.exp(x.array.astype(f64)).sum(1, keepdims=True))
    assert_close(loss.data, -logp[np.arange(5), y.astype(np.int64)].mean(), rtol=1e-5)
    loss.backward()
    p = np.exp(logp)
    p[np.arange(5), y.astype(np.int64)] -= 1
    assert_close(x.grad, p / 5, rtol=1e-5, atol=1e-7)
    for bad in ([0, 4, 1, 2, 3], [0, -1, 1, 2, 3] if np.dtype(dtype).kind == "i" else None):
        if bad is not None:
            with pytest.raises(ValueError, match=f"class index {bad[1]} is out of range"):
                F.cross_entropy(x, np.array(bad, dtype))


def test_linear_kernel_calls_and_layouts(rng, monkeypatch):
    """F.linear asks the backward kernel only for the gradients that are needed, and takes
    non-contiguous operands (copied for the kernel) with exact gradients."""
    from chainrule import _kernels
    calls = []
    real = _kernels.linear_backward

    def spy(dx, dw, db, *args, **kw):
        calls.append((dx is None, dw is None, db is None))
        return real(dx, dw, db, *args, **kw)
    monkeypatch.setattr(_kernels, "linear_backward", spy)
    x = rng.standard_normal((7, 5))
    w, b = T(rng.standard_normal((3, 5))), T(rng.standard_normal(3))
    F.linear(x, w, b).sum().backward()
    F.linear(x, w.data, b).sum().backward()
    F.linear(T(x), w, None).sum().backward()
    assert calls == [(True, False, False), (True, True, False), (False, False, True)]
    xt = T(rng.standard_normal((5, 7)))
    wt = T(rng.standard_normal((5, 3)))
    assert cr.gradcheck(lambda a, c, d: F.linear(a.T, c.T, d), (xt, wt, b))
    assert cr.gradcheck(lambda a, c: F.linear(a.T[::2], c), (xt, w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_backward_skips_unneeded_gradients(rng, dtype, monkeypatch):
    """A data input (the first layer's images) gets no dx computed; gradients stay exact
    (float64 finite differences) and agree with ops.conv2d_backward (float32)."""
    from chainrule import ops
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = cr.tensor(rng.standard_normal((4, 3, 3, 2)).astype(dtype), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4).astype(dtype), requires_grad=True)
    dy = rng.standard_normal((2, 4, 4, 7)).astype(dtype)
    out = F.conv2d(x, w, b, stride=(2, 1), padding=1)
    out.backward(dy)
    rdx, rdw, rdb = ops.conv2d_backward(dy, x, w.data, (2, 1), 1)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else {}
    assert_close(w.grad, rdw, **tol)
    assert_close(b.grad, rdb, **tol)
    if dtype == np.float64:
        assert cr.gradcheck(lambda w_, b_: F.conv2d(x, w_, b_, stride=(2, 1), padding=1),
                            (w, b))
        xt = T(x[0])  # unbatched, input needs a gradient, weight a constant
        assert cr.gradcheck(lambda a: F.conv2d(a, w.data, None, padding=(0, 1)), (xt,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_xent_kernels(rng, dtype):
    """The fused kernels behind cross_entropy(class indices): values against a float64
    NumPy softmax, NaN rows, out-of-range targets never read, argument errors."""
    from chainrule import _kernels
    a = (rng.standard_normal((7, 5)) * 4).astype(dtype)
    a[3] = [1e4, -1e4, 0.0, 3.0, 1e4]  # large logits: finite, tie for the max
    a[5, 2] = np.nan
    t = np.array([0, 4, 2, 4, 1, 3, 2], np.int64)
    prob, loss = np.empty_like(a), np.empty(7, dtype)
    assert _kernels.softmax_xent_forward(prob, loss, a, t) == 0
    a64 = a.astype(f64)
    z = a64 - a64.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    ok = np.arange(7) != 5
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)
    assert_close(loss[ok], -logp[np.arange(7), t][ok], **tol)
    assert_close(prob[ok], np.exp(logp)[ok], **tol)
    assert np.isnan(loss[5]) and np.isnan(prob[5]).all()
    d = np.empty_like(a)
    for scale in (np.array([0.25], dtype), np.linspace(-1, 1, 7).astype(dtype)):
        _kernels.softmax_xent_backward(d, prob, t, scale)
        want = np.exp(logp)
        want[np.arange(7), t] -= 1
        want *= scale.astype(f64)[:, None] if scale.size == 7 else scale[0]
        assert_close(d[ok], want[ok], **tol)
    _kernels.softmax_xent_backward(prob, prob, t, np.array([1.0], dtype))  # in place
    assert_close(prob[ok], (np.exp(logp) - np.eye(5)[t])[ok], **tol)
    bad = np.array([0, 5, -1, 0, 0, 0, 0], np.int64)
    assert _kernels.softmax_xent_forward(np.empty_like(a), loss, a, bad) == 2
    assert np.isnan(loss[1]) and np.isnan(loss[2])
    _kernels.softmax_xent_backward(d, prob, bad, np.array([1.0], dtype))  # skips them
    with pytest.raises(ValueError, match="shapes do not agree"):
        _kernels.softmax_xent_forward(prob, np.empty(6, dtype), a, t)
    with pytest.raises(ValueError, match="scale must have 1 or 7"):
        _kernels.softmax_xent_backward(d, prob, t, np.ones(3, dtype))
    with pytest.raises(ValueError, match="partly overlap"):
        buf = np.empty(7 * 5 + 1, dtype)
        _kernels.softmax_xent_backward(buf[1:].reshape(7, 5), buf[:-1].reshape(7, 5), t,
                                       np.ones(1, dtype))
    with pytest.raises(ValueError):  # Buffer dtype mismatch
        _kernels.softmax_xent_forward(prob, loss, a, t.astype(np.int32))
    e = np.empty((0, 5), dtype)
    assert _kernels.softmax_xent_forward(e, np.empty(0, dtype), e, np.empty(0, np.int64)) == 0


def test_cross_entropy_indices_retain_graph_and_nan(rng):
    x = cr.tensor(rng.standard_normal((4, 3)), dtype=f64, requires_grad=True)
    y = np.array([2, 0, 1, 1])
    loss = F.cross_entropy(x, y, reduction="sum")
    loss.backward(retain_graph=True)
    g1 = x.grad.array.copy()
    loss.backward()  # the saved probabilities are intact for a second walk
    assert_close(x.grad, 2 * g1)
    xn = cr.tensor(np.array([[np.nan, 0.0], [1.0, 2.0]]), requires_grad=True)
    out = F.cross_entropy(xn, np.array([1, 0]), reduction="none")
    assert np.isnan(out.data[0]) and np.isfinite(out.data[1])
