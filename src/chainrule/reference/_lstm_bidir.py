"""Both directions of a bidirectional LSTM layer: the NumPy twins of
chainrule.ops.lstm_bidir_forward / lstm_bidir_backward, written as two calls of the
reference LSTM (the reverse direction on x[::-1])."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._gated_checks import gated_args
from ._lstm import lstm_backward, lstm_forward

__all__ = ["lstm_bidir_forward", "lstm_bidir_backward"]


def lstm_bidir_forward(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w_ih: np.ndarray,
                       w_hh: np.ndarray, b_ih: Optional[np.ndarray], b_hh: Optional[np.ndarray],
                       h0_r: np.ndarray, c0_r: np.ndarray, w_ih_r: np.ndarray,
                       w_hh_r: np.ndarray, b_ih_r: Optional[np.ndarray],
                       b_hh_r: Optional[np.ndarray]) -> Tuple[np.ndarray, ...]:
    """-> lstm_forward(x, h0, ...) + lstm_forward(x[::-1], h0_r, ...) (6 arrays)."""
    fn = "reference.lstm_bidir_forward"
    a, _ = gated_args(fn, 4, x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh)
    gated_args(fn + " (reverse direction)", 4, x=a["x"], h0=h0_r, c0=c0_r, w_ih=w_ih_r,
               w_hh=w_hh_r, b_ih=b_ih_r, b_hh=b_hh_r)
    x = a["x"]
    return (lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
            + lstm_forward(x[::-1], h0_r, c0_r, w_ih_r, w_hh_r, b_ih_r, b_hh_r))


def lstm_bidir_backward(dhs: np.ndarray, dc_n: np.ndarray, dhs_r: np.ndarray,
                        dc_n_r: np.ndarray, x: np.ndarray, h0: np.ndarray,
                        c0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, hs: np.ndarray,
                        cs: np.ndarray, gates: np.ndarray, h0_r: np.ndarray,
                        c0_r: np.ndarray, w_ih_r: np.ndarray, w_hh_r: np.ndarray,
                        hs_r: np.ndarray, cs_r: np.ndarray, gates_r: np.ndarray, *,
                        bias: bool = True, input_grad: bool = True,
                        return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """-> lstm_backward of each direction; dx = dx + dx_r[::-1] (None if not input_grad)."""
    fn = "reference.lstm_bidir_backward"
    a, _ = gated_args(fn, 4, dhs=dhs, dc_n=dc_n, x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh,
                      hs=hs, cs=cs, gates=gates)
    gated_args(fn + " (reverse direction)", 4, dhs=dhs_r, dc_n=dc_n_r, x=a["x"], h0=h0_r,
               c0=c0_r, w_ih=w_ih_r, w_hh=w_hh_r, hs=hs_r, cs=cs_r, gates=gates_r)
    x = a["x"]
    f = lstm_backward(dhs, dc_n, x, h0, c0, w_ih, w_hh, hs, cs, gates, bias=bias,
                      return_dh_norms=return_dh_norms)
    b = lstm_backward(dhs_r, dc_n_r, x[::-1], h0_r, c0_r, w_ih_r, w_hh_r, hs_r, cs_r, gates_r,
                      bias=bias, return_dh_norms=return_dh_norms)
    dx = f[0] + b[0][::-1] if input_grad else None
    out = (dx,) + tuple(f[1:7]) + tuple(b[1:7])
    return out + (f[7], b[7]) if return_dh_norms else out
