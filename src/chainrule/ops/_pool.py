"""2-D max and average pooling, unpooling and adaptive pooling (C with OpenMP, parallel over
the N*C planes).

Shapes: x (N, C, H, W) -> y (N, C, P, Q), P = (H + 2*ph - dh*(kh-1) - 1) / sh + 1 rounded
down, or up with ``ceil_mode`` (PyTorch's rule: the last window starts inside the input or
the left padding). ``kernel_size``, ``stride`` (None = kernel_size), ``padding`` and
``dilation`` are an int or an (h, w) pair; padding must be at most half the kernel
(PyTorch's rule).
Max pooling: padding counts as -inf; ``indices`` (int64) hold the flat index ih*W + iw of
the maximum in its (H, W) input plane, the first one in row-major order on ties (strict >);
a NaN in a window wins (the first NaN). Average pooling divides by ``divisor_override`` if
given, else by the window's size clipped to the padded input (``count_include_pad=True``,
kh*kw but for ceil_mode's last windows) or by its number of input elements.
Adaptive pooling: output (P, Q) given; window of p = rows [floor(p*H/P), ceil((p+1)*H/P)).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .. import _kernels
from .._checks import (adaptive_output_size, as_float_array, as_index_array, divisor_arg, flag,
                       pool2d_args, shape4)

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward", "max_unpool2d_forward", "max_unpool2d_backward",
           "adaptive_max_pool2d_forward", "adaptive_avg_pool2d_forward",
           "adaptive_avg_pool2d_backward"]


def max_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
                       ceil_mode: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W) -> (y (N, C, P, Q), indices (N, C, P, Q) int64)."""
    fn = "max_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    kernel, stride, padding, dilation, (P, Q) = pool2d_args(fn, x.shape, kernel_size, stride,
                                                            padding, dilation, ceil_mode)
    N, C = x.shape[:2]
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    idx = np.empty((N, C, P, Q), dtype=np.int64)
    _kernels.max_pool2d_forward(y, idx, x, kernel, stride, padding, dilation, bool(ceil_mode))
    return y, idx


def _scatter_args(fn, dy, indices, input_shape, dyname="dy", shapename="input_shape"):
    dy = as_float_array(fn, dyname, dy, 4)
    indices = as_index_array(fn, "indices", indices)
    input_shape = shape4(fn, shapename, input_shape)
    if indices.shape != dy.shape:
        raise ValueError(f"{fn}: argument 'indices' must have the shape of {dyname} "
                         f"{dy.shape}, got {indices.shape}")
    N, C, H, W = input_shape
    if (N, C) != dy.shape[:2] or H < 1 or W < 1:
        raise ValueError(f"{fn}: argument '{shapename}' {input_shape} does not fit {dyname} "
                         f"{dy.shape} (N and C must match, H and W must be >= 1)")
    return dy, indices, input_shape


def _bad(fn, bad, indices, shape, what="input"):
    if bad:
        raise ValueError(f"{fn}: {bad} of {indices.size} indices lie outside the {what} plane "
                         f"[0, H*W) = [0, {shape[2] * shape[3]}) for {what}_shape {shape}")


def max_pool2d_backward(dy: np.ndarray, indices: np.ndarray, input_shape) -> np.ndarray:
    """dx (input_shape) with dx[n, c].flat[indices[n, c, p, q]] += dy[n, c, p, q].

    dy (N, C, P, Q), indices (N, C, P, Q) int64 in [0, H*W), input_shape (N, C, H, W).
    Also the backward of adaptive_max_pool2d_forward.
    """
    fn = "max_pool2d_backward"
    dy, indices, input_shape = _scatter_args(fn, dy, indices, input_shape)
    dx = np.zeros(input_shape, dtype=dy.dtype)
    _bad(fn, _kernels.max_pool2d_backward(dx, dy, indices), indices, input_shape)
    return dx


