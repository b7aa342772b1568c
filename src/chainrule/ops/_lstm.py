"""LSTM and GRU kernels (C, csrc/gates.c): lstm_forward, lstm_backward, gru_forward,
gru_backward. One layer, one direction, (T, N, I) layout, PyTorch's gate order (LSTM i, f,
g, o; GRU r, z, n) and weight layouts (w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H,)).

Forward: one GEMM for the input projection of all T steps, then per step the recurrent
product on w_hh packed once per call, with the gate nonlinearities and the state update
fused into its write-out. Backward: the walk back through time keeps every gate gradient,
then dw_ih, dw_hh and dx are single GEMMs over all T*N rows and db a column sum.

Memory kept for the backward (besides inputs and parameters): LSTM hs, cs (T, N, H) and
gates (T, N, 4H); GRU hs (T, N, H) and gates (T, N, 4H). The backward needs a (T, N, 4H)
work buffer. The NumPy twins are in chainrule.reference, same names and signatures.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._gated_checks import gated_args

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]


def lstm_forward(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                 b_ih: Optional[np.ndarray] = None,
                 b_hh: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSTM over a sequence -> (hs, cs, gates).

    x (T, N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,) or None, all
    float32 or all float64. hs = h_1..h_T and cs = c_1..c_T (T, N, H) (h_n = hs[-1],
    c_n = cs[-1]); gates (T, N, 4H) = the activated i, f, g, o, kept for lstm_backward.
    """
    a, (T, N, I, H) = gated_args("lstm_forward", 4, x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh,
                                 b_ih=b_ih, b_hh=b_hh)
    dt = a["x"].dtype
    hs = np.empty((T, N, H), dt)
    cs = np.empty((T, N, H), dt)
    gates = np.empty((T, N, 4 * H), dt)
    _kernels.lstm_forward(hs, cs, gates, a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"],
                          a["b_ih"], a["b_hh"])
    return hs, cs, gates


def lstm_backward(dhs: np.ndarray, dc_n: np.ndarray, x: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                  w_ih: np.ndarray, w_hh: np.ndarray, hs: np.ndarray, cs: np.ndarray,
                  gates: np.ndarray, *, bias=True,
                  return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full backprop through time -> (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh).

    dhs (T, N, H): dL/dh_t from outside the recurrence (zeros where a step has no loss; the
    gradient of h_n belongs in dhs[-1]); dc_n (N, H): dL/dc_T, or None for zeros. x, h0, c0,
    w_ih, w_hh as given to lstm_forward; hs, cs, gates its outputs. db_ih = db_hh (4H,),
    None if bias=False. With return_dh_norms=True an 8th item is appended: the float64
    array (T,) of ||dL/dh_t|| (Frobenius over N x H, recurrence included).
    """
    a, (T, N, I, H) = gated_args("lstm_backward", 4, dhs=dhs, dc_n=dc_n, x=x, h0=h0, c0=c0,
                                 w_ih=w_ih, w_hh=w_hh, hs=hs, cs=cs, gates=gates)
    dt = a["x"].dtype
    dx = np.zeros((T, N, I), dt)
    dh0 = np.zeros((N, H), dt)
    dc0 = np.zeros((N, H), dt)
    dw_ih = np.zeros((4 * H, I), dt)
    dw_hh = np.zeros((4 * H, H), dt)
    db_ih = np.zeros(4 * H, dt) if bias else None
    db_hh = np.zeros(4 * H, dt) if bias else None
    norms = np.zeros(T, np.float64) if return_dh_norms else None
    _kernels.lstm_backward(dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, norms, a["dhs"],
                           a["dc_n"], a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], a["hs"],
                           a["cs"], a["gates"])
    out = (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh)
    return out + (norms,) if return_dh_norms else out


def gru_forward(x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: Optional[np.ndarray] = None,
                b_hh: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """GRU over a sequence -> (hs, gates).

    x (T, N, I), h0 (N, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,) or None, all
    float32 or all float64. hs = h_1..h_T (T, N, H); gates (T, N, 4H) = r, z, n and
    h_{t-1} @ W_hn.T + b_hn, kept for gru_backward.
    """
    a, (T, N, I, H) = gated_args("gru_forward", 3, x=x, h0=h0, w_ih=w_ih, w_hh=w_hh,
                                 b_ih=b_ih, b_hh=b_hh)
    dt = a["x"].dtype
    hs = np.empty((T, N, H), dt)
    gates = np.empty((T, N, 4 * H), dt)
    _kernels.gru_forward(hs, gates, a["x"], a["h0"], a["w_ih"], a["w_hh"], a["b_ih"],
                         a["b_hh"])
    return hs, gates


def gru_backward(dhs: np.ndarray, x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray,
                 w_hh: np.ndarray, hs: np.ndarray, gates: np.ndarray, *, bias=True,
                 return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full backprop through time -> (dx, dh0, dw_ih, dw_hh, db_ih, db_hh).

    dhs (T, N, H): dL/dh_t from outside the recurrence; x, h0, w_ih, w_hh as given to
    gru_forward, hs and gates its outputs. db_ih, db_hh (3H,) are None if bias=False.
    With return_dh_norms=True a 7th item, ||dL/dh_t|| (T,) float64, is appended.
    """
    a, (T, N, I, H) = gated_args("gru_backward", 3, dhs=dhs, x=x, h0=h0, w_ih=w_ih,
                                 w_hh=w_hh, hs=hs, gates=gates)
    dt = a["x"].dtype
    dx = np.zeros((T, N, I), dt)
    dh0 = np.zeros((N, H), dt)
    dw_ih = np.zeros((3 * H, I), dt)
    dw_hh = np.zeros((3 * H, H), dt)
    db_ih = np.zeros(3 * H, dt) if bias else None
    db_hh = np.zeros(3 * H, dt) if bias else None
    norms = np.zeros(T, np.float64) if return_dh_norms else None
    _kernels.gru_backward(dx, dh0, dw_ih, dw_hh, db_ih, db_hh, norms, a["dhs"], a["x"],
                          a["h0"], a["w_ih"], a["w_hh"], a["hs"], a["gates"])
    out = (dx, dh0, dw_ih, dw_hh, db_ih, db_hh)
    return out + (norms,) if return_dh_norms else out
