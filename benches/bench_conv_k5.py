"""conv2d on the batched pixel panel (csrc/conv_k5.c: the "implicit_rows" forward and the
"rows_conv" dx of 5x5 layers with small outputs): GoogLeNet's 832->128 at 7x7 and 480->48
at 14x14 (dx), batch 1 and 8, forward, dx and dw separately, chainrule vs PyTorch (float32).
(These layers now run conv_g5.c, which skips the padding taps: benches/bench_conv_g5.py.)

`pytest benches/bench_conv_k5.py --benchmark-only --benchmark-group-by=param:layer`
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
          "googlenet-5x5-832-128-7-b8": (8, 832, 128, 7),
          "googlenet-5x5-480-48-14-b1": (1, 480, 48, 14),
          "googlenet-5x5-480-48-14-b8": (8, 480, 48, 14)}
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
def test_conv_k5_chainrule(benchmark, layer, step):
    x, w, dy = _data(layer)
    run = {"forward": lambda: ops.conv2d_forward(x, w, None, 1, 2),
           "dx": lambda: ops.conv2d_backward(dy, x, w, 1, 2, bias=False, need_dw=False),
           "dw": lambda: ops.conv2d_backward(dy, x, w, 1, 2, bias=False, need_dx=False)}[step]
    out = benchmark(run)
    assert out is not None


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_k5_torch(benchmark, layer, step):
    x, w, dy = _data(layer)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    ty = torch.nn.functional.conv2d(tx, tw, None, 1, 2)
    tdy = torch.tensor(dy)
    run = {"forward": lambda: torch.nn.functional.conv2d(tx.detach(), tw.detach(), None, 1, 2),
           "dx": lambda: torch.autograd.grad(ty, (tx,), tdy, retain_graph=True),
           "dw": lambda: torch.autograd.grad(ty, (tw,), tdy, retain_graph=True)}[step]
    out = benchmark(run)
    assert out is not None
