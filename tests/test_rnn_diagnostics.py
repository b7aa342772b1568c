"""Recurrent diagnostics for every cell type: rnn.last_grad_norms(_all) per layer and
direction (stacked, bidirectional, packed input) and chainrule.diagnostics' gate
saturation and readings. Oracles: ops.*_forward / *_backward run directly, each sequence
of a packed batch run alone, and saturated / unsaturated modules built by construction."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import diagnostics, nn, ops
from chainrule.nn.utils import rnn as R

from helpers import assert_close

MODES = ["LSTM", "GRU", "RNN"]


def _model(mode, I=3, H=4, L=2, bidirectional=True, seed=0, **kw):
    cr.manual_seed(seed)
    return getattr(nn, mode)(I, H, L, bidirectional=bidirectional, dtype=np.float64, **kw)


# ---- gradient norms per layer and direction ---------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_one_layer_norms_equal_the_kernels(rng, mode):
    m = _model(mode, L=1, bidirectional=True)
    x = rng.standard_normal((6, 2, 3))
    gy = rng.standard_normal((6, 2, 8))
    y = m(x)[0]
    (y * gy).sum().backward()
    z = np.zeros((2, 4))
    for d, sfx in ((0, ""), (1, "_reverse")):
        w = [getattr(m, n + "_l0" + sfx).array for n in ("weight_ih", "weight_hh", "bias_ih",
                                                         "bias_hh")]
        xd = x[::-1] if d else x
        dhs = np.ascontiguousarray((gy[::-1] if d else gy)[:, :, 4 * d:4 * d + 4])
        xd = np.ascontiguousarray(xd)
        if mode == "LSTM":
            saved = ops.lstm_forward(xd, z, z, *w)
            exp = ops.lstm_backward(dhs, None, xd, z, z, w[0], w[1], *saved,
                                    return_dh_norms=True)[-1]
        elif mode == "GRU":
            saved = ops.gru_forward(xd, z, *w)
            exp = ops.gru_backward(dhs, xd, z, w[0], w[1], *saved, return_dh_norms=True)[-1]
        else:
            hs = ops.rnn_forward(xd, z, *w)
            exp = ops.rnn_backward(dhs, xd, z, hs, w[0], w[1], return_dh_norms=True)[-1]
        exp = exp[::-1] if d else exp
        assert_close(m.last_grad_norms_all[(0, d)], exp, name=f"direction {d}")
        assert_close(diagnostics.grad_norms(m, 0, d), exp, name="diagnostics.grad_norms")
    np.testing.assert_array_equal(m.last_grad_norms, m.last_grad_norms_all[(0, 0)])


@pytest.mark.parametrize("mode", MODES + ["LSTMproj"])
def test_top_layer_boundary_steps_see_only_the_external_gradient(rng, mode):
    """At the step a direction processes last, nothing comes back through the recurrence:
    the recorded norm is the norm of the output's gradient there."""
    kw = {"proj_size": 2} if mode == "LSTMproj" else {}
    m = _model(mode.replace("proj", ""), H=4, L=3, **kw)
    P = 2 if kw else 4
    x = rng.standard_normal((5, 3, 3))
    gy = rng.standard_normal((5, 3, 2 * P))
    (m(x)[0] * gy).sum().backward()
    assert set(m.last_grad_norms_all) == {(k, d) for k in range(3) for d in range(2)}
    top_f, top_r = m.last_grad_norms_all[(2, 0)], m.last_grad_norms_all[(2, 1)]
    assert top_f[-1] == pytest.approx(np.linalg.norm(gy[-1, :, :P]), rel=1e-12)
    assert top_r[0] == pytest.approx(np.linalg.norm(gy[0, :, P:]), rel=1e-12)
    assert top_f[0] != pytest.approx(np.linalg.norm(gy[0, :, :P]), rel=1e-6)
    lines = diagnostics.layer_readings(m)
    assert len(lines) == 6 and lines[5].startswith("layer 2 reverse: ||dL/dh_t||: t=1")


