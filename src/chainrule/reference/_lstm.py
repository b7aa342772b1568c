"""LSTM and GRU as the textbook loops over time, and backprop-through-time written out step
by step. Slow on purpose; shares nothing with chainrule.ops but the argument checks.

LSTM (PyTorch's gate order i, f, g, o):
    [a_i a_f a_g a_o] = x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh
    i, f, o = sigmoid(a_i, a_f, a_o),  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
GRU (gate order r, z, n):
    r = sigmoid(x W_ir + b_ir + h W_hr + b_hr),  z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}

The forwards return what the backwards need: LSTM (hs, cs, gates) with gates (T, N, 4H) the
activated i, f, g, o; GRU (hs, gates) with gates (T, N, 4H) = r, z, n, h_{t-1} W_hn + b_hn.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._gated_checks import gated_args

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]


def _sigmoid(a):
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _bias(b, n, dt):
    return b if b is not None else np.zeros(n, dt)


def lstm_forward(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                 b_ih: Optional[np.ndarray] = None,
                 b_hh: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (T, N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,) or None
    -> (hs, cs, gates): h_1..h_T, c_1..c_T (T, N, H) and the activated gates (T, N, 4H)."""
    a, (T, N, I, H) = gated_args("reference.lstm_forward", 4, x=x, h0=h0, c0=c0, w_ih=w_ih,
                                 w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    x, h, c, w_ih, w_hh = a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"]
    dt = x.dtype
    b_ih, b_hh = _bias(a["b_ih"], 4 * H, dt), _bias(a["b_hh"], 4 * H, dt)
    hs = np.empty((T, N, H), dt)
    cs = np.empty((T, N, H), dt)
    gates = np.empty((T, N, 4 * H), dt)
    for t in range(T):
        pre = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i = _sigmoid(pre[:, :H])
        f = _sigmoid(pre[:, H:2 * H])
        g = np.tanh(pre[:, 2 * H:3 * H])
        o = _sigmoid(pre[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs[t], cs[t] = h, c
        gates[t] = np.concatenate([i, f, g, o], axis=1)
    return hs, cs, gates


def lstm_backward(dhs: np.ndarray, dc_n: np.ndarray, x: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                  w_ih: np.ndarray, w_hh: np.ndarray, hs: np.ndarray, cs: np.ndarray,
                  gates: np.ndarray, *, bias=True,
                  return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full BPTT -> (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh) (db_* None if not bias).

    dhs (T, N, H) is dL/dh_t from outside the recurrence (h_n's gradient included in its
    last step), dc_n (N, H) dL/dc_T or None; hs, cs, gates are lstm_forward's outputs.
    With return_dh_norms=True an 8th item, ||dL/dh_t|| (T,) float64, is appended.
    """
    a, (T, N, I, H) = gated_args("reference.lstm_backward", 4, dhs=dhs, dc_n=dc_n, x=x, h0=h0,
                                 c0=c0, w_ih=w_ih, w_hh=w_hh, hs=hs, cs=cs, gates=gates)
    dt = a["x"].dtype
    dx = np.zeros((T, N, I), dt)
    dw_ih = np.zeros((4 * H, I), dt)
    dw_hh = np.zeros((4 * H, H), dt)
    db = np.zeros(4 * H, dt)
    norms = np.zeros(T, np.float64)
    dh_next = np.zeros((N, H), dt)                       # dL/dh_t through the recurrence
    dc = a["dc_n"].copy() if a["dc_n"] is not None else np.zeros((N, H), dt)
    for t in reversed(range(T)):
        h_prev = a["hs"][t - 1] if t > 0 else a["h0"]
        c_prev = a["cs"][t - 1] if t > 0 else a["c0"]
        i, f, g, o = (a["gates"][t][:, k * H:(k + 1) * H] for k in range(4))
        dh = a["dhs"][t] + dh_next
        norms[t] = np.sqrt(np.sum(dh.astype(np.float64) ** 2))
        tc = np.tanh(a["cs"][t])
        dc = dc + dh * o * (1 - tc * tc)
        da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                             dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
        dc = dc * f
        dw_ih += da.T @ a["x"][t]
        dw_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[t] = da @ a["w_ih"]
        dh_next = da @ a["w_hh"]
    out = (dx, dh_next, dc, dw_ih, dw_hh, db.copy() if bias else None, db if bias else None)
    return out + (norms,) if return_dh_norms else out


def gru_forward(x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Optional[np.ndarray] = None,
                b_hh: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,) or None
    -> (hs, gates): h_1..h_T (T, N, H) and gates (T, N, 4H) = r, z, n, h_{t-1} W_hn + b_hn."""
    a, (T, N, I, H) = gated_args("reference.gru_forward", 3, x=x, h0=h0, w_ih=w_ih, w_hh=w_hh,
                                 b_ih=b_ih, b_hh=b_hh)
    x, h, w_ih, w_hh = a["x"], a["h0"], a["w_ih"], a["w_hh"]
    dt = x.dtype
    b_ih, b_hh = _bias(a["b_ih"], 3 * H, dt), _bias(a["b_hh"], 3 * H, dt)
    hs = np.empty((T, N, H), dt)
    gates = np.empty((T, N, 4 * H), dt)
    for t in range(T):
        gx = x[t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = _sigmoid(gx[:, :H] + gh[:, :H])
        z = _sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        hs[t] = h
        gates[t] = np.concatenate([r, z, n, gh[:, 2 * H:]], axis=1)
    return hs, gates


def gru_backward(dhs: np.ndarray, x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray,
                 w_hh: np.ndarray, hs: np.ndarray, gates: np.ndarray, *, bias=True,
                 return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full BPTT -> (dx, dh0, dw_ih, dw_hh, db_ih, db_hh) (db_* None if not bias).

    dhs (T, N, H) is dL/dh_t from outside the recurrence; hs, gates are gru_forward's
    outputs. With return_dh_norms=True a 7th item, ||dL/dh_t|| (T,) float64, is appended.
    """
    a, (T, N, I, H) = gated_args("reference.gru_backward", 3, dhs=dhs, x=x, h0=h0, w_ih=w_ih,
                                 w_hh=w_hh, hs=hs, gates=gates)
    dt = a["x"].dtype
    dx = np.zeros((T, N, I), dt)
    dw_ih = np.zeros((3 * H, I), dt)
    dw_hh = np.zeros((3 * H, H), dt)
    db_ih = np.zeros(3 * H, dt)
    db_hh = np.zeros(3 * H, dt)
    norms = np.zeros(T, np.float64)
    dh_next = np.zeros((N, H), dt)
    for t in reversed(range(T)):
        h_prev = a["hs"][t - 1] if t > 0 else a["h0"]
        r, z, n, hn = (a["gates"][t][:, k * H:(k + 1) * H] for k in range(4))
        dh = a["dhs"][t] + dh_next
        norms[t] = np.sqrt(np.sum(dh.astype(np.float64) ** 2))
        dn = dh * (1 - z) * (1 - n * n)                  # dL/d(pre-tanh of n)
        dr = dn * hn * r * (1 - r)
        dz = dh * (h_prev - n) * z * (1 - z)
        dgx = np.concatenate([dr, dz, dn], axis=1)       # through x W_i* + b_i*
        dgh = np.concatenate([dr, dz, dn * r], axis=1)   # through h W_h* + b_h*
        dw_ih += dgx.T @ a["x"][t]
        dw_hh += dgh.T @ h_prev
        db_ih += dgx.sum(axis=0)
        db_hh += dgh.sum(axis=0)
        dx[t] = dgx @ a["w_ih"]
        dh_next = dh * z + dgh @ a["w_hh"]
    out = (dx, dh_next, dw_ih, dw_hh, db_ih if bias else None, db_hh if bias else None)
    return out + (norms,) if return_dh_norms else out
