"""max_pool2d / avg_pool2d forward + backward: chainrule vs PyTorch vs the NumPy
reference, float32 (sizes small enough for the smoke run)."""
import numpy as np
import pytest

from chainrule import ops, reference as ref
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

_CASES = bench_cases("max_pool2d_forward", "pytest")
assert _CASES is bench_cases("avg_pool2d_forward", "pytest")  # one set for both poolings
SHAPE = _CASES["shape"]
# name -> (kernel_size, stride, padding)
POOLS = _CASES["pools"]


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal(SHAPE).astype(np.float32)


def _max(mod, x, args):
    y, idx = mod.max_pool2d_forward(x, *args)
    return mod.max_pool2d_backward(np.ones_like(y), idx, x.shape)


def _avg(mod, x, args):
    y = mod.avg_pool2d_forward(x, *args)
    return mod.avg_pool2d_backward(np.ones_like(y), x.shape, *args)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool", list(POOLS))
def test_pool_chainrule(benchmark, kind, pool):
    x = _data()
    dx = benchmark({"max": _max, "avg": _avg}[kind], ops, x, POOLS[pool])
    assert dx.shape == x.shape


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool", list(POOLS))
def test_pool_reference(benchmark, kind, pool):
    x = _data()
    dx = benchmark.pedantic({"max": _max, "avg": _avg}[kind], args=(ref, x, POOLS[pool]),
                            rounds=1, iterations=1)
    assert dx.shape == x.shape


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool", list(POOLS))
def test_pool_torch(benchmark, kind, pool):
    k, s, p = POOLS[pool]
    tx = torch.tensor(_data(), requires_grad=True)

    def step():
        tx.grad = None
        if kind == "max":
            y = torch.nn.functional.max_pool2d(tx, k, s, p, return_indices=True)[0]
        else:
            y = torch.nn.functional.avg_pool2d(tx, k, s, p)
        y.backward(torch.ones_like(y))
        return tx.grad

    assert tuple(benchmark(step).shape) == SHAPE


# max_pool2d forward alone on LeNet's pooling layers (2x2, stride 2): the dedicated
# AVX-512/AVX2 path of csrc/pool.c against PyTorch's forward with indices
LENET = _CASES["lenet"]


@pytest.mark.parametrize("layer", list(LENET))
def test_max_pool_forward_lenet_chainrule(benchmark, layer):
    x = np.random.default_rng(0).standard_normal(LENET[layer]).astype(np.float32)
    y, idx = benchmark(ops.max_pool2d_forward, x, 2, 2)
    assert y.shape == idx.shape == LENET[layer][:2] + (LENET[layer][2] // 2, LENET[layer][3] // 2)


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("layer", list(LENET))
def test_max_pool_forward_lenet_torch(benchmark, layer):
    tx = torch.from_numpy(np.random.default_rng(0).standard_normal(LENET[layer]).astype(np.float32))
    y, idx = benchmark(torch.nn.functional.max_pool2d, tx, 2, 2, return_indices=True)
    assert y.shape == idx.shape
