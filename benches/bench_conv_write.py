"""The backward that writes dx and dw (write=True: np.empty, no zeroing pass, never read)
against the accumulating one into np.zeros, on MobileNet v1's layers it covers (1x1 at stride
1, depthwise), float32, 2 threads, dx and dw together as in a training step. Compare the
*_write and *_accumulate rows of one layer."""
import numpy as np
import pytest

from chainrule import _kernels, ops

# name: N, C, K, R, stride, groups (H = W)
LAYERS = {"pw-32-64-32x32": (32, 32, 64, 32, 1, 1, 1),
          "dw-64-s2-32x32": (32, 64, 64, 32, 3, 2, 64),
          "pw-128-128-16x16": (32, 128, 128, 16, 1, 1, 1),
          "dw-128-16x16": (32, 128, 128, 16, 3, 1, 128),
          "pw-512-512-4x4": (32, 512, 512, 4, 1, 1, 1),
          "dw-512-4x4": (32, 512, 512, 4, 3, 1, 512),
          "pw-1024-1024-2x2": (32, 1024, 1024, 2, 1, 1, 1)}


def _data(layer):
    N, C, K, H, R, s, g = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C // g, R, R)) * 0.1).astype(np.float32)
    y = ops.conv2d_forward(x, w, None, s, R // 2, 1, g)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return x, w, dy, s, R // 2, g


@pytest.mark.parametrize("mode", ["write", "accumulate"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_write(benchmark, layer, mode, two_threads):
    x, w, dy, s, p, g = _data(layer)
    f = (_kernels.conv2d_backward if g == 1 else _kernels.conv2d_depthwise_backward)["float"]
    put = mode == "write"

    def run():
        dx = (np.empty if put else np.zeros)(x.shape, np.float32)
        dw = (np.empty if put else np.zeros)(w.shape, np.float32)
        f(dx, dw, None, dy, x, w, (s, s), (p, p), (1, 1), put)
        return dx
    assert benchmark(run).shape == x.shape
