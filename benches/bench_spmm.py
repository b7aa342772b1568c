"""pytest-benchmark: SpMM and GCNConv forward + backward, chainrule vs PyTorch.

Small sizes so that `pytest --benchmark-disable` runs each once as a smoke test; the
headline numbers (100k nodes / 1M edges, and SpMM bandwidth against a streaming copy) come
from `python -m chainrule bench graph` (chainrule/bench/graph.py).
"""
import numpy as np
import pytest

from chainrule import ops, reference
from chainrule.bench.graph import chainrule_gcn_fn, gcn_case, torch_gcn_fn
from chainrule.ops._registry import bench_cases

SIZES = bench_cases("spmm", "pytest")[:1]  # (nodes, edges, features)

pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


def _csr(c):
    ei = c["edge_index"]
    n = c["x"].shape[0]
    return ops.csr_from_coo(ei[1], ei[0], n, n)


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("impl", ["chainrule", "reference"])
def test_spmm(benchmark, size, impl):
    benchmark.group = f"spmm {size}"
    c = gcn_case(*size)
    indptr, indices, perm = _csr(c)
    values = np.ones(indices.shape[0], np.float32)
    mod = ops if impl == "chainrule" else reference
    y = benchmark(mod.spmm, indptr, indices, values, c["x"], perm)
    assert y.shape == c["x"].shape and np.isfinite(y).all()


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("cached", [False, True])
def test_gcnconv_fwd_bwd_chainrule(benchmark, size, cached):
    benchmark.group = f"gcnconv {size} cached={cached}"
    benchmark(chainrule_gcn_fn(gcn_case(*size), cached))


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("cached", [False, True])
def test_gcnconv_fwd_bwd_torch(benchmark, size, cached):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    benchmark.group = f"gcnconv {size} cached={cached}"
    benchmark(torch_gcn_fn(torch, gcn_case(*size), cached))
