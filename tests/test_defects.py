"""Regression tests for the defects found by adversarial testing (issue 13, item 6, Python side).

- an np.matrix operand is a plain 2-D array everywhere (ops, reference, F, losses, Tensor
  operators, tensor()): never its own matrix-product `*`;
- a big-endian integer target works in cross_entropy;
- absurd sizes and zero classes raise ValueError/TypeError naming the function and argument.
"""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, ops, reference as ref

from helpers import assert_close

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


def _plain(a):
    return a.array if isinstance(a, cr.Tensor) else a


@pytest.fixture
def mats(rng):
    """Square (3, 3) operands: a matrix product there has the same shape as the elementwise
    product, so a silent `*` = `@` mix-up changes values, not shapes."""
    a = rng.standard_normal((3, 3))
    b = rng.uniform(0.1, 0.9, (3, 3))
    return a, b


@pytest.mark.parametrize("mod", [ops, ref], ids=["ops", "reference"])
def test_matrix_operands_in_kernels(mod, mats):
    a, b = mats
    m, n = np.matrix(a), np.matrix(b)
    pairs = [
        (lambda x, y: mod.matmul(x, y), (a, b), (m, n)),
        (lambda x, y: mod.linear_forward(x, y, None), (a, b), (m, n)),
        (lambda x, y: mod.linear_backward(x, x, y), (a, b), (m, n)),
    ]
    for f, plain, mixed in pairs:
        want, got = f(*plain), f(*mixed)
        for w, g in zip(want if isinstance(want, tuple) else (want,),
                        got if isinstance(got, tuple) else (got,)):
            if w is None:
                continue
            assert type(g) is np.ndarray, type(g)
            assert_close(g, w)


def test_matrix_to_tensor_and_operators(mats):
    a, b = mats
    m, n = np.matrix(a), np.matrix(b)
    t = cr.tensor(m)
    assert type(t.array) is np.ndarray and t.shape == (3, 3)
    ta = cr.tensor(a)
    for name, got, want in [
        ("t*m", ta * n, a * b), ("m*t", n * ta, b * a), ("t+m", ta + n, a + b),
        ("t-m", ta - n, a - b), ("m-t", n - ta, b - a), ("t/m", ta / n, a / b),
        ("m/t", n / cr.tensor(b), b / b), ("t@m", ta @ n, a @ b), ("tensor(m)*tensor(n)",
                                                                   cr.tensor(m) * cr.tensor(n), a * b),
    ]:
        assert isinstance(got, cr.Tensor), name
        assert type(got.array) is np.ndarray, name
        assert_close(got.array, want)


def test_matrix_in_functional_and_losses(mats):
    a, b = mats
    m, n = np.matrix(a), np.matrix(b)
    cases = [
        ("linear", lambda x, y: F.linear(x, y)),
        ("relu", lambda x, y: F.relu(x)),
        ("sigmoid", lambda x, y: F.sigmoid(x)),
        ("softmax", lambda x, y: F.softmax(x, 1)),
        ("log_softmax", lambda x, y: F.log_softmax(x, 1)),
        ("mse_loss", lambda x, y: F.mse_loss(x, y, reduction="none")),
        ("bce", lambda x, y: F.binary_cross_entropy(F.sigmoid(x), y, reduction="none")),
        ("bce_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none")),
        ("cross_entropy probs", lambda x, y: F.cross_entropy(x, y, reduction="none")),
        ("MSELoss", lambda x, y: nn.MSELoss()(x, y)),
    ]
    for name, f in cases:
        want = _plain(f(cr.tensor(a), b))
        for x, y in ((m, n), (cr.tensor(a), n), (m, b)):
            got = f(x, y)
            assert type(_plain(got)) is np.ndarray, name
            assert_close(_plain(got), want)