@pytest.mark.parametrize("mode", MODES)
def test_packed_norms_combine_the_sequences_run_alone(rng, mode):
    lengths = [5, 3, 3, 1]
    T, B = 5, 4
    m = _model(mode)
    x = rng.standard_normal((T, B, 3))
    gy = rng.standard_normal((T, B, 8))
    out, _ = m(R.pack_padded_sequence(cr.tensor(x), lengths))
    y, _ = R.pad_packed_sequence(out)
    (y * gy).sum().backward()
    got = dict(m.last_grad_norms_all)
    sq = {k: np.zeros(T) for k in got}
    for b, n in enumerate(lengths):
        (m(x[:n, b:b + 1])[0] * gy[:n, b:b + 1]).sum().backward()
        for k, v in m.last_grad_norms_all.items():
            sq[k][:n] += v ** 2
    assert set(got) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for k in got:
        assert_close(got[k], np.sqrt(sq[k]), name=str(k))


def test_grad_norms_errors():
    m = nn.GRU(2, 3)
    with pytest.raises(ValueError, match="no backward pass"):
        diagnostics.grad_norms(m)
    with pytest.raises(ValueError, match="no backward pass"):
        diagnostics.layer_readings(m)
    m(np.ones((3, 1, 2), np.float32))[0].sum().backward()
    with pytest.raises(ValueError, match="no reading for layer 1, direction 0"):
        diagnostics.grad_norms(m, 1)


# ---- gate saturation --------------------------------------------------------------------
def _count(a, kind, eps):
    if kind == "tanh":
        return np.mean(np.abs(a) >= 1 - eps)
    return np.mean((a <= eps) | (a >= 1 - eps))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_saturation_counts_the_kernels_gates(rng, mode):
    m = _model(mode, L=1, bidirectional=True)
    with cr.no_grad():
        for p in m.parameters():
            p.array[...] *= 6  # a mix of saturated and unsaturated activations
    x = rng.standard_normal((7, 3, 3))
    eps = 0.1
    sat = diagnostics.gate_saturation(m, x, eps=eps)
    z = np.zeros((3, 4))
    names = "ifgo" if mode == "LSTM" else "rzn"
    for d, sfx in ((0, ""), (1, "_reverse")):
        w = [getattr(m, n + "_l0" + sfx).array for n in ("weight_ih", "weight_hh", "bias_ih",
                                                         "bias_hh")]
        xd = np.ascontiguousarray(x[::-1] if d else x)
        gates = ops.lstm_forward(xd, z, z, *w)[2] if mode == "LSTM" else \
            ops.gru_forward(xd, z, *w)[1]
        for j, g in enumerate(names):
            kind = "tanh" if g in "gn" else "sigmoid"
            exp = _count(gates[..., 4 * j:4 * j + 4], kind, eps)
            assert sat[(0, d)][g] == pytest.approx(exp, abs=1e-12), (d, g)
    assert 0 < max(sat[(0, 0)].values()) < 1


