"""The direct convolution for few channels (csrc/conv_direct.c): ResNet-20's stage-1 3x3
layer (16->16) and stem (3->16) and MobileNet's stem (3->32), batch 32 at 32x32, float32,
chainrule vs PyTorch: forward, and the backward of a training step (dx only where the layer
has an input gradient: not for the stems).

`pytest benches/bench_conv_direct.py --benchmark-only --benchmark-group-by=param:layer`
prints both side by side.
"""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (N, C, K, H, need_dx)
LAYERS = {"resnet20-16x16-32": (32, 16, 16, 32, True), "resnet20-stem-3x16-32": (32, 3, 16, 32, False),
          "mobilenet-stem-3x32-32": (32, 3, 32, 32, False)}
STEPS = ["forward", "backward"]


def _data(layer):
    N, C, K, H, need_dx = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 3, 3)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((N, K, H, H)).astype(np.float32)
    return x, w, dy, need_dx


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_direct_chainrule(benchmark, layer, step):
    x, w, dy, need_dx = _data(layer)
    if step == "forward":
        y = benchmark(ops.conv2d_forward, x, w, None, 1, 1)
        assert y.shape == dy.shape
    else:
        dx, dw, _ = benchmark(ops.conv2d_backward, dy, x, w, 1, 1, need_dx=need_dx)
        assert dw.shape == w.shape and (dx is not None) == need_dx


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_direct_torch(benchmark, layer, step):
    x, w, dy, need_dx = _data(layer)
    tx = torch.from_numpy(x).requires_grad_(need_dx)
    tw = torch.from_numpy(w).requires_grad_()
    if step == "forward":
        with torch.no_grad():
            y = benchmark(torch.nn.functional.conv2d, tx, tw, None, 1, 1)
        assert tuple(y.shape) == dy.shape
    else:
        y = torch.nn.functional.conv2d(tx, tw, None, 1, 1)
        wrt = (tx, tw) if need_dx else (tw,)
        grads = benchmark(torch.autograd.grad, y, wrt, torch.from_numpy(dy), retain_graph=True)
        assert grads[-1].shape == tw.shape
