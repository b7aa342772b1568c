"""2-D max and average pooling (C with OpenMP, parallel over the N*C planes).

Shapes: x (N, C, H, W) -> y (N, C, P, Q), P = (H + 2*ph - kh) // sh + 1 (floor mode).
``kernel_size``, ``stride`` (None = kernel_size) and ``padding`` are an int or an (h, w)
pair; padding must be at most half the kernel (PyTorch's rule).
Max pooling: padding counts as -inf; ``indices`` (int64) hold the flat index ih*W + iw of
the maximum in its (H, W) input plane, the first one in row-major order on ties (strict >);
a NaN in a window wins (the first NaN). Average pooling counts the padding in the divisor
(kh*kw, PyTorch's count_include_pad=True).
"""
import numpy as np

from .. import _kernels
from .._checks import as_float_array, as_index_array, pool2d_output_size, shape4

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward"]


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """x (N, C, H, W) -> (y (N, C, P, Q), indices (N, C, P, Q) int64)."""
    fn = "max_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    kernel, stride, padding, (P, Q) = pool2d_output_size(fn, x.shape, kernel_size, stride, padding)
    N, C = x.shape[:2]
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    idx = np.empty((N, C, P, Q), dtype=np.int64)
    _kernels.max_pool2d_forward(y, idx, x, kernel, stride, padding)
    return y, idx


def max_pool2d_backward(dy, indices, input_shape):
    """dx (input_shape) with dx[n, c].flat[indices[n, c, p, q]] += dy[n, c, p, q].

    dy (N, C, P, Q), indices (N, C, P, Q) int64 in [0, H*W), input_shape (N, C, H, W).
    """
    fn = "max_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    indices = as_index_array(fn, "indices", indices)
    input_shape = shape4(fn, "input_shape", input_shape)
    if indices.shape != dy.shape:
        raise ValueError(f"{fn}: argument 'indices' must have the shape of dy {dy.shape}, "
                         f"got {indices.shape}")
    N, C, H, W = input_shape
    if (N, C) != dy.shape[:2] or H < 1 or W < 1:
        raise ValueError(f"{fn}: argument 'input_shape' {input_shape} does not fit dy "
                         f"{dy.shape} (N and C must match, H and W must be >= 1)")
    dx = np.zeros(input_shape, dtype=dy.dtype)
    bad = _kernels.max_pool2d_backward(dx, dy, indices)
    if bad:
        raise ValueError(f"{fn}: {bad} of {indices.size} indices lie outside the input plane "
                         f"[0, H*W) = [0, {H * W}) for input_shape {input_shape}")
    return dx


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """x (N, C, H, W) -> y (N, C, P, Q), window sums divided by kh*kw."""
    fn = "avg_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    kernel, stride, padding, (P, Q) = pool2d_output_size(fn, x.shape, kernel_size, stride, padding)
    y = np.empty((x.shape[0], x.shape[1], P, Q), dtype=x.dtype)
    _kernels.avg_pool2d_forward(y, x, kernel, stride, padding)
    return y


def avg_pool2d_backward(dy, input_shape, kernel_size, stride=None, padding=0):
    """dx (input_shape): every input position gets dy/(kh*kw) from each window covering it.

    dy (N, C, P, Q), input_shape (N, C, H, W).
    """
    fn = "avg_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    input_shape = shape4(fn, "input_shape", input_shape)
    kernel, stride, padding, (P, Q) = pool2d_output_size(fn, input_shape, kernel_size, stride,
                                                         padding)
    want = (input_shape[0], input_shape[1], P, Q)
    if dy.shape != want:
        raise ValueError(f"{fn}: argument 'dy' must have shape {want} for input_shape "
                         f"{input_shape}, kernel_size {kernel}, stride {stride}, padding "
                         f"{padding}, got {dy.shape}")
    dx = np.zeros(input_shape, dtype=dy.dtype)
    _kernels.avg_pool2d_backward(dx, dy, kernel, stride, padding)
    return dx
