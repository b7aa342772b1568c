"""Pooling options (issue 11): dilation, ceil_mode, return_indices, count_include_pad,
divisor_override, max unpooling, adaptive and 1-D pooling — F and nn against PyTorch
(forward, indices, gradients), the fast paths' bits, 1 vs 2 threads, bad input. The ops
kernels themselves are also walked by tests/check_op.py through the registry."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference as ref
from chainrule.nn import functional as F
from helpers import HAVE_TORCH, assert_close, torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
DTYPES = [np.float32, np.float64]

MAX_OPTS = [dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
            dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
            dict(kernel_size=2, ceil_mode=True), dict(kernel_size=3, stride=2, ceil_mode=True),
            dict(kernel_size=4, stride=3, padding=2, dilation=1, ceil_mode=True)]
AVG_OPTS = [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
            dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
            dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), divisor_override=4),
            dict(kernel_size=2, ceil_mode=True, divisor_override=7)]
SHAPES = [(2, 3, 9, 8), (1, 1, 7, 11), (3, 2, 5, 5)]


def _tensor(x):
    return cr.tensor(x, requires_grad=True)


def _both(fn_cr, fn_t, x, dtype, n_out=1):
    """Run a chainrule F function and its torch twin, compare outputs and input grads."""
    xc, xt = _tensor(x), torch.tensor(x, requires_grad=True)
    yc, yt = fn_cr(xc), fn_t(xt)
    yc, yt = (yc if isinstance(yc, tuple) else (yc,)), (yt if isinstance(yt, tuple) else (yt,))
    assert_close(np.asarray(yc[0]), yt[0].detach().numpy(), dtype=dtype, name="forward")
    if n_out == 2:
        np.testing.assert_array_equal(np.asarray(yc[1]), yt[1].numpy())
    g = np.cos(np.asarray(yc[0]) + 0.5).astype(dtype)
    g[~np.isfinite(g)] = 0
    yc[0].backward(g)
    yt[0].backward(torch.tensor(g))
    assert_close(np.asarray(xc.grad), xt.grad.numpy(), dtype=dtype, name="grad")


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", MAX_OPTS)
def test_max_pool2d_options_vs_torch(dtype, shape, opts, rng):
    x = rng.standard_normal(shape).astype(dtype)
    _both(lambda t: F.max_pool2d(t, return_indices=True, **opts),
          lambda t: torch.nn.functional.max_pool2d(t, return_indices=True, **opts), x, dtype, 2)
    m = nn.MaxPool2d(**opts)
    assert_close(np.asarray(m(x)), torch.nn.MaxPool2d(**opts)(torch.tensor(x)).numpy(), dtype=dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("opts", AVG_OPTS)
def test_avg_pool2d_options_vs_torch(dtype, shape, opts, rng):
    x = rng.standard_normal(shape).astype(dtype)
    _both(lambda t: F.avg_pool2d(t, **opts), lambda t: torch.nn.functional.avg_pool2d(t, **opts),
          x, dtype)
    m = nn.AvgPool2d(**opts)
    assert_close(np.asarray(m(x)), torch.nn.AvgPool2d(**opts)(torch.tensor(x)).numpy(), dtype=dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES + [(2, 4, 16, 16), (1, 3, 1, 1)])
@pytest.mark.parametrize("size", [1, 3, (2, None), (None, 5), (7, 4)])
def test_adaptive_pool2d_vs_torch(dtype, shape, size, rng):
    x = rng.standard_normal(shape).astype(dtype)
    _both(lambda t: F.adaptive_avg_pool2d(t, size),
          lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), x, dtype)
    _both(lambda t: F.adaptive_max_pool2d(t, size, True),
          lambda t: torch.nn.functional.adaptive_max_pool2d(t, size, True), x, dtype, 2)
    assert_close(np.asarray(nn.AdaptiveAvgPool2d(size)(x)),
                 torch.nn.AdaptiveAvgPool2d(size)(torch.tensor(x)).numpy(), dtype=dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_pool1d_vs_torch(dtype, rng):
    x = rng.standard_normal((2, 3, 13)).astype(dtype)
    tf = torch.nn.functional
    _both(lambda t: F.max_pool1d(t, 3, 2, 1, 2, True, True),
          lambda t: tf.max_pool1d(t, 3, 2, 1, 2, True, True), x, dtype, 2)
    _both(lambda t: F.avg_pool1d(t, 4, 3, 2, True, False),
          lambda t: tf.avg_pool1d(t, 4, 3, 2, True, False), x, dtype)
    _both(lambda t: F.adaptive_avg_pool1d(t, 5), lambda t: tf.adaptive_avg_pool1d(t, 5), x, dtype)
    _both(lambda t: F.adaptive_max_pool1d(t, 4, True),
          lambda t: tf.adaptive_max_pool1d(t, 4, True), x, dtype, 2)
    _both(lambda t: F.max_pool1d(t, 2), lambda t: tf.max_pool1d(t, 2), x[0], dtype)  # unbatched
    for mine, theirs in ((nn.MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2)),
                         (nn.AvgPool1d(3, 1, 1), torch.nn.AvgPool1d(3, 1, 1)),
                         (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4))):
        assert_close(np.asarray(mine(x)), theirs(torch.tensor(x)).numpy(), dtype=dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, s, p, out", [(2, None, 0, None), (3, 3, 0, (9, 8)), (2, 2, 1, (9, 8)),
                                          (3, 2, 1, (9, 8)), (2, 2, 0, (9, 9))])
def test_max_unpool2d_vs_torch(dtype, k, s, p, out, rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    np.testing.assert_array_equal(np.asarray(idx), it.numpy())
    pooled = np.asarray(y)
    if s is None or s >= k:  # distinct indices: the gradient (a gather) is comparable too
        _both(lambda t: F.max_unpool2d(t, idx, k, s, p, out),
              lambda t: torch.nn.functional.max_unpool2d(t, it, k, s, p, out), pooled, dtype)
    up = nn.MaxUnpool2d(k, s, p)(pooled, idx, out)
    want = torch.nn.functional.max_unpool2d(torch.tensor(pooled), it, k, s, p, out)
    np.testing.assert_array_equal(np.asarray(up), want.numpy())  # a copy of values: exact


def test_unpool_repeated_indices_last_write_wins(rng):
    x = rng.standard_normal((1, 1, 2, 2))
    idx = np.array([[[[0, 4], [4, 8]]]])
    y = ops.max_unpool2d_forward(x, idx, (1, 1, 3, 3))
    assert y[0, 0, 1, 1] == x[0, 0, 1, 0] and y[0, 0, 0, 0] == x[0, 0, 0, 0]
    np.testing.assert_array_equal(y, ref.max_unpool2d_forward(x, idx, (1, 1, 3, 3)))
    dx = ops.max_unpool2d_backward(y, idx)  # the gather reads the shared position twice
    assert dx[0, 0, 0, 1] == dx[0, 0, 1, 0] == x[0, 0, 1, 0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_paths_bitwise_when_options_are_compatible(dtype, rng):
    # ceil_mode that adds no window and dilation 1 take the 2x2 / gather paths: same bits
    x = rng.standard_normal((3, 5, 16, 12)).astype(dtype)
    for k, s in ((2, 2), (4, 4), (4, 2)):  # windows tile 16x12 exactly
        a = ops.max_pool2d_forward(x, k, s)
        b = ops.max_pool2d_forward(x, k, s, 0, 1, True)
        assert a[0].tobytes() == b[0].tobytes() and np.array_equal(a[1], b[1])
        assert ops.avg_pool2d_forward(x, k, s).tobytes() == \
            ops.avg_pool2d_forward(x, k, s, 0, True, False).tobytes()
    # and a ceil_mode that adds windows agrees with the reference
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    for got, want in zip(ops.max_pool2d_forward(x, 2, 2, 0, 1, True),
                         ref.max_pool2d_forward(x, 2, 2, 0, 1, True)):
        assert_close(got, want, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_options_threads_bitwise(dtype, rng):
    x = rng.standard_normal((8, 16, 21, 19)).astype(dtype)
    old = cr.get_num_threads()
    out = {}
    try:
        for threads in (1, 2):
            cr.set_num_threads(threads)
            y, idx = ops.max_pool2d_forward(x, 3, 2, 1, 2, True)
            a = ops.avg_pool2d_forward(x, 3, 2, 1, True, False)
            ya, ia = ops.adaptive_max_pool2d_forward(x, (5, 4))
            g = ops.adaptive_avg_pool2d_forward(x, 1)
            out[threads] = [y, idx, a, ops.avg_pool2d_backward(a, x.shape, 3, 2, 1, True, False),
                            ya, ia, g, ops.adaptive_avg_pool2d_forward(x, (5, 7)),
                            ops.adaptive_avg_pool2d_backward(np.cos(g), x.shape),
                            ops.max_unpool2d_forward(y, idx, x.shape)]
    finally:
        cr.set_num_threads(old)
    for a, b in zip(out[1], out[2]):
        assert a.tobytes() == b.tobytes()


def test_global_average_pool_is_the_mean(rng):
    x = rng.standard_normal((4, 7, 13, 11))
    assert_close(ops.adaptive_avg_pool2d_forward(x, 1)[:, :, 0, 0], x.mean(axis=(2, 3)))


@pytest.mark.parametrize("call, match", [
    (lambda x: F.max_pool2d(x, 3, padding=2), "padding height 2 must be at most half"),
    (lambda x: F.max_pool2d(x, 3, padding=2, dilation=2), "at most half"),
    (lambda x: F.max_pool2d(x, 2, 1, 1, dilation=3), "holds no input element"),
    (lambda x: F.max_pool2d(x, 2, dilation=0), "dilation"),
    (lambda x: F.max_pool2d(x, 9, dilation=2), "dilated kernel height 17 is larger"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: F.avg_pool2d(x, 2, count_include_pad="no"), "count_include_pad"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), "output_size"),
    (lambda x: F.adaptive_max_pool2d(x, (1, 2, 3)), "output_size"),
    (lambda x: F.max_unpool2d(x, np.zeros((1, 1, 2, 2), np.int64), 2), "indices"),
    (lambda x: F.max_unpool2d(x, np.full(x.shape, 99), 2), "outside the output plane"),
    (lambda x: F.max_pool1d(x, (2, 2)), "1-tuple"),
    (lambda x: F.max_pool1d(x, 2), "max_pool1d: x must have shape"),
])
def test_bad_input(call, match):
    x = np.zeros((1, 2, 2, 2))
    with pytest.raises((ValueError, TypeError), match=match):
        call(x)
