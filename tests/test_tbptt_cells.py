"""train.fit_sequence with truncated BPTT for every cell type (models.RecurrentRegressor
on nn.LSTM, whose carried state is the pair (h, c), nn.GRU and nn.RNN; 1 and 2 layers).
Oracles: full BPTT (k >= T) bit for bit, the PyTorch chunk idiom written out by hand bit
for bit, the full-sequence forward states, and PyTorch's nn.LSTM / nn.GRU TBPTT loop."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn, optim, train
from helpers import HAVE_TORCH, assert_close

CELLS = ["lstm", "gru", "rnn"]


class Recorder:
    """A duck-typed optimizer recording each step's gradients, then stepping ``inner``."""

    def __init__(self, params, inner=None):
        self.params = list(params)
        self.inner = inner
        self.grads = []
        self.param_groups = inner.param_groups if inner is not None else []

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads.append([p.grad.array.copy() for p in self.params])
        if self.inner is not None:
            self.inner.step()


def _model(cell, layers=1, seed=0):
    cr.manual_seed(seed)
    return models.RecurrentRegressor(3, 5, 2, cell=cell, num_layers=layers).double()


def _data(T=30, N=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, N, 3)), rng.standard_normal((T, N, 2))


def _detach(h):
    return tuple(s.detach() for s in h) if isinstance(h, tuple) else h.detach()


def _hand(model, x, y, k, opt):
    h, grads = None, []
    for s in range(0, x.shape[0], k):
        opt.zero_grad()
        out, h_n = model(x[s:s + k], h)
        nn.MSELoss()(out, y[s:s + k]).backward()
        grads.append([p.grad.array.copy() for p in model.parameters()])
        opt.step()
        h = _detach(h_n)
    return grads


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [None, 30, 45])
def test_k_at_least_T_is_full_bptt_bitwise(cell, k):
    x, y = _data()
    model = _model(cell, 2)
    rec = Recorder(model.parameters())
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 1, tbptt=k)
    assert hist[0]["chunks"] == 1
    ref = _model(cell, 2)
    loss = nn.MSELoss()(ref(x)[0], y)
    loss.backward()
    for g, (n, p) in zip(rec.grads[0], ref.named_parameters()):
        np.testing.assert_array_equal(g, p.grad.array, err_msg=n)
    assert hist[0]["train_loss"] == loss.item()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("T,k", [(30, 7), (17, 16), (12, 1)])
