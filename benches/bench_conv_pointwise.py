"""1x1 conv2d (the pointwise path, csrc/conv_pointwise.c): forward, dx and dw separately,
chainrule vs PyTorch, float32, 2 threads. Issue 11 wants MobileNet v1's 1x1 layers (batch 32
of 32x32 images) at least 1.3x faster than PyTorch; issue 14 ResNet-50's 1x1 at batch 1 no
slower. Compare the *_chainrule and *_torch rows of one layer and phase; the dw of layers
with at most 8192 weights runs the pointwise_dot kernel (conv_pw_dot_avx512.c)."""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name: N, C, K, H (= W)
LAYERS = {"mobilenet-32-64-32x32": (32, 32, 64, 32), "mobilenet-128-128-16x16": (32, 128, 128, 16),
          "mobilenet-256-256-8x8": (32, 256, 256, 8), "mobilenet-512-512-4x4": (32, 512, 512, 4),
          "mobilenet-1024-1024-2x2": (32, 1024, 1024, 2), "resnet50-256-64-56x56": (1, 256, 64, 56),
          # dw by dot products (pointwise_dot: <= 8192 weights); weights read in place (<= 256
          # columns: the 2x2 layer above, and batch 8 of 4x4)
          "mobilenet-64-128-16x16": (32, 64, 128, 16), "resnet50-64-64-56x56": (8, 64, 64, 56),
          "mobilenet-512-512-4x4-b8": (8, 512, 512, 4)}
PHASES = ("forward", "dx", "dw")


def _data(layer):
    N, C, K, H = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 1, 1)) * 0.1).astype(np.float32)
    dy = rng.standard_normal((N, K, H, H)).astype(np.float32)
    return x, w, dy


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_pointwise_chainrule(benchmark, layer, phase, two_threads):
    x, w, dy = _data(layer)
    run = {"forward": lambda: ops.conv2d_forward(x, w),
           "dx": lambda: ops.conv2d_backward(dy, x, w, bias=False, need_dw=False)[0],
           "dw": lambda: ops.conv2d_backward(dy, x, w, bias=False, need_dx=False)[1]}[phase]
    assert benchmark(run).shape in (dy.shape, x.shape, w.shape)


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_pointwise_torch(benchmark, layer, phase, two_threads):
    x, w, dy = _data(layer)
    tx, tw, tdy = torch.tensor(x), torch.tensor(w), torch.tensor(dy)
    mask = {"forward": None, "dx": [True, False, False], "dw": [False, True, False]}[phase]

    def run():
        if mask is None:
            return torch.nn.functional.conv2d(tx, tw)
        out = torch.ops.aten.convolution_backward(tdy, tx, tw, None, [1, 1], [0, 0], [1, 1], False,
                                                  [0, 0], 1, mask)
        return out[0] if mask[0] else out[1]
    assert tuple(benchmark(run).shape) in (dy.shape, x.shape, w.shape)
