"""Both directions of a bidirectional LSTM layer in one call (C, csrc/gates.c via
cr_gt_run_calls): lstm_bidir_forward, lstm_bidir_backward.

The two directions are independent, so with two or more threads each runs whole on a
thread of its own (one parallel region for the layer, no split of a small recurrence, no
barrier); on one thread they run one after the other. Each direction's results are
bitwise those of ops.lstm_forward / ops.lstm_backward on its own (the reverse direction
on x[::-1]), whatever the thread count. The NumPy twins are in chainrule.reference.

The reverse direction's arrays (hs_r, cs_r, gates_r, dhs_r, its dh norms) are in its own
time order: step t of the reverse direction reads x[T - 1 - t].
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._gated_checks import gated_args

__all__ = ["lstm_bidir_forward", "lstm_bidir_backward"]


def lstm_bidir_forward(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, w_ih: np.ndarray,
                       w_hh: np.ndarray, b_ih: Optional[np.ndarray], b_hh: Optional[np.ndarray],
                       h0_r: np.ndarray, c0_r: np.ndarray, w_ih_r: np.ndarray,
                       w_hh_r: np.ndarray, b_ih_r: Optional[np.ndarray],
                       b_hh_r: Optional[np.ndarray]) -> Tuple[np.ndarray, ...]:
    """Both directions of an LSTM layer over x (T, N, I) -> (hs, cs, gates, hs_r, cs_r,
    gates_r): lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh) and lstm_forward(x[::-1],
    h0_r, c0_r, w_ih_r, w_hh_r, b_ih_r, b_hh_r), computed at once."""
    fn = "lstm_bidir_forward"
    a, (T, N, I, H) = gated_args(fn, 4, x=x, h0=h0, c0=c0, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih,
                                 b_hh=b_hh)
    r, _ = gated_args(fn + " (reverse direction)", 4, x=a["x"], h0=h0_r, c0=c0_r, w_ih=w_ih_r,
                      w_hh=w_hh_r, b_ih=b_ih_r, b_hh=b_hh_r)
    dt = a["x"].dtype
    out = tuple(np.empty((T, N, k * H), dt) for _ in range(2) for k in (1, 1, 4))
    xr = np.ascontiguousarray(a["x"][::-1])
    _kernels.lstm_forward_dirs((
        out[:3] + tuple(a[k] for k in ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh")),
        out[3:] + (xr,) + tuple(r[k] for k in ("h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"))))
    return out


def lstm_bidir_backward(dhs: np.ndarray, dc_n: np.ndarray, dhs_r: np.ndarray,
                        dc_n_r: np.ndarray, x: np.ndarray, h0: np.ndarray,
                        c0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, hs: np.ndarray,
                        cs: np.ndarray, gates: np.ndarray, h0_r: np.ndarray,
                        c0_r: np.ndarray, w_ih_r: np.ndarray, w_hh_r: np.ndarray,
                        hs_r: np.ndarray, cs_r: np.ndarray, gates_r: np.ndarray, *,
                        bias: bool = True, input_grad: bool = True,
                        return_dh_norms: bool = False) -> Tuple[Any, ...]:
    """Full BPTT of both directions -> (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dh0_r,
    dc0_r, dw_ih_r, dw_hh_r, db_ih_r, db_hh_r): lstm_backward of each direction (the
    reverse one on x[::-1], its dhs_r and outputs in its own time order) with dx the sum of
    both directions' input gradients in x's time order, or None if input_grad=False (one
    product less per direction). db_* are None if bias=False. With return_dh_norms=True
    the two directions' ||dL/dh_t|| (T,) float64 are appended (each in its own order)."""
    fn = "lstm_bidir_backward"
    a, (T, N, I, H) = gated_args(fn, 4, dhs=dhs, dc_n=dc_n, x=x, h0=h0, c0=c0, w_ih=w_ih,
                                 w_hh=w_hh, hs=hs, cs=cs, gates=gates)
    r, _ = gated_args(fn + " (reverse direction)", 4, dhs=dhs_r, dc_n=dc_n_r, x=a["x"],
                      h0=h0_r, c0=c0_r, w_ih=w_ih_r, w_hh=w_hh_r, hs=hs_r, cs=cs_r,
                      gates=gates_r)
    dt = a["x"].dtype
    xr = np.ascontiguousarray(a["x"][::-1])
    calls, grads, norms = [], [], []
    for d, xd in ((a, a["x"]), (r, xr)):
        dx = np.zeros((T, N, I), dt) if input_grad else None
        g = (dx, np.zeros((N, H), dt), np.zeros((N, H), dt), np.zeros((4 * H, I), dt),
             np.zeros((4 * H, H), dt)) + ((np.zeros(4 * H, dt), np.zeros(4 * H, dt)) if bias
                                         else (None, None))
        nrm = np.zeros(T, np.float64) if return_dh_norms else None
        calls.append(g + (nrm, d["dhs"], d["dc_n"], xd, d["h0"], d["c0"], d["w_ih"],
                          d["w_hh"], d["hs"], d["cs"], d["gates"]))
        grads.append(g)
        norms.append(nrm)
    _kernels.lstm_backward_dirs(tuple(calls))
    dx, dx_r = grads[0][0], grads[1][0]
    if dx is not None and dx_r is not None:
        dx += dx_r[::-1]
    out = (dx,) + grads[0][1:] + grads[1][1:]
    return out + tuple(norms) if return_dh_norms else out
