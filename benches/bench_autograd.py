"""Autograd overhead: one full training step (forward, loss, backward, SGD update) of a
tiny 2-2-1 MLP, where Python per-op cost dominates, and of a mid-size MLP, where the
kernels dominate. Compared in the same run with hand-written NumPy and with PyTorch."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

SIZES = {"2-2-1": (4, [2, 2, 1]), "256-512-10": (64, [256, 512, 10])}
LR = 1e-3


def _data(sizes, batch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    return x, y


def _chainrule_step(sizes, x, y):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.ReLU(), nn.Linear(sizes[1], sizes[2]))
    loss_fn = nn.MSELoss()
    params = list(model.parameters())

    def step():
        loss = loss_fn(model(x), y)
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
        return loss
    return step


def _numpy_step(sizes, x, y):
    rng = np.random.default_rng(0)
    W1 = rng.uniform(-0.5, 0.5, (sizes[1], sizes[0])).astype(np.float32)
    b1 = np.zeros(sizes[1], np.float32)
    W2 = rng.uniform(-0.5, 0.5, (sizes[2], sizes[1])).astype(np.float32)
    b2 = np.zeros(sizes[2], np.float32)

    def step():
        z = x @ W1.T + b1
        h = np.maximum(z, 0)
        out = h @ W2.T + b2
        diff = out - y
        loss = (diff * diff).mean()
        dout = (2.0 / diff.size) * diff
        dW2, db2 = dout.T @ h, dout.sum(0)
        dz = (dout @ W2) * (z > 0)
        dW1, db1 = dz.T @ x, dz.sum(0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            p -= LR * g
        return loss
    return step


def _torch_step(sizes, x, y):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.ReLU(),
                                torch.nn.Linear(sizes[1], sizes[2]))
    loss_fn = torch.nn.MSELoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    params = list(model.parameters())

    def step():
        loss = loss_fn(model(tx), ty)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss
    return step


@pytest.mark.parametrize("impl", ["chainrule", "numpy", "torch"])
@pytest.mark.parametrize("size", list(SIZES))
def test_mlp_training_step(benchmark, size, impl):
    if impl == "torch" and torch is None:
        pytest.skip("PyTorch not installed")
    batch, sizes = SIZES[size]
    x, y = _data(sizes, batch)
    make = {"chainrule": _chainrule_step, "numpy": _numpy_step, "torch": _torch_step}[impl]
    step = make(sizes, x, y)
    benchmark.group = f"mlp training step {size} (batch {batch})"
    loss = benchmark(step)
    assert np.isfinite(loss.item())
