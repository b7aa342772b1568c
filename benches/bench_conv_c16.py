"""Winograd F(4x4, 3x3) over 16 images in the lanes (csrc/conv_c16.c): ResNet-20's stage-1
16->16 3x3 layer at 32x32, batch 32, float32, chainrule vs PyTorch: forward, dx and dw
(dw runs the direct path).

`pytest benches/bench_conv_c16.py --benchmark-only --benchmark-group-by=param:step`
prints both side by side.
"""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

STEPS = ["forward", "dx", "dw"]


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((16, 16, 3, 3)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    return x, w, dy


@pytest.mark.parametrize("step", STEPS)
def test_conv_c16_chainrule(benchmark, step):
    x, w, dy = _data()
    assert ops.conv2d_plan(x.shape, w.shape, 1, 1)["forward"]["algorithm"] in ("winograd_c16", "direct", "implicit")
    if step == "forward":
        y = benchmark(ops.conv2d_forward, x, w, None, 1, 1)
        assert y.shape == dy.shape
    else:
        dx, dw, _ = benchmark(ops.conv2d_backward, dy, x, w, 1, 1, need_dx=step == "dx",
                              need_dw=step == "dw")
        assert (dx is not None) == (step == "dx") and (dw is not None) == (step == "dw")


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("step", STEPS)
def test_conv_c16_torch(benchmark, step):
    x, w, dy = _data()
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    if step == "forward":
        with torch.no_grad():
            y = benchmark(torch.nn.functional.conv2d, tx, tw, None, 1, 1)
        assert tuple(y.shape) == dy.shape
    else:
        y = torch.nn.functional.conv2d(tx, tw, None, 1, 1)
        wrt = (tx,) if step == "dx" else (tw,)
        grads = benchmark(torch.autograd.grad, y, wrt, torch.from_numpy(dy), retain_graph=True)
        assert grads[0].shape == wrt[0].shape
