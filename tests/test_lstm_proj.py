"""nn.LSTM(..., proj_size=P): PyTorch's LSTM with projections. Against torch.nn.LSTM
(outputs, h_n, c_n, every gradient; a torch state dict loads directly), stacked and
bidirectional, packed input; finite differences for every parameter, input and initial
state; the forward against the equations written out in NumPy."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import rnn as R

from helpers import HAVE_TORCH, assert_close, numerical_grad

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")


def _keys(L, D, bias):
    out = []
    for layer in range(L):
        for sfx in ("", "_reverse")[:D]:
            out += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
            if bias:
                out += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
            out.append(f"weight_hr_l{layer}{sfx}")
    return out


def test_parameters_shapes_init_and_repr():
    cr.manual_seed(0)
    m = nn.LSTM(5, 7, 2, bidirectional=True, proj_size=3)
    assert list(m.state_dict()) == _keys(2, 2, True)
    assert m.weight_ih_l0.shape == (28, 5) and m.weight_hh_l0.shape == (28, 3)
    assert m.weight_hr_l0.shape == (3, 7) and m.weight_ih_l1_reverse.shape == (28, 6)
    k = 1 / np.sqrt(7)
    assert all(np.abs(p.array).max() <= k for p in m.parameters())
    assert repr(m) == "LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3)"
    assert list(nn.LSTM(2, 4, bias=False, proj_size=1).state_dict()) == _keys(1, 1, False)
    y, (h, c) = m(np.zeros((4, 2, 5), np.float32))
    assert y.shape == (4, 2, 6) and h.shape == (4, 2, 3) and c.shape == (4, 2, 7)


@pytest.mark.parametrize("P", [4, -1])
def test_bad_proj_size(P):
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=P)


def test_state_shape_errors():
    m = nn.LSTM(3, 4, 2, proj_size=2)
    x = np.zeros((5, 2, 3), np.float32)
    h, c = np.zeros((2, 2, 2), np.float32), np.zeros((2, 2, 4), np.float32)
    m(x, (h, c))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 2\)"):
        m(x, (c, c))
    with pytest.raises(ValueError, match=r"c0 must have shape \(2, 2, 4\)"):
        m(x, (h, h))


@needs_torch
def test_state_dict_keys_and_shapes_match_torch():
    import torch
    for kw in [{}, {"num_layers": 2, "bidirectional": True}, {"bias": False, "num_layers": 3}]:
        t = torch.nn.LSTM(3, 5, proj_size=2, **kw).state_dict()
        c = nn.LSTM(3, 5, proj_size=2, **kw).state_dict()
        assert list(c) == list(t)
        assert all(c[k].shape == tuple(t[k].shape) for k in c)


CONFIGS = [{}, {"num_layers": 2}, {"bidirectional": True},
           {"num_layers": 2, "bidirectional": True},
           {"num_layers": 2, "bidirectional": True, "batch_first": True},
           {"bias": False}, {"unbatched": True, "bidirectional": True}]


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_matches_torch(rng, dtype, cfg):
    import torch
    kw = dict(cfg)
    unbatched = kw.pop("unbatched", False)
    T, N, I, H, P = 6, 3, 4, 7, 3
    L, D = kw.get("num_layers", 1), 2 if kw.get("bidirectional") else 1
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.LSTM(I, H, proj_size=P, **kw).to(tdt)
    m = nn.LSTM(I, H, proj_size=P, **kw).to(dtype)
    m.load_state_dict(tm.state_dict())
    shape = (T, I) if unbatched else ((N, T, I) if kw.get("batch_first") else (T, N, I))
    hsh = (L * D, P) if unbatched else (L * D, N, P)
    csh = (L * D, H) if unbatched else (L * D, N, H)
    xd = rng.standard_normal(shape).astype(dtype)
    h0d = (rng.standard_normal(hsh) * 0.5).astype(dtype)
    c0d = (rng.standard_normal(csh) * 0.5).astype(dtype)
    gy = rng.standard_normal(shape[:-1] + (D * P,)).astype(dtype)
    gh = rng.standard_normal(hsh).astype(dtype)
    gc = rng.standard_normal(csh).astype(dtype)
    x, h0, c0 = (cr.tensor(a, requires_grad=True) for a in (xd, h0d, c0d))
    tx, th0, tc0 = (torch.from_numpy(a).requires_grad_(True) for a in (xd, h0d, c0d))
    y, (hn, cn) = m(x, (h0, c0))
    ty, (thn, tcn) = tm(tx, (th0, tc0))
    ((y * gy).sum() + (hn * gh).sum() + (cn * gc).sum()).backward()
    ((ty * torch.from_numpy(gy)).sum() + (thn * torch.from_numpy(gh)).sum()
     + (tcn * torch.from_numpy(gc)).sum()).backward()
    assert_close(y.array, ty.detach().numpy(), name="output")
    assert_close(hn.array, thn.detach().numpy(), name="h_n")
    assert_close(cn.array, tcn.detach().numpy(), name="c_n")
    assert_close(x.grad, tx.grad.numpy(), name="input.grad")
    assert_close(h0.grad, th0.grad.numpy(), name="h0.grad")
    assert_close(c0.grad, tc0.grad.numpy(), name="c0.grad")
    for n, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, n).grad.numpy(), name=f"{n}.grad")


@needs_torch
@pytest.mark.parametrize("enforce_sorted, lengths", [(True, [5, 3, 3, 1]),
                                                     (False, [3, 5, 1, 3, 2])])
def test_packed_matches_torch(rng, enforce_sorted, lengths):
    import torch
    I, H, P, L, B, T = 3, 5, 2, 2, len(lengths), max(lengths)
    tm = torch.nn.LSTM(I, H, L, bidirectional=True, proj_size=P).double()
    m = nn.LSTM(I, H, L, bidirectional=True, proj_size=P, dtype=np.float64)
    m.load_state_dict(tm.state_dict())
    x = rng.standard_normal((T, B, I))
    xt, tx = cr.tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    out, (hn, cn) = m(R.pack_padded_sequence(xt, np.array(lengths), False, enforce_sorted))
    y, _ = R.pad_packed_sequence(out)
    tout, (thn, tcn) = tm(torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.tensor(lengths), False, enforce_sorted))
    ty, _ = torch.nn.utils.rnn.pad_packed_sequence(tout)
    assert_close(y.array, ty.detach().numpy(), name="output")
    assert_close(hn.array, thn.detach().numpy(), name="h_n")
    assert_close(cn.array, tcn.detach().numpy(), name="c_n")
    gy = rng.standard_normal(y.shape)
    ((y * cr.tensor(gy)).sum() + hn.sum() + (cn * cn).sum()).backward()
    ((ty * torch.tensor(gy)).sum() + thn.sum() + (tcn * tcn).sum()).backward()
    assert_close(xt.grad, tx.grad.numpy(), name="dx")
    for n, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, n).grad.numpy(), name=n)


def _hand_lstm(x, h, c, w_ih, w_hh, w_hr, b):
    """The equations of nn/_proj_lstm.py's docstring, one step at a time, in NumPy."""
    H = w_hr.shape[1]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    out = []
    for t in range(x.shape[0]):
        z = x[t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), \
            sig(z[:, 3 * H:])
        c = f * c + i * g
        h = (o * np.tanh(c)) @ w_hr.T
        out.append(h)
    return np.stack(out), h, c


