"""nn.RNN (one autograd node on the C kernels), nn.utils.clip_grad_norm_ and
chainrule.diagnostics: against ops/reference, finite differences and torch (when installed)."""
import math

import numpy as np
import pytest

# the autograd Tensor and nn.Module come from the pycore work (merged through main)
pytest.importorskip("chainrule.autograd")

import chainrule as cr  # noqa: E402
from chainrule import diagnostics, nn, ops, reference  # noqa: E402

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad  # noqa: E402

PNAMES = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


def _module(I, H, dtype=np.float64, **kw):
    m = nn.RNN(I, H, **kw)
    return m.to(dtype)


# ---- construction -------------------------------------------------------------------
def test_parameters_names_shapes_and_init():
    cr.manual_seed(0)
    m = nn.RNN(5, 40)
    names = [n for n, _ in m.named_parameters()]
    assert names == PNAMES
    shapes = {n: p.shape for n, p in m.named_parameters()}
    assert shapes == {"weight_ih_l0": (40, 5), "weight_hh_l0": (40, 40),
                      "bias_ih_l0": (40,), "bias_hh_l0": (40,)}
    k = 1 / math.sqrt(40)
    for n, p in m.named_parameters():
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.data).max() <= k, n
    w = m.weight_hh_l0.data
    assert np.abs(w).max() > 0.9 * k and abs(w.mean()) < 0.1 * k  # uniform over (-k, k)
    assert list(m.state_dict()) == PNAMES
    m2 = nn.RNN(5, 40, bias=False)
    assert [n for n, _ in m2.named_parameters()] == PNAMES[:2]
    assert m2.bias_ih_l0 is None


def test_manual_seed_reproducible():
    cr.manual_seed(7)
    a = nn.RNN(3, 4).state_dict()
    cr.manual_seed(7)
    b = nn.RNN(3, 4).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_state_dict_matches_torch_keys():
    import torch
    for bias in (True, False):
        t = torch.nn.RNN(3, 4, bias=bias).state_dict()
        c = nn.RNN(3, 4, bias=bias).state_dict()
        assert list(c) == list(t)
        assert all(c[k].shape == tuple(t[k].shape) for k in c)


