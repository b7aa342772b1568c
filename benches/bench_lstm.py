"""pytest-benchmark: LSTM / GRU forward + BPTT backward (one layer), chainrule vs torch.nn.LSTM
/ torch.nn.GRU, float32, 2 threads.

`pytest --benchmark-disable` runs each case once on small sizes (smoke test); set
CHAINRULE_BENCH_FULL=1 for issue 12's bars: LSTM hidden 512 / batch 32 / 25 steps and
hidden 256 / batch 16 / 150 steps, GRU hidden 512 / batch 32 / 100 steps (input = hidden),
each at most 0.5x PyTorch's time.
"""
import os

import numpy as np
import pytest

from chainrule.bench._gated import case as _case, fwd_bwd_fn, torch_fwd_bwd_fn
from chainrule.ops._registry import bench_cases

# (cell, H, N, T); input size = hidden size
SUITE = "full" if os.environ.get("CHAINRULE_BENCH_FULL") else "pytest"
CASES = [tuple(c) for k in ("lstm_forward", "gru_forward") for c in bench_cases(k, SUITE)]
IDS = [f"{c}-H{H}-N{N}-T{T}" for c, H, N, T in CASES]

pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gated_fwd_bwd_chainrule(benchmark, case):
    benchmark.group = f"gated {case}"
    c = _case(*case)
    dx = benchmark(fwd_bwd_fn(case[0], c))[0]
    assert dx.shape == c["x"].shape and np.isfinite(dx).all()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gated_fwd_bwd_torch(benchmark, case):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    benchmark.group = f"gated {case}"
    benchmark(torch_fwd_bwd_fn(torch, case[0], _case(*case)))
