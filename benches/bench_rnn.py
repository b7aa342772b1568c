"""pytest-benchmark: RNN forward + BPTT backward, chainrule vs torch.nn.RNN vs reference.

Small sizes so that `pytest --benchmark-disable` runs each once as a smoke test; the
headline numbers come from `python -m chainrule bench rnn` (chainrule/bench/rnn.py).
"""
import numpy as np
import pytest

from chainrule import ops, reference
from chainrule.bench.rnn import _case, fwd_bwd_fn, torch_fwd_bwd_fn
from chainrule.ops._registry import bench_cases

SIZES = bench_cases("rnn_forward", "pytest")  # name -> (input, hidden, batch, T)


pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


@pytest.mark.parametrize("size", list(SIZES))
def test_rnn_fwd_bwd_chainrule(benchmark, size):
    benchmark.group = f"rnn {size}"
    c = _case(*SIZES[size])
    out = benchmark(fwd_bwd_fn(ops, c))
    assert out[0].shape == c["x"].shape and np.isfinite(out[3]).all()


@pytest.mark.parametrize("size", list(SIZES))
def test_rnn_fwd_bwd_reference(benchmark, size):
    benchmark.group = f"rnn {size}"
    c = _case(*SIZES[size])
    out = benchmark(fwd_bwd_fn(reference, c))
    assert out[0].shape == c["x"].shape


@pytest.mark.parametrize("size", list(SIZES))
def test_rnn_fwd_bwd_torch(benchmark, size):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    benchmark.group = f"rnn {size}"
    benchmark(torch_fwd_bwd_fn(torch, _case(*SIZES[size])))
