"""Elman RNN kernels: rnn_forward, rnn_backward (C, csrc/rnn.c).

    h_t = act(x_t @ w_ih.T + b_ih + h_{t-1} @ w_hh.T + b_hh),  act in {tanh, relu, sigmoid}

Forward: one GEMM for the input projection of all T steps, then one GEMM per step with
the bias and the activation fused into its write-out. Backward: the serial walk back
through time keeps every dL/da_t, then dw_ih, dw_hh and dx are single GEMMs over all
T*N rows and db a column sum.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._checks import rnn_args, rnn_nonlinearity

__all__ = ["rnn_forward", "rnn_backward"]

_ACT = {"tanh": _kernels.ACT_TANH, "relu": _kernels.ACT_RELU, "sigmoid": _kernels.ACT_SIGMOID}


def rnn_forward(x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Optional[np.ndarray] = None, b_hh: Optional[np.ndarray] = None,
                nonlinearity: str = "tanh") -> np.ndarray:
    """hs = h_1 .. h_T.

    x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H), b_ih (H,) or None, b_hh (H,) or None
    -> hs (T, N, H), the dtype of the inputs (float32 or float64, all the same).
    """
    fn = "rnn_forward"
    nonlinearity = rnn_nonlinearity(fn, nonlinearity)
    a, (T, N, I, H) = rnn_args(fn, x, h0, w_ih, w_hh, b_ih, b_hh)
    hs = np.empty((T, N, H), dtype=a["x"].dtype)
    _kernels.rnn_forward(hs, a["x"], a["h0"], a["w_ih"], a["w_hh"], a["b_ih"], a["b_hh"],
                         _ACT[nonlinearity])
    return hs


def rnn_backward(dhs: np.ndarray, x: np.ndarray, h0: np.ndarray, hs: np.ndarray, w_ih: np.ndarray,
                 w_hh: np.ndarray, nonlinearity: str = "tanh", *, bias=True,
                 return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full backprop through time -> (dx, dh0, dw_ih, dw_hh, db_ih, db_hh).

    dhs (T, N, H): dL/dh_t from outside the recurrence (zeros where a step has no loss);
    x, h0, w_ih, w_hh as in rnn_forward; hs (T, N, H) is rnn_forward's output.
    dx (T, N, I), dh0 (N, H), dw_ih (H, I), dw_hh (H, H), db_ih = db_hh (H,) (None if
    bias=False). With return_dh_norms=True a 7th item is appended: the float64 array
    (T,) of ||dL/dh_t|| (Frobenius norm over N x H of the total gradient reaching h_t,
    recurrence included) — how the gradient grows or fades going back in time.
    """
    fn = "rnn_backward"
    nonlinearity = rnn_nonlinearity(fn, nonlinearity)
    a, (T, N, I, H) = rnn_args(fn, x, h0, w_ih, w_hh, dhs=dhs, hs=hs)
    dt = a["x"].dtype
    dx = np.zeros((T, N, I), dt)
    dh0 = np.zeros((N, H), dt)
    dw_ih = np.zeros((H, I), dt)
    dw_hh = np.zeros((H, H), dt)
    db_ih = np.zeros(H, dt) if bias else None
    db_hh = np.zeros(H, dt) if bias else None
    norms = np.zeros(T, np.float64) if return_dh_norms else None
    _kernels.rnn_backward(dx, dh0, dw_ih, dw_hh, db_ih, db_hh, norms, a["dhs"], a["x"],
                          a["h0"], a["hs"], a["w_ih"], a["w_hh"], _ACT[nonlinearity])
    out = (dx, dh0, dw_ih, dw_hh, db_ih, db_hh)
    return out + (norms,) if return_dh_norms else out
