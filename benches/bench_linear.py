"""pytest-benchmark: dense layer forward + backward, chainrule vs NumPy vs PyTorch.

One step = y = x @ w.T + b, dx = dy @ w, dw = dy.T @ x, db = dy.sum(0)."""
import numpy as np
import pytest

from chainrule import ops
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # PyTorch is an optional peer
    torch = None

SIZES = bench_cases("linear_forward", "pytest")  # (N, C, OC)
IMPLS = ["chainrule", "numpy", "torch"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("N,C,OC", SIZES, ids=[f"{n}x{c}->{o}" for n, c, o in SIZES])
def test_linear_forward_backward(benchmark, impl, N, C, OC):
    benchmark.group = f"linear fwd+bwd {N}x{C}->{OC} float32"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C)).astype(np.float32)
    w = (rng.standard_normal((OC, C)) / np.sqrt(C)).astype(np.float32)
    b = rng.standard_normal(OC).astype(np.float32)
    dy = rng.standard_normal((N, OC)).astype(np.float32)
    if impl == "chainrule":
        def step():
            return (ops.linear_forward(x, w, b),) + ops.linear_backward(dy, x, w)
    elif impl == "numpy":
        def step():
            return x @ w.T + b, dy @ w, dy.T @ x, dy.sum(0)
    else:
        if torch is None:
            pytest.skip("PyTorch not installed")
        tx, tw, tb, tdy = (torch.from_numpy(v) for v in (x, w, b, dy))

        def step():
            return tuple(t.numpy() for t in (torch.addmm(tb, tx, tw.t()), tdy @ tw,
                                             tdy.t() @ tx, tdy.sum(0)))
    y, dx, dw, db = benchmark(step)
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.T + b, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dw, dy.T.astype(np.float64) @ x, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(db, dy.sum(0, dtype=np.float64), rtol=1e-3, atol=1e-3)
