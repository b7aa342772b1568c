"""nn.LSTM / nn.GRU / nn.RNN (stacked, bidirectional, batch_first, unbatched, dropout)
against torch.nn (outputs, final states, every gradient), finite differences, state
dicts, errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

MODES = ["LSTM", "GRU", "RNN"]


def _make(mode, *args, dtype=np.float64, **kw):
    return getattr(nn, mode)(*args, **kw).to(dtype)


def _keys(mode, L, D, bias):
    out = []
    for layer in range(L):
        for sfx in ("", "_reverse")[:D]:
            out += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
            if bias:
                out += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
    return out


@pytest.mark.parametrize("mode", MODES)
def test_parameters_state_dict_and_init(mode):
    cr.manual_seed(3)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[mode]
    m = getattr(nn, mode)(5, 7, 2, bidirectional=True)
    assert list(m.state_dict()) == _keys(mode, 2, 2, True)
    assert m.weight_ih_l0.shape == (G * 7, 5) and m.weight_ih_l1_reverse.shape == (G * 7, 14)
    assert m.weight_hh_l1.shape == (G * 7, 7) and m.bias_hh_l0_reverse.shape == (G * 7,)
    k = 1 / np.sqrt(7)
    for n, p in m.named_parameters():
        assert p.dtype == np.float32 and np.abs(p.array).max() <= k, n
    m2 = getattr(nn, mode)(5, 7, 3, bias=False)
    assert list(m2.state_dict()) == _keys(mode, 3, 1, False)
    assert m2.num_layers == 3 and m2.bias_ih_l2 is None
    cr.manual_seed(3)
    m3 = getattr(nn, mode)(5, 7, 2, bidirectional=True)
    for k_, v in m.state_dict().items():
        np.testing.assert_array_equal(m3.state_dict()[k_], v)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("mode", MODES)
def test_state_dict_keys_match_torch(mode):
    import torch
    for kw in [{}, {"num_layers": 2, "bidirectional": True}, {"bias": False, "num_layers": 3}]:
        t = getattr(torch.nn, mode)(3, 4, **kw).state_dict()
        c = getattr(nn, mode)(3, 4, **kw).state_dict()
        assert list(c) == list(t)
        assert all(c[k].shape == tuple(t[k].shape) for k in c)


CONFIGS = [{}, {"num_layers": 2}, {"bidirectional": True},
           {"num_layers": 2, "bidirectional": True, "batch_first": True},
           {"num_layers": 3, "bias": False}, {"unbatched": True, "bidirectional": True},
           {"num_layers": 2, "dropout": 0.5, "eval": True}]


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_module_matches_torch(rng, mode, dtype, cfg):
    import torch
    kw = dict(cfg)
    unbatched, ev = kw.pop("unbatched", False), kw.pop("eval", False)
    T, N, I, H = 5, 3, 4, 6
    L, D = kw.get("num_layers", 1), 2 if kw.get("bidirectional") else 1
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = getattr(torch.nn, mode)(I, H, **kw).to(tdt)
    m = _make(mode, I, H, dtype=dtype, **kw)
    m.load_state_dict(tm.state_dict())          # a PyTorch state dict loads directly
    if ev:
        m.eval()
        tm.eval()
    shape = (T, I) if unbatched else ((N, T, I) if kw.get("batch_first") else (T, N, I))
    hshape = (L * D, H) if unbatched else (L * D, N, H)
    xd = rng.standard_normal(shape).astype(dtype)
    h0d = (rng.standard_normal(hshape) * 0.5).astype(dtype)
    c0d = (rng.standard_normal(hshape) * 0.5).astype(dtype)
    gy = rng.standard_normal(shape[:-1] + (D * H,)).astype(dtype)
    gh = rng.standard_normal(hshape).astype(dtype)
    gc = rng.standard_normal(hshape).astype(dtype)

    x, h0, c0 = (cr.tensor(a, requires_grad=True) for a in (xd, h0d, c0d))
    tx, th0, tc0 = (torch.from_numpy(a).requires_grad_(True) for a in (xd, h0d, c0d))
    if mode == "LSTM":
        y, (hn, cn) = m(x, (h0, c0))
        ty, (thn, tcn) = tm(tx, (th0, tc0))
        extra, textra = (cn * gc).sum(), (tcn * torch.from_numpy(gc)).sum()
    else:
        y, hn = m(x, h0)
        ty, thn = tm(tx, th0)
        extra, textra = 0, 0
    ((y * gy).sum() + (hn * gh).sum() + extra).backward()
    ((ty * torch.from_numpy(gy)).sum() + (thn * torch.from_numpy(gh)).sum() + textra).backward()
    assert y.shape == tuple(ty.shape) and hn.shape == tuple(thn.shape)
    assert_close(y.array, ty.detach().numpy(), name="output")
    assert_close(hn.array, thn.detach().numpy(), name="h_n")
    assert_close(x.grad, tx.grad.numpy(), name="input.grad")
    assert_close(h0.grad, th0.grad.numpy(), name="h0.grad")
    if mode == "LSTM":
        assert_close(cn.array, tcn.detach().numpy(), name="c_n")
        assert_close(c0.grad, tc0.grad.numpy(), name="c0.grad")
    for n, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, n).grad.numpy(), name=f"{n}.grad")


@pytest.mark.parametrize("mode", MODES)
def test_default_state_is_zeros_and_norms_recorded(rng, mode):
    m = _make(mode, 3, 4, 2, bidirectional=True)
    x = rng.standard_normal((5, 2, 3))
    z = np.zeros((4, 2, 4))
    a = m(x)
    b = m(x, (z, z) if mode == "LSTM" else z)
    np.testing.assert_array_equal(a[0].array, b[0].array)
    xt = cr.tensor(x, requires_grad=True)
    out = m(xt)[0]
    out.sum().backward()
    assert m.last_grad_norms.shape == (5,)
    assert set(m.last_grad_norms_all) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert all(np.all(v > 0) for v in m.last_grad_norms_all.values())


@pytest.mark.parametrize("mode", MODES)
def test_stacked_bidirectional_vs_finite_differences(rng, mode):
    m = _make(mode, 2, 3, 2, bidirectional=True, batch_first=True)
    xd = rng.standard_normal((2, 4, 2))
    gy = rng.standard_normal((2, 4, 6))
    x = cr.tensor(xd, requires_grad=True)
    (m(x)[0] * gy).sum().backward()
    num = numerical_grad(lambda v: m(v)[0].array, xd.copy(), gy)
    assert_grad_close(x.grad, num, tol=1e-6, name="input")
    p = m.weight_hh_l0_reverse
    num = numerical_grad(lambda v: (setattr(p, "data", v), m(xd)[0].array)[1], p.array.copy(), gy)
    assert_grad_close(p.grad, num, tol=1e-6, name="weight_hh_l0_reverse")


@pytest.mark.parametrize("mode", MODES)
def test_dropout_between_layers(rng, mode):
    x = rng.standard_normal((6, 4, 3))
    m = _make(mode, 3, 5, 3, dropout=0.5)
    m.eval()
    ev = m(x)[0].array
    m1 = _make(mode, 3, 5, 3)
    m1.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(ev, m1(x)[0].array)  # eval: no dropout
    m.train()
    cr.manual_seed(5)
    a = m(x)[0].array
    cr.manual_seed(5)
    b = m(x)[0].array
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, ev)
    full = _make(mode, 3, 5, 2, dropout=1.0)           # p = 1: layer 2 sees zeros
    zero_in = _make(mode, 5, 5, 1)
    zero_in.load_state_dict({k.replace("_l1", "_l0"): v for k, v in full.state_dict().items()
                             if "_l1" in k})
    np.testing.assert_array_equal(full(x)[0].array, zero_in(np.zeros((6, 4, 5)))[0].array)
    one = _make(mode, 3, 5, 1, dropout=0.5)            # one layer: nothing to drop
    one.load_state_dict({k: v for k, v in m.state_dict().items() if "_l0" in k})
    one.eval()
    e1 = one(x)[0].array
    one.train()
    np.testing.assert_array_equal(one(x)[0].array, e1)


def test_float32_default_and_repr():
    m = nn.LSTM(3, 4, 2, batch_first=True, dropout=0.25, bidirectional=True)
    assert repr(m).startswith("LSTM(3, 4, num_layers=2, batch_first=True, dropout=0.25, "
                              "bidirectional=True")
    y, (h, c) = m(np.zeros((2, 5, 3), np.float32))
    assert y.shape == (2, 5, 8) and h.shape == c.shape == (4, 2, 4)
    assert y.dtype == np.float32
    assert repr(nn.GRU(3, 4)) == "GRU(3, 4)"


@pytest.mark.parametrize("mode", MODES)
def test_errors(mode):
    m = getattr(nn, mode)(3, 4, 2)
    x = np.zeros((5, 2, 3), np.float32)
    name = f"{mode}.forward"
    with pytest.raises(ValueError, match=rf"{name}: input must have shape \(T, N, 3\)"):
        m(np.zeros((5, 2, 4), np.float32))
    bad = np.zeros((1, 2, 4), np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 4\)"):
        m(x, (bad, bad) if mode == "LSTM" else bad)
    with pytest.raises(TypeError, match="dtype float64 but the parameters are float32"):
        m(x.astype(np.float64))
    with pytest.raises(ValueError, match="dropout"):
        getattr(nn, mode)(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers"):
        getattr(nn, mode)(3, 4, 0)
    if mode == "LSTM":
        with pytest.raises(TypeError, match=r"hx must be a tuple \(h0, c0\)"):
            m(x, np.zeros((2, 2, 4), np.float32))
        good = np.zeros((2, 2, 4), np.float32)
        with pytest.raises(ValueError, match=r"c0 must have shape \(2, 2, 4\)"):
            m(x, (good, bad))
        with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
            nn.LSTM(3, 4, proj_size=4)


# ---- cells ------------------------------------------------------------------------------
CELLS = ["LSTMCell", "GRUCell", "RNNCell"]


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"unbatched": True}, {"no_hx": True}])
def test_cell_matches_torch(rng, cell, dtype, kw):
    import torch
    kw = dict(kw)
    unbatched, no_hx = kw.pop("unbatched", False), kw.pop("no_hx", False)
    N, I, H = 4, 5, 7
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = getattr(torch.nn, cell)(I, H, **kw).to(tdt)
    m = getattr(nn, cell)(I, H, **kw).to(dtype)
    assert list(m.state_dict()) == list(tm.state_dict())
    m.load_state_dict(tm.state_dict())
    xs, hs = ((I,), (H,)) if unbatched else ((N, I), (N, H))
    xd, hd, cd, g1, g2 = (rng.standard_normal(s).astype(dtype) for s in (xs, hs, hs, hs, hs))
    x, h, c = (cr.tensor(a, requires_grad=True) for a in (xd, hd, cd))
    tx, th, tc = (torch.from_numpy(a).requires_grad_(True) for a in (xd, hd, cd))
    if cell == "LSTMCell":
        h1, c1 = m(x, None if no_hx else (h, c))
        th1, tc1 = tm(tx, None if no_hx else (th, tc))
        ((h1 * g1).sum() + (c1 * g2).sum()).backward()
        ((th1 * torch.from_numpy(g1)).sum() + (tc1 * torch.from_numpy(g2)).sum()).backward()
        assert_close(c1.array, tc1.detach().numpy(), name="c'")
    else:
        h1 = m(x, None if no_hx else h)
        th1 = tm(tx, None if no_hx else th)
        (h1 * g1).sum().backward()
        (th1 * torch.from_numpy(g1)).sum().backward()
    assert h1.shape == tuple(th1.shape)
    assert_close(h1.array, th1.detach().numpy(), name="h'")
    assert_close(x.grad, tx.grad.numpy(), name="input.grad")
    if not no_hx:
        assert_close(h.grad, th.grad.numpy(), name="h.grad")
        if cell == "LSTMCell":
            assert_close(c.grad, tc.grad.numpy(), name="c.grad")
    for n, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, n).grad.numpy(), name=f"{n}.grad")


@pytest.mark.parametrize("cell", CELLS)
def test_cell_errors_and_repr(cell):
    m = getattr(nn, cell)(3, 4)
    assert repr(m) == f"{cell}(3, 4)"
    with pytest.raises(ValueError, match=rf"{cell}.forward: input must have shape \(N, 3\)"):
        m(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="dtype float64 but the parameters are float32"):
        m(np.zeros((2, 3)))
    bad = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"must have shape \(2, 4\)"):
        m(np.zeros((2, 3), np.float32), (bad, bad) if cell == "LSTMCell" else bad)
    with pytest.raises(ValueError, match="hidden_size"):
        getattr(nn, cell)(3, 0)
