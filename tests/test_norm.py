"""Batch norm: fast vs reference, thread-count invariance, finite differences through
autograd, PyTorch as oracle (functional, modules over train/eval steps, state dicts),
bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference as ref
from chainrule.nn import functional as F
from helpers import HAVE_TORCH, assert_close, torch

DTYPES = [np.float32, np.float64]
# (N, C, *): NC, NCL, NCHW; N = 1, C = 1, prime sizes, rows below and above the
# cache-blocking threshold (L = 32), large enough to run on threads, and one whose
# channels span several 1 MiB blocks per thread; short rows (L <= 16, norm_small_tmpl.h)
# over several 512-value runs, on threads
SHAPES = [(7, 5), (1, 3), (13, 1), (4, 3, 17), (1, 2, 40), (3, 5, 3, 3), (2, 3, 8, 8),
          (1, 1, 5, 7), (5, 7, 11, 13), (16, 8, 32, 32), (64, 128, 9), (40, 11, 32, 32),
          (33, 700, 2, 2), (2, 37, 4, 4), (1, 1, 1, 1), (3, 4, 16)]


def _params(rng, C, dtype, affine):
    if not affine:
        return None, None
    return (rng.standard_normal(C).astype(dtype) + 1, rng.standard_normal(C).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_backward_match_reference(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    C = shape[1]
    for affine in (True, False):
        w, b = _params(rng, C, dtype, affine)
        out = ops.batch_norm_forward(x, w, b, 1e-5)
        want = ref.batch_norm_forward(x, w, b, 1e-5)
        for name, a, e in zip(("y", "mean", "invstd", "var"), out, want):
            assert a.dtype == dtype and a.shape == e.shape
            assert_close(a, e, dtype, name=name)
        y, mean, invstd, _ = want
        dy = rng.standard_normal(shape).astype(dtype)
        for training in (True, False):
            got = ops.batch_norm_backward(dy, x, w, mean, invstd, training)
            exp = ref.batch_norm_backward(dy, x, w, mean, invstd, training)
            scale = max(1.0, float(np.abs(dy).sum() / C))  # dweight/dbias are sums
            for name, a, e in zip(("dx", "dweight", "dbias"), got, exp):
                assert a.dtype == dtype
                assert_close(a, e, dtype, name=f"{name} training={training}",
                             scale=scale if name != "dx" else None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 3, 3), (5, 7, 11, 13), (16, 8, 32, 32)])
def test_inference_matches_reference(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    rm = rng.standard_normal(C).astype(dtype)
    rv = rng.uniform(0.5, 2, C).astype(dtype)
    w, b = _params(rng, C, dtype, True)
    for args in ((w, b), (None, None), (w, None)):
        assert_close(ops.batch_norm_inference(x, rm, rv, *args, eps=1e-3),
                     ref.batch_norm_inference(x, rm, rv, *args, eps=1e-3), dtype)


def test_non_contiguous_input(rng):
    base = rng.standard_normal((6, 4, 10, 12))
    for x in (base[:, :, ::2, 1::3], base.transpose(0, 1, 3, 2), base[::2]):
        xc = np.ascontiguousarray(x)
        for a, e in zip(ops.batch_norm_forward(x), ops.batch_norm_forward(xc)):
            assert np.array_equal(a, e)
        y, mean, invstd, _ = ops.batch_norm_forward(xc)
        for a, e in zip(ops.batch_norm_backward(x, x, None, mean, invstd),
                        ref.batch_norm_backward(xc, xc, None, mean, invstd)):
            assert_close(a, e, np.float64)


def test_output_mask_skips_gradients(rng):
    x = rng.standard_normal((4, 3, 6, 6))
    _, mean, invstd, _ = ops.batch_norm_forward(x)
    full = ops.batch_norm_backward(x, x, None, mean, invstd)
    for mask in [(True, False, False), (False, True, True), (False, False, True)]:
        got = ops.batch_norm_backward(x, x, None, mean, invstd, True, mask)
        for g, f, want in zip(got, full, mask):
            assert (g is None) == (not want)
            if want:
                assert np.array_equal(g, f)


def test_statistics_are_stable_with_a_large_mean(rng):
    """float64 moments about the channel's first value: a mean of 1e4 does not swamp a
    variance of 1e-4."""
    x = (1e4 + 1e-2 * rng.standard_normal((8, 3, 16, 16))).astype(np.float64)
    _, mean, invstd, var = ops.batch_norm_forward(x, eps=0.0)
    xc = x.transpose(1, 0, 2, 3).reshape(3, -1)
    assert_close(var, xc.var(axis=1), np.float64, rtol=1e-9)
    assert_close(mean, xc.mean(axis=1), np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_statistics_are_stable_when_the_first_value_is_an_outlier(dtype, rng):
    """The shift is a channel's first value: far from the mean it costs at most a factor
    M of cancellation, which float64 sums absorb."""
    x = (5e3 + 1e-2 * rng.standard_normal((16, 3, 8, 16))).astype(dtype)
    x[0, :, 0, 0] = [1e3, -7e4, 5e3 + 30]
    _, mean, invstd, var = ops.batch_norm_forward(x, eps=0.0)
    xc = x.astype(np.float64).transpose(1, 0, 2, 3).reshape(3, -1)
    assert_close(var, xc.var(axis=1), dtype, rtol=1e-9 if dtype == np.float64 else 1e-6)
    assert_close(mean, xc.mean(axis=1), dtype)
    want = ref.batch_norm_forward(x, eps=0.0)
    assert_close(invstd, want[2], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 16, 16, 16), (4096, 40), (200, 24, 20),
                                   (40, 11, 32, 32), (32, 1024, 2, 2), (16, 333, 4, 4)])
def test_one_and_two_threads_agree_bitwise(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = _params(rng, shape[1], dtype, True)
    outs = []
    for n in (1, 2, 3):
        cr.set_num_threads(n)
        y, mean, invstd, var = ops.batch_norm_forward(x, w, b)
        grads = ops.batch_norm_backward(dy, x, w, mean, invstd)
        outs.append((y, mean, invstd, var) + grads)
    for other in outs[1:]:
        for a, e in zip(outs[0], other):
            assert np.array_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(9, 301, 2, 2), (5, 130, 4, 4), (3, 700, 1, 1), (4, 9, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_short_rows_match_channel_by_channel(shape, dtype, training, rng):
    """The short-row path (L <= 16) sums a channel block in flat runs of 512 values: each
    channel's results are bitwise those of the same channel normalised alone."""
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = _params(rng, shape[1], dtype, True)
    y, mean, invstd, var = ops.batch_norm_forward(x, w, b)
    dx, dw, db = ops.batch_norm_backward(dy, x, w, mean, invstd, training)
    for c in (0, 1, shape[1] // 2, shape[1] - 1):
        sl = slice(c, c + 1)
        one = ops.batch_norm_forward(np.ascontiguousarray(x[:, sl]), w[sl], b[sl])
        for a, e in zip((y[:, sl], mean[sl], invstd[sl], var[sl]), one):
            assert np.array_equal(a, e)
        got = ops.batch_norm_backward(np.ascontiguousarray(dy[:, sl]),
                                      np.ascontiguousarray(x[:, sl]), w[sl], mean[sl],
                                      invstd[sl], training)
        for a, e in zip((dx[:, sl], dw[sl], db[sl]), got):
            assert np.array_equal(a, e)


# ---------------------------------------------------------------- autograd
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 7), (2, 3, 4, 5), (1, 2, 6, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_finite_differences(shape, training, rng):
    C = shape[1]
    x = cr.tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    w = cr.tensor(rng.standard_normal(C) + 1, requires_grad=True)
    b = cr.tensor(rng.standard_normal(C), requires_grad=True)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)

    def f(x, w, b):
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training, eps=1e-3)
    assert cr.gradcheck(f, (x, w, b), atol=1e-6, rtol=1e-5)