def test_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(TypeError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity=2)
    # PyTorch's positional order: the third argument is num_layers (issue 12)
    assert nn.RNN(3, 4, 2).num_layers == 2
    with pytest.raises(TypeError, match="num_layers"):
        nn.RNN(3, 4, "gelu")
    with pytest.raises(ValueError, match="num_layers"):
        nn.RNN(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.RNN(3, 0)
    with pytest.raises(TypeError, match="input_size"):
        nn.RNN(3.0, 4)


# ---- forward / backward -------------------------------------------------------------
@pytest.mark.parametrize("nl", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("bias", [True, False])
def test_module_matches_ops_and_records_norms(rng, nl, bias):
    T, N, I, H = 5, 3, 4, 7
    m = _module(I, H, nonlinearity=nl, bias=bias)
    x = cr.tensor(rng.standard_normal((T, N, I)), requires_grad=True)
    h0 = cr.tensor(rng.standard_normal((1, N, H)) * 0.5, requires_grad=True)
    out, h_n = m(x, h0)
    assert out.shape == (T, N, H) and h_n.shape == (1, N, H)
    b = (m.bias_ih_l0.data, m.bias_hh_l0.data) if bias else (None, None)
    hs = reference.rnn_forward(x.data, h0.data[0], m.weight_ih_l0.data, m.weight_hh_l0.data,
                               *b, nl)
    assert_close(out.data, hs, name="output")
    assert_close(h_n.data[0], hs[-1], name="h_n")
    G = rng.standard_normal((T, N, H))
    G2 = rng.standard_normal((1, N, H))
    ((out * G).sum() + (h_n * G2).sum()).backward()
    dhs = G.copy()
    dhs[-1] += G2[0]
    exp = reference.rnn_backward(dhs, x.data, h0.data[0], hs, m.weight_ih_l0.data,
                                 m.weight_hh_l0.data, nl, bias=bias, return_dh_norms=True)
    assert_close(x.grad, exp[0], name="x.grad")
    assert_close(h0.grad[0], exp[1], name="h0.grad")
    assert_close(m.weight_ih_l0.grad, exp[2], name="weight_ih_l0.grad")
    assert_close(m.weight_hh_l0.grad, exp[3], name="weight_hh_l0.grad")
    if bias:
        assert_close(m.bias_ih_l0.grad, exp[4], name="bias_ih_l0.grad")
        assert_close(m.bias_hh_l0.grad, exp[5], name="bias_hh_l0.grad")
    assert m.last_grad_norms.shape == (T,)
    assert_close(m.last_grad_norms, exp[6], name="last_grad_norms")
    assert_close(diagnostics.grad_norms(m), exp[6], name="diagnostics.grad_norms")


def test_batch_first_unbatched_and_default_h0(rng):
    T, N, I, H = 4, 3, 2, 5
    m = _module(I, H)
    x = rng.standard_normal((T, N, I))
    out, h_n = m(x)
    hs = ops.rnn_forward(x, np.zeros((N, H)), m.weight_ih_l0.data, m.weight_hh_l0.data,
                         m.bias_ih_l0.data, m.bias_hh_l0.data)
    np.testing.assert_array_equal(out.data, hs)
    mb = _module(I, H, batch_first=True)
    mb.load_state_dict(m.state_dict())
    outb, h_nb = mb(np.ascontiguousarray(x.transpose(1, 0, 2)))
    assert outb.shape == (N, T, H) and h_nb.shape == (1, N, H)
    np.testing.assert_array_equal(outb.data, hs.transpose(1, 0, 2))
    np.testing.assert_array_equal(h_nb.data[0], hs[-1])
    out1, h1 = m(x[:, 1])  # unbatched (T, I)
    assert out1.shape == (T, H) and h1.shape == (1, H)
    assert_close(out1.data, hs[:, 1], name="unbatched output")
    out1, _ = m(x[:, 1], np.zeros((1, H)))
    assert_close(out1.data, hs[:, 1], name="unbatched output, h0 given")


def test_batch_first_gradients_vs_finite_differences(rng):
    T, N, I, H = 3, 2, 3, 4
    m = _module(I, H, batch_first=True, nonlinearity="sigmoid")
    xd = rng.standard_normal((N, T, I))
    h0d = rng.standard_normal((1, N, H))
    G = rng.standard_normal((N, T, H))
    G2 = rng.standard_normal((1, N, H))
    x = cr.tensor(xd, requires_grad=True)
    h0 = cr.tensor(h0d, requires_grad=True)
    out, h_n = m(x, h0)
    ((out * G).sum() + (h_n * G2).sum()).backward()

    def loss(xv, hv):
        with cr.no_grad():
            o, hn = m(xv, hv)
        return np.sum(o.data * G) + np.sum(hn.data * G2)

    num_x = numerical_grad(lambda v: np.array(loss(v, h0d)), xd.copy(), np.array(1.0))
    num_h = numerical_grad(lambda v: np.array(loss(xd, v)), h0d.copy(), np.array(1.0))
    assert_grad_close(x.grad, num_x, tol=1e-7, name="x.grad")
    assert_grad_close(h0.grad, num_h, tol=1e-7, name="h0.grad")
    w = m.weight_hh_l0.data
    num_w = numerical_grad(lambda v: np.array(loss(xd, h0d)), w, np.array(1.0))
    assert_grad_close(m.weight_hh_l0.grad, num_w, tol=1e-7, name="weight_hh_l0.grad")


def test_gradients_accumulate_over_backward_calls(rng):
    m = _module(3, 4)
    x = rng.standard_normal((5, 2, 3))
    m(x)[0].sum().backward()
    g1 = m.weight_hh_l0.grad.array.copy()
    m(x)[0].sum().backward()
    assert_close(m.weight_hh_l0.grad, 2 * g1, name="accumulated grad")


def test_float32_module(rng):
    m = nn.RNN(3, 6)
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    out, h_n = m(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert m.weight_ih_l0.grad.dtype == np.float32


def test_forward_errors(rng):
    m = nn.RNN(3, 4)
    with pytest.raises(ValueError, match=r"RNN.forward: input must have shape \(T, N, 3\)"):
        m(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="input must have shape"):
        m(np.zeros((5,), np.float32))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 4\)"):
        m(np.zeros((5, 2, 3), np.float32), np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="dtype float64 but the parameters are float32"):
        m(np.zeros((5, 2, 3)))
    with pytest.raises(TypeError, match="h0 has dtype"):
        m(np.zeros((5, 2, 3), np.float32), np.zeros((1, 2, 4)))
    with pytest.raises(TypeError):
        m(np.zeros((5, 2, 3), np.int64))
    with pytest.raises(ValueError, match="sequence length must be > 0"):
        m(np.zeros((0, 2, 3), np.float32))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"batch_first": True}, {"nonlinearity": "relu"},
                                {"bias": False}, {"unbatched": True}])