def test_matrix_target_gradients(mats):
    """The backward pass of a loss with a matrix target is the plain-array one."""
    a, b = mats
    x1, x2 = cr.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
    F.mse_loss(x1 * np.matrix(b), np.matrix(b)).backward()
    F.mse_loss(x2 * b, b).backward()
    assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize("dt", [">i8", ">i4", "<i8", ">u8", ">u2"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_big_endian_target(rng, dt, smoothing):
    logits = rng.standard_normal((5, 4))
    target = np.array([3, 0, 2, 1, 3])
    want = F.cross_entropy(cr.tensor(logits), target.astype(np.int64), label_smoothing=smoothing,
                           reduction="none").array
    x = cr.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target.astype(dt), label_smoothing=smoothing, reduction="none")
    assert_close(loss.array, want)
    loss.sum().backward()
    assert np.isfinite(x.grad).all()
    # out-of-range big-endian indices are still reported by value
    bad = np.array([0, 7, 1, 1, 1]).astype(dt)
    with pytest.raises(ValueError, match=r"cross_entropy: class index 7 is out of range for 4"):
        F.cross_entropy(cr.tensor(logits), bad, label_smoothing=smoothing)


def test_cross_entropy_single_sample_big_endian(rng):
    logits = rng.standard_normal(6)
    a = F.cross_entropy(cr.tensor(logits), np.array(4, dtype=">i8")).item()
    b = F.cross_entropy(cr.tensor(logits), np.array(4)).item()
    assert a == pytest.approx(b)


def _raises_naming(exc, fn, arg, call):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert fn in msg and arg in msg, msg


def test_huge_thread_count():
    _raises_naming(ValueError, "set_num_threads", "n", lambda: cr.set_num_threads(2**40))
    _raises_naming(ValueError, "set_num_threads", "n", lambda: cr.set_num_threads(2**31))
    _raises_naming(TypeError, "set_num_threads", "n", lambda: cr.set_num_threads(2.0))
    before = cr.get_num_threads()
    cr.set_num_threads(2**31 - 1)  # the largest accepted value (a C int)
    assert cr.get_num_threads() == 2**31 - 1
    cr.set_num_threads(before)


def test_huge_workspace_limit():
    before = ops.get_workspace_limit()
    _raises_naming(ValueError, "set_workspace_limit", "nbytes", lambda: ops.set_workspace_limit(2**70))
    _raises_naming(ValueError, "set_workspace_limit", "nbytes", lambda: ops.set_workspace_limit(2**63))
    assert ops.get_workspace_limit() == before


@pytest.mark.parametrize("args, arg", [((2**63, 2), "in_features"), ((2, 2**64), "out_features")])
def test_huge_linear(args, arg):
    _raises_naming(ValueError, "Linear", arg, lambda: nn.Linear(*args))


@pytest.mark.parametrize("kw, arg", [({"padding": 2**64}, "padding"), ({"stride": 2**63}, "stride"),
                                     ({"dilation": (1, 2**70)}, "dilation"),
                                     ({"kernel_size": 2**64}, "kernel_size")])
def test_huge_conv2d_arguments(kw, arg):
    kwargs = {"kernel_size": 3, **kw}
    _raises_naming(ValueError, "Conv2d", arg, lambda: nn.Conv2d(1, 1, **kwargs))
    if arg != "kernel_size":
        x, w = np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))
        _raises_naming(ValueError, "conv2d_forward", arg,
                       lambda: ops.conv2d_forward(x, w, None, **kw))


@pytest.mark.parametrize("target", ["index", "probs"])
@pytest.mark.parametrize("smoothing", [0.0, 0.5])
@pytest.mark.parametrize("shape", [(3, 0), (0, 0), (0,)])
def test_cross_entropy_zero_classes(target, smoothing, shape):
    x = cr.tensor(np.zeros(shape), requires_grad=True)
    if target == "index":
        t = np.zeros(shape[:-1], dtype=np.int64)
    else:
        t = np.zeros(shape)
    _raises_naming(ValueError, "cross_entropy", "classes",
                   lambda: F.cross_entropy(x, t, label_smoothing=smoothing))
    _raises_naming(ValueError, "cross_entropy", "classes",
                   lambda: nn.CrossEntropyLoss(label_smoothing=smoothing)(x, t))
