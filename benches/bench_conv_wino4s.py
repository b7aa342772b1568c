"""Stride-1 3x3 conv2d with small outputs (Winograd F(4x4, 3x3), several images per block,
by default on AVX-512: csrc/conv_wino4s*.c): forward, dx and dw, chainrule vs PyTorch,
float32, 2 threads. ResNet-20's 32->32 16x16 and 64->64 8x8 at batch 32 (issue 11) and a
14x14 / 7x7 pair at batch 8. `python -m chainrule bench conv` times whole layers."""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name: (N, C, K, H)
LAYERS = {"resnet20_32_16": (32, 32, 32, 16), "resnet20_64_8": (32, 64, 64, 8),
          "b8_64_14": (8, 64, 64, 14), "b8_128_7": (8, 128, 128, 7)}
STEPS = ("forward", "dx", "dw")


def _data(layer):
    N, C, K, H = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 3, 3)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((N, K, H, H)).astype(np.float32)
    return x, w, dy


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_wino4s_chainrule(benchmark, layer, step, two_threads):
    x, w, dy = _data(layer)
    run = {"forward": lambda: ops.conv2d_forward(x, w, None, 1, 1),
           "dx": lambda: ops.conv2d_backward(dy, x, w, 1, 1, need_dw=False)[0],
           "dw": lambda: ops.conv2d_backward(dy, x, w, 1, 1, need_dx=False)[1]}[step]
    out = benchmark(run)
    assert out.shape == (x.shape if step == "dx" else w.shape if step == "dw" else dy.shape)


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_wino4s_torch(benchmark, layer, step, two_threads):
    x, w, dy = _data(layer)
    tx, tw, tdy = (torch.from_numpy(a).requires_grad_() for a in (x, w, dy))
    if step == "forward":
        with torch.no_grad():
            out = benchmark(lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 1))
        assert tuple(out.shape) == dy.shape
        return
    y = torch.nn.functional.conv2d(tx, tw, None, 1, 1)
    wrt = tx if step == "dx" else tw
    (g,) = benchmark(lambda: torch.autograd.grad(y, (wrt,), tdy, retain_graph=True))
    assert tuple(g.shape) == (x.shape if step == "dx" else w.shape)