def test_gradients_only_where_needed(rng):
    x = rng.standard_normal((4, 3, 5))
    w = cr.tensor(np.ones(3), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=False)
    y = F.batch_norm(x, None, None, w, b, training=True)
    (y * y).sum().backward()
    assert w.grad is not None and b.grad is None


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 9), (2, 4, 5, 7), (8, 4, 33, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_functional_matches_torch(shape, training, rng):
    C = shape[1]
    x = rng.standard_normal(shape).astype(np.float32) * 2 + 0.5
    w, b = _params(rng, C, np.float32, True)
    dy = rng.standard_normal(shape).astype(np.float32)
    rm, rv = rng.standard_normal(C).astype(np.float32), rng.uniform(0.5, 2, C).astype(np.float32)
    crx, crw, crb = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    crm, crv = rm.copy(), rv.copy()
    y = F.batch_norm(crx, crm, crv, crw, crb, training, 0.3, 1e-4)
    y.backward(dy)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tm, tv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(tx, tm, tv, tw, tb, training, 0.3, 1e-4)
    ty.backward(torch.tensor(dy))
    assert_close(y.array, ty.detach().numpy(), np.float32, name="y")
    assert_close(crm, tm.numpy(), np.float32, name="running_mean")
    assert_close(crv, tv.numpy(), np.float32, name="running_var")
    for name, a, t in (("dx", crx, tx), ("dweight", crw, tw), ("dbias", crb, tb)):
        assert_close(a.grad, t.grad.numpy(), np.float32, name=name,
                     scale=max(1.0, float(np.abs(t.grad.numpy()).max())))


def _torch_module(cls_name, *args, **kwargs):
    return getattr(torch.nn, cls_name)(*args, **kwargs)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("cls, shape", [("BatchNorm2d", (4, 3, 6, 5)), ("BatchNorm1d", (9, 3)),
                                        ("BatchNorm1d", (4, 3, 11))])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False},
                                    {"track_running_stats": False}, {"momentum": 0.5,
                                                                     "eps": 1e-3}])
