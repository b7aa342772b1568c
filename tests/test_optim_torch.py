"""chainrule.optim against torch.optim step for step: every optimizer and each option that
changes the math, float32 and float64, several parameter groups with their own
hyper-parameters, 25 steps of random gradients (some missing); loading a torch state_dict
mid-way; every lr scheduler's sequence (and momentum/betas for OneCycleLR) over 60 steps,
with a state_dict round trip in the middle; bad arguments name the optimizer/argument."""
import copy

import numpy as np
import pytest

from chainrule import optim
from chainrule.optim import lr_scheduler as lrs
from helpers import HAVE_TORCH

torch = pytest.importorskip("torch") if HAVE_TORCH else None
pytestmark = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")


class Param:
    def __init__(self, a):
        self.array = a
        self.grad = None


SHAPES = [(3, 4), (5,), (2, 3, 2), (1,), (7,)]
STEPS = 25

# (name, defaults, per-group overrides for the 2nd and 3rd group)
CONFIGS = [
    ("SGD", dict(lr=0.05), {}),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01), dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True), dict(momentum=0.5)),
    ("Adam", dict(lr=0.01), dict(lr=0.03)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True), dict(betas=(0.8, 0.9))),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True), dict(eps=1e-4)),
    ("AdamW", dict(lr=0.01, amsgrad=True), dict(weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, maximize=True), dict(lr=0.02)),
    ("RMSprop", dict(), dict(lr=0.02)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05), dict(alpha=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True), dict(eps=1e-4)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True), dict(lr=0.003)),
    ("Adagrad", dict(), dict(lr=0.05)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5),
     dict(lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, eps=1e-6, maximize=True), dict(initial_accumulator_value=0.1)),
    ("Adadelta", dict(), dict(lr=0.5)),
    ("Adadelta", dict(lr=0.9, rho=0.8, eps=1e-4, weight_decay=0.1), dict(rho=0.95)),
    ("Adadelta", dict(maximize=True), dict(lr=2.0)),
]


def _groups(params, extra):
    """Three groups: defaults, overrides, and overrides with lr halved (when present)."""
    g3 = dict(extra)
    if "lr" in g3:
        g3["lr"] = g3["lr"] / 2
    return [{"params": params[:2]}, {"params": params[2:4], **extra}, {"params": params[4:], **g3}]


def _setup(rng, dtype, name, cfg, extra):
    data = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [Param(d.copy()) for d in data]
    theirs = [torch.tensor(d.copy(), requires_grad=True) for d in data]
    opt = getattr(optim, name)(_groups(ours, extra), **cfg)
    topt = getattr(torch.optim, name)(_groups(theirs, extra), **cfg)
    return ours, theirs, opt, topt


def _step(rng, t, ours, theirs, opt, topt):
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        if (t + i) % 7 == 3:  # some parameters skip some steps
            p.grad, tp.grad = None, None
            continue
        g = rng.standard_normal(p.array.shape).astype(p.array.dtype)
        p.grad, tp.grad = g, torch.from_numpy(g.copy())
    opt.step()
    topt.step()


def _compare(ours, theirs, dtype, what):
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.array, tp.detach().numpy(), err_msg=f"{what} param {i}",
                                   **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,cfg,extra", CONFIGS, ids=lambda v: str(v))
def test_step_for_step_like_torch(rng, dtype, name, cfg, extra):
    ours, theirs, opt, topt = _setup(rng, dtype, name, cfg, extra)
    for t in range(STEPS):
        _step(rng, t, ours, theirs, opt, topt)
        _compare(ours, theirs, dtype, f"{name} step {t}")
        if t == 10:  # an lr edit in param_groups takes effect, as in torch
            opt.param_groups[1]["lr"] *= 0.5
            topt.param_groups[1]["lr"] *= 0.5


