"""2-D pooling as its definitions: a loop over output positions.

Window of output (p, q): input rows p*sh - ph + dh*[0, kh) and columns q*sw - pw + dw*[0, kw),
clipped to the image (padding is -inf for max, 0 for the average). The average's divisor:
divisor_override, else the window clipped to the padded input (count_include_pad) or to
the image. Adaptive windows: rows [floor(p*H/P), ceil((p+1)*H/P)), columns likewise.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .._checks import (adaptive_output_size, as_float_array, as_index_array, divisor_arg, flag,
                       pool2d_args, shape4)

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward", "max_unpool2d_forward", "max_unpool2d_backward",
           "adaptive_max_pool2d_forward", "adaptive_avg_pool2d_forward",
           "adaptive_avg_pool2d_backward"]


def _window(o, stride, pad, k, size):
    """In-image part [lo, hi) of the window of output o."""
    start = o * stride - pad
    return max(start, 0), min(start + k, size)


def _taps(o, stride, pad, k, dil, size):
    """In-image input positions of the dilated window of output o, in order."""
    start = o * stride - pad
    i0 = max(0, -(start // dil))                   # first tap at or after row 0
    i1 = min(k, max(0, -(-(size - start) // dil)))  # taps before row size
    return [start + i * dil for i in range(i0, i1)]


def max_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
                       ceil_mode: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W) -> (y, indices) (N, C, P, Q); indices = ih*W + iw of the first max."""
    fn = "max_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    kernel, stride, padding, dilation, (P, Q) = pool2d_args(fn, x.shape, kernel_size, stride,
                                                            padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    idx = np.empty((N, C, P, Q), dtype=np.int64)
    for p in range(P):
        rows = _taps(p, stride[0], padding[0], kernel[0], dilation[0], H)
        for q in range(Q):
            cols = _taps(q, stride[1], padding[1], kernel[1], dilation[1], W)
            flat = np.array([r * W + c for r in rows for c in cols], dtype=np.int64)  # row-major
            win = x.reshape(N, C, H * W)[:, :, flat]
            a = np.argmax(win, axis=2)                      # first max (or first NaN)
            y[:, :, p, q] = np.take_along_axis(win, a[:, :, None], axis=2)[:, :, 0]
            idx[:, :, p, q] = flat[a]
    return y, idx


