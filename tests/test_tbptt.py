"""Truncated BPTT in the training loop: train.fit_sequence / evaluate_sequence and
models.SequenceRegressor.

Oracles: the same computation written out by hand (chunks run manually with the carried
state detached), an independent NumPy computation on chainrule.reference's RNN (the
chunk's BPTT from a constant initial state), the full-sequence forward pass (states are
not truncated), and PyTorch's TBPTT idiom when torch is installed. float64 throughout
where exactness is checked.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn, optim, reference, train
from helpers import HAVE_TORCH, assert_close

PARAM_NAMES = ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
               "head.weight", "head.bias"]


class Recorder:
    """A duck-typed optimizer: records every parameter's gradient at each step, then
    delegates to ``inner`` (or leaves the parameters alone when there is none)."""

    def __init__(self, params, inner=None):
        self.params = list(params)
        self.inner = inner
        self.grads = []
        self.param_groups = inner.param_groups if inner is not None else []

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads.append([None if p.grad is None else p.grad.array.copy() for p in self.params])
        if self.inner is not None:
            self.inner.step()


def _model(seed=0, I=3, H=5, O=2, dtype=np.float64, nonlinearity="tanh"):
    cr.manual_seed(seed)
    m = models.SequenceRegressor(I, H, O, nonlinearity=nonlinearity)
    return m.double() if dtype == np.float64 else m


def _data(T=30, N=4, I=3, O=2, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, N, I)).astype(dtype),
            rng.standard_normal((T, N, O)).astype(dtype))


def _params(model):
    return [p.array.copy() for p in model.parameters()]


def _hand_tbptt(model, x, y, k, opt, clip=None, detach=True):
    """The PyTorch idiom written out: what fit_sequence must do for one sequence."""
    h, grads = None, []
    loss_fn = nn.MSELoss()
    for s in range(0, x.shape[0], k):
        opt.zero_grad()
        out, h_n = model(x[s:s + k], h)
        loss_fn(out, y[s:s + k]).backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        grads.append([p.grad.array.copy() for p in model.parameters()])
        opt.step()
        h = h_n.detach() if detach else h_n
    return grads


def _numpy_chunk_grads(params, x, y, k, nonlinearity="tanh"):
    """Independent oracle: for each k-step chunk, the gradient of the chunk's mean squared
    error w.r.t. every parameter with the incoming state a constant, computed with
    reference.rnn_forward / rnn_backward and NumPy for the head; parameters unchanged.
    Also returns the incoming state of every chunk."""
    w_ih, w_hh, b_ih, b_hh, w_o, b_o = params
    T, N, _ = x.shape
    h = np.zeros((N, w_hh.shape[0]))
    out_grads, states = [], []
    for s in range(0, T, k):
        xc, yc = x[s:s + k], y[s:s + k]
        states.append(h.copy())
        hs = reference.rnn_forward(xc, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        pred = hs @ w_o.T + b_o
        dpred = 2.0 * (pred - yc) / pred.size
        dw_o = np.einsum("tno,tnh->oh", dpred, hs)
        db_o = dpred.sum(axis=(0, 1))
        dhs = dpred @ w_o
        _, _, dw_ih, dw_hh, db_ih, db_hh = reference.rnn_backward(dhs, xc, h, hs, w_ih, w_hh,
                                                            nonlinearity)
        out_grads.append([dw_ih, dw_hh, db_ih, db_hh, dw_o, db_o])
        h = hs[-1]
    return out_grads, states


# ---- gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [None, 30, 31, 1000])
def test_k_at_least_T_is_full_bptt_bitwise(k):
    x, y = _data(T=30)
    model = _model()
    rec = Recorder(model.parameters())
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 1, tbptt=k)
    assert hist[0]["chunks"] == 1 and len(rec.grads) == 1
    ref = _model()
    loss = nn.MSELoss()(ref(x)[0], y)
    loss.backward()
    for g, p, name in zip(rec.grads[0], ref.parameters(), PARAM_NAMES):
        np.testing.assert_array_equal(g, p.grad, err_msg=name)
    assert hist[0]["train_loss"] == loss.item()


@pytest.mark.parametrize("T,k", [(30, 7), (30, 10), (30, 1), (17, 16)])
def test_tbptt_equals_hand_built_chunks_bitwise(T, k):
    """With real SGD steps between chunks (momentum, so the steps matter)."""
    x, y = _data(T=T)
    model = _model()
    rec = Recorder(model.parameters(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 2, tbptt=k)
    ref = _model()
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    ref_grads = _hand_tbptt(ref, x, y, k, ref_opt) + _hand_tbptt(ref, x, y, k, ref_opt)
    n_chunks = -(-T // k)
    assert [h["chunks"] for h in hist] == [n_chunks, n_chunks]
    assert len(rec.grads) == len(ref_grads) == 2 * n_chunks
    for j, (got, want) in enumerate(zip(rec.grads, ref_grads)):
        for g, w, name in zip(got, want, PARAM_NAMES):
            np.testing.assert_array_equal(g, w, err_msg=f"chunk {j} {name}")
    for a, b in zip(_params(model), _params(ref)):
        np.testing.assert_array_equal(a, b)


def test_tbptt_gradients_are_truncated():
    """The oracles can tell truncated from full gradients: chunk 1's loss differentiated
    through chunk 0 as well (full BPTT) gives a different w_hh gradient, and keeping the
    graph across chunks without detaching is refused by autograd (freed graph)."""
    x, y = _data(T=30)
    a, b, c = _model(), _model(), _model()
    detached = _hand_tbptt(a, x, y, 10, Recorder(a.parameters()))
    out, _ = b(x[:20])
    nn.MSELoss()(out[10:20], y[10:20]).backward()
    assert not np.allclose(detached[1][1], b.rnn.weight_hh_l0.grad)
    with pytest.raises(RuntimeError, match="already freed"):
        _hand_tbptt(c, x, y, 10, Recorder(c.parameters()), detach=False)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("T,k", [(30, 7), (23, 5), (12, 12)])
def test_tbptt_gradients_match_numpy_reference(T, k, nonlinearity):
    """Each chunk's gradient is the chunk loss's BPTT from a constant incoming state
    (independent NumPy computation on chainrule.reference)."""
    x, y = _data(T=T)
    model = _model(nonlinearity=nonlinearity)
    rec = Recorder(model.parameters())  # no parameter updates: every chunk sees the same weights
    train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 1, tbptt=k)
    want, _ = _numpy_chunk_grads(_params(model), x, y, k, nonlinearity)
    assert len(rec.grads) == len(want) == -(-T // k)
    for j, (got, exp) in enumerate(zip(rec.grads, want)):
        for g, w, name in zip(got, exp, PARAM_NAMES):
            assert_close(g, w, name=f"chunk {j} {name}")


def test_carried_state_equals_full_forward_states():
    """Forward values are not truncated: the state entering each chunk is h_{s} of one
    pass over the whole sequence (and not zeros)."""
    T, k = 40, 9
    x, y = _data(T=T)
    model = _model()
    seen = []

    class Spy(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, xc, h):
            seen.append(None if h is None else h.array.copy())
            return self.inner(xc, h)

    train.fit_sequence(Spy(model), (x, y), nn.MSELoss(), Recorder(model.parameters()), 1,
                       tbptt=k)
    with cr.no_grad():
        hs, _ = model.rnn(x)
    starts = list(range(0, T, k))
    assert len(seen) == len(starts) and seen[0] is None
    for s, h in zip(starts[1:], seen[1:]):
        assert h.shape == (1, x.shape[1], 5)
        assert np.abs(h).max() > 0.05
        assert_close(h[0], hs.data[s - 1], name=f"state entering step {s}")
    _, states = _numpy_chunk_grads(_params(model), x, y, k)
    for h, ref_h in zip(seen[1:], states[1:]):
        assert_close(h[0], ref_h, name="state vs reference")


# ---- clipping -------------------------------------------------------------------------------
def test_clipping_is_applied_per_chunk():
    x, y = _data(T=30)
    k, clip = 8, 1e-3
    model = _model()
    rec = Recorder(model.parameters())
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 1, tbptt=k, clip=clip)
    raw, _ = _numpy_chunk_grads(_params(model), x, y, k)
    norms = [np.sqrt(sum(float(np.sum(g * g)) for g in gs)) for gs in raw]
    assert min(norms) > clip  # every chunk gets clipped
    for got, exp, n in zip(rec.grads, raw, norms):
        total = np.sqrt(sum(float(np.sum(g * g)) for g in got))
        assert total <= clip * (1 + 1e-12)
        for g, w in zip(got, exp):
            assert_close(g, w * (clip / (n + 1e-6)))
    assert hist[0]["clipped"] == hist[0]["chunks"] == 4
    assert hist[0]["grad_norm_max"] == pytest.approx(max(norms), rel=1e-10)


def test_large_clip_changes_nothing_and_matches_hand_built():
    x, y = _data(T=30)
    runs = []
    for clip in (None, 1e6):
        model = _model()
        rec = Recorder(model.parameters(), optim.SGD(model.parameters(), lr=0.05))
        hist = train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 1, tbptt=6, clip=clip)
        runs.append((rec.grads, hist))
    for ga, gb in zip(runs[0][0], runs[1][0]):
        for a, b in zip(ga, gb):
            np.testing.assert_array_equal(a, b)
    assert runs[1][1][0]["clipped"] == 0 and "clipped" not in runs[0][1][0]
    # a binding clip with real steps equals the hand-built loop with clip_grad_norm_
    model, ref = _model(), _model()
    rec = Recorder(model.parameters(), optim.SGD(model.parameters(), lr=0.05))
    train.fit_sequence(model, (x, y), nn.MSELoss(), rec, 1, tbptt=6, clip=0.05)
    want = _hand_tbptt(ref, x, y, 6, optim.SGD(ref.parameters(), lr=0.05), clip=0.05)
    for ga, gb in zip(rec.grads, want):
        for a, b in zip(ga, gb):
            np.testing.assert_array_equal(a, b)


# ---- PyTorch as an extra oracle ----------------------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_matches_pytorch_tbptt_idiom():
    import torch

    class TorchSeq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(3, 5)
            self.head = torch.nn.Linear(5, 2)

        def forward(self, x, h=None):
            hs, h_n = self.rnn(x, h)
            return self.head(hs), h_n

    T, k, epochs, clip = 50, 8, 2, 0.5
    x, y = _data(T=T)
    model = _model()
    tm = TorchSeq().double()
    tm.load_state_dict({n: torch.from_numpy(np.array(v)) for n, v in model.state_dict().items()})
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, epochs, tbptt=k, clip=clip)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        h, total = None, 0.0
        for s in range(0, T, k):
            topt.zero_grad()
            out, h_n = tm(tx[s:s + k], h)
            loss = torch.nn.functional.mse_loss(out, ty[s:s + k])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tm.parameters(), clip)
            topt.step()
            h = h_n.detach()
            total += loss.item() * out.shape[0] * out.shape[1]
        assert hist[epoch]["train_loss"] == pytest.approx(total / (T * x.shape[1]), rel=1e-9)
    tsd = tm.state_dict()
    for name, v in model.state_dict().items():
        assert_close(v, tsd[name].numpy(), name=name, rtol=1e-9, atol=1e-11)


# ---- the example: a long-sequence task trains --------------------------------------------------
def _echo(T=600, N=8, delay=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, 1))
    return x, np.concatenate([np.zeros((delay, N, 1)), x[:-delay]])


def test_example_delayed_echo_trains():
    """The docstring's example: y_t = x_{t-3} on 600-step sequences, TBPTT k=25."""
    x, y = _echo()
    xv, yv = _echo(seed=1)
    cr.manual_seed(0)
    model = models.SequenceRegressor(1, 16, 1).double()
    before = train.evaluate_sequence(model, (xv, yv), nn.MSELoss())["loss"]
    opt = optim.Adam(model.parameters(), lr=1e-2)
    lines = []
    hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, epochs=4, tbptt=25, clip=1.0,
                              val_sequences=(xv, yv), log=lines.append)
    losses = [h["train_loss"] for h in hist]
    assert [h["chunks"] for h in hist] == [24] * 4
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.1 * losses[0] and losses[-1] < 0.05, losses
    assert hist[-1]["val_loss"] < 0.05 * before  # generalises to a fresh sequence
    assert len(lines) == 4 and lines[-1].startswith("epoch 4/4  loss ")


