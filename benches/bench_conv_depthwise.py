"""Depthwise conv2d (groups = C) forward + backward (dx, dw, db): chainrule vs PyTorch,
float32, 2 threads. Issue 11's bar: (32, 64, 32, 32) 3x3 at most 0.67x PyTorch's time.
`python -m chainrule bench conv` prints the ratio."""
import numpy as np
import pytest

from chainrule import ops
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

LAYERS = {name: tuple(shape) for name, *shape in bench_cases("conv2d_forward", "pytest_depthwise")}


def _data(layer):
    N, C, H, R, pad = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((C, 1, R, R)) * 0.1).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    dy = rng.standard_normal((N, C, H + 2 * pad - R + 1, H + 2 * pad - R + 1)).astype(np.float32)
    return x, w, b, dy, pad, C


@pytest.mark.parametrize("layer", list(LAYERS))
def test_depthwise_chainrule(benchmark, layer, two_threads):
    x, w, b, dy, pad, C = _data(layer)

    def step():
        y = ops.conv2d_forward(x, w, b, 1, pad, 1, C)
        return y, ops.conv2d_backward(dy, x, w, 1, pad, 1, C)
    y, (dx, dw, db) = benchmark(step)
    assert y.shape == dy.shape and dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("layer", list(LAYERS))
def test_depthwise_torch(benchmark, layer, two_threads):
    x, w, b, dy, pad, C = _data(layer)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdy = torch.tensor(dy)

    def step():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, 1, pad, 1, C).backward(tdy)
        return tx.grad
    assert benchmark(step).shape == x.shape