def test_module_matches_torch_over_train_and_eval_steps(cls, shape, kwargs, rng):
    m = getattr(nn, cls)(3, **kwargs)
    t = _torch_module(cls, 3, **kwargs)
    if m.affine:  # same non-trivial parameters in both
        w, b = _params(rng, 3, np.float32, True)
        m.weight.array[...] = w
        m.bias.array[...] = b
        with torch.no_grad():
            t.weight.copy_(torch.tensor(w))
            t.bias.copy_(torch.tensor(b))
    for step, train in enumerate([True, True, False, True, False, True]):
        m.train(train)
        t.train(train)
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        dy = rng.standard_normal(shape).astype(np.float32)
        xc = cr.tensor(x, requires_grad=True)
        y = m(xc)
        y.backward(dy)
        tx = torch.tensor(x, requires_grad=True)
        ty = t(tx)
        ty.backward(torch.tensor(dy))
        assert_close(y.array, ty.detach().numpy(), np.float32, name=f"y step {step}")
        assert_close(xc.grad, tx.grad.numpy(), np.float32, name=f"dx step {step}",
                     scale=max(1.0, float(np.abs(tx.grad.numpy()).max())))
        if m.affine:
            for name in ("weight", "bias"):
                tg = getattr(t, name).grad.numpy()
                assert_close(getattr(m, name).grad, tg, np.float32, name=name,
                             scale=max(1.0, float(np.abs(tg).max())))
                getattr(m, name).grad = None
                getattr(t, name).grad = None
        sd, tsd = m.state_dict(), t.state_dict()
        assert list(sd) == list(tsd)
        for k in sd:
            assert_close(sd[k], tsd[k].numpy(), np.float32, name=f"{k} step {step}")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_load_state_dict_from_torch(rng):
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                            torch.nn.ReLU())
    t.train()
    for _ in range(3):
        t(torch.randn(4, 2, 7, 7))
    t.eval()
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
    assert list(m.state_dict()) == list(t.state_dict())
    m.load_state_dict(t.state_dict())
    m.eval()
    assert int(m[1].num_batches_tracked) == 3
    x = rng.standard_normal((2, 2, 7, 7)).astype(np.float32)
    assert_close(m(x).array, t(torch.tensor(x)).detach().numpy(), np.float32)