def test_docstring_example_runs_as_documented():
    import textwrap
    doc = train.fit_sequence.__doc__
    code = textwrap.dedent(doc[doc.index("Example --"):].split("::", 1)[1])
    env = {}
    exec(compile(code, "fit_sequence.__doc__", "exec"), env)
    losses = [h["train_loss"] for h in env["hist"]]
    assert len(losses) == 4 and 0.3 < losses[0] < 0.6 and losses[-1] < 0.04, losses


def test_tbptt_k_shorter_than_the_dependency_cannot_learn_it():
    """Why k matters: an echo from 6 steps back needs gradients across >= 6 steps; with
    k=2 no chunk's loss can credit the input that produced its target."""
    x, y = _echo(T=300, delay=6)
    finals = {}
    for k in (2, 30):
        cr.manual_seed(0)
        model = models.SequenceRegressor(1, 16, 1).double()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, epochs=6, tbptt=k, clip=1.0)
        finals[k] = hist[-1]["train_loss"]
    assert finals[30] < 0.5 * finals[2], finals
    assert finals[2] > 0.8, finals  # ~ the variance of y: nothing learnt


# ---- inputs, outputs, state -------------------------------------------------------------------
def test_several_sequences_each_start_from_zero_state():
    (x1, y1), (x2, y2) = _data(T=20, N=3, seed=1), _data(T=13, N=5, seed=2)
    model = _model()
    rec = Recorder(model.parameters())
    gen = (p for p in [(x1, y1), (x2, y2)])  # a one-shot iterator is fine for several epochs
    hist = train.fit_sequence(model, gen, nn.MSELoss(), rec, 2, tbptt=6)
    assert [h["chunks"] for h in hist] == [4 + 3, 4 + 3]
    want = _numpy_chunk_grads(_params(model), x1, y1, 6)[0] + \
        _numpy_chunk_grads(_params(model), x2, y2, 6)[0]
    for got, exp in zip(rec.grads[:7], want):
        for g, w in zip(got, exp):
            assert_close(g, w)
    # the weighting of train_loss: steps x batch of each chunk
    losses = []
    for xs, ys in ((x1, y1), (x2, y2)):
        with cr.no_grad():
            out, _ = model(xs)
        for s in range(0, xs.shape[0], 6):
            c = slice(s, s + 6)
            losses.append((np.mean((out.array[c] - ys[c]) ** 2), out.array[c].shape[0] * xs.shape[1]))
    expect = sum(l * w for l, w in losses) / sum(w for _, w in losses)
    assert hist[0]["train_loss"] == pytest.approx(expect, rel=1e-12)


