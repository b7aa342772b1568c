"""conv2d forward + backward (dx, dw, db): chainrule vs PyTorch vs the NumPy reference,
float32, on LeNet-sized layers (small enough for the smoke run: one call < 1 s).

`pytest benches/bench_conv.py --benchmark-only --benchmark-group-by=param:layer` prints the
three implementations side by side; `python -m chainrule bench conv` prints ratios.
"""
import numpy as np
import pytest

from chainrule import ops, reference as ref
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

# name -> (N, C, K, H, R, padding); the reference only runs on the smaller ones
LAYERS = {name: tuple(shape) for name, *shape in bench_cases("conv2d_forward", "pytest")}


def _data(layer):
    N, C, K, H, R, pad = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((K, C, R, R)) * 0.1).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    P = H + 2 * pad - R + 1
    dy = rng.standard_normal((N, K, P, P)).astype(np.float32)
    return x, w, b, dy, pad


def _fwd_bwd(mod, x, w, b, dy, pad):
    y = mod.conv2d_forward(x, w, b, 1, pad)
    return y, mod.conv2d_backward(dy, x, w, 1, pad)


@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv2d_chainrule(benchmark, layer):
    x, w, b, dy, pad = _data(layer)
    y, (dx, dw, db) = benchmark(_fwd_bwd, ops, x, w, b, dy, pad)
    assert y.shape == dy.shape and dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv2d_reference(benchmark, layer):
    x, w, b, dy, pad = _data(layer)
    y, _ = benchmark.pedantic(_fwd_bwd, args=(ref, x, w, b, dy, pad), rounds=1, iterations=1)
    assert y.shape == dy.shape


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv2d_torch(benchmark, layer):
    x, w, b, dy, pad = _data(layer)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdy = torch.tensor(dy)

    def step():
        tx.grad = tw.grad = tb.grad = None
        y = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
        y.backward(tdy)
        return y

    y = benchmark(step)
    assert tuple(y.shape) == dy.shape


UNFOLD = {name: args for name, *args in bench_cases("im2col", "pytest")}


@pytest.mark.parametrize("impl", ["chainrule", "torch"])
@pytest.mark.parametrize("layer", list(UNFOLD))
def test_im2col_col2im(benchmark, layer, impl):
    """im2col then its adjoint col2im (torch: unfold then fold) on a layer's input."""
    shape, k, s, p, d = UNFOLD[layer]
    benchmark.group = f"im2col+col2im {layer}"
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        F, tx = torch.nn.functional, torch.from_numpy(x)

        def step():
            return F.fold(F.unfold(tx, k, d, p, s), shape[2:], k, d, p, s).numpy()
    else:
        def step():
            return ops.col2im(ops.im2col(x, k, s, p, d), shape, k, s, p, d)
    back = benchmark(step)
    assert back.shape == x.shape
