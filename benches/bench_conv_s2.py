"""Stride-2 3x3 convolutions (csrc/conv_s2.c, plan path "implicit_s2"; the forward by
csrc/conv_s2b.c, "direct_s2", where K is a multiple of 16, and dw there too; dx by
csrc/conv_s2dx.c, "direct_s2_dx", where C is a multiple of 16): forward, dx and dw of
ResNet-20's two downsampling layers at batch 32 (16->32 32x32, 32->64 16x16) and ResNet-18's
128->256 28x28 and 256->512 14x14 and ResNet-50's 256->256 28x28 at batch 8, chainrule (auto:
the phase / direct paths on AVX-512 CPUs) vs the im2col path vs PyTorch, float32.

`pytest benches/bench_conv_s2.py --benchmark-only --benchmark-group-by=param:layer` prints
them side by side.
"""
import numpy as np
import pytest

from chainrule import _runtime, ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (N, C, K, H)
LAYERS = {"resnet20-16-32-32x32": (32, 16, 32, 32), "resnet20-32-64-16x16": (32, 32, 64, 16),
          "resnet18-128-256-28x28": (8, 128, 256, 28), "resnet18-256-512-14x14": (8, 256, 512, 14),
          "resnet50-256-256-28x28": (8, 256, 256, 28)}
STEPS = ["forward", "dx", "dw"]


def _data(layer):
    N, C, K, H = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 3, 3)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((N, K, H // 2, H // 2)).astype(np.float32)
    return x, w, dy


def _step(step, x, w, dy):
    if step == "forward":
        return ops.conv2d_forward(x, w, None, 2, 1)
    return ops.conv2d_backward(dy, x, w, 2, 1, bias=False, need_dx=step == "dx",
                               need_dw=step == "dw")


@pytest.mark.parametrize("algo", ["auto", "im2col"])
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_s2_chainrule(benchmark, layer, step, algo):
    x, w, dy = _data(layer)
    try:
        _runtime.set_conv_algo(algo)
        out = benchmark(_step, step, x, w, dy)
    finally:
        _runtime.set_conv_algo(None)
    assert out is not None


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_s2_torch(benchmark, layer, step):
    x, w, dy = (torch.tensor(a) for a in _data(layer))
    tx, tw = x.clone().requires_grad_(), w.clone().requires_grad_()
    y = torch.nn.functional.conv2d(tx, tw, None, 2, 1)

    def run():
        if step == "forward":
            with torch.no_grad():
                return torch.nn.functional.conv2d(x, w, None, 2, 1)
        return torch.autograd.grad(y, (tx,) if step == "dx" else (tw,), dy, retain_graph=True)

    assert benchmark(run) is not None