@pytest.mark.parametrize("name,cfg,extra", CONFIGS[1::2], ids=lambda v: str(v))
def test_loads_a_torch_state_dict_mid_run(rng, name, cfg, extra):
    """torch runs 8 steps; a fresh chainrule optimizer loads torch's state_dict (tensors as
    they come) and both continue: the same parameters (float64)."""
    ours, theirs, opt, topt = _setup(rng, np.float64, name, cfg, extra)
    for t in range(8):
        _step(rng, t, ours, theirs, opt, topt)
    sd = copy.deepcopy(topt.state_dict())
    fresh = [Param(tp.detach().numpy().copy()) for tp in theirs]
    opt2 = getattr(optim, name)(_groups(fresh, {}), lr=0.123)
    opt2.load_state_dict(sd)
    for t in range(8, 16):
        _step(rng, t, fresh, theirs, opt2, topt)
        _compare(fresh, theirs, np.float64, f"{name} resumed step {t}")
    # and our own layout is torch's: keys of state and groups, params as index lists
    ours_sd, torch_sd = opt2.state_dict(), topt.state_dict()
    assert sorted(ours_sd["state"]) == sorted(torch_sd["state"])
    for k in torch_sd["state"]:
        assert set(ours_sd["state"][k]) == set(torch_sd["state"][k]), k
    for g, tg in zip(ours_sd["param_groups"], torch_sd["param_groups"]):
        assert g["params"] == tg["params"]
        assert set(tg) - set(g) <= {"foreach", "differentiable", "fused", "capturable",
                                    "decoupled_weight_decay"}


def test_add_param_group_and_adagrad_state_from_the_start(rng):
    a, b = Param(np.ones(3)), Param(np.ones(2))
    ta = torch.ones(3, dtype=torch.float64, requires_grad=True)
    tb = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt, topt = optim.Adagrad([a], lr=0.1), torch.optim.Adagrad([ta], lr=0.1)
    assert opt.state_dict()["state"][0]["step"] == 0.0  # state exists before any step
    opt.add_param_group({"params": [b], "lr": 0.5, "lr_decay": 0.1})
    topt.add_param_group({"params": [tb], "lr": 0.5, "lr_decay": 0.1})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["eps"] == 1e-10
    ours, theirs = [a, b], [ta, tb]
    for t in range(5):
        _step(rng, t, ours, theirs, opt, topt)
    _compare(ours, theirs, np.float64, "Adagrad")


# ---- schedulers ---------------------------------------------------------------------------
def _sched_pair(make, opt_name="SGD", opt_kw=None):
    opt_kw = dict(momentum=0.9) if opt_kw is None else opt_kw
    ps, tps = [Param(np.zeros(2)), Param(np.zeros(3))], [torch.zeros(2, requires_grad=True),
                                                         torch.zeros(3, requires_grad=True)]
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}]
    opt = getattr(optim, opt_name)(groups(ps), lr=0.1, **opt_kw)
    topt = getattr(torch.optim, opt_name)(groups(tps), lr=0.1, **opt_kw)
    return opt, make(lrs, opt), topt, make(torch.optim.lr_scheduler, topt)


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=17, eta_min=1e-4),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e)),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: e + 1]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=13),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.4, total_iters=9),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
            m.CosineAnnealingLR(o, T_max=20), m.ExponentialLR(o, gamma=0.9)], milestones=[5, 25]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.95)]),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=61),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.4, epochs=6, steps_per_epoch=11, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=100.0),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=70,
                                                        cycle_momentum=False),
}


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("kind", list(SCHEDULERS))
def test_scheduler_sequence_like_torch(kind, opt_name):
    if opt_name == "Adam" and not kind.startswith("OneCycle"):
        pytest.skip("the optimizer matters only for OneCycleLR's momentum cycling")
    make = SCHEDULERS[kind]
    kw = dict(momentum=0.9) if opt_name == "SGD" else {}
    opt, sched, topt, tsched = _sched_pair(make, opt_name, kw)
    assert sched.get_last_lr() == tsched.get_last_lr()
    for t in range(60):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == tsched.get_last_lr(), f"{kind} step {t}"
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        assert _momenta(opt) == _momenta(topt), f"{kind} momentum step {t}"
        assert [g.get("initial_lr") for g in opt.param_groups] == \
            [g.get("initial_lr") for g in topt.param_groups]
        if t == 27:  # round trip: a fresh optimizer and scheduler load both state dicts
            osd, ssd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
            ps = [Param(np.zeros(2)), Param(np.zeros(3))]
            opt = getattr(optim, opt_name)([{"params": ps[:1]}, {"params": ps[1:]}], lr=9.0, **kw)
            sched = make(lrs, opt)  # PyTorch's resume order: build both, then load both
            opt.load_state_dict(osd)
            sched.load_state_dict(ssd)
            assert getattr(sched, "last_epoch", None) == getattr(tsched, "last_epoch", None)
            assert sched.get_last_lr() == tsched.get_last_lr()


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", threshold_mode="abs", threshold=0.05),
                                dict(factor=0.5, patience=2, cooldown=3, min_lr=[0.01, 0.02]),
                                dict(mode="max", patience=0, eps=1e-3)], ids=str)
