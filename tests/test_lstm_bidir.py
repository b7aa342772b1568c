"""Both directions of a bidirectional LSTM layer in one call (ops.lstm_bidir_forward /
lstm_bidir_backward, one thread per direction) and nn.LSTM(bidirectional=True) on it."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, nn, ops, reference

from check_op import assert_close

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def _restore():
    nt = cr.get_num_threads()
    yield
    cr.set_num_threads(nt)
    _runtime.set_isa(None)


def _case(rng, T, N, I, H, dt, bias=True):
    a = lambda *s: (rng.standard_normal(s) * 0.4).astype(dt)
    d = lambda: (a(N, H), a(N, H), a(4 * H, I), a(4 * H, H)) + (
        (a(4 * H), a(4 * H)) if bias else (None, None))
    return (a(T, N, I),) + d() + d()


def _grads(rng, y, dt):
    T, N, H = y[0].shape
    a = lambda *s: rng.standard_normal(s).astype(dt)
    return a(T, N, H), a(N, H), a(T, N, H), a(N, H)


def _bwd_args(g, args, y):
    return g + args[:5] + y[:3] + args[7:11] + y[3:]


# odd / prime shapes, batch 1, one step, no input (I = 0), and sizes where two threads
# split a single direction (so the one-thread-per-direction path differs from the old one)
SHAPES = [(7, 5, 3, 11), (1, 1, 2, 3), (5, 1, 4, 17), (3, 13, 0, 5), (6, 29, 9, 67),
          (4, 3, 5, 131)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_matches_reference_and_single_directions(rng, dtype, shape, bias):
    args = _case(rng, *shape, dtype, bias)
    y = ops.lstm_bidir_forward(*args)
    for a, b in zip(y, reference.lstm_bidir_forward(*args)):
        assert_close(a, b, dtype=dtype)
    # each direction is bitwise ops.lstm_forward on its own
    x = args[0]
    for a, b in zip(y, ops.lstm_forward(x, *args[1:7]) + ops.lstm_forward(x[::-1], *args[7:])):
        np.testing.assert_array_equal(a, b)
    g = _grads(rng, y, dtype)
    for ig in (True, False):
        kw = dict(bias=bias, input_grad=ig, return_dh_norms=True)
        out = ops.lstm_bidir_backward(*_bwd_args(g, args, y), **kw)
        ref = reference.lstm_bidir_backward(*_bwd_args(g, args, y), **kw)
        assert len(out) == len(ref) == 15
        for a, b in zip(out, ref):
            assert (a is None) == (b is None)
            if a is not None:
                assert_close(a, b, dtype=dtype)
        assert (out[0] is None) == (not ig)
    f = ops.lstm_backward(g[0], g[1], x, *args[1:5], *y[:3], bias=bias, return_dh_norms=True)
    r = ops.lstm_backward(g[2], g[3], np.ascontiguousarray(x[::-1]), *args[7:11], *y[3:],
                          bias=bias, return_dh_norms=True)
    out = ops.lstm_bidir_backward(*_bwd_args(g, args, y), bias=bias, return_dh_norms=True)
    for a, b in zip(out[1:7] + out[7:13] + out[13:], f[1:7] + r[1:7] + (f[7], r[7])):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out[0], f[0] + r[0][::-1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_one_and_two_threads_bitwise_every_isa(rng, dtype, isa):
    try:
        _runtime.set_isa(isa)
    except ValueError:
        pytest.skip(f"{isa} not available")
    args = _case(rng, 9, 29, 7, 67, dtype)
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        y = ops.lstm_bidir_forward(*args)
        g = _grads(np.random.default_rng(1), y, dtype)
        res.append(list(y) + list(ops.lstm_bidir_backward(*_bwd_args(g, args, y),
                                                          return_dh_norms=True)))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    ref = reference.lstm_bidir_forward(*args)
    for a, b in zip(res[1][:6], ref):
        assert_close(a, b, dtype=dtype)


def test_bad_input_names_the_function(rng):
    args = list(_case(rng, 3, 2, 4, 5, np.float32))
    args[9] = args[9][:, :3]  # w_ih_r
    with pytest.raises(ValueError, match="lstm_bidir_forward"):
        ops.lstm_bidir_forward(*args)
    args = list(_case(rng, 3, 2, 4, 5, np.float32))
    args[8] = args[8].astype(np.float64)  # c0_r
    with pytest.raises(TypeError, match="lstm_bidir_forward"):
        ops.lstm_bidir_forward(*args)


def _run(m, x, nt, hx=None):
    cr.set_num_threads(nt)
    xt = cr.tensor(x, requires_grad=True) if hx is not None else cr.tensor(x)
    out, (h, c) = m(xt, hx)
    loss = (out * out).sum() + (h * h).sum() * 0.5 + (c * c).sum() * 0.25
    m.zero_grad()
    loss.backward()
    grads = [p.grad.array.copy() for p in m.parameters()]
    return [out.array.copy(), h.array.copy(), c.array.copy()] + grads + (
        [xt.grad.array.copy()] if hx is not None else [])


@pytest.mark.parametrize("batch_first", [False, True])
def test_module_two_layers_threads_bitwise_and_torch(rng, batch_first):
    torch = pytest.importorskip("torch")
    I, H, L, N, T = 6, 19, 2, 5, 7
    m = nn.LSTM(I, H, L, batch_first=batch_first, bidirectional=True, dtype=np.float64)
    tm = torch.nn.LSTM(I, H, L, batch_first=batch_first, bidirectional=True).double()
    tm.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in
                        m.state_dict().items()})
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    h0, c0 = rng.standard_normal((2, L * 2, N, H))
    for hx in (None, (cr.tensor(h0), cr.tensor(c0))):
        r1, r2 = _run(m, x, 1, hx), _run(m, x, 2, hx)
        for a, b in zip(r1, r2):
            np.testing.assert_array_equal(a, b)
        tx = torch.from_numpy(x).requires_grad_(hx is not None)
        thx = None if hx is None else (torch.from_numpy(h0), torch.from_numpy(c0))
        out, (h, c) = tm(tx, thx)
        loss = (out * out).sum() + (h * h).sum() * 0.5 + (c * c).sum() * 0.25
        tm.zero_grad()
        loss.backward()
        want = [out, h, c] + [p.grad for p in tm.parameters()] + (
            [tx.grad] if hx is not None else [])
        assert len(want) == len(r1)
        for a, b in zip(r1, want):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_module_float32_grad_norms_both_directions(rng):
    m = nn.LSTM(4, 9, 2, bidirectional=True)
    x = cr.tensor(rng.standard_normal((6, 3, 4)).astype(np.float32))
    out, _ = m(x)
    out.sum().backward()
    assert set(m.last_grad_norms_all) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for v in m.last_grad_norms_all.values():
        assert v.shape == (6,) and np.isfinite(v).all() and (v > 0).all()
