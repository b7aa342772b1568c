"""Strided convolutions other than 3x3 stride 2 (csrc/conv_s2b.c "direct_s2" forward and dw,
csrc/conv_s2dx.c "direct_s2_dx" dx, for any kernel of 2-64 taps and any stride above 1):
forward, dx and dw of ResNet's 7x7 s2 stem, a 5x5 s2 layer, a 5x5 s3 layer, a 3x3 s(2,1)
layer and the speech front-end's 10x5 s2 layers, chainrule (auto) vs the im2col path vs
PyTorch, float32.

`pytest benches/bench_conv_strided.py --benchmark-only --benchmark-group-by=param:layer` prints
them side by side.
"""
import numpy as np
import pytest

from chainrule import _runtime, ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (x shape, w shape, stride, padding)
LAYERS = {"stem-7x7-s2-3-64-224": ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
          "5x5-s2-64-128-28": ((8, 64, 28, 28), (128, 64, 5, 5), 2, 2),
          "5x5-s3-32-64-60": ((8, 32, 60, 60), (64, 32, 5, 5), 3, 0),
          "3x3-s21-64-128-56": ((8, 64, 56, 56), (128, 64, 3, 3), (2, 1), 1),
          "speech-10x5-s2-32-32-341x79": ((4, 32, 341, 79), (32, 32, 10, 5), 2, 0),
          "speech-10x5-s2-32-64-76x98": ((4, 32, 76, 98), (64, 32, 10, 5), 2, 0)}
STEPS = ["forward", "dx", "dw"]


def _data(layer):
    xs, ws, s, p = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, None, s, p).shape).astype(np.float32)
    return x, w, dy, s, p


def _step(step, x, w, dy, s, p):
    if step == "forward":
        return ops.conv2d_forward(x, w, None, s, p)
    return ops.conv2d_backward(dy, x, w, s, p, bias=False, need_dx=step == "dx",
                               need_dw=step == "dw")


@pytest.mark.parametrize("algo", ["auto", "im2col"])
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_strided_chainrule(benchmark, layer, step, algo):
    data = _data(layer)
    try:
        _runtime.set_conv_algo(algo)
        out = benchmark(_step, step, *data)
    finally:
        _runtime.set_conv_algo(None)
    assert out is not None


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_strided_torch(benchmark, layer, step):
    x, w, dy, s, p = _data(layer)
    x, w, dy = (torch.tensor(a) for a in (x, w, dy))
    tx, tw = x.clone().requires_grad_(), w.clone().requires_grad_()
    y = torch.nn.functional.conv2d(tx, tw, None, s, p)

    def run():
        if step == "forward":
            with torch.no_grad():
                return torch.nn.functional.conv2d(x, w, None, s, p)
        return torch.autograd.grad(y, (tx,) if step == "dx" else (tw,), dy, retain_graph=True)

    assert benchmark(run) is not None
