"""Stride-1 3x3 conv2d forward on images of >= 28x28 (Winograd F(4x4, 3x3) by default on
AVX-512, csrc/conv_winograd4.c): chainrule vs PyTorch, float32, batch 1, 2 threads. Issue 14's
bar: stride-1 3x3 layers with >= 64 channels >= 1.5x faster than PyTorch.
`python -m chainrule bench conv --suite vgg|resnet` times forward + backward."""
import numpy as np
import pytest

from chainrule import ops

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name: (C, K, H): ResNet-18/50's 56x56 and 28x28, VGG-16's conv1_2, conv2_2, conv3_2, conv4_2
LAYERS = {"resnet_64_56": (64, 64, 56), "resnet_128_28": (128, 128, 28),
          "vgg_64_224": (64, 64, 224), "vgg_128_112": (128, 128, 112),
          "vgg_256_56": (256, 256, 56), "vgg_512_28": (512, 512, 28)}


def _data(layer):
    C, K, H = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, 3, 3)) * 0.1).astype(np.float32)
    return x, w


@pytest.mark.parametrize("layer", list(LAYERS))
def test_winograd4_forward_chainrule(benchmark, layer, two_threads):
    x, w = _data(layer)
    y = benchmark(lambda: ops.conv2d_forward(x, w, None, 1, 1))
    assert y.shape == (1, w.shape[0]) + x.shape[2:]


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("layer", list(LAYERS))
def test_winograd4_forward_torch(benchmark, layer, two_threads):
    x, w = _data(layer)
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    y = benchmark(lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 1))
    assert tuple(y.shape) == (1, w.shape[0]) + x.shape[2:]
