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


# ---- absurd but int64 sizes: a ValueError (or MemoryError) naming the function, never a
# NumPy "array is too big" / OverflowError traceback, never a C kernel on overflowing sizes
@pytest.mark.parametrize("make, fn, arg", [
    (lambda: nn.Linear(2**62, 2), "Linear", "weight"),
    (lambda: nn.Linear(2, 2**62), "Linear", "weight"),
    (lambda: nn.Conv2d(2**62, 4, 3), "Conv2d", "weight"),
    (lambda: nn.Conv2d(3, 4, 2**40), "Conv2d", "weight"),
    (lambda: nn.ConvTranspose2d(3, 2**62, 3), "ConvTranspose2d", "weight"),
    (lambda: nn.Embedding(2**62, 4), "Embedding", "weight"),
    (lambda: nn.EmbeddingBag(2**62, 4), "EmbeddingBag", "weight"),
    (lambda: nn.LSTM(2**62, 4), "LSTM", "weight_ih_l0"),
    (lambda: nn.LSTM(4, 2**62), "LSTM", "weight_ih_l0"),
    (lambda: nn.GRU(2**62, 4), "GRU", "weight_ih_l0"),
    (lambda: nn.RNN(2**62, 4), "RNN", "weight_ih_l0"),
    (lambda: nn.LSTMCell(2**62, 4), "LSTMCell", "weight_ih"),
    (lambda: nn.GRUCell(4, 2**62), "GRUCell", "weight_ih"),
    (lambda: nn.BatchNorm2d(2**62), "BatchNorm2d", "weight"),
])
def test_huge_module_sizes(make, fn, arg):
    _raises_naming(ValueError, fn, arg, make)


@pytest.mark.parametrize("make, fn", [
    (lambda: cr.zeros(2**62), "zeros"), (lambda: cr.zeros(2**31, 2**31), "zeros"),
    (lambda: cr.zeros(2**63), "zeros"), (lambda: cr.ones((2**62,)), "ones"),
    (lambda: cr.empty(2**62), "empty"), (lambda: cr.full((2**62,), 1.0), "full"),
    (lambda: cr.rand(2**62), "rand"),
    (lambda: cr.randn(2**62), "randn"), (lambda: cr.randint(0, 3, (2**62,)), "randint"),
    (lambda: cr.randperm(2**62), "randperm"), (lambda: cr.arange(2**62), "arange"),
    (lambda: cr.eye(2**62), "eye"), (lambda: cr.linspace(0, 1, 2**62), "linspace"),
])
def test_huge_factory_sizes(make, fn):
    with pytest.raises(ValueError) as info:
        make()
    msg = str(info.value)
    assert msg.startswith(f"{fn}:") and "bytes" in msg, msg


def test_unallocatable_sizes_name_the_function():
    # 2**49 bytes: representable, but past the 47-bit user address space of x86-64/aarch64
    _raises_naming(MemoryError, "zeros", "size", lambda: cr.zeros(2**47))
    _raises_naming(MemoryError, "Linear", "weight", lambda: nn.Linear(2**24, 2**23))


X8, W3 = np.zeros((1, 3, 8, 8)), np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("mod", [ops, ref], ids=["ops", "reference"])
@pytest.mark.parametrize("call, fn", [
    (lambda m: m.conv2d_forward(X8, W3, None, padding=2**62), "conv2d_forward"),
    (lambda m: m.conv2d_forward(X8, W3, None, padding=2**40), "conv2d_forward"),
    (lambda m: m.conv2d_forward(X8, W3, None, padding=(0, 2**40)), "conv2d_forward"),
    (lambda m: m.conv2d_backward(np.zeros((1, 4, 6, 6)), X8, W3, padding=2**62), "conv2d_backward"),
    (lambda m: m.im2col(X8, 3, padding=2**40), "im2col"),
    (lambda m: m.col2im(np.zeros((1, 27, 4)), (1, 3, 2**40, 2**40), 3), "col2im"),
    (lambda m: m.adaptive_avg_pool2d_forward(X8, 2**40), "adaptive_avg_pool2d_forward"),
])
def test_huge_kernel_sizes(mod, call, fn):
    # (pooling never pads a copy and its output is at most H + 1 rows: a huge padded kernel
    # computes, see test_pool.py::test_avg_pool_huge_kernel_matches_reference)
    with pytest.raises(ValueError) as info:
        call(mod)
    msg = str(info.value)
    assert msg.startswith(f"{fn}:") and "2**48" in msg, msg


def test_huge_workspace_query_never_reaches_c():
    # H + 2*padding overflows int64 in the C size arithmetic: rejected in Python first
    _raises_naming(ValueError, "conv2d_workspace_bytes", "padded",
                   lambda: ops.conv2d_workspace_bytes((1, 3, 8, 8), (4, 3, 3, 3), padding=2**62))


@pytest.mark.parametrize("call, fn", [
    (lambda x, w: F.conv2d(x, w, padding=2**62), "conv2d_forward"),
    (lambda x, w: nn.Conv2d(3, 4, 3, padding=2**62)(x), "conv2d_forward"),
    (lambda x, w: F.max_pool2d(x, 2**40), "max_pool2d"),
    (lambda x, w: F.max_pool2d(x, 2, padding=2**40), "max_pool2d"),
    (lambda x, w: F.adaptive_avg_pool2d(x, 2**40), "adaptive_avg_pool2d"),
    (lambda x, w: F.conv_transpose2d(x, w.transpose(0, 1), stride=2**40), "conv_transpose2d"),
])
def test_huge_functional_sizes(call, fn):
    x, w = cr.zeros(1, 3, 8, 8), cr.zeros(4, 3, 3, 3)
    with pytest.raises(ValueError) as info:
        call(x, w)
    assert fn in str(info.value), str(info.value)


def test_sizes_at_the_limit_still_work():
    # a large but possible padding computes (the checks reject sizes, not big arguments)
    x, w = np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1))
    y = ops.conv2d_forward(x, w, None, padding=300)
    assert y.shape == (1, 1, 602, 602) and y.sum() == 4
    assert_close(y, ref.conv2d_forward(x, w, None, padding=300))
