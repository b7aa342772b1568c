"""pytest-benchmark: the fused optimizer steps (ops.sgd_step, adam_step, rmsprop_step,
adagrad_step, adadelta_step) vs PyTorch's optimizer step (its default foreach/fused choice)
vs the NumPy reference; sizes from the kernel table. test_mlp_step: a whole optimizer step
over an MLP's parameters (784-256-10) with chainrule.optim vs torch.optim."""
import numpy as np
import pytest

from chainrule import ops, reference
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

SIZES = bench_cases("sgd_step", "pytest")
for _k in ("adam_step", "rmsprop_step", "adagrad_step", "adadelta_step"):
    assert SIZES == bench_cases(_k, "pytest")
KINDS = {  # name -> (torch constructor kwargs, chainrule/reference step on (p, g, s1, s2, s3))
    "sgd": (dict(momentum=0.9), lambda m, p, g, a, b, c: m.sgd_step(p, g, a, lr=0.0,
                                                                    momentum=0.9)),
    "adam": ({}, lambda m, p, g, a, b, c: m.adam_step(p, g, a, b, step=1, lr=0.0)),
    "adam-amsgrad": (dict(amsgrad=True),
                     lambda m, p, g, a, b, c: m.adam_step(p, g, a, b, c, step=1, lr=0.0)),
    "rmsprop": ({}, lambda m, p, g, a, b, c: m.rmsprop_step(p, g, a, lr=0.0)),
    "rmsprop-centered-momentum": (
        dict(centered=True, momentum=0.9),
        lambda m, p, g, a, b, c: m.rmsprop_step(p, g, a + 1, b, c, lr=0.0, momentum=0.9)),
    "adagrad": ({}, lambda m, p, g, a, b, c: m.adagrad_step(p, g, a, step=1, lr=0.0)),
    "adadelta": ({}, lambda m, p, g, a, b, c: m.adadelta_step(p, g, a, b, lr=0.0)),
}
TORCH = {"sgd": "SGD", "adam": "Adam", "adam-amsgrad": "Adam", "rmsprop": "RMSprop",
         "rmsprop-centered-momentum": "RMSprop", "adagrad": "Adagrad", "adadelta": "Adadelta"}


def _state(n):
    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    return p, g, np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)


@pytest.mark.parametrize("impl", ["chainrule", "reference", "torch"])
@pytest.mark.parametrize("size", SIZES, ids=[str(s[0]) for s in SIZES])
@pytest.mark.parametrize("kind", list(KINDS))
def test_optimizer_step(benchmark, kind, size, impl):
    benchmark.group = f"{kind} step {size[0]} float32"
    p, g, a, b, c = _state(size)
    kw, call = KINDS[kind]
    # lr 0: the parameters stay put over many rounds (the kernels do the same work)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        tp = torch.from_numpy(p).requires_grad_(True)
        tp.grad = torch.from_numpy(g)
        step = getattr(torch.optim, TORCH[kind])([tp], lr=0.0, **kw).step
    else:
        mod = ops if impl == "chainrule" else reference
        if kind == "rmsprop-centered-momentum":
            a += 1  # square_avg above grad_avg^2

            def step():
                mod.rmsprop_step(p, g, a, b, c, lr=0.0, momentum=0.9)
        else:
            def step():
                call(mod, p, g, a, b, c)
    benchmark(step)
    assert np.isfinite(p).all()


MLP = [(256, 784), (256,), (10, 256), (10,)]


@pytest.mark.parametrize("impl", ["chainrule", "torch"])
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta"])
def test_mlp_step(benchmark, name, impl):
    """One optimizer.step() over an MLP's four parameter tensors (float32)."""
    benchmark.group = f"{name} step, MLP 784-256-10 parameters"
    from chainrule import optim
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in MLP]
    kw = dict(lr=0.0, momentum=0.9) if name == "SGD" else dict(lr=0.0)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        ps = [torch.from_numpy(a).requires_grad_(True) for a in arrays]
        for p in ps:
            p.grad = torch.ones_like(p)
        opt = getattr(torch.optim, name)(ps, **kw)
    else:
        class P:
            def __init__(self, a):
                self.array, self.grad = a, np.ones_like(a)
        opt = getattr(optim, name)([P(a) for a in arrays], **kw)
    benchmark(opt.step)