def test_float32_model_casts_float64_data_and_tensors_accepted():
    x, y = _data(T=20)
    model = _model(dtype=np.float32)
    rec = Recorder(model.parameters())
    train.fit_sequence(model, (cr.tensor(x), y), nn.MSELoss(), rec, 1, tbptt=5)
    assert len(rec.grads) == 4
    assert all(g.dtype == np.float32 for g in rec.grads[0])
    want, _ = _numpy_chunk_grads([p.astype(np.float64) for p in _params(model)],
                                 x.astype(np.float32).astype(np.float64), y, 5)
    for got, exp in zip(rec.grads, want):
        for g, w in zip(got, exp):
            assert_close(g, w, dtype=np.float32)


def test_evaluate_sequence_chunked_equals_one_pass_and_builds_no_graph():
    x, y = _data(T=33)
    model = _model()
    one = train.evaluate_sequence(model, (x, y), nn.MSELoss())
    chunked = train.evaluate_sequence(model, [(x, y)], nn.MSELoss(), chunk=33)
    assert one["steps"] == 33 * 4 and one == chunked
    out, _ = model(x)
    assert one["loss"] == pytest.approx(float(np.mean((out.data - y) ** 2)), rel=1e-14)
    # with chunk=k the reported loss is the per-chunk means weighted by chunk size, so
    # with equal-sized chunks it equals the one-pass mean (up to rounding)
    three = train.evaluate_sequence(model, (x, y), nn.MSELoss(), chunk=11)
    assert three["loss"] == pytest.approx(one["loss"], rel=1e-12)
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    train.evaluate_sequence(model, (x, y), nn.MSELoss())
    assert not model.training


