"""pytest-benchmark: ops.matmul vs NumPy vs PyTorch (one group per shape).

Run with ``pytest benches/bench_gemm.py --benchmark-only``; under ``--benchmark-disable``
each case runs once as a smoke test (and checks the answer)."""
import numpy as np
import pytest

from chainrule import ops
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # PyTorch is an optional peer
    torch = None

SHAPES = bench_cases("matmul", "pytest")  # (M, N, K, dtype)
IMPLS = ["chainrule", "numpy", "torch"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("M,N,K,dtype", SHAPES, ids=[f"{m}x{n}x{k}-{d}" for m, n, k, d in SHAPES])
def test_matmul(benchmark, impl, M, N, K, dtype):
    benchmark.group = f"matmul {M}x{N}x{K} {dtype}"
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    if impl == "chainrule":
        fn = lambda: ops.matmul(a, b)
    elif impl == "numpy":
        fn = lambda: a @ b
    else:
        if torch is None:
            pytest.skip("PyTorch not installed")
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fn = lambda: (ta @ tb).numpy()
    c = benchmark(fn)
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, want, rtol=1e-3 if dtype == "float32" else 1e-10,
                               atol=1e-3 * np.sqrt(K))
