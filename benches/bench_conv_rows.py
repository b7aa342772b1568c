"""conv2d on the row-segment paths (csrc/conv_rows.c: "implicit_rows" forward and dx,
"rows_dw"): GoogLeNet's 5x5 layers at batch 1, forward, dx and dw separately, chainrule
vs PyTorch (float32).

`pytest benches/bench_conv_rows.py --benchmark-only --benchmark-group-by=param:layer`
"""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (C, K, H, padding), 5x5 kernels, stride 1
LAYERS = {"googlenet-5x5-192-32-28": (192, 32, 28, 2),
          "googlenet-5x5-480-48-14": (480, 48, 14, 2)}
STEPS = ("forward", "dx", "dw")


def _data(layer):
    C, K, H, pad = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 5, 5)) * 0.05).astype(np.float32)
    dy = rng.standard_normal((1, K, H + 2 * pad - 4, H + 2 * pad - 4)).astype(np.float32)
    return x, w, dy, pad


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_rows_chainrule(benchmark, layer, step):
    x, w, dy, pad = _data(layer)
    run = {"forward": lambda: ops.conv2d_forward(x, w, None, 1, pad),
           "dx": lambda: ops.conv2d_backward(dy, x, w, 1, pad, bias=False, need_dw=False),
           "dw": lambda: ops.conv2d_backward(dy, x, w, 1, pad, bias=False, need_dx=False)}[step]
    out = benchmark(run)
    assert out is not None


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_rows_torch(benchmark, layer, step):
    x, w, dy, pad = _data(layer)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    ty = torch.nn.functional.conv2d(tx, tw, None, 1, pad)
    tdy = torch.tensor(dy)
    run = {"forward": lambda: torch.nn.functional.conv2d(tx.detach(), tw.detach(), None, 1, pad),
           "dx": lambda: torch.autograd.grad(ty, (tx,), tdy, retain_graph=True),
           "dw": lambda: torch.autograd.grad(ty, (tw,), tdy, retain_graph=True)}[step]
    out = benchmark(run)
    assert out is not None