def test_tbptt_equals_hand_built_chunks_bitwise(cell, layers, T, k):
    x, y = _data(T)
    model = _model(cell, layers)
    rec = Recorder(model.parameters(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 2, tbptt=k)
    ref = _model(cell, layers)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    want = _hand(ref, x, y, k, ref_opt) + _hand(ref, x, y, k, ref_opt)
    n = -(-T // k)
    assert [h["chunks"] for h in hist] == [n, n] and len(rec.grads) == len(want) == 2 * n
    for j, (got, exp) in enumerate(zip(rec.grads, want)):
        for g, w in zip(got, exp):
            np.testing.assert_array_equal(g, w, err_msg=f"chunk {j}")
    for a, b in zip(model.parameters(), ref.parameters()):
        np.testing.assert_array_equal(a.array, b.array)


def test_truncation_changes_the_lstm_gradient():
    """The carried (h, c) is detached: chunk 1's gradient differs from the one that flows
    back into chunk 0 (so the bitwise tests above can tell the two apart)."""
    x, y = _data()
    a, b = _model("lstm"), _model("lstm")
    rec = Recorder(a.parameters())
    train.fit_sequence(a, (x, y), nn.MSELoss(), rec, 1, tbptt=10)
    out, _ = b(x[:20])
    nn.MSELoss()(out[10:20], y[10:20]).backward()
    assert not np.allclose(rec.grads[1][1], b.rnn.weight_hh_l0.grad.array)


@pytest.mark.parametrize("cell", CELLS)
def test_carried_state_equals_full_forward_states(cell):
    T, k = 25, 6
    x, y = _data(T)
    model = _model(cell, 2)
    seen = []

    class Spy(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, xc, h):
            seen.append(h)
            return self.inner(xc, h)

    train.fit_sequence(Spy(model), (x, y), nn.MSELoss(), Recorder(model.parameters()), 1,
                       tbptt=k)
    assert seen[0] is None and len(seen) == 5
    for s, h in zip(range(k, T, k), seen[1:]):
        with cr.no_grad():
            _, full = model.rnn(x[:s])
        if cell == "lstm":
            assert isinstance(h, tuple) and len(h) == 2
            assert not h[0].requires_grad and not h[1].requires_grad
            assert_close(h[0].array, full[0].array, name=f"h entering {s}")
            assert_close(h[1].array, full[1].array, name=f"c entering {s}")
        else:
            assert_close(h.array, full.array, name=f"h entering {s}")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_matches_pytorch_tbptt_loop(cell):
    import torch

    class TorchSeq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, cell.upper())(3, 5, 2)
            self.head = torch.nn.Linear(5, 2)

        def forward(self, x, h=None):
            hs, h_n = self.rnn(x, h)
            return self.head(hs), h_n

    T, k, clip = 40, 9, 0.5
    x, y = _data(T)
    model = _model(cell, 2)
    tm = TorchSeq().double()
    tm.load_state_dict({n: torch.from_numpy(np.array(v)) for n, v in model.state_dict().items()})
    opt = optim.Adam(model.parameters(), lr=0.01)
    topt = torch.optim.Adam(tm.parameters(), lr=0.01)
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, 2, tbptt=k, clip=clip)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(2):
        h, total = None, 0.0
        for s in range(0, T, k):
            topt.zero_grad()
            out, h_n = tm(tx[s:s + k], h)
            loss = torch.nn.functional.mse_loss(out, ty[s:s + k])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tm.parameters(), clip)
            topt.step()
            h = tuple(t.detach() for t in h_n) if cell == "lstm" else h_n.detach()
            total += loss.item() * out.shape[0] * out.shape[1]
        assert hist[epoch]["train_loss"] == pytest.approx(total / (T * x.shape[1]), rel=1e-9)
    tsd = tm.state_dict()
    for name, v in model.state_dict().items():
        assert_close(v, tsd[name].numpy(), name=name, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_evaluate_sequence_chunked_equals_one_pass(cell):
    x, y = _data()
    model = _model(cell, 2)
    one = train.evaluate_sequence(model, (x, y), nn.MSELoss())
    with cr.no_grad():
        full = float(nn.MSELoss()(model(x)[0], y).item())
    assert one["loss"] == pytest.approx(full, rel=1e-12)
    chunked = train.evaluate_sequence(model, (x, y), nn.MSELoss(), chunk=7)
    assert chunked["steps"] == one["steps"] and np.isfinite(chunked["loss"])


def test_lstm_regressor_learns_a_delayed_echo():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8, 1))
    y = np.concatenate([np.zeros((3, 8, 1)), x[:-3]])
    cr.manual_seed(0)
    model = models.RecurrentRegressor(1, 16, 1, cell="lstm").double()
    opt = optim.Adam(model.parameters(), lr=2e-2)
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, 6, tbptt=20, clip=1.0)
    assert hist[0]["train_loss"] > 0.5 and hist[-1]["train_loss"] < 0.15, hist


def test_recurrent_regressor_shapes_and_errors():
    m = models.RecurrentRegressor(3, 4, 2, cell="gru", num_layers=2)
    y, h = m(np.zeros((5, 2, 3), np.float32))
    assert y.shape == (5, 2, 2) and h.shape == (2, 2, 4)
    assert list(m.state_dict())[-2:] == ["head.weight", "head.bias"]
    with pytest.raises(ValueError, match="cell must be one of"):
        models.RecurrentRegressor(3, cell="transformer")
    with pytest.raises(ValueError, match="expected a time-major sequence"):
        m(np.zeros((5, 3), np.float32))