def test_reduce_lr_on_plateau_like_torch(kw):
    make = lambda m, o: m.ReduceLROnPlateau(o, **kw)
    opt, sched, topt, tsched = _sched_pair(make)
    rng = np.random.default_rng(0)
    metrics = np.cumsum(rng.standard_normal(80)) * 0.1
    for t, m in enumerate(metrics):
        sched.step(float(m))
        tsched.step(float(m))
        assert sched.get_last_lr() == tsched.get_last_lr(), f"step {t}"
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == \
            (tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter)
        if t == 40:
            sd = copy.deepcopy(sched.state_dict())
            sched = make(lrs, opt)
            sched.load_state_dict(sd)


# ---- bad arguments: the optimizer and the argument are named -----------------------------
BAD = [
    ("RMSprop", dict(lr=-0.1), "learning rate"), ("RMSprop", dict(alpha=-0.5), "alpha"),
    ("RMSprop", dict(eps=-1.0), "eps"), ("RMSprop", dict(momentum=-0.1), "momentum"),
    ("RMSprop", dict(weight_decay=-1.0), "weight_decay"),
    ("Adagrad", dict(lr=-1.0), "learning rate"), ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1.0), "eps"), ("Adagrad", dict(weight_decay=-1.0), "weight_decay"),
    ("Adadelta", dict(lr=-1.0), "learning rate"), ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(rho=-0.1), "rho"), ("Adadelta", dict(eps=-1.0), "eps"),
    ("Adadelta", dict(weight_decay=-1.0), "weight_decay"),
    ("Adam", dict(betas=(0.9, 1.0)), "beta parameter at index 1"),
    ("AdamW", dict(betas=(-0.1, 0.9)), "beta parameter at index 0"),
]


@pytest.mark.parametrize("name,kw,word", BAD, ids=str)
def test_bad_hyper_parameters_name_optimizer_and_argument(name, kw, word):
    with pytest.raises(ValueError, match=f"{name}.*{word}"):
        getattr(optim, name)([Param(np.zeros(2))], **kw)
    with pytest.raises(ValueError):  # torch agrees
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)


@pytest.mark.parametrize("make", [
    lambda p: optim.Adam([p], amsgrad=1),
    lambda p: optim.RMSprop([p], centered="yes"),
    lambda p: optim.Adagrad([p], maximize=None),
    lambda p: optim.Adadelta([p], rho="0.9"),
    lambda p: lrs.StepLR(object(), 3),
    lambda p: lrs.LambdaLR(optim.SGD([p]), 0.5),
], ids=range(6))
def test_bad_types(make):
    with pytest.raises(TypeError):
        make(Param(np.zeros(2)))


@pytest.mark.parametrize("make", [
    lambda o: lrs.StepLR(o, 0),
    lambda o: lrs.LinearLR(o, start_factor=0.0),
    lambda o: lrs.ConstantLR(o, factor=2.0),
    lambda o: lrs.ReduceLROnPlateau(o, factor=1.0),
    lambda o: lrs.ReduceLROnPlateau(o, mode="up"),
    lambda o: lrs.OneCycleLR(o, max_lr=0.1),
    lambda o: lrs.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
    lambda o: lrs.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=10),
    lambda o: lrs.SequentialLR(o, [lrs.StepLR(o, 2)], milestones=[3]),
], ids=range(9))
def test_bad_scheduler_arguments(make):
    with pytest.raises(ValueError, match="LR|Plateau"):
        make(optim.SGD([Param(np.zeros(2))], lr=0.1, momentum=0.9))


def test_onecycle_steps_past_total_raise():
    o = optim.SGD([Param(np.zeros(2))], lr=0.1, momentum=0.9)
    s = lrs.OneCycleLR(o, max_lr=0.1, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        s.step()
