"""pytest-benchmark: embedding backward (the row scatter-add), chainrule vs PyTorch's dense
embedding backward, float32, 2 threads. Issue 12's bar: a 50k x 256 table with 64k
lookups at most 0.5x PyTorch's time (shapes in ops/_registry.py)."""
import numpy as np
import pytest

from chainrule import ops
from chainrule.ops._registry import bench_cases

CASES = [tuple(c) for c in bench_cases("embedding_forward", "pytest")]  # (num, dim, lookups)
IDS = [f"{n}x{d}-{k}" for n, d, k in CASES]

pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


def _case(num, dim, n, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.minimum(rng.zipf(1.2, n) - 1, num - 1).astype(np.int64)  # word-like repeats
    return idx, rng.standard_normal((n, dim)).astype(np.float32)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_embedding_backward_chainrule(benchmark, case):
    benchmark.group = f"embedding backward {case}"
    idx, dy = _case(*case)
    dw = benchmark(ops.embedding_backward, dy, idx, case[0])
    assert dw.shape == case[:2] and np.isfinite(dw).all()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_embedding_backward_torch(benchmark, case):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    benchmark.group = f"embedding backward {case}"
    idx, dy = (torch.from_numpy(a) for a in _case(*case))
    dw = benchmark(torch.ops.aten.embedding_dense_backward, dy, idx, case[0], -1, False)
    assert tuple(dw.shape) == case[:2]
