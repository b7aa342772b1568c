"""pytest-benchmark: the parameterised activations (csrc/actfn.c), forward + backward,
chainrule vs PyTorch's autograd; shapes from the kernel table (chainrule/ops/_registry.py)."""
import numpy as np
import pytest

from chainrule import ops, reference
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

ACTS = ["leaky_relu", "elu", "gelu", "silu", "softplus", "hardtanh"]
SHAPES = bench_cases("gelu_forward", "pytest")


@pytest.mark.parametrize("impl", ["chainrule", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("act", ACTS)
def test_actfn_fwd_bwd(benchmark, act, shape, impl):
    benchmark.group = f"{act} fwd+bwd {shape} float32"
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        tx = torch.tensor(x, requires_grad=True)
        tdy = torch.from_numpy(dy)
        f = getattr(torch.nn.functional, act)

        def step():
            return torch.autograd.grad(f(tx), tx, tdy)[0].numpy()
    else:
        fwd, back = getattr(ops, f"{act}_forward"), getattr(ops, f"{act}_backward")

        def step():
            fwd(x)
            return back(dy, x)
    dx = benchmark(step)
    if x.size <= 1 << 16:  # the reference's GELU calls math.erf per element
        np.testing.assert_allclose(dx, getattr(reference, f"{act}_backward")(dy, x),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["chainrule", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_fwd_bwd(benchmark, name, shape, impl):
    benchmark.group = f"{name} (last dim) fwd+bwd {shape} float32"
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        tx = torch.tensor(x, requires_grad=True)
        tdy = torch.from_numpy(dy)
        f = getattr(torch, name)

        def step():
            return torch.autograd.grad(f(tx, -1), tx, tdy)[0].numpy()
    else:
        fwd, back = getattr(ops, f"{name}_forward"), getattr(ops, f"{name}_backward")

        def step():
            return back(dy, fwd(x, -1), -1)
    dx = benchmark(step)
    y = getattr(reference, f"{name}_forward")(x, -1)
    np.testing.assert_allclose(dx, getattr(reference, f"{name}_backward")(dy, y, -1),
                               rtol=1e-4, atol=1e-5)