def test_forward_matches_hand_equations(rng):
    m = nn.LSTM(3, 6, proj_size=2, dtype=np.float64)
    x = rng.standard_normal((7, 4, 3))
    h0, c0 = rng.standard_normal((1, 4, 2)), rng.standard_normal((1, 4, 6))
    y, (hn, cn) = m(x, (h0, c0))
    ey, eh, ec = _hand_lstm(x, h0[0], c0[0], m.weight_ih_l0.array, m.weight_hh_l0.array,
                            m.weight_hr_l0.array, m.bias_ih_l0.array + m.bias_hh_l0.array)
    assert_close(y.array, ey, name="output")
    assert_close(hn.array[0], eh, name="h_n")
    assert_close(cn.array[0], ec, name="c_n")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_gradient_vs_finite_differences(rng, bidirectional):
    m = nn.LSTM(2, 4, 2, bidirectional=bidirectional, proj_size=3, dtype=np.float64)
    D = 2 if bidirectional else 1
    xd = rng.standard_normal((4, 2, 2))
    h0d, c0d = rng.standard_normal((2 * D, 2, 3)), rng.standard_normal((2 * D, 2, 4))
    gy, gc = rng.standard_normal((4, 2, 3 * D)), rng.standard_normal((2 * D, 2, 4))

    def f():
        y, (_, cn) = m(xd, (h0d, c0d))
        return float(((y.array * gy).sum() + (cn.array * gc).sum()))

    x, h0, c0 = (cr.tensor(a, requires_grad=True) for a in (xd, h0d, c0d))
    y, (_, cn) = m(x, (h0, c0))
    ((y * gy).sum() + (cn * gc).sum()).backward()
    arrays = [("x", xd, x), ("h0", h0d, h0), ("c0", c0d, c0)]
    arrays += [(n, p.array, p) for n, p in m.named_parameters()]
    for name, arr, t in arrays:
        num = numerical_grad(lambda _: np.array(f()), arr, np.array(1.0))
        assert_close(t.grad, num, rtol=1e-6, atol=1e-7, name=name)


