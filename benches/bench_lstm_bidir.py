"""pytest-benchmark: one bidirectional LSTM layer, forward + full BPTT backward, float32,
2 threads: ``ops.lstm_bidir_forward/backward`` (both directions in one parallel region),
the same two directions run one after the other on ``ops.lstm_forward/backward``, and
torch.nn.LSTM(bidirectional=True).

`pytest --benchmark-disable` runs each case once on a small size (smoke test, and the
one-region result is checked against the one-by-one result); CHAINRULE_BENCH_FULL=1 adds
the biLSTM classifier's first layer (input 128, hidden 128, batch 32, 50 steps).
"""
import os

import numpy as np
import pytest

from chainrule import ops

# (I, H, N, T)
CASES = [(32, 48, 4, 7)]
if os.environ.get("CHAINRULE_BENCH_FULL"):
    CASES.append((128, 128, 32, 50))
IDS = [f"I{i}-H{h}-N{n}-T{t}" for i, h, n, t in CASES]

pytestmark = pytest.mark.usefixtures("two_threads")  # benches/conftest.py


def _case(I, H, N, T, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    f = np.float32

    def u(*shape):
        return rng.uniform(-k, k, shape).astype(f)
    c = {"x": rng.standard_normal((T, N, I)).astype(f), "h0": np.zeros((N, H), f),
         "dhs": rng.standard_normal((T, N, H)).astype(f),
         "dhs_r": rng.standard_normal((T, N, H)).astype(f)}
    for s in ("", "_r"):
        c["w_ih" + s], c["w_hh" + s] = u(4 * H, I), u(4 * H, H)
        c["b_ih" + s], c["b_hh" + s] = u(4 * H), u(4 * H)
    return c


def _weights(c, s):
    return [c[k + s] for k in ("w_ih", "w_hh", "b_ih", "b_hh")]


def _one_region(c):
    x, h0 = c["x"], c["h0"]
    dc = np.zeros_like(h0)

    def run():
        fw = ops.lstm_bidir_forward(x, h0, h0, *_weights(c, ""), h0, h0, *_weights(c, "_r"))
        return ops.lstm_bidir_backward(c["dhs"], dc, c["dhs_r"], dc, x, h0, h0,
                                       c["w_ih"], c["w_hh"], *fw[:3], h0, h0,
                                       c["w_ih_r"], c["w_hh_r"], *fw[3:])
    return run


def _one_by_one(c):
    x, h0 = c["x"], c["h0"]
    xr = np.ascontiguousarray(x[::-1])

    def run():
        out = []
        for xs, s, d in ((x, "", "dhs"), (xr, "_r", "dhs_r")):
            wi, wh, bi, bh = _weights(c, s)
            fw = ops.lstm_forward(xs, h0, h0, wi, wh, bi, bh)
            out.append(ops.lstm_backward(c[d], None, xs, h0, h0, wi, wh, *fw))
        return out
    return run


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bidir_one_region(benchmark, case):
    benchmark.group = f"lstm bidir {case}"
    c = _case(*case)
    out = benchmark(_one_region(c))
    ref = _one_by_one(c)()
    # dx of the pair = forward direction's dx + the reverse direction's dx read backwards
    np.testing.assert_allclose(out[0], ref[0][0] + ref[1][0][::-1], rtol=1e-4, atol=1e-5)
    for i, j in ((3, 3), (4, 4), (9, 3), (10, 4)):  # dw_ih, dw_hh of both directions
        np.testing.assert_allclose(out[i], ref[i // 9][j], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bidir_one_by_one(benchmark, case):
    benchmark.group = f"lstm bidir {case}"
    benchmark(_one_by_one(_case(*case)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bidir_torch(benchmark, case):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    benchmark.group = f"lstm bidir {case}"
    I, H, N, T = case
    c = _case(*case)
    m = torch.nn.LSTM(I, H, bidirectional=True)
    with torch.no_grad():
        for s, t in (("", ""), ("_r", "_reverse")):
            for k, n in (("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"),
                         ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
                getattr(m, n + t).copy_(torch.from_numpy(c[k + s]))
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    g = torch.from_numpy(np.concatenate([c["dhs"], c["dhs_r"][::-1]], axis=2))

    def run():
        x.grad = None
        m.zero_grad()
        m(x)[0].backward(g)
        return x.grad
    benchmark(run)
