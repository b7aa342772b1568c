"""Group and layer normalization (C with OpenMP; see csrc/norm.h, cr_row_norm_*).

Both normalise rows of x with their own statistics, then apply a per-channel (group norm)
or per-element (layer norm) affine:
    group norm: x (N, C, *), rows (n, g) = the C/G channels of group g of sample n
    layer norm: x (*, S), rows = the prod(S) values of each leading index
    mean, var (biased), rstd = 1 / sqrt(var + eps) per row;  y = (x - mean) * rstd * w + b
Statistics are float64 (one read, moments about the row's first value); the backward
reads dy and x once per row and sums the parameter gradients in a fixed chunk order:
bitwise the same for any thread count.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._normchecks import (_affine_arg, _stats_arg, eps_arg, group_norm_input, layer_norm_input,
                           output_mask_arg, same_shape)

__all__ = ["group_norm_forward", "group_norm_backward", "layer_norm_forward",
           "layer_norm_backward"]


def _forward(x, w, b, eps, R, K, G, L, stat_shape):
    y = np.empty(x.shape, x.dtype)
    mean = np.empty(R, x.dtype)
    rstd = np.empty(R, x.dtype)
    if R * K == 0:  # no rows (the checks refuse rows without values)
        return y, mean.reshape(stat_shape), rstd.reshape(stat_shape)
    _kernels.row_norm_forward(y.reshape(R, K), mean, rstd, None, x.reshape(R, K), w, b, G, L,
                              eps)
    return y, mean.reshape(stat_shape), rstd.reshape(stat_shape)


def _backward(dy, x, w, mean, rstd, mask, R, K, G, L, C):
    want_dx, want_dw, want_db = mask
    dx = np.empty(x.shape, x.dtype) if want_dx else None
    dw = np.empty(C, x.dtype) if want_dw else None
    db = np.empty(C, x.dtype) if want_db else None
    if R * K == 0:  # no rows: zero parameter gradients
        return (dx, None if dw is None else np.zeros_like(dw),
                None if db is None else np.zeros_like(db))
    _kernels.row_norm_backward(dy.reshape(R, K), x.reshape(R, K), mean.reshape(-1),
                               rstd.reshape(-1), w, None if dx is None else dx.reshape(R, K),
                               dw, db, G, L)
    return dx, dw, db


def group_norm_forward(x: np.ndarray, num_groups: int, weight: Optional[np.ndarray] = None,
                       bias: Optional[np.ndarray] = None,
                       eps: float = 1e-5) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, C, *) -> (y, mean, rstd): mean and rstd (N, num_groups) in x's dtype, each
    group of C / num_groups channels of a sample normalised over its values; weight and
    bias (C,) per channel or None."""
    fn = "group_norm_forward"
    x, (N, G, Cg, L) = group_norm_input(fn, x, num_groups)
    w = _affine_arg(fn, "weight", weight, (G * Cg,), x.dtype)
    b = _affine_arg(fn, "bias", bias, (G * Cg,), x.dtype)
    return _forward(x, w, b, eps_arg(fn, eps), N * G, Cg * L, G, L, (N, G))


def group_norm_backward(dy: np.ndarray, x: np.ndarray, num_groups: int,
                        weight: Optional[np.ndarray], mean: np.ndarray, rstd: np.ndarray,
                        output_mask: Tuple[bool, bool, bool] = (True, True, True)
                        ) -> Tuple[Any, ...]:
    """-> (dx, dweight, dbias) of group_norm_forward (None where output_mask says not
    wanted); mean, rstd (N, num_groups) from the forward."""
    fn = "group_norm_backward"
    x, (N, G, Cg, L) = group_norm_input(fn, x, num_groups)
    dy = np.ascontiguousarray(same_shape(fn, "dy", dy, x))
    w = _affine_arg(fn, "weight", weight, (G * Cg,), x.dtype)
    mean = _stats_arg(fn, "mean", mean, (N, G), x.dtype)
    rstd = _stats_arg(fn, "rstd", rstd, (N, G), x.dtype)
    mask = output_mask_arg(fn, output_mask)
    return _backward(dy, x, w, mean, rstd, mask, N * G, Cg * L, G, L, G * Cg)


def layer_norm_forward(x: np.ndarray, normalized_shape: Any, weight: Optional[np.ndarray] = None,
                       bias: Optional[np.ndarray] = None,
                       eps: float = 1e-5) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (*, S) with S = normalized_shape -> (y, mean, rstd): mean and rstd of shape (*)
    in x's dtype; weight and bias of shape S or None."""
    fn = "layer_norm_forward"
    x, s, R, K = layer_norm_input(fn, x, normalized_shape)
    w = _affine_arg(fn, "weight", weight, s, x.dtype)
    b = _affine_arg(fn, "bias", bias, s, x.dtype)
    return _forward(x, w, b, eps_arg(fn, eps), R, K, 1, 1, x.shape[:x.ndim - len(s)])


def layer_norm_backward(dy: np.ndarray, x: np.ndarray, normalized_shape: Any,
                        weight: Optional[np.ndarray], mean: np.ndarray, rstd: np.ndarray,
                        output_mask: Tuple[bool, bool, bool] = (True, True, True)
                        ) -> Tuple[Any, ...]:
    """-> (dx, dweight, dbias) of layer_norm_forward (dweight, dbias of shape S; None
    where output_mask says not wanted)."""
    fn = "layer_norm_backward"
    x, s, R, K = layer_norm_input(fn, x, normalized_shape)
    dy = np.ascontiguousarray(same_shape(fn, "dy", dy, x))
    w = _affine_arg(fn, "weight", weight, s, x.dtype)
    lead = x.shape[:x.ndim - len(s)]
    mean = _stats_arg(fn, "mean", mean, lead, x.dtype)
    rstd = _stats_arg(fn, "rstd", rstd, lead, x.dtype)
    mask = output_mask_arg(fn, output_mask)
    dx, dw, db = _backward(dy, x, w, mean, rstd, mask, R, K, 1, 1, K)
    return (dx, None if dw is None else dw.reshape(s), None if db is None else db.reshape(s))