def test_grad_norms_recorded_for_every_layer_and_direction(rng):
    m = nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, dtype=np.float64)
    x = cr.tensor(rng.standard_normal((6, 2, 3)), requires_grad=True)
    m(x)[0][-1].sum().backward()
    assert set(m.last_grad_norms_all) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert m.last_grad_norms.shape == (6,)
    top = m.last_grad_norms_all[(1, 0)]
    assert top[-1] > 0 and np.all(top > 0)


@needs_torch
@pytest.mark.parametrize("seed", range(8))
def test_random_configurations_match_torch(seed):
    """Odd sizes incl. T = 1, N = 1, P = 1, up to 3 layers, float64, default states."""
    import torch
    r = np.random.default_rng(100 + seed)
    T, N, I, H = (int(v) for v in (r.integers(1, 6), r.integers(1, 5), r.integers(1, 6),
                                   r.integers(2, 9)))
    P, L, bid = int(r.integers(1, H)), int(r.integers(1, 4)), bool(r.integers(0, 2))
    tm = torch.nn.LSTM(I, H, L, bidirectional=bid, proj_size=P).double()
    m = nn.LSTM(I, H, L, bidirectional=bid, proj_size=P, dtype=np.float64)
    m.load_state_dict(tm.state_dict())
    xd = r.standard_normal((T, N, I))
    x, tx = cr.tensor(xd, requires_grad=True), torch.tensor(xd, requires_grad=True)
    y, (hn, cn) = m(x)
    ty, (thn, tcn) = tm(tx)
    (y.sum() + (hn * hn).sum() + cn.sum()).backward()
    (ty.sum() + (thn * thn).sum() + tcn.sum()).backward()
    assert_close(y.array, ty.detach().numpy(), name="output")
    assert_close(hn.array, thn.detach().numpy(), name="h_n")
    assert_close(cn.array, tcn.detach().numpy(), name="c_n")
    assert_close(x.grad, tx.grad.numpy(), name="dx")
    for n, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, n).grad.numpy(), name=n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_and_two_threads_bitwise_identical(rng, dtype):
    m = nn.LSTM(37, 96, 2, bidirectional=True, proj_size=41, dtype=dtype)
    xd = rng.standard_normal((5, 33, 37)).astype(dtype)
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        m.zero_grad()
        x = cr.tensor(xd, requires_grad=True)
        y, (hn, cn) = m(x)
        (y.sum() + hn.sum() + cn.sum()).backward()
        res.append([y.array, hn.array, cn.array, x.grad.array]
                   + [p.grad.array.copy() for p in m.parameters()])
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
