"""conv2d with the padding taps skipped (csrc/conv_g5.c, "g5_skip": output channels in the
lanes, tiles of <= 7 pixels of one output row): GoogLeNet's 5x5 layers at the batch of
`python -m chainrule bench conv --suite googlenet` (832->128 7x7, 480->48 14x14 at batch 8,
192->32 28x28 at batch 16), the first two at batch 1 too, and two neighbours (512->128 7x7,
32->96 28x28), forward, dx and dw separately, chainrule vs PyTorch (float32). These layers
ran conv_k5.c's "implicit_rows" before; it keeps the other small-output 5x5 layers (fewer
than 16 channels in or out, or scratch beyond the workspace limit).

`pytest benches/bench_conv_g5.py --benchmark-only --benchmark-group-by=param:layer`
"""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (N, C, K, H), 5x5 kernels, stride 1, padding 2
LAYERS = {"googlenet-5x5-832-128-7-b1": (1, 832, 128, 7),
          "googlenet-5x5-480-48-14-b1": (1, 480, 48, 14),
          "googlenet-5x5-832-128-7-b8": (8, 832, 128, 7),
          "googlenet-5x5-480-48-14-b8": (8, 480, 48, 14),
          "googlenet-5x5-192-32-28-b16": (16, 192, 32, 28),
          "5x5-512-128-7-b8": (8, 512, 128, 7),
          "5x5-32-96-28-b8": (8, 32, 96, 28)}
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
def test_conv_g5_chainrule(benchmark, layer, step):
    x, w, dy = _data(layer)
    run = {"forward": lambda: ops.conv2d_forward(x, w, None, 1, 2),
           "dx": lambda: ops.conv2d_backward(dy, x, w, 1, 2, bias=False, need_dw=False),
           "dw": lambda: ops.conv2d_backward(dy, x, w, 1, 2, bias=False, need_dx=False)}[step]
    out = benchmark(run)
    assert out is not None


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_g5_torch(benchmark, layer, step):
    x, w, dy = _data(layer)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    ty = torch.nn.functional.conv2d(tx, tw, None, 1, 2)
    tdy = torch.tensor(dy)
    run = {"forward": lambda: torch.nn.functional.conv2d(tx.detach(), tw.detach(), None, 1, 2),
           "dx": lambda: torch.autograd.grad(ty, (tx,), tdy, retain_graph=True),
           "dw": lambda: torch.autograd.grad(ty, (tw,), tdy, retain_graph=True)}[step]
    out = benchmark(run)
    assert out is not None