def _avg_args(fn, shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    kernel, stride, padding, _, PQ = pool2d_args(fn, shape, kernel_size, stride, padding, 1,
                                                 ceil_mode)
    return (kernel, stride, padding, bool(ceil_mode),
            flag(fn, "count_include_pad", count_include_pad),
            divisor_arg(fn, divisor_override)), PQ


def avg_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                       count_include_pad: bool = True,
                       divisor_override: Optional[int] = None) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C, P, Q), window sums divided by the divisor (see above)."""
    fn = "avg_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    args, (P, Q) = _avg_args(fn, x.shape, kernel_size, stride, padding, ceil_mode,
                             count_include_pad, divisor_override)
    y = np.empty((x.shape[0], x.shape[1], P, Q), dtype=x.dtype)
    _kernels.avg_pool2d_forward(y, x, *args)
    return y


def avg_pool2d_backward(dy: np.ndarray, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None) -> np.ndarray:
    """dx (input_shape): every input position gets dy/divisor from each window covering it.

    dy (N, C, P, Q), input_shape (N, C, H, W).
    """
    fn = "avg_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    input_shape = shape4(fn, "input_shape", input_shape)
    args, (P, Q) = _avg_args(fn, input_shape, kernel_size, stride, padding, ceil_mode,
                             count_include_pad, divisor_override)
    want = (input_shape[0], input_shape[1], P, Q)
    if dy.shape != want:
        raise ValueError(f"{fn}: argument 'dy' must have shape {want} for input_shape "
                         f"{input_shape}, kernel_size {args[0]}, stride {args[1]}, padding "
                         f"{args[2]}, got {dy.shape}")
    dx = np.zeros(input_shape, dtype=dy.dtype)
    _kernels.avg_pool2d_backward(dx, dy, *args)
    return dx


def max_unpool2d_forward(x: np.ndarray, indices: np.ndarray, output_shape) -> np.ndarray:
    """y (output_shape (N, C, H, W)) zero but y[n, c].flat[indices[n, c, p, q]] = x[n, c, p, q]
    (x and indices (N, C, P, Q); on repeated indices the last one in row-major order wins)."""
    fn = "max_unpool2d_forward"
    x, indices, output_shape = _scatter_args(fn, x, indices, output_shape, "x", "output_shape")
    y = np.zeros(output_shape, dtype=x.dtype)
    _bad(fn, _kernels.max_unpool2d_forward(y, x, indices), indices, output_shape, "output")
    return y


def max_unpool2d_backward(dy: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """dx (N, C, P, Q) = dy[n, c].flat[indices[n, c, p, q]] (a gather); dy (N, C, H, W)."""
    fn = "max_unpool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    indices = as_index_array(fn, "indices", indices)
    if indices.ndim != 4 or indices.shape[:2] != dy.shape[:2]:
        raise ValueError(f"{fn}: argument 'indices' must be (N, C, P, Q) with N and C of dy "
                         f"{dy.shape}, got {indices.shape}")
    if indices.size and min(dy.shape[2:]) < 1:
        raise ValueError(f"{fn}: dy {dy.shape} has an empty plane")
    dx = np.empty(indices.shape, dtype=dy.dtype)
    _bad(fn, _kernels.max_unpool2d_backward(dx, dy, indices), indices, dy.shape, "dy")
    return dx


def adaptive_max_pool2d_forward(x: np.ndarray, output_size) -> Tuple[np.ndarray, np.ndarray]:
    """x (N, C, H, W) -> (y, indices) (N, C, P, Q): max of each adaptive window, indices as
    max_pool2d_forward's. output_size: int, pair, None entries keep the input size."""
    fn = "adaptive_max_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    P, Q = adaptive_output_size(fn, x.shape, output_size)
    y = np.empty(x.shape[:2] + (P, Q), dtype=x.dtype)
    idx = np.empty(x.shape[:2] + (P, Q), dtype=np.int64)
    _kernels.adaptive_max_pool2d_forward(y, idx, x)
    return y, idx


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C, P, Q), the mean of each adaptive window (output 1x1: a
    global average pool)."""
    fn = "adaptive_avg_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    P, Q = adaptive_output_size(fn, x.shape, output_size)
    y = np.empty(x.shape[:2] + (P, Q), dtype=x.dtype)
    _kernels.adaptive_avg_pool2d_forward(y, x)
    return y


def adaptive_avg_pool2d_backward(dy: np.ndarray, input_shape) -> np.ndarray:
    """dx (input_shape): each window's elements get dy[n, c, p, q] / its size."""
    fn = "adaptive_avg_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    input_shape = shape4(fn, "input_shape", input_shape)
    if input_shape[:2] != dy.shape[:2] or min(input_shape[2:]) < 1 or min(dy.shape[2:]) < 1:
        raise ValueError(f"{fn}: argument 'input_shape' {input_shape} does not fit dy "
                         f"{dy.shape} (N and C must match, planes non-empty)")
    dx = np.zeros(input_shape, dtype=dy.dtype)
    _kernels.adaptive_avg_pool2d_backward(dx, dy)
    return dx