# ---------------------------------------------------------------- module mechanics
def test_buffers_convert_with_the_module_and_round_trip():
    m = nn.Sequential(nn.BatchNorm1d(4))
    m.train()
    m(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    sd = m.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "0.running_mean", "0.running_var",
                        "0.num_batches_tracked"]
    assert sd["0.num_batches_tracked"].dtype == np.int64 and int(sd["0.num_batches_tracked"]) == 1
    m.double()
    assert m[0].running_mean.dtype == np.float64 and m[0].num_batches_tracked.dtype == np.int64
    m2 = nn.Sequential(nn.BatchNorm1d(4, dtype=np.float64))
    m2.load_state_dict(sd)
    assert np.array_equal(m2[0].running_var, np.asarray(sd["0.running_var"]).astype(np.float64))
    assert [n for n, _ in m2.named_buffers()] == ["0.running_mean", "0.running_var",
                                                  "0.num_batches_tracked"]
    assert list(nn.BatchNorm2d(2, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_non_persistent_buffer_stays_out_of_the_state_dict():
    m = nn.Module()
    m.register_buffer("a", np.zeros(2))
    m.register_buffer("b", np.ones(2), persistent=False)
    assert list(m.state_dict()) == ["a"]
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]
    m.a = np.full(2, 3.0)
    assert m.state_dict()["a"][0] == 3.0
    with pytest.raises(TypeError, match="buffer 'a'"):
        m.a = [1, 2]


def test_eval_uses_running_statistics():
    m = nn.BatchNorm1d(2, dtype=np.float64)
    m.running_mean[...] = [1.0, -1.0]
    m.running_var[...] = [4.0, 0.25]
    m.eval()
    y = m(np.array([[3.0, 0.0]])).array  # N = 1 is fine in evaluation
    assert_close(y, [[2.0 / np.sqrt(4.0 + 1e-5), 1.0 / np.sqrt(0.25 + 1e-5)]], np.float64)
    assert int(m.num_batches_tracked) == 0


# ---------------------------------------------------------------- bad input
def test_bad_input_is_rejected_with_clear_messages():
    x = np.zeros((4, 3, 5), np.float32)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(np.zeros((1, 3), np.float32), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.batch_norm(x, None, None, np.ones(4, np.float32), training=True)
    with pytest.raises(TypeError, match="running_mean has dtype float64"):
        F.batch_norm(x, np.zeros(3), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input"):
        nn.BatchNorm2d(3)(x)
    with pytest.raises(ValueError, match="BatchNorm1d: expected 2D or 3D input"):
        nn.BatchNorm1d(3)(x[None])
    with pytest.raises(ValueError, match=r"batch_norm_forward: argument 'x' must be \(N, C\)"):
        ops.batch_norm_forward(np.zeros(5))
    with pytest.raises(ValueError, match="no values per channel"):
        ops.batch_norm_forward(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"batch_norm_backward: argument 'dy' must have the "
                                         r"shape of 'x' \(4, 3, 5\)"):
        ops.batch_norm_backward(np.zeros((4, 3, 6), np.float32), x, None, np.zeros(3, np.float32),
                                np.ones(3, np.float32))
    with pytest.raises(TypeError, match="batch_norm_inference: mixed float dtypes"):
        ops.batch_norm_inference(x, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="'eps' must be finite and >= 0"):
        ops.batch_norm_forward(x, eps=-1.0)
    with pytest.raises(TypeError, match="'x' must have dtype float32 or float64"):
        ref.batch_norm_forward(np.zeros((2, 3), np.int64))
