"""Both directions of a bidirectional LSTM layer as ONE autograd node on
ops.lstm_bidir_forward / ops.lstm_bidir_backward: with two threads each direction runs
whole on its own thread, forward and backward (nn/recurrent.py uses it for bidirectional
LSTMs without projections; results equal running the directions one by one)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd.function import make


def bidir_lstm_layer(x, states, params, on_norms, on_gates):
    """x (T, N, I) Tensor; states (h0, c0, h0_r, c0_r) (N, H) Tensors; params (w_ih, w_hh,
    b_ih, b_hh, w_ih_r, w_hh_r, b_ih_r, b_hh_r) (b_* None without bias); on_norms /
    on_gates: per direction d, None or a callable (see recurrent._layer).
    -> Tensor (T + 1, N, 2H): rows :T the output [forward h_t, reverse h_t] in x's time
    order, row T [c_n of the forward direction, c_n of the reverse one]."""
    h0, c0, h0r, c0r = (s.array for s in states)
    w = [p.array if p is not None else None for p in params]
    has_bias = params[2] is not None
    xd = x.array
    saved = ops.lstm_bidir_forward(xd, h0, c0, *w[:4], h0r, c0r, *w[4:])
    hs, cs, hs_r, cs_r = saved[0], saved[1], saved[3], saved[4]
    T, N, H = hs.shape
    y = np.empty((T + 1, N, 2 * H), hs.dtype)
    y[:T, :, :H] = hs
    y[:T, :, H:] = hs_r[::-1]
    y[T, :, :H] = cs[-1]
    y[T, :, H:] = cs_r[-1]
    for d in (0, 1):
        if on_gates[d] is not None:
            on_gates[d](saved[2 + 3 * d])
    parents = (x,) + tuple(states) + tuple(p for p in params if p is not None)

    def backward(g):
        dhs = np.ascontiguousarray(g[:T, :, :H])
        dhs_r = np.ascontiguousarray(g[T - 1::-1, :, H:])
        out = ops.lstm_bidir_backward(dhs, g[T, :, :H], dhs_r, g[T, :, H:], xd, h0, c0,
                                      w[0], w[1], *saved[:3], h0r, c0r, w[4], w[5],
                                      *saved[3:], bias=has_bias,
                                      input_grad=x.requires_grad, return_dh_norms=True)
        for d in (0, 1):
            if on_norms[d] is not None:
                n = out[13 + d]
                on_norms[d](n[::-1].copy() if d else n)
        (dx, dh0, dc0, dwi, dwh, dbi, dbh, dh0r, dc0r, dwir, dwhr, dbir, dbhr) = out[:13]
        grads = (dx, dh0, dc0, dh0r, dc0r, dwi, dwh) + ((dbi, dbh) if has_bias else ()) \
            + (dwir, dwhr) + ((dbir, dbhr) if has_bias else ())
        return grads

    return make(y, parents, backward)


def bidir_layer(mod, layer, inp, h0, c0, zeros, h_n, c_n):
    """Both directions of layer ``layer`` of the nn.LSTM ``mod`` over inp (T, N, I) as one
    node; h0 / c0 (L*2, N, H) Tensors or None (zeros); appends the final states to the
    lists h_n / c_n and returns the output (T, N, 2H)."""
    T, H = inp.array.shape[0], mod.hidden_size
    states, params = [], []
    for d, s in ((0, f"_l{layer}"), (1, f"_l{layer}_reverse")):
        k = 2 * layer + d
        states += [h0[k] if h0 is not None else zeros, c0[k] if c0 is not None else zeros]
        params += [getattr(mod, n + s) for n in ("weight_ih", "weight_hh", "bias_ih",
                                                 "bias_hh")]
    probe = getattr(mod, "_gate_probe", None)  # set by diagnostics.gate_saturation
    on_gates = [None if probe is None else probe.setdefault((layer, d), []).append
                for d in (0, 1)]
    y = bidir_lstm_layer(inp, states, params,
                         [mod._norms_recorder(layer, d) for d in (0, 1)], on_gates)
    h_n += [y[T - 1:T, :, :H], y[0:1, :, H:]]
    c_n += [y[T:T + 1, :, :H], y[T:T + 1, :, H:]]
    return y[:T]
