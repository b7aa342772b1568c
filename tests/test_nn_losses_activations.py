"""nn activations and losses against PyTorch: forward and gradients in float32 and float64,
odd shapes, every reduction; finite differences in float64; bad input errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]


def _close(a, b, dt):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), **TOL[dt])


def _both(fn_cr, fn_t, arrays, dt, grad_of=(0,)):
    """Run fn_cr on chainrule tensors and fn_t on torch tensors; compare the value and
    the gradients (of sum(out * w), w random) w.r.t. the arrays in grad_of."""
    ours = [cr.tensor(a.astype(dt), requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a.astype(dt), requires_grad=i in grad_of)
              for i, a in enumerate(arrays)]
    y, ty = fn_cr(*ours), fn_t(*theirs)
    _close(y.array, ty, dt)
    w = np.random.default_rng(1).standard_normal(ty.shape).astype(dt)
    (y * cr.tensor(w)).sum().backward() if y.ndim else (y * float(w)).backward()
    (ty * torch.tensor(w)).sum().backward()
    for i in grad_of:
        _close(ours[i].grad, theirs[i].grad, dt)


ACTS = [
    (lambda x: F.leaky_relu(x), TF.leaky_relu), (lambda x: F.leaky_relu(x, 0.3),
                                                 lambda x: TF.leaky_relu(x, 0.3)),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (nn.ELU(), torch.nn.ELU()),
    (nn.ELU(alpha=0.7), torch.nn.ELU(alpha=0.7)), (nn.GELU(), torch.nn.GELU()),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()),
    (nn.Softplus(), torch.nn.Softplus()), (nn.Softplus(2.0, 1.5), torch.nn.Softplus(2.0, 1.5)),
    (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.Hardtanh(-0.3, 2.0), torch.nn.Hardtanh(-0.3, 2.0)),
    (nn.ReLU6(), torch.nn.ReLU6()), (nn.ReLU(inplace=True), torch.nn.ReLU()),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(-1)),
    (nn.Identity(3, k=2), torch.nn.Identity()),
]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("i", range(len(ACTS)))
@pytest.mark.parametrize("shape", [(7, 13), (3, 5, 2), (1, 1)])
def test_activations_match_torch(i, dt, shape):
    ours, theirs = ACTS[i]
    x = np.random.default_rng(i).standard_normal(shape) * 3
    x.flat[0] = 0.0
    _both(ours, theirs, [x], dt)


@pytest.mark.parametrize("f", [F.leaky_relu, F.elu, F.gelu, lambda x: F.gelu(x, "tanh"), F.silu,
                               F.softplus, lambda x: F.softplus(x, 0.5, 2.0), F.hardtanh])
def test_activations_gradcheck(f):
    x = np.random.default_rng(0).standard_normal((4, 5)) * 2
    x[np.abs(np.abs(x) - 1) < 0.05] = 0.5  # away from hardtanh's kinks
    assert cr.gradcheck(f, (cr.tensor(x, requires_grad=True),))


def test_activation_reprs_and_errors():
    assert repr(nn.LeakyReLU()) == repr(torch.nn.LeakyReLU())
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    for ours, theirs in [(nn.ELU(), torch.nn.ELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
                         (nn.Softplus(), torch.nn.Softplus()), (nn.Softmax(1), torch.nn.Softmax(1)),
                         (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.SiLU(), torch.nn.SiLU())]:
        assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="gelu_forward: approximate must be 'none' or 'tanh'"):
        F.gelu(np.zeros(3), approximate="fast")
    with pytest.raises(TypeError, match="leaky_relu_forward: argument 'negative_slope'"):
        F.leaky_relu(np.zeros(3), "0.1")
    with pytest.raises(ValueError, match="hardtanh_forward: max_val"):
        F.hardtanh(np.zeros(3), 1.0, -1.0)
    with pytest.raises(TypeError, match="elu: argument 'input'"):
        F.elu(np.zeros(3, np.int64))


# ---------------------------------------------------------------------------- losses
REDS = ["mean", "sum", "none"]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("case", ["plain", "weight", "ignore", "weight+ignore", "spatial",
                                  "spatial+weight+ignore", "smooth+weight+ignore", "single"])
def test_cross_entropy_and_nll_match_torch(case, red, dt):
    rng = np.random.default_rng(3)
    C = 5
    shape = (7, C, 3, 2) if "spatial" in case else ((C,) if case == "single" else (7, C))
    x = rng.standard_normal(shape) * 2
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, C, tshape)
    kw = {}
    if "weight" in case:
        kw["weight"] = rng.uniform(0.2, 2.0, C)
    if "ignore" in case:
        kw["ignore_index"] = 2
    eps = 0.15 if "smooth" in case else 0.0
    tt = torch.from_numpy(np.asarray(t))
    ckw = {k: (v.astype(dt) if k == "weight" else v) for k, v in kw.items()}
    tkw = {k: (torch.from_numpy(v.astype(dt)) if k == "weight" else v) for k, v in kw.items()}
    _both(lambda a: F.cross_entropy(a, t, reduction=red, label_smoothing=eps, **ckw),
          lambda a: TF.cross_entropy(a, tt, reduction=red, label_smoothing=eps, **tkw), [x], dt)
    _both(lambda a: nn.CrossEntropyLoss(**{k: cr.tensor(v) if k == "weight" else v
                                           for k, v in ckw.items()}, reduction=red,
                                        label_smoothing=eps)(a, t),
          lambda a: torch.nn.CrossEntropyLoss(reduction=red, label_smoothing=eps, **tkw)(a, tt),
          [x], dt)
    if not eps:
        lp = x - np.log(np.exp(x).sum(axis=0 if case == "single" else 1, keepdims=True))
        _both(lambda a: F.nll_loss(a, t, reduction=red, **ckw),
              lambda a: TF.nll_loss(a, tt, reduction=red, **tkw), [lp], dt)
        _both(lambda a: nn.NLLLoss(reduction=red, **ckw)(a, t),
              lambda a: torch.nn.NLLLoss(reduction=red, **tkw)(a, tt), [lp], dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("red", REDS)
def test_cross_entropy_probabilities_spatial_weight(red, dt):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5))
    q = rng.dirichlet(np.ones(4), (3, 5)).transpose(0, 2, 1).copy()
    w = rng.uniform(0.5, 2, 4)
    _both(lambda a, b: F.cross_entropy(a, b, weight=w.astype(dt), reduction=red,
                                       label_smoothing=0.1),
          lambda a, b: TF.cross_entropy(a, b, weight=torch.from_numpy(w.astype(dt)),
                                        reduction=red, label_smoothing=0.1), [x, q], dt, (0, 1))


def test_cross_entropy_int_tensor_target_and_plain_path_is_the_fused_kernel():
    x = np.random.default_rng(0).standard_normal((6, 4))
    t = np.array([0, 3, 1, 1, 2, 3])
    a = F.cross_entropy(x, t)
    b = F.cross_entropy(x, cr.utils.data.default_collate(list(t)))  # an int64 Tensor
    c = F.cross_entropy(x, t, ignore_index=7)  # ignore_index absent: same numbers
    assert float(a.array) == float(b.array) == float(c.array)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("name", ["l1", "smooth_l1", "smooth_l1_b0", "smooth_l1_b2", "huber",
                                  "huber_d05", "kl", "kl_log", "bce_w", "bcel_pw", "bcel_w_pw",
                                  "mse"])
def test_pointwise_losses_match_torch(name, red, dt):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3)) * 2
    y = rng.standard_normal((5, 3)) * 2
    grads = (0, 1)
    if name == "l1":
        f, g = F.l1_loss, TF.l1_loss
    elif name.startswith("smooth_l1"):
        beta = {"smooth_l1": 1.0, "smooth_l1_b0": 0.0, "smooth_l1_b2": 2.0}[name]
        f = lambda a, b: F.smooth_l1_loss(a, b, reduction=red, beta=beta)  # noqa: E731
        g = lambda a, b: TF.smooth_l1_loss(a, b, reduction=red, beta=beta)  # noqa: E731
    elif name.startswith("huber"):
        d = 0.5 if name.endswith("d05") else 1.0
        f = lambda a, b: F.huber_loss(a, b, reduction=red, delta=d)  # noqa: E731
        g = lambda a, b: TF.huber_loss(a, b, reduction=red, delta=d)  # noqa: E731
    elif name.startswith("kl"):
        lt = name == "kl_log"
        x = np.log(rng.dirichlet(np.ones(3), 5))
        y = np.log(rng.dirichlet(np.ones(3), 5)) if lt else rng.dirichlet(np.ones(3), 5)
        f = lambda a, b: F.kl_div(a, b, reduction=red, log_target=lt)  # noqa: E731
        g = lambda a, b: TF.kl_div(a, b, reduction=red, log_target=lt)  # noqa: E731
        if red == "mean":
            f2 = lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=lt)  # noqa
            g2 = lambda a, b: TF.kl_div(a, b, reduction="batchmean", log_target=lt)  # noqa
            _both(f2, g2, [x, y], dt, grads)
    elif name == "bce_w":
        x = rng.uniform(0.05, 0.95, (5, 3))
        y = rng.uniform(0, 1, (5, 3))
        w = rng.uniform(0.5, 2, 3)
        f = lambda a, b: F.binary_cross_entropy(a, b, weight=w.astype(dt), reduction=red)  # noqa
        tw = torch.from_numpy(w.astype(dt))
        g = lambda a, b: TF.binary_cross_entropy(a, b, weight=tw, reduction=red)  # noqa
    elif name.startswith("bcel"):
        y = rng.uniform(0, 1, (5, 3))
        pw = rng.uniform(0.5, 3, 3)
        w = rng.uniform(0.5, 2, (5, 1)) if "_w" in name else None
        f = lambda a, b: F.binary_cross_entropy_with_logits(  # noqa: E731
            a, b, weight=None if w is None else w.astype(dt), reduction=red,
            pos_weight=pw.astype(dt))
        g = lambda a, b: TF.binary_cross_entropy_with_logits(  # noqa: E731
            a, b, weight=None if w is None else torch.from_numpy(w.astype(dt)), reduction=red,
            pos_weight=torch.from_numpy(pw.astype(dt)))
        mod = nn.BCEWithLogitsLoss(pos_weight=cr.tensor(pw.astype(dt)), reduction=red)
        tmod = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pw.astype(dt)),
                                          reduction=red)
        _both(mod, tmod, [x, y], dt, grads)
    else:
        f, g = F.mse_loss, TF.mse_loss
    if name in ("l1", "mse"):
        f0, g0 = f, g
        f = lambda a, b: f0(a, b, reduction=red)  # noqa: E731
        g = lambda a, b: g0(a, b, reduction=red)  # noqa: E731
    _both(f, g, [x, y], dt, grads)


def test_loss_modules_match_torch():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for ours, theirs in [(nn.L1Loss(), torch.nn.L1Loss()),
                         (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
                         (nn.HuberLoss(delta=2.0), torch.nn.HuberLoss(delta=2.0)),
                         (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum")),
                         (nn.L1Loss(size_average=False), torch.nn.L1Loss(reduction="sum"))]:
        _both(ours, theirs, [x, y], np.float64, (0, 1))
    lp = np.log(rng.dirichlet(np.ones(3), 4))
    _both(nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"),
          [lp, rng.dirichlet(np.ones(3), 4)], np.float64, (0, 1))


def test_losses_gradcheck_float64():
    rng = np.random.default_rng(7)
    x = cr.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    t = rng.integers(0, 3, (4, 2))
    t[0, 0] = 1
    w = rng.uniform(0.5, 2, 3)
    assert cr.gradcheck(lambda a: F.cross_entropy(a, t, weight=w, ignore_index=1,
                                                  label_smoothing=0.1), (x,))
    assert cr.gradcheck(lambda a: F.nll_loss(a, t, weight=w, reduction="sum"), (x,))
    y = cr.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    for f in (F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        assert cr.gradcheck(f, (x, y))
    pw = rng.uniform(0.5, 3, 2)
    p = cr.tensor(rng.uniform(0.1, 0.9, (4, 3, 2)), requires_grad=True)
    assert cr.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
                        (x, p))
    assert cr.gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), (x, p))


def test_loss_errors_name_function_and_argument():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="nll_loss: class index 4 is out of range"):
        F.nll_loss(x, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must be a float tensor of shape"):
        F.cross_entropy(x, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(TypeError, match="nll_loss: target must hold int class indices"):
        F.nll_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(3, 5\)"):
        F.cross_entropy(np.zeros((3, 4, 5)), np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match="huber_loss: delta"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match="l1_loss: reduction"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(3))
    with pytest.raises(TypeError, match="CrossEntropyLoss: weight"):
        nn.CrossEntropyLoss(0.1)
