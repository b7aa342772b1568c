"""2-D convolution as its definition: a loop over output positions (no im2col).

    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]

with x taken as zero outside the image. Each (p, q) contracts one receptive field
(N, C, R, S) with the weights; the batch and channels are vectorised, nothing else.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._checks import (as_float_array, conv2d_output_size, conv_padding, same_dtype, shape_nd,
                       unfold_args)

__all__ = ["conv2d_forward", "conv2d_backward", "im2col", "col2im"]


def _receptive_field(p, q, R, S, stride, dilation):
    """Slices of the zero-padded input that output (p, q) reads: rows p*sh + r*dh, cols
    q*sw + s*dw for r < R, s < S."""
    (sh, sw), (dh, dw) = stride, dilation
    return (slice(p * sh, p * sh + dh * (R - 1) + 1, dh),
            slice(q * sw, q * sw + dw * (S - 1) + 1, dw))


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None, stride=1,
                   padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """x (N, C, H, W), w (K, C / groups, R, S), b (K,) or None -> y (N, K, P, Q).

    Group g convolves input channels [g*C/G, (g+1)*C/G) with filters [g*K/G, (g+1)*K/G)."""
    fn = "conv2d_forward"
    x = as_float_array(fn, "x", x, 4)
    w = as_float_array(fn, "w", w, 4)
    if b is not None:
        b = as_float_array(fn, "b", b, 1)
    dt = same_dtype(fn, x=x, w=w, b=b)
    x, padding, _ = conv_padding(fn, x, w.shape, stride, padding, dilation)
    stride, padding, dilation, (P, Q) = conv2d_output_size(fn, x.shape, w.shape, stride,
                                                           padding, dilation, groups)
    K, Cg, R, S = w.shape
    G = int(groups)
    if b is not None and b.shape != (K,):
        raise ValueError(f"{fn}: argument 'b' must have shape ({K},), got {b.shape}")
    (ph, pw) = padding
    N = x.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zeros outside the image
    wg = w.reshape(G, K // G, Cg, R, S)
    y = np.zeros((N, K, P, Q), dtype=dt)
    for p in range(P):
        for q in range(Q):
            rows, cols = _receptive_field(p, q, R, S, stride, dilation)
            field = xp[:, :, rows, cols].reshape(N, G, Cg, R, S)
            y[:, :, p, q] = np.einsum("ngcrs,gkcrs->ngk", field, wg).reshape(N, K)
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride=1, padding=0, dilation=1,
                    groups: int = 1, *, bias=True, need_dx: bool = True,
                    need_dw: bool = True) -> Tuple[Any, Any, Any]:
    """dy (N, K, P, Q), x (N, C, H, W), w (K, C / groups, R, S) -> (dx or None, dw or None,
    db or None).

    dw[k, c, r, s] = sum_{n, p, q} dy[n, k, p, q] * x[n, g*C/G + c, p*sh - ph + r*dh, q*sw - pw + s*dw]
    dx[n, c, i, j] = sum over every (k, p, q, r, s) that reads x[n, c, i, j] of dy * w
    db[k]          = sum_{n, p, q} dy[n, k, p, q]
    """
    fn = "conv2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    x = as_float_array(fn, "x", x, 4)
    w = as_float_array(fn, "w", w, 4)
    dt = same_dtype(fn, dy=dy, x=x, w=w)
    H0, W0 = x.shape[2:]
    x, padding, _ = conv_padding(fn, x, w.shape, stride, padding, dilation)
    stride, padding, dilation, (P, Q) = conv2d_output_size(fn, x.shape, w.shape, stride,
                                                           padding, dilation, groups)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    G = int(groups)
    if dy.shape != (N, K, P, Q):
        raise ValueError(f"{fn}: argument 'dy' must have shape {(N, K, P, Q)}, got {dy.shape}")
    (ph, pw) = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp = np.zeros_like(xp)
    wg = w.reshape(G, K // G, Cg, R, S)
    dw = np.zeros(wg.shape, dtype=dt)
    for p in range(P):
        for q in range(Q):
            rows, cols = _receptive_field(p, q, R, S, stride, dilation)
            g = dy[:, :, p, q].reshape(N, G, K // G)
            dw += np.einsum("ngk,ngcrs->gkcrs", g, xp[:, :, rows, cols].reshape(N, G, Cg, R, S))
            dxp[:, :, rows, cols] += np.einsum("ngk,gkcrs->ngcrs", g, wg).reshape(N, C, R, S)
    dx = np.ascontiguousarray(dxp[:, :, ph:ph + H0, pw:pw + W0])  # padding gets no gradient
    db = dy.sum(axis=(0, 2, 3)) if bias else None
    return (dx if need_dx else None), (dw.reshape(w.shape) if need_dw else None), db


def im2col(x: np.ndarray, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """x (N, C, H, W) -> col (N, C*R*S, P*Q) (or unbatched (C, H, W) -> (C*R*S, P*Q)):
    column p*Q + q holds the receptive field of output (p, q), rows ordered (c, r, s)."""
    fn = "im2col"
    x = as_float_array(fn, "x", x, (3, 4))
    xb = x if x.ndim == 4 else x[None]
    wshape, stride, padding, dilation, (P, Q) = unfold_args(fn, xb.shape, kernel_size, stride,
                                                            padding, dilation)
    (_, C, R, S), (ph, pw) = wshape, padding
    xp = np.pad(xb, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = np.zeros((xb.shape[0], C * R * S, P * Q), dtype=x.dtype)
    for p in range(P):
        for q in range(Q):
            rows, cols = _receptive_field(p, q, R, S, stride, dilation)
            col[:, :, p * Q + q] = xp[:, :, rows, cols].reshape(xb.shape[0], C * R * S)
    return col if x.ndim == 4 else col[0]


def col2im(col: np.ndarray, input_shape, kernel_size, stride=1, padding=0,
           dilation=1) -> np.ndarray:
    """The adjoint of im2col: each column entry is added to the input position it reads."""
    fn = "col2im"
    col = as_float_array(fn, "col", col, (2, 3))
    shape = shape_nd(fn, "input_shape", input_shape, col.ndim + 1)
    xs = shape if len(shape) == 4 else (1,) + shape
    wshape, stride, padding, dilation, (P, Q) = unfold_args(fn, xs, kernel_size, stride,
                                                            padding, dilation)
    (N, C, H, W), (_, _, R, S), (ph, pw) = xs, wshape, padding
    cb = col if col.ndim == 3 else col[None]
    if cb.shape != (N, C * R * S, P * Q):
        raise ValueError(f"{fn}: argument 'col' must have shape {(N, C * R * S, P * Q)} "
                         f"(batched), got {col.shape}")
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=col.dtype)
    for p in range(P):
        for q in range(Q):
            rows, cols = _receptive_field(p, q, R, S, stride, dilation)
            xp[:, :, rows, cols] += cb[:, :, p * Q + q].reshape(N, C, R, S)
    im = np.ascontiguousarray(xp[:, :, ph:ph + H, pw:pw + W])  # padding is dropped
    return im if len(shape) == 4 else im[0]