def test_saturation_of_the_projected_lstm_and_rnn(rng):
    m = _model("LSTM", L=2, proj_size=2)
    sat = diagnostics.gate_saturation(m, rng.standard_normal((4, 2, 3)), eps=0.45)
    assert set(sat) == {(0, 0), (0, 1), (1, 0), (1, 1)} and list(sat[(1, 1)]) == list("ifgo")
    one = _model("LSTM", L=1, bidirectional=False, proj_size=2)
    x = rng.standard_normal((6, 3, 3)) * 2
    sat = diagnostics.gate_saturation(one, x, eps=0.15)[(0, 0)]
    w_ih, w_hh, b_ih, b_hh, w_hr = (p.array for p in one.parameters())
    h, c, acts = np.zeros((3, 2)), np.zeros((3, 4)), []
    for t in range(6):  # the gates by hand
        z = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        a = np.concatenate([1 / (1 + np.exp(-z[:, :8])), np.tanh(z[:, 8:12]),
                            1 / (1 + np.exp(-z[:, 12:]))], axis=1)
        c = a[:, 4:8] * c + a[:, :4] * a[:, 8:12]
        h = (a[:, 12:] * np.tanh(c)) @ w_hr.T
        acts.append(a)
    acts = np.stack(acts)
    for j, g in enumerate("ifgo"):
        exp = _count(acts[..., 4 * j:4 * j + 4], "tanh" if g == "g" else "sigmoid", 0.15)
        assert sat[g] == pytest.approx(exp, abs=1e-12), g
    assert 0 < max(sat.values())
    r = _model("RNN", L=1, bidirectional=False)
    x = rng.standard_normal((6, 2, 3)) * 3
    hs = r(x)[0].array
    assert diagnostics.gate_saturation(r, x, eps=0.2)[(0, 0)]["h"] == \
        pytest.approx(_count(hs, "tanh", 0.2), abs=1e-12)
    relu = nn.RNN(3, 4, nonlinearity="relu", dtype=np.float64)
    hs = relu(x)[0].array
    assert diagnostics.gate_saturation(relu, x)[(0, 0)]["h"] == pytest.approx(np.mean(hs == 0))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_saturated_by_construction_vs_unsaturated(rng, mode):
    x = rng.standard_normal((8, 4, 3))
    m = _model(mode, L=2)
    with cr.no_grad():
        for n, p in m.named_parameters():
            p.array[...] = 0.0 if n.startswith("weight") else 30.0  # every gate pinned at 1
    sat = diagnostics.gate_saturation(m, x)
    assert all(v == 1.0 for g in sat.values() for v in g.values())
    line = diagnostics.gate_saturation_reading(m, x)
    assert line.startswith(f"{mode} gate saturation (eps 0.02): l0 ")
    assert "100%" in line and "mostly saturated" in line
    quiet = _model(mode, L=2)
    with cr.no_grad():
        for p in quiet.parameters():
            p.array[...] *= 0.01
    sat = diagnostics.gate_saturation(quiet, x)
    assert all(v == 0.0 for g in sat.values() for v in g.values())
    assert diagnostics.gate_saturation_reading(quiet, x).endswith("gradients flow")


@pytest.mark.parametrize("mode", MODES)
def test_saturation_on_packed_input_weights_each_sequence_by_its_length(rng, mode):
    lengths = [5, 2]
    m = _model(mode, L=1, bidirectional=True)
    with cr.no_grad():
        for p in m.parameters():
            p.array[...] *= 5
    x = rng.standard_normal((5, 2, 3))
    sat = diagnostics.gate_saturation(m, R.pack_padded_sequence(x, lengths), eps=0.1)
    alone = [diagnostics.gate_saturation(m, x[:n, b], eps=0.1) for b, n in enumerate(lengths)]
    for k, gates in sat.items():
        for g, v in gates.items():
            exp = sum(a[k][g] * n for a, n in zip(alone, lengths)) / sum(lengths)
            assert v == pytest.approx(exp, abs=1e-12), (k, g)


def test_saturation_restores_mode_builds_no_graph_and_errors(rng):
    m = _model("LSTM", L=2, dropout=0.5)
    m.train()
    x = cr.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    a = diagnostics.gate_saturation(m, x)
    assert m.training and m._gate_probe is None and x.grad is None
    assert diagnostics.gate_saturation(m, x) == a  # eval mode: no dropout, deterministic
    with pytest.raises(TypeError, match="nn.RNN, nn.LSTM or nn.GRU"):
        diagnostics.gate_saturation(nn.LSTMCell(3, 4), x)
    with pytest.raises(ValueError, match="eps must be a number in"):
        diagnostics.gate_saturation(m, x, eps=0.5)