def max_pool2d_backward(dy: np.ndarray, indices: np.ndarray, input_shape) -> np.ndarray:
    """dx[n, c].flat[indices[n, c, p, q]] += dy[n, c, p, q]."""
    fn = "max_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    indices = as_index_array(fn, "indices", indices)
    N, C, H, W = shape4(fn, "input_shape", input_shape)
    if indices.shape != dy.shape:
        raise ValueError(f"{fn}: argument 'indices' must have the shape of dy {dy.shape}, "
                         f"got {indices.shape}")
    if (N, C) != dy.shape[:2] or H < 1 or W < 1:
        raise ValueError(f"{fn}: argument 'input_shape' {(N, C, H, W)} does not fit dy {dy.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= H * W):
        raise ValueError(f"{fn}: indices lie outside the input plane [0, {H * W})")
    dx = np.zeros((N, C, H * W), dtype=dy.dtype)
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for p in range(dy.shape[2]):
        for q in range(dy.shape[3]):
            dx[n, c, indices[:, :, p, q]] += dy[:, :, p, q]
    return dx.reshape(N, C, H, W)


def _avg_setup(fn, shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
               divisor_override):
    kernel, stride, padding, _, (P, Q) = pool2d_args(fn, shape, kernel_size, stride, padding,
                                                     1, ceil_mode)
    incl = flag(fn, "count_include_pad", count_include_pad)
    div_override = divisor_arg(fn, divisor_override)
    H, W = shape[2:]

    def window(p, q):
        """(h0, h1, w0, w1, divisor) of output (p, q)."""
        hs, ws = p * stride[0] - padding[0], q * stride[1] - padding[1]
        he, we = min(hs + kernel[0], H + padding[0]), min(ws + kernel[1], W + padding[1])
        h0, h1, w0, w1 = max(hs, 0), min(he, H), max(ws, 0), min(we, W)
        if div_override:
            div = div_override
        elif incl:
            div = (he - hs) * (we - ws)
        else:
            div = (h1 - h0) * (w1 - w0)
        return h0, h1, w0, w1, div
    return (P, Q), window


def avg_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                       count_include_pad: bool = True,
                       divisor_override: Optional[int] = None) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C, P, Q) = window sum / divisor."""
    fn = "avg_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    (P, Q), window = _avg_setup(fn, x.shape, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)
    N, C, H, W = x.shape
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    for p in range(P):
        for q in range(Q):
            h0, h1, w0, w1, div = window(p, q)
            y[:, :, p, q] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / x.dtype.type(div)
    return y


def avg_pool2d_backward(dy: np.ndarray, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None) -> np.ndarray:
    """dx[n, c, i, j] = sum over windows (p, q) covering (i, j) of dy[n, c, p, q] / divisor."""
    fn = "avg_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    input_shape = shape4(fn, "input_shape", input_shape)
    (P, Q), window = _avg_setup(fn, input_shape, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)
    N, C, H, W = input_shape
    if dy.shape != (N, C, P, Q):
        raise ValueError(f"{fn}: argument 'dy' must have shape {(N, C, P, Q)}, got {dy.shape}")
    dx = np.zeros(input_shape, dtype=dy.dtype)
    for p in range(P):
        for q in range(Q):
            h0, h1, w0, w1, div = window(p, q)
            dx[:, :, h0:h1, w0:w1] += dy[:, :, p, q][:, :, None, None] / dy.dtype.type(div)
    return dx


def _check_indices(fn, indices, HW):
    if indices.size and (indices.min() < 0 or indices.max() >= HW):
        raise ValueError(f"{fn}: indices lie outside the plane [0, {HW})")


def max_unpool2d_forward(x: np.ndarray, indices: np.ndarray, output_shape) -> np.ndarray:
    """y (output_shape) zero, y[n, c].flat[indices[n, c, p, q]] = x[n, c, p, q] in row-major
    order (the last write wins)."""
    fn = "max_unpool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    indices = as_index_array(fn, "indices", indices)
    N, C, H, W = shape4(fn, "output_shape", output_shape)
    if indices.shape != x.shape:
        raise ValueError(f"{fn}: argument 'indices' must have the shape of x {x.shape}, "
                         f"got {indices.shape}")
    if (N, C) != x.shape[:2] or H < 1 or W < 1:
        raise ValueError(f"{fn}: argument 'output_shape' {(N, C, H, W)} does not fit x {x.shape}")
    _check_indices(fn, indices, H * W)
    y = np.zeros((N, C, H * W), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i, j in enumerate(indices[n, c].ravel()):
                y[n, c, j] = x[n, c].ravel()[i]
    return y.reshape(N, C, H, W)


def max_unpool2d_backward(dy: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """dx[n, c, p, q] = dy[n, c].flat[indices[n, c, p, q]]."""
    fn = "max_unpool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    indices = as_index_array(fn, "indices", indices)
    if indices.ndim != 4 or indices.shape[:2] != dy.shape[:2]:
        raise ValueError(f"{fn}: argument 'indices' must be (N, C, P, Q) with N and C of dy "
                         f"{dy.shape}, got {indices.shape}")
    if indices.size and min(dy.shape[2:]) < 1:
        raise ValueError(f"{fn}: dy {dy.shape} has an empty plane")
    N, C, H, W = dy.shape
    _check_indices(fn, indices, H * W)
    dx = np.zeros(indices.shape, dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            dx[n, c] = dy[n, c].ravel()[indices[n, c]]
    return dx


def _adaptive(o, n_out, n):
    return (o * n) // n_out, -((-(o + 1) * n) // n_out)


def adaptive_max_pool2d_forward(x: np.ndarray, output_size) -> Tuple[np.ndarray, np.ndarray]:
    """(y, indices) (N, C, P, Q): max of each adaptive window, first max in row-major order."""
    fn = "adaptive_max_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    P, Q = adaptive_output_size(fn, x.shape, output_size)
    N, C, H, W = x.shape
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    idx = np.empty((N, C, P, Q), dtype=np.int64)
    for p in range(P):
        h0, h1 = _adaptive(p, P, H)
        for q in range(Q):
            w0, w1 = _adaptive(q, Q, W)
            win = x[:, :, h0:h1, w0:w1].reshape(N, C, (h1 - h0) * (w1 - w0))  # row-major
            a = np.argmax(win, axis=2) if win.size else np.zeros((N, C), np.int64)
            y[:, :, p, q] = np.take_along_axis(win, a[:, :, None], axis=2)[:, :, 0]
            idx[:, :, p, q] = (h0 + a // (w1 - w0)) * W + w0 + a % (w1 - w0)
    return y, idx


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size) -> np.ndarray:
    """y (N, C, P, Q): mean of each adaptive window."""
    fn = "adaptive_avg_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    P, Q = adaptive_output_size(fn, x.shape, output_size)
    N, C, H, W = x.shape
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    for p in range(P):
        h0, h1 = _adaptive(p, P, H)
        for q in range(Q):
            w0, w1 = _adaptive(q, Q, W)
            y[:, :, p, q] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / x.dtype.type((h1 - h0) * (w1 - w0))
    return y


def adaptive_avg_pool2d_backward(dy: np.ndarray, input_shape) -> np.ndarray:
    """dx: each adaptive window's elements get dy[n, c, p, q] / its size."""
    fn = "adaptive_avg_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    input_shape = shape4(fn, "input_shape", input_shape)
    if input_shape[:2] != dy.shape[:2] or min(input_shape[2:]) < 1 or min(dy.shape[2:]) < 1:
        raise ValueError(f"{fn}: argument 'input_shape' {input_shape} does not fit dy {dy.shape}")
    N, C, H, W = input_shape
    P, Q = dy.shape[2:]
    dx = np.zeros(input_shape, dtype=dy.dtype)
    for p in range(P):
        h0, h1 = _adaptive(p, P, H)
        for q in range(Q):
            w0, w1 = _adaptive(q, Q, W)
            dx[:, :, h0:h1, w0:w1] += dy[:, :, p, q][:, :, None, None] / dy.dtype.type((h1 - h0) * (w1 - w0))
    return dx