def test_module_matches_torch(rng, dtype, kw):
    import torch
    kw = dict(kw)
    unbatched = kw.pop("unbatched", False)
    T, N, I, H = 6, 3, 5, 9
    m = _module(I, H, dtype=dtype, **kw)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = torch.nn.RNN(I, H, **kw).to(tdt)
    tm.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    shape = (T, I) if unbatched else ((N, T, I) if kw.get("batch_first") else (T, N, I))
    hshape = (1, H) if unbatched else (1, N, H)
    xd = rng.standard_normal(shape).astype(dtype)
    h0d = (rng.standard_normal(hshape) * 0.5).astype(dtype)
    G = rng.standard_normal(shape[:-1] + (H,)).astype(dtype)
    G2 = rng.standard_normal(hshape).astype(dtype)

    x, h0 = cr.tensor(xd, requires_grad=True), cr.tensor(h0d, requires_grad=True)
    out, h_n = m(x, h0)
    ((out * G).sum() + (h_n * G2).sum()).backward()
    tx = torch.from_numpy(xd).requires_grad_(True)
    th0 = torch.from_numpy(h0d).requires_grad_(True)
    tout, thn = tm(tx, th0)
    ((tout * torch.from_numpy(G)).sum() + (thn * torch.from_numpy(G2)).sum()).backward()
    assert_close(out.data, tout.detach().numpy(), name="output")
    assert_close(h_n.data, thn.detach().numpy(), name="h_n")
    assert_close(x.grad, tx.grad.numpy(), name="x.grad")
    assert_close(h0.grad, th0.grad.numpy(), name="h0.grad")
    for n, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, n).grad.numpy(), name=f"{n}.grad")


# ---- clip_grad_norm_ ----------------------------------------------------------------
def _params_with_grads(rng, dtype=np.float64):
    ps = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in [(3, 4), (5,), (2, 2)]]
    for p in ps:
        p.grad = rng.standard_normal(p.shape).astype(dtype)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm(rng, norm_type, max_norm):
    ps = _params_with_grads(rng)
    before = [p.grad.array.copy() for p in ps]
    flat = np.concatenate([g.ravel() for g in before])
    p_ = math.inf if norm_type == "inf" else float(norm_type)
    expected = np.max(np.abs(flat)) if p_ == math.inf else np.sum(np.abs(flat) ** p_) ** (1 / p_)
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    assert isinstance(total, cr.Tensor)
    assert_close(total.item(), expected, name="total norm")
    coef = min(1.0, max_norm / (expected + 1e-6))
    for p, g in zip(ps, before):
        assert_close(p.grad, g * coef, name="clipped grad")
    after = np.concatenate([p.grad.array.ravel() for p in ps])
    after_norm = np.max(np.abs(after)) if p_ == math.inf else np.sum(np.abs(after) ** p_) ** (1 / p_)
    assert after_norm <= max_norm * (1 + 1e-9) or coef == 1.0


