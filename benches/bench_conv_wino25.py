"""Stride-1 5x5 conv2d on small images (Winograd F(2x2, 5x5), by default on AVX-512:
csrc/conv_wino25*.c): forward, dx and dw (dw by Winograd where K is a multiple of 32, else
g5_skip), chainrule vs PyTorch, float32, 2 threads. GoogLeNet's 192->32 28x28 (batch 16) and 480->48 14x14 (batch 8), and 512->64
14x14. `python -m chainrule bench conv --suite googlenet` times whole layers."""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name: (N, C, K, H)
LAYERS = {"googlenet_192_28": (16, 192, 32, 28), "googlenet_480_14": (8, 480, 48, 14),
          "b8_512_64_14": (8, 512, 64, 14)}
STEPS = ("forward", "dx", "dw")


def _data(layer):
    N, C, K, H = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 5, 5)) * 0.05).astype(np.float32)
    dy = rng.standard_normal((N, K, H, H)).astype(np.float32)
    return x, w, dy


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_wino25_chainrule(benchmark, layer, step, two_threads):
    x, w, dy = _data(layer)
    run = {"forward": lambda: ops.conv2d_forward(x, w, None, 1, 2),
           "dx": lambda: ops.conv2d_backward(dy, x, w, 1, 2, need_dw=False)[0],
           "dw": lambda: ops.conv2d_backward(dy, x, w, 1, 2, need_dx=False)[1]}[step]
    out = benchmark(run)
    assert out.shape == (x.shape if step == "dx" else w.shape if step == "dw" else dy.shape)


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_wino25_torch(benchmark, layer, step, two_threads):
    x, w, dy = _data(layer)
    tx, tw, tdy = (torch.from_numpy(a).requires_grad_() for a in (x, w, dy))
    if step == "forward":
        with torch.no_grad():
            out = benchmark(lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 2))
        assert tuple(out.shape) == dy.shape
        return
    y = torch.nn.functional.conv2d(tx, tw, None, 1, 2)
    wrt = tx if step == "dx" else tw
    (g,) = benchmark(lambda: torch.autograd.grad(y, (wrt,), tdy, retain_graph=True))
    assert tuple(g.shape) == (x.shape if step == "dx" else w.shape)
