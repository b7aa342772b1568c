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

from chainrule import ops
from chainrule.ops._registry import bench_cases

# (cell, H, N, T); input size = hidden size
SUITE = "full" if os.environ.get("CHAINRULE_BENCH_FULL") else "pytest"
CASES = [tuple(c) for k in ("lstm_forward", "gru_forward") for c in bench_cases(k, SUITE)]
IDS = [f"{c}-H{H}-N{N}-T{T}" for c, H, N, T in CASES]

pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


def _case(cell, H, N, T, seed=0):
    rng = np.random.default_rng(seed)
    G = 4 if cell == "lstm" else 3
    k = 1 / np.sqrt(H)
    f = np.float32
    return {"x": rng.standard_normal((T, N, H)).astype(f), "h0": np.zeros((N, H), f),
            "w_ih": rng.uniform(-k, k, (G * H, H)).astype(f),
            "w_hh": rng.uniform(-k, k, (G * H, H)).astype(f),
            "b_ih": rng.uniform(-k, k, G * H).astype(f),
            "b_hh": rng.uniform(-k, k, G * H).astype(f),
            "dhs": rng.standard_normal((T, N, H)).astype(f)}


def fwd_bwd_fn(cell, c):
    """One forward + full BPTT on chainrule's kernels."""
    x, h0, wi, wh, bi, bh, dhs = (c[k] for k in ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh",
                                                 "dhs"))
    if cell == "lstm":
        def run():
            out = ops.lstm_forward(x, h0, h0, wi, wh, bi, bh)
            return ops.lstm_backward(dhs, None, x, h0, h0, wi, wh, *out)
    else:
        def run():
            out = ops.gru_forward(x, h0, wi, wh, bi, bh)
            return ops.gru_backward(dhs, x, h0, wi, wh, *out)
    return run


def torch_fwd_bwd_fn(torch, cell, c):
    """The same step on torch.nn.LSTM / torch.nn.GRU with the same weights."""
    T, N, H = c["x"].shape
    m = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(H, H)
    with torch.no_grad():
        for k, n in [("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"),
                     ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
            getattr(m, n).copy_(torch.from_numpy(c[k]))
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    g = torch.from_numpy(c["dhs"])

    def run():
        x.grad = None
        m.zero_grad()
        out, _ = m(x)
        out.backward(g)
    return run


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