def test_clip_grad_norm_edge_cases(rng):
    ps = _params_with_grads(rng)
    ps.append(nn.Parameter(np.zeros(3)))  # no grad: skipped
    g = [p.grad.array.copy() for p in ps[:3]]
    total = nn.utils.clip_grad_norm_(iter(ps), 1.0)  # a generator works
    assert_close(total.item(), np.sqrt(sum(np.sum(x ** 2) for x in g)), name="total")
    assert ps[3].grad is None
    assert nn.utils.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0).item() == 0.0
    single = _params_with_grads(rng)[0]
    assert_close(nn.utils.clip_grad_norm_(single, 1e9).item(), np.linalg.norm(single.grad),
                 name="single tensor")
    with pytest.raises(TypeError, match="max_norm"):
        nn.utils.clip_grad_norm_(ps, "1")
    with pytest.raises(ValueError, match="norm_type"):
        nn.utils.clip_grad_norm_(ps, 1.0, 0)
    with pytest.raises(TypeError, match="parameters must be Tensors"):
        nn.utils.clip_grad_norm_([np.zeros(3)], 1.0)
    bad = _params_with_grads(rng)
    bad[0].grad[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_matches_torch(rng, norm_type):
    import torch
    ps = _params_with_grads(rng)
    tps = [torch.nn.Parameter(torch.from_numpy(p.array.copy())) for p in ps]
    for tp, p in zip(tps, ps):
        tp.grad = torch.from_numpy(p.grad.array.copy())
    total = nn.utils.clip_grad_norm_(ps, 0.7, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.7, norm_type)
    assert_close(total.item(), ttotal.item(), name="total")
    for p, tp in zip(ps, tps):
        assert_close(p.grad, tp.grad.numpy(), name="clipped")


# ---- diagnostics --------------------------------------------------------------------
def test_spectral_radius_and_norm():
    th = 0.3
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    assert diagnostics.spectral_radius(0.8 * rot) == pytest.approx(0.8, rel=1e-12)  # complex eigs
    w = np.array([[0.5, 10.0], [0.0, 0.25]])  # non-normal: radius 0.5, norm > 10
    assert diagnostics.spectral_radius(w) == pytest.approx(0.5, rel=1e-12)
    assert diagnostics.spectral_norm(w) > 10
    m = nn.RNN(2, 3)
    m.weight_hh_l0.data[...] = np.diag([0.1, -0.7, 0.3])
    assert diagnostics.spectral_radius(m) == pytest.approx(0.7, rel=1e-6)
    assert diagnostics.spectral_radius(m.weight_hh_l0) == pytest.approx(0.7, rel=1e-6)
    with pytest.raises(ValueError, match="square"):
        diagnostics.spectral_radius(np.zeros((2, 3)))
    with pytest.raises(TypeError):
        diagnostics.spectral_radius([[1, 0], [0, 1]])


def test_gradient_reading_lines():
    eye = np.eye(4)
    r = diagnostics.gradient_reading(0.5 * eye, "tanh")
    assert "0.5" in r and "vanish" in r and "guaranteed" in r and "\n" not in r
    assert "explode" in diagnostics.gradient_reading(2 * eye, "tanh")
    # sigmoid' <= 1/4: a radius of 3 still vanishes (0.75), a radius of 5 may explode (1.25)
    assert "vanish" in diagnostics.gradient_reading(3 * eye, "sigmoid")
    assert "explode" in diagnostics.gradient_reading(5 * eye, "sigmoid")
    assert "asymptotically" in diagnostics.gradient_reading(np.array([[0.5, 10.], [0, .25]]))
    m = nn.RNN(2, 3, nonlinearity="sigmoid")
    m.weight_hh_l0.data[...] = 2 * np.eye(3)
    assert diagnostics.gradient_reading(m).startswith("sigmoid RNN: spectral radius 2")
    with pytest.raises(ValueError, match="nonlinearity"):
        diagnostics.gradient_reading(eye, "gelu")


@pytest.mark.parametrize("r", [0.5, 1.5])
def test_measured_norms_follow_the_radius(rng, r):
    """Tiny activations keep tanh' ~ 1, so with w_hh = r * Q (Q orthogonal) and the loss
    on the last step only, ||dL/dh_t|| shrinks or grows by ~r per step back in time."""
    T, N, I, H = 12, 2, 3, 16
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    m = _module(I, H)
    m.weight_hh_l0.data[...] = r * Q
    m.weight_ih_l0.data[...] *= 1e-6
    m.bias_ih_l0.data[...] = 0
    m.bias_hh_l0.data[...] = 0
    out, h_n = m(rng.standard_normal((T, N, I)))
    (h_n * rng.standard_normal((1, N, H))).sum().backward()
    f = diagnostics.per_step_factor(m)
    assert f == pytest.approx(r, rel=1e-3)
    line = diagnostics.grad_norm_reading(m)
    assert ("fades" if r < 1 else "grows") in line
    reading = diagnostics.gradient_reading(m)
    assert ("vanish" if r < 1 else "explode") in reading


def test_grad_norms_before_backward():
    with pytest.raises(ValueError, match="no backward pass"):
        diagnostics.grad_norms(nn.RNN(2, 3))
