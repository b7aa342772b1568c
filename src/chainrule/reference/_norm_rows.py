"""Group and layer normalization as their definitions (NumPy, float64 internally).

Rows of x (group norm: the C/G channels of one group of one sample; layer norm: the last
len(normalized_shape) dims) are normalised by their mean and biased variance:
    xhat = (x - mean) / sqrt(var + eps),  y = xhat * w + b
and the backward is the textbook one: with g = dy * w,
    dx = rstd * (g - mean_row(g) - xhat * mean_row(g * xhat)),
    dweight = sum dy * xhat,  dbias = sum dy   (over everything but the parameter's axes)
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._normchecks import (_affine_arg, _stats_arg, eps_arg, group_norm_input, layer_norm_input,
                           output_mask_arg, same_shape)

__all__ = ["group_norm_forward", "group_norm_backward", "layer_norm_forward",
           "layer_norm_backward"]


def _rows_forward(x4, w4, b4, eps):
    """x4 (R, A, B) rows of A*B values; w4, b4 broadcast to (1, A, B) or None."""
    x = x4.astype(np.float64)
    if x.shape[0] == 0:  # no rows
        return x, np.zeros(0), np.zeros(0)
    mean = x.mean(axis=(1, 2))
    var = ((x - mean[:, None, None]) ** 2).mean(axis=(1, 2))
    rstd = 1.0 / np.sqrt(var + eps)
    y = (x - mean[:, None, None]) * rstd[:, None, None]
    if w4 is not None:
        y = y * w4
    if b4 is not None:
        y = y + b4
    return y, mean, rstd


def _rows_backward(dy4, x4, w4, mean, rstd):
    g = dy4.astype(np.float64)
    xhat = (x4.astype(np.float64) - mean[:, None, None]) * rstd[:, None, None]
    gw = g * w4 if w4 is not None else g
    dx = rstd[:, None, None] * (gw - gw.mean(axis=(1, 2), keepdims=True)
                                - xhat * (gw * xhat).mean(axis=(1, 2), keepdims=True))
    return dx, g * xhat, g


def group_norm_forward(x: np.ndarray, num_groups: int, weight: Optional[np.ndarray] = None,
                       bias: Optional[np.ndarray] = None,
                       eps: float = 1e-5) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (y, mean, rstd), mean/rstd (N, num_groups)."""
    fn = "group_norm_forward"
    x, (N, G, Cg, L) = group_norm_input(fn, x, num_groups)
    w = _affine_arg(fn, "weight", weight, (G * Cg,), x.dtype)
    b = _affine_arg(fn, "bias", bias, (G * Cg,), x.dtype)
    eps = eps_arg(fn, eps)
    x4 = x.reshape(N * G, Cg, L)

    def per_channel(v):  # (C,) -> (N*G, Cg, 1)
        return None if v is None else np.tile(v.astype(np.float64).reshape(G, Cg), (N, 1))[..., None]
    y, mean, rstd = _rows_forward(x4, per_channel(w), per_channel(b), eps)
    dt = x.dtype
    return (y.reshape(x.shape).astype(dt), mean.reshape(N, G).astype(dt),
            rstd.reshape(N, G).astype(dt))


def group_norm_backward(dy: np.ndarray, x: np.ndarray, num_groups: int,
                        weight: Optional[np.ndarray], mean: np.ndarray, rstd: np.ndarray,
                        output_mask: Tuple[bool, bool, bool] = (True, True, True)
                        ) -> Tuple[Any, ...]:
    """-> (dx, dweight, dbias), None where output_mask is False."""
    fn = "group_norm_backward"
    x, (N, G, Cg, L) = group_norm_input(fn, x, num_groups)
    dy = same_shape(fn, "dy", dy, x)
    w = _affine_arg(fn, "weight", weight, (G * Cg,), x.dtype)
    mean = _stats_arg(fn, "mean", mean, (N, G), x.dtype)
    rstd = _stats_arg(fn, "rstd", rstd, (N, G), x.dtype)
    mask = output_mask_arg(fn, output_mask)
    w4 = None if w is None else np.tile(w.astype(np.float64).reshape(G, Cg), (N, 1))[..., None]
    dx, gx, g = _rows_backward(dy.reshape(N * G, Cg, L), x.reshape(N * G, Cg, L), w4,
                               mean.reshape(-1).astype(np.float64),
                               rstd.reshape(-1).astype(np.float64))
    dt = x.dtype
    out = (dx.reshape(x.shape).astype(dt),
           gx.reshape(N, G * Cg, L).sum(axis=(0, 2)).astype(dt),
           g.reshape(N, G * Cg, L).sum(axis=(0, 2)).astype(dt))
    return tuple(o if want else None for o, want in zip(out, mask))


def layer_norm_forward(x: np.ndarray, normalized_shape: Any, weight: Optional[np.ndarray] = None,
                       bias: Optional[np.ndarray] = None,
                       eps: float = 1e-5) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (y, mean, rstd), mean/rstd of shape x.shape[:-len(normalized_shape)]."""
    fn = "layer_norm_forward"
    x, s, R, K = layer_norm_input(fn, x, normalized_shape)
    w = _affine_arg(fn, "weight", weight, s, x.dtype)
    b = _affine_arg(fn, "bias", bias, s, x.dtype)
    eps = eps_arg(fn, eps)
    cast = lambda v: None if v is None else v.astype(np.float64).reshape(1, K, 1)  # noqa: E731
    y, mean, rstd = _rows_forward(x.reshape(R, K, 1), cast(w), cast(b), eps)
    lead, dt = x.shape[:x.ndim - len(s)], x.dtype
    return y.reshape(x.shape).astype(dt), mean.reshape(lead).astype(dt), rstd.reshape(lead).astype(dt)


def layer_norm_backward(dy: np.ndarray, x: np.ndarray, normalized_shape: Any,
                        weight: Optional[np.ndarray], mean: np.ndarray, rstd: np.ndarray,
                        output_mask: Tuple[bool, bool, bool] = (True, True, True)
                        ) -> Tuple[Any, ...]:
    """-> (dx, dweight, dbias) (dweight, dbias of shape normalized_shape)."""
    fn = "layer_norm_backward"
    x, s, R, K = layer_norm_input(fn, x, normalized_shape)
    dy = same_shape(fn, "dy", dy, x)
    w = _affine_arg(fn, "weight", weight, s, x.dtype)
    lead = x.shape[:x.ndim - len(s)]
    mean = _stats_arg(fn, "mean", mean, lead, x.dtype)
    rstd = _stats_arg(fn, "rstd", rstd, lead, x.dtype)
    mask = output_mask_arg(fn, output_mask)
    w4 = None if w is None else w.astype(np.float64).reshape(1, K, 1)
    dx, gx, g = _rows_backward(dy.reshape(R, K, 1), x.reshape(R, K, 1), w4,
                               mean.reshape(-1).astype(np.float64),
                               rstd.reshape(-1).astype(np.float64))
    dt = x.dtype
    out = (dx.reshape(x.shape).astype(dt), gx.sum(axis=(0, 2)).reshape(s).astype(dt),
           g.sum(axis=(0, 2)).reshape(s).astype(dt))
    return tuple(o if want else None for o, want in zip(out, mask))
