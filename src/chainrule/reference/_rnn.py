"""Elman RNN as the textbook loop over time, and backprop-through-time written out step by step.

    a_t = x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh        (N, H)
    h_t = act(a_t)                                             act in {tanh, relu, sigmoid}

Backward, walking t = T .. 1 with the gradient g flowing into h_t from step t+1:
    dL/dh_t = dhs_t + g                     (dhs_t: the loss's own gradient at h_t)
    dL/da_t = dL/dh_t * act'(a_t)           act' written from h_t: 1-h^2, h(1-h), [h>0]
    g       = dL/da_t @ w_hh                (what h_{t-1} receives through the recurrence)
    dw_ih  += dL/da_t.T @ x_t,   dw_hh += dL/da_t.T @ h_{t-1},   db += sum_n dL/da_t
    dx_t    = dL/da_t @ w_ih
and finally dh0 = g. Slow on purpose; shares nothing with chainrule.ops but the checks.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._checks import rnn_args, rnn_nonlinearity

__all__ = ["rnn_forward", "rnn_backward"]


def _act(name, a):
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0)
    return 1.0 / (1.0 + np.exp(-a))


def _act_grad_from_output(name, h):
    """act'(a) expressed through h = act(a)."""
    if name == "tanh":
        return 1.0 - h * h
    if name == "relu":
        return (h > 0).astype(h.dtype)
    return h * (1.0 - h)


def rnn_forward(x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Optional[np.ndarray] = None, b_hh: Optional[np.ndarray] = None,
                nonlinearity: str = "tanh") -> np.ndarray:
    """hs (T, N, H) = h_1 .. h_T for x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H)."""
    fn = "reference.rnn_forward"
    nonlinearity = rnn_nonlinearity(fn, nonlinearity)
    a, (T, N, I, H) = rnn_args(fn, x, h0, w_ih, w_hh, b_ih, b_hh)
    x, h, w_ih, w_hh = a["x"], a["h0"], a["w_ih"], a["w_hh"]
    dt = x.dtype
    b_ih = a["b_ih"] if a["b_ih"] is not None else np.zeros(H, dt)
    b_hh = a["b_hh"] if a["b_hh"] is not None else np.zeros(H, dt)
    hs = np.empty((T, N, H), dtype=dt)
    for t in range(T):
        a_t = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        h = _act(nonlinearity, a_t).astype(dt, copy=False)
        hs[t] = h
    return hs


def rnn_backward(dhs: np.ndarray, x: np.ndarray, h0: np.ndarray, hs: np.ndarray, w_ih: np.ndarray,
                 w_hh: np.ndarray, nonlinearity: str = "tanh", *, bias=True,
                 return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full BPTT. Returns (dx, dh0, dw_ih, dw_hh, db_ih, db_hh); db_* are None if not bias.

    dhs (T, N, H) is dL/dh_t from outside the recurrence; hs is rnn_forward's output.
    With return_dh_norms=True a 7th item, the norms ||dL/dh_t|| (T,) float64, is appended.
    """
    fn = "reference.rnn_backward"
    nonlinearity = rnn_nonlinearity(fn, nonlinearity)
    a, (T, N, I, H) = rnn_args(fn, x, h0, w_ih, w_hh, dhs=dhs, hs=hs)
    dhs, x, h0, hs, w_ih, w_hh = a["dhs"], a["x"], a["h0"], a["hs"], a["w_ih"], a["w_hh"]
    dt = x.dtype
    dx = np.zeros((T, N, I), dt)
    dw_ih = np.zeros((H, I), dt)
    dw_hh = np.zeros((H, H), dt)
    db = np.zeros(H, dt)
    norms = np.zeros(T, np.float64)
    g = np.zeros((N, H), dt)  # dL/dh_t arriving through the recurrence
    for t in reversed(range(T)):
        h_prev = hs[t - 1] if t > 0 else h0
        dh = dhs[t] + g
        norms[t] = np.sqrt(np.sum(dh.astype(np.float64) ** 2))
        da = dh * _act_grad_from_output(nonlinearity, hs[t])
        dw_ih += da.T @ x[t]
        dw_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[t] = da @ w_ih
        g = da @ w_hh
    out = (dx, g, dw_ih, dw_hh, db.copy() if bias else None, db if bias else None)
    return out + (norms,) if return_dh_norms else out
