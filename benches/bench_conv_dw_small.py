"""Depthwise 3x3 conv2d (groups = C) forward + backward (dx, dw) on MobileNet v1's small
planes (batch 32 of 3x32x32 images: 8x8, 4x4, 2x2 planes, stride 1 and 2): chainrule vs
PyTorch, float32, 2 threads. Issue 11's step spends these layers' time; the target is
each layer at least 1.5x faster than PyTorch."""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (x shape, stride)
LAYERS = {"256x8x8-s1": ((32, 256, 8, 8), 1), "256x8x8-s2": ((32, 256, 8, 8), 2),
          "512x4x4-s1": ((32, 512, 4, 4), 1), "512x4x4-s2": ((32, 512, 4, 4), 2),
          "1024x2x2-s1": ((32, 1024, 2, 2), 1), "128x16x16-s2": ((32, 128, 16, 16), 2)}


def _data(layer):
    xs, s = LAYERS[layer]
    C = xs[1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal((C, 1, 3, 3)) * 0.1).astype(np.float32)
    P = (xs[2] - 1) // s + 1
    dy = rng.standard_normal((xs[0], C, P, P)).astype(np.float32)
    return x, w, dy, s, C


@pytest.mark.parametrize("layer", list(LAYERS))
def test_dw_small_chainrule(benchmark, layer, two_threads):
    x, w, dy, s, C = _data(layer)

    def step():
        y = ops.conv2d_forward(x, w, None, s, 1, 1, C)
        return y, ops.conv2d_backward(dy, x, w, s, 1, 1, C, bias=False)
    y, (dx, dw, db) = benchmark(step)
    assert y.shape == dy.shape and dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("layer", list(LAYERS))
def test_dw_small_torch(benchmark, layer, two_threads):
    x, w, dy, s, C = _data(layer)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    tdy = torch.tensor(dy)

    def step():
        tx.grad = tw.grad = None
        torch.nn.functional.conv2d(tx, tw, None, s, 1, 1, C).backward(tdy)
        return tx.grad
    assert benchmark(step).shape == x.shape
