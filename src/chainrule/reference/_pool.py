"""2-D max and average pooling as their definitions: a loop over output positions.

Window of output (p, q): input rows p*sh - ph + [0, kh) and columns q*sw - pw + [0, kw),
clipped to the image (padding is -inf for max, 0 for the average, whose divisor is kh*kw).
"""
import numpy as np

from .._checks import as_float_array, as_index_array, pool2d_output_size, shape4

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward"]


def _window(o, stride, pad, k, size):
    """In-image part [lo, hi) of the window of output o."""
    start = o * stride - pad
    return max(start, 0), min(start + k, size)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """x (N, C, H, W) -> (y, indices) (N, C, P, Q); indices = ih*W + iw of the first max."""
    fn = "max_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    kernel, stride, padding, (P, Q) = pool2d_output_size(fn, x.shape, kernel_size, stride, padding)
    N, C, H, W = x.shape
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    idx = np.empty((N, C, P, Q), dtype=np.int64)
    for p in range(P):
        h0, h1 = _window(p, stride[0], padding[0], kernel[0], H)
        for q in range(Q):
            w0, w1 = _window(q, stride[1], padding[1], kernel[1], W)
            win = x[:, :, h0:h1, w0:w1].reshape(N, C, (h1 - h0) * (w1 - w0))  # row-major
            a = np.argmax(win, axis=2)                      # first max (or first NaN)
            y[:, :, p, q] = np.take_along_axis(win, a[:, :, None], axis=2)[:, :, 0]
            idx[:, :, p, q] = (h0 + a // (w1 - w0)) * W + (w0 + a % (w1 - w0))
    return y, idx


def max_pool2d_backward(dy, indices, input_shape):
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


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """x (N, C, H, W) -> y (N, C, P, Q) = window sum / (kh*kw)."""
    fn = "avg_pool2d_forward"
    x = as_float_array(fn, "x", x, 4)
    kernel, stride, padding, (P, Q) = pool2d_output_size(fn, x.shape, kernel_size, stride, padding)
    N, C, H, W = x.shape
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    for p in range(P):
        h0, h1 = _window(p, stride[0], padding[0], kernel[0], H)
        for q in range(Q):
            w0, w1 = _window(q, stride[1], padding[1], kernel[1], W)
            y[:, :, p, q] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / (kernel[0] * kernel[1])
    return y


def avg_pool2d_backward(dy, input_shape, kernel_size, stride=None, padding=0):
    """dx[n, c, i, j] = sum over windows (p, q) covering (i, j) of dy[n, c, p, q] / (kh*kw)."""
    fn = "avg_pool2d_backward"
    dy = as_float_array(fn, "dy", dy, 4)
    input_shape = shape4(fn, "input_shape", input_shape)
    kernel, stride, padding, (P, Q) = pool2d_output_size(fn, input_shape, kernel_size, stride,
                                                         padding)
    N, C, H, W = input_shape
    if dy.shape != (N, C, P, Q):
        raise ValueError(f"{fn}: argument 'dy' must have shape {(N, C, P, Q)}, got {dy.shape}")
    dx = np.zeros(input_shape, dtype=dy.dtype)
    for p in range(P):
        h0, h1 = _window(p, stride[0], padding[0], kernel[0], H)
        for q in range(Q):
            w0, w1 = _window(q, stride[1], padding[1], kernel[1], W)
            dx[:, :, h0:h1, w0:w1] += dy[:, :, p, q][:, :, None, None] / (kernel[0] * kernel[1])
    return dx
