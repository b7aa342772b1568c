"""Batch norm 2-D and dropout, forward + backward through autograd: chainrule vs PyTorch
(2 threads each; issue 11's bars: batch norm on (32, 64, 32, 32) and dropout on 1M
elements at most 0.5x PyTorch's time), plus the bare ops and the NumPy reference."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import ops, reference as ref
from chainrule.nn import functional as F
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

BN_SHAPE = bench_cases("batch_norm_forward", "pytest")[0]  # (32, 64, 32, 32)
DROP_N = bench_cases("dropout_forward", "pytest")[0][0]  # 1 << 20


def _bn_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(BN_SHAPE).astype(np.float32)
    return x, rng.standard_normal(BN_SHAPE).astype(np.float32)


def test_batch_norm_chainrule(benchmark, two_threads):
    x, dy = _bn_data()
    C = BN_SHAPE[1]
    xt = cr.tensor(x, requires_grad=True)
    w = cr.tensor(np.ones(C, np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(C, np.float32), requires_grad=True)
    rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)

    def step():
        xt.grad = w.grad = b.grad = None
        y = F.batch_norm(xt, rm, rv, w, b, training=True)
        y.backward(dy)
        return xt.grad
    assert benchmark(step).shape == BN_SHAPE


def test_batch_norm_ops(benchmark, two_threads):
    x, dy = _bn_data()

    def step():
        y, mean, invstd, var = ops.batch_norm_forward(x)
        return ops.batch_norm_backward(dy, x, None, mean, invstd)[0]
    assert benchmark(step).shape == BN_SHAPE


def test_batch_norm_reference(benchmark):
    x, dy = _bn_data()
    x, dy = x[:4], dy[:4]  # the reference is slow; a smaller batch

    def step():
        y, mean, invstd, var = ref.batch_norm_forward(x)
        return ref.batch_norm_backward(dy, x, None, mean, invstd)[0]
    assert benchmark.pedantic(step, rounds=1, iterations=1).shape == x.shape


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_batch_norm_torch(benchmark):
    torch.set_num_threads(2)
    x, dy = _bn_data()
    bn = torch.nn.BatchNorm2d(BN_SHAPE[1])
    tx, tdy = torch.tensor(x, requires_grad=True), torch.tensor(dy)

    def step():
        tx.grad = None
        bn.zero_grad()
        bn(tx).backward(tdy)
        return tx.grad
    assert tuple(benchmark(step).shape) == BN_SHAPE


def test_dropout_chainrule(benchmark, two_threads):
    rng = np.random.default_rng(0)
    xt = cr.tensor(rng.standard_normal(DROP_N).astype(np.float32), requires_grad=True)
    g = np.ones(DROP_N, np.float32)

    def step():
        xt.grad = None
        F.dropout(xt, 0.5).backward(g)
        return xt.grad
    assert benchmark(step).shape == (DROP_N,)


def test_dropout_reference(benchmark):
    x = np.random.default_rng(0).standard_normal(DROP_N).astype(np.float32)

    def step():
        y, mask = ref.dropout_forward(x, 0.5, 1)
        return ref.dropout_backward(y, mask, 0.5)
    assert benchmark.pedantic(step, rounds=1, iterations=1).shape == (DROP_N,)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_dropout_torch(benchmark):
    torch.set_num_threads(2)
    tx = torch.tensor(np.random.default_rng(0).standard_normal(DROP_N).astype(np.float32),
                      requires_grad=True)
    g = torch.ones(DROP_N)

    def step():
        tx.grad = None
        torch.nn.functional.dropout(tx, 0.5, True).backward(g)
        return tx.grad
    assert tuple(benchmark(step).shape) == (DROP_N,)


GN_SHAPE = bench_cases("group_norm_forward", "pytest")[0]  # (32, 64, 32, 32), 32 groups
LN_SHAPE = bench_cases("layer_norm_forward", "pytest")[0]  # (64, 128, 768)


def _rows_data(shape):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("kind", ["group", "layer"])
def test_row_norm_chainrule(benchmark, two_threads, kind):
    shape = GN_SHAPE if kind == "group" else LN_SHAPE
    x, dy = _rows_data(shape)
    m = cr.nn.GroupNorm(32, shape[1]) if kind == "group" else cr.nn.LayerNorm(shape[-1])
    xt = cr.tensor(x, requires_grad=True)

    def step():
        xt.grad = None
        m.zero_grad()
        m(xt).backward(dy)
        return xt.grad
    assert benchmark(step).shape == shape


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("kind", ["group", "layer"])
def test_row_norm_torch(benchmark, kind):
    torch.set_num_threads(2)
    shape = GN_SHAPE if kind == "group" else LN_SHAPE
    x, dy = _rows_data(shape)
    m = torch.nn.GroupNorm(32, shape[1]) if kind == "group" else torch.nn.LayerNorm(shape[-1])
    tx, tdy = torch.tensor(x, requires_grad=True), torch.tensor(dy)

    def step():
        tx.grad = None
        m.zero_grad()
        m(tx).backward(tdy)
        return tx.grad
    assert benchmark(step).shape == shape