def test_deterministic():
    x, y = _data(T=45)
    results = []
    for _ in range(2):
        model = _model(seed=3)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, 3, tbptt=7, clip=0.3)
        results.append(([h["train_loss"] for h in hist], _params(model)))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_resume_is_bitwise(tmp_path):
    x, y = _data(T=25)
    ck = tmp_path / "seq.npz"

    def run(epochs, resume, path):
        model = _model(seed=4)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, epochs, tbptt=4,
                                  checkpoint=path, resume=resume)
        return hist, _params(model)

    straight, p_straight = run(2, False, None)
    run(1, False, ck)
    resumed, p_resumed = run(2, True, ck)
    assert [h["train_loss"] for h in resumed] == [h["train_loss"] for h in straight]
    for a, b in zip(p_straight, p_resumed):
        np.testing.assert_array_equal(a, b)


class TimeMajor:
    """A DataLoader over (S, T, ...) samples, yielding time-major (T, B, ...) batches."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        for xb, yb in self.loader:
            yield xb.swapaxes(0, 1), yb.swapaxes(0, 1)

    def state_dict(self):
        return self.loader.state_dict()

    def load_state_dict(self, d):
        self.loader.load_state_dict(d)


def test_shuffled_loader_of_sequences_resumes_bitwise(tmp_path):
    from chainrule import data
    rng = np.random.default_rng(7)
    xs, ys = rng.standard_normal((10, 12, 3)), rng.standard_normal((10, 12, 2))  # (S, T, .)
    ck = tmp_path / "loader.npz"

    def run(epochs, resume, path):
        model = _model(seed=5)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loader = TimeMajor(data.DataLoader((xs, ys), batch_size=4, shuffle=True, seed=3))
        hist = train.fit_sequence(model, loader, nn.MSELoss(), opt, epochs, tbptt=5,
                                  checkpoint=path, resume=resume)
        return hist, _params(model)

    straight, p_straight = run(3, False, None)
    assert [h["chunks"] for h in straight] == [3 * 3] * 3  # batches of 4, 4, 2; 12 = 5+5+2
    run(1, False, ck)
    resumed, p_resumed = run(3, True, ck)
    assert [h["train_loss"] for h in resumed] == [h["train_loss"] for h in straight]
    for a, b in zip(p_straight, p_resumed):
        np.testing.assert_array_equal(a, b)


def test_schedule_sets_lr_per_epoch():
    x, y = _data(T=10)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    lrs = []
    train.fit_sequence(model, (x, y), nn.MSELoss(), opt, 3, tbptt=5,
                       schedule=lambda e: (lrs.append(e), 0.5 ** e)[1])
    assert lrs == [0, 1, 2] and opt.param_groups[0]["lr"] == pytest.approx(0.025)


def test_nonfinite_loss_raises():
    x, y = _data(T=10)
    y[7] = np.nan
    model = _model()
    with pytest.raises(FloatingPointError, match="fit_sequence: loss became nan"):
        train.fit_sequence(model, (x, y), nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
                           1, tbptt=5)


# ---- bad arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(tbptt=0), ValueError, "tbptt.*>= 1"),
    (dict(tbptt=-3), ValueError, "tbptt"),
    (dict(tbptt=2.5), TypeError, "tbptt.*int"),
    (dict(tbptt=True), TypeError, "tbptt"),
    (dict(tbptt="5"), TypeError, "tbptt"),
    (dict(clip=0), ValueError, "clip"),
    (dict(clip=-1.0), ValueError, "clip"),
    (dict(clip=float("nan")), ValueError, "clip"),
    (dict(clip="1"), TypeError, "clip"),
    (dict(epochs=-1), ValueError, "epochs"),
])
def test_bad_options(kwargs, exc, match):
    x, y = _data(T=10)
    model = _model()
    kwargs.setdefault("epochs", 1)
    epochs = kwargs.pop("epochs")
    with pytest.raises(exc, match=f"fit_sequence: .*{match}"):
        train.fit_sequence(model, (x, y), nn.MSELoss(), Recorder(model.parameters()), epochs,
                           **kwargs)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("make,exc,match", [
    (lambda x, y: 5, TypeError, "sequences must be a pair"),
    (lambda x, y: x, TypeError, "sequences must be a pair"),
    (lambda x, y: "xy", TypeError, "sequences must be a pair"),
    (lambda x, y: [x], TypeError, "each item of sequences must be a pair"),
    (lambda x, y: (x[:, 0], y[:, 0]), ValueError, r"\(T, N, I\), got shape \(10, 3\)"),
    (lambda x, y: (x[None], y), ValueError, r"\(T, N, I\), got shape \(1, 10, 4, 3\)"),
    (lambda x, y: (x.astype(np.int64), y), TypeError, "floats"),
    (lambda x, y: (x.tolist(), y), TypeError, "each item of sequences must be a pair.*list"),
    (lambda x, y: [(x.tolist(), y)], TypeError, "x must be a NumPy array"),
    (lambda x, y: (x, y[:9]), ValueError, r"same number of steps.*\(10, 4, 3\).*\(9, 4, 2\)"),
    (lambda x, y: (x[:0], y[:0]), ValueError, "no time steps"),
])
def test_bad_sequences(make, exc, match):
    x, y = _data(T=10)
    model = _model()
    with pytest.raises(exc, match=f"fit_sequence: .*{match}"):
        train.fit_sequence(model, make(x, y), nn.MSELoss(), Recorder(model.parameters()), 1,
                           tbptt=4)
    with pytest.raises(exc, match=f"evaluate_sequence: .*{match}"):
        train.evaluate_sequence(model, make(x, y), nn.MSELoss())


def test_model_must_return_output_and_state():
    x, y = _data(T=10)
    model = nn.Linear(3, 2).double()

    class NoState(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = model

        def forward(self, x, h):
            return self.fc(x)

    with pytest.raises(TypeError, match=r"fit_sequence: model\(x, h0\) must return a pair"):
        train.fit_sequence(NoState(), (x, y), nn.MSELoss(), Recorder(model.parameters()), 1)


# ---- the model ---------------------------------------------------------------------------------
def test_sequence_regressor_shapes_keys_and_errors():
    m = _model(I=3, H=5, O=2)
    x, _ = _data(T=7, N=4)
    y, h = m(x)
    assert y.shape == (7, 4, 2) and h.shape == (1, 4, 5)
    assert list(m.state_dict()) == PARAM_NAMES
    # y is the head on every step's state; h_n the last state
    hs, _ = m.rnn(x)
    assert_close(y.data, hs.data @ m.head.weight.data.T + m.head.bias.data)
    np.testing.assert_array_equal(h.data[0], hs.data[-1])
    # carrying h: two halves give the one-pass outputs
    y1, h1 = m(x[:3])
    y2, _ = m(x[3:], h1)
    assert_close(np.concatenate([y1.data, y2.data]), y.data)
    with pytest.raises(ValueError, match=r"SequenceRegressor: expected a time-major"):
        m(x[0])
    with pytest.raises(ValueError, match="SequenceRegressor: hidden_size"):
        models.SequenceRegressor(3, 0)
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 4, 5\)"):
        m(x, np.zeros((4, 5)))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
def test_sequence_regressor_matches_torch_forward_and_backward():
    import torch
    m = _model(I=3, H=5, O=2)
    x, y = _data(T=9, N=2)
    rnn = torch.nn.RNN(3, 5).double()
    head = torch.nn.Linear(5, 2).double()
    sd = m.state_dict()
    rnn.load_state_dict({k[4:]: torch.from_numpy(np.array(sd[k])) for k in PARAM_NAMES[:4]})
    head.load_state_dict({k[5:]: torch.from_numpy(np.array(sd[k])) for k in PARAM_NAMES[4:]})
    tx = torch.from_numpy(x)
    h0 = np.random.default_rng(5).standard_normal((1, 2, 5))
    ths, th = rnn(tx, torch.from_numpy(h0))
    ty = head(ths)
    torch.nn.functional.mse_loss(ty, torch.from_numpy(y)).backward()
    out, h = m(x, h0)
    nn.MSELoss()(out, y).backward()
    assert_close(out.data, ty.detach().numpy())
    assert_close(h.data, th.detach().numpy())
    tgrads = [p.grad.numpy() for p in list(rnn.parameters()) + list(head.parameters())]
    for p, g, name in zip(m.parameters(), tgrads, PARAM_NAMES):
        assert_close(p.grad, g, name=name)
