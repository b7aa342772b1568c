"""pytest-benchmark: the fused optimizer steps (ops.sgd_step, ops.adam_step) vs PyTorch's
single-tensor functional steps vs the NumPy reference; sizes from the kernel table."""
import numpy as np
import pytest

from chainrule import ops, reference
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

SIZES = bench_cases("sgd_step", "pytest")
assert SIZES == bench_cases("adam_step", "pytest")


def _state(n):
    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    return p, g, np.zeros(n, np.float32), np.zeros(n, np.float32)


@pytest.mark.parametrize("impl", ["chainrule", "reference", "torch"])
@pytest.mark.parametrize("size", SIZES, ids=[str(s[0]) for s in SIZES])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_optimizer_step(benchmark, kind, size, impl):
    benchmark.group = f"{kind} step {size[0]} float32"
    p, g, m, v = _state(size)
    # lr 0: the parameters stay put over many rounds (the kernels do the same work)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        tp = torch.from_numpy(p).requires_grad_(True)
        tp.grad = torch.from_numpy(g)
        opt = (torch.optim.SGD([tp], lr=0.0, momentum=0.9) if kind == "sgd"
               else torch.optim.Adam([tp], lr=0.0))
        step = opt.step
    else:
        mod = ops if impl == "chainrule" else reference
        if kind == "sgd":
            def step():
                mod.sgd_step(p, g, m, lr=0.0, momentum=0.9)
        else:
            def step():
                mod.adam_step(p, g, m, v, step=1, lr=0.0)
    benchmark(step)
    assert np.isfinite(p).all()
