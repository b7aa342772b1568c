"""pytest-benchmark: activations (forward + backward) and the fused softmax cross-entropy,
chainrule vs PyTorch vs the NumPy reference; shapes from the kernel table
(chainrule/ops/_registry.py)."""
import numpy as np
import pytest

from chainrule import ops, reference
from chainrule.ops._registry import bench_cases

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is an optional peer
    torch = None

ACTS = ["relu", "sigmoid", "tanh"]
SHAPES = bench_cases("relu_forward", "pytest")
XENT = bench_cases("softmax_cross_entropy_forward", "pytest")


def _ids(shapes):
    return ["x".join(map(str, s)) for s in shapes]


@pytest.mark.parametrize("impl", ["chainrule", "reference", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids(SHAPES))
@pytest.mark.parametrize("act", ACTS)
def test_activation_fwd_bwd(benchmark, act, shape, impl):
    benchmark.group = f"{act} fwd+bwd {shape} float32"
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        f = getattr(torch, act)
        bwd = {"relu": lambda y: torch.ops.aten.threshold_backward(tdy, y, 0),
               "sigmoid": lambda y: torch.ops.aten.sigmoid_backward(tdy, y),
               "tanh": lambda y: torch.ops.aten.tanh_backward(tdy, y)}[act]

        def step():
            return bwd(f(tx)).numpy()
    else:
        mod = ops if impl == "chainrule" else reference
        fwd, back = getattr(mod, f"{act}_forward"), getattr(mod, f"{act}_backward")

        def step():
            return back(dy, fwd(x))
    dx = benchmark(step)
    y = getattr(reference, f"{act}_forward")(x)
    np.testing.assert_allclose(dx, getattr(reference, f"{act}_backward")(dy, y), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("impl", ["chainrule", "torch"])
@pytest.mark.parametrize("shape", XENT, ids=_ids(XENT))
def test_softmax_cross_entropy_fwd_bwd(benchmark, shape, impl):
    benchmark.group = f"softmax cross-entropy fwd+bwd {shape} float32"
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(np.float32)
    t = rng.integers(0, shape[1], shape[0])
    if impl == "torch":
        if torch is None:
            pytest.skip("PyTorch not installed")
        ta, tt = torch.tensor(a, requires_grad=True), torch.from_numpy(t)

        def step():
            ta.grad = None
            torch.nn.functional.cross_entropy(ta, tt).backward()
            return ta.grad.numpy()
    else:
        def step():
            loss, prob = ops.softmax_cross_entropy_forward(a, t)
            return ops.softmax_cross_entropy_backward(prob, t, 1.0 / shape[0])
    d = benchmark(step)
    prob = reference.softmax_cross_entropy_forward(a, t)[1]
    np.testing.assert_allclose(d, reference.softmax_cross_entropy_backward(prob, t, 1 / shape[0]),
                               rtol=1e-4, atol=1e-6)
