"""Pooling as functions of Tensors (PyTorch's F.*pool*): each one autograd node whose forward
and backward call ``chainrule.ops`` (C kernels). Inputs are NCHW or unbatched CHW (2-D), NCL
or CL (1-D: the 2-D kernels on a height-1 plane). Indices (``return_indices``) are constant
int64 Tensors holding flat positions in each input plane, PyTorch's convention.
"""
from __future__ import annotations

from typing import Any, Optional, TYPE_CHECKING

import numpy as np

from .. import ops
from .._checks import as_int, pair
from ..autograd.function import as_tensor, const, make

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import IntPair, TensorLike

__all__ = ["max_pool2d", "avg_pool2d", "max_unpool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d",
           "adaptive_max_pool1d"]


def _pool_input(fn, x, dims=2):
    x = as_tensor(x, fn, "x")
    xd = x.array
    if xd.ndim not in (dims + 1, dims + 2):
        want = "(N, C, H, W) or (C, H, W)" if dims == 2 else "(N, C, L) or (C, L)"
        raise ValueError(f"{fn}: x must have shape {want}, got {xd.shape}")
    unbatched = xd.ndim == dims + 1
    x4 = xd[None] if unbatched else xd
    if dims == 1:
        x4 = x4[:, :, None, :]
    return x, x4, unbatched


def _out(y, unbatched, dims=2):
    """The 4-D kernel result back to the caller's layout."""
    if dims == 1:
        y = y[:, :, 0, :]
    return y[0] if unbatched else y


def _in(g, unbatched, dims=2):
    """An upstream gradient in the caller's layout -> 4-D."""
    g = g[None] if unbatched else g
    return g[:, :, None, :] if dims == 1 else g


def _max_pool(fn, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, dims):
    x, xd, unbatched = _pool_input(fn, x, dims)
    y, indices = ops.max_pool2d_forward(xd, kernel_size, stride, padding, dilation, ceil_mode)
    shape = xd.shape

    def backward(g):
        return (_out(ops.max_pool2d_backward(_in(g, unbatched, dims), indices, shape), unbatched,
                     dims),)
    out = make(_out(y, unbatched, dims), (x,), backward)
    return (out, const(_out(indices, unbatched, dims))) if return_indices else out


def max_pool2d(input: TensorLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max pooling, NCHW (or CHW); the gradient goes to the first maximum (row-major) of
    each window. With return_indices, also the int64 indices (flat in each H*W plane)."""
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 2)


def _avg_pool(fn, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, dims):
    x, xd, unbatched = _pool_input(fn, x, dims)
    opts = (ceil_mode, count_include_pad, divisor_override)
    y = ops.avg_pool2d_forward(xd, kernel_size, stride, padding, *opts)
    shape = xd.shape

    def backward(g):
        dx = ops.avg_pool2d_backward(_in(g, unbatched, dims), shape, kernel_size, stride,
                                     padding, *opts)
        return (_out(dx, unbatched, dims),)
    return make(_out(y, unbatched, dims), (x,), backward)


def avg_pool2d(input: TensorLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """Average pooling, NCHW (or CHW). The divisor: divisor_override if given, else the
    window clipped to the padded input (count_include_pad, PyTorch's default) or its number
    of input elements."""
    return _avg_pool("avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, 2)


def _line(fn, name, v, minimum):
    """A 1-D pooling size (an int or a 1-tuple) as the (h, v) pair of the 2-D kernels (h =
    0 for the padding, else 1)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{fn}: argument '{name}' must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return (minimum, as_int(fn, name, v, minimum))


def max_pool1d(input: TensorLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Max pooling over the last axis of (N, C, L) or (C, L); indices are positions in L."""
    fn = "max_pool1d"
    stride = None if stride is None else _line(fn, "stride", stride, 1)
    return _max_pool(fn, input, _line(fn, "kernel_size", kernel_size, 1), stride,
                     _line(fn, "padding", padding, 0), _line(fn, "dilation", dilation, 1),
                     ceil_mode, return_indices, 1)


def avg_pool1d(input: TensorLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Average pooling over the last axis of (N, C, L) or (C, L)."""
    fn = "avg_pool1d"
    stride = None if stride is None else _line(fn, "stride", stride, 1)
    return _avg_pool(fn, input, _line(fn, "kernel_size", kernel_size, 1), stride,
                     _line(fn, "padding", padding, 0), ceil_mode, count_include_pad, None, 1)


def max_unpool2d(input: TensorLike, indices: TensorLike, kernel_size: IntPair,
                 stride: Optional[IntPair] = None, padding: IntPair = 0,
                 output_size: Any = None) -> Any:
    """The inverse of max_pool2d: zeros of the output size with input[n, c, p, q] written at
    indices[n, c, p, q] (flat in each plane). Output size (H_in - 1)*stride - 2*padding +
    kernel_size, or output_size ((H, W), or a longer shape whose last two entries count)."""
    fn = "max_unpool2d"
    x, xd, unbatched = _pool_input(fn, input, 2)
    idx = np.asarray(indices)
    idx = idx[None] if unbatched and idx.ndim == 3 else idx
    kernel = pair(fn, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(fn, "stride", stride, 1)
    padding = pair(fn, "padding", padding, 0)
    if output_size is None:
        hw = tuple((xd.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + kernel[i] for i in (0, 1))
    else:
        size = tuple(output_size)
        if len(size) not in (2, 3, 4):
            raise ValueError(f"{fn}: argument 'output_size' must end with (H, W), got {size!r}")
        hw = (as_int(fn, "output_size", size[-2], 1), as_int(fn, "output_size", size[-1], 1))
    y = ops.max_unpool2d_forward(xd, idx, xd.shape[:2] + hw)

    def backward(g):
        return (_out(ops.max_unpool2d_backward(_in(g, unbatched), idx), unbatched),)
    return make(_out(y, unbatched), (x,), backward)


def _adaptive_avg(fn, x, output_size, dims):
    x, xd, unbatched = _pool_input(fn, x, dims)
    y = ops.adaptive_avg_pool2d_forward(xd, output_size)
    shape = xd.shape

    def backward(g):
        return (_out(ops.adaptive_avg_pool2d_backward(_in(g, unbatched, dims), shape),
                     unbatched, dims),)
    return make(_out(y, unbatched, dims), (x,), backward)


def _adaptive_max(fn, x, output_size, return_indices, dims):
    x, xd, unbatched = _pool_input(fn, x, dims)
    y, indices = ops.adaptive_max_pool2d_forward(xd, output_size)
    shape = xd.shape

    def backward(g):
        return (_out(ops.max_pool2d_backward(_in(g, unbatched, dims), indices, shape), unbatched,
                     dims),)
    out = make(_out(y, unbatched, dims), (x,), backward)
    return (out, const(_out(indices, unbatched, dims))) if return_indices else out


def adaptive_avg_pool2d(input: TensorLike, output_size: Any) -> Tensor:
    """Mean over PyTorch's adaptive windows (rows [floor(p*H/P), ceil((p+1)*H/P))); an int,
    a pair, None entries keep the input size. output_size 1 = global average pooling."""
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_max_pool2d(input: TensorLike, output_size: Any, return_indices: bool = False) -> Any:
    """Max over PyTorch's adaptive windows (first maximum, row-major)."""
    return _adaptive_max("adaptive_max_pool2d", input, output_size, return_indices, 2)


def _size1(fn, output_size):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise ValueError(f"{fn}: argument 'output_size' must be an int or a 1-tuple, got "
                             f"{output_size!r}")
        output_size = output_size[0]
    return (1, output_size)


def adaptive_avg_pool1d(input: TensorLike, output_size: Any) -> Tensor:
    """adaptive_avg_pool2d over the last axis of (N, C, L) or (C, L)."""
    fn = "adaptive_avg_pool1d"
    return _adaptive_avg(fn, input, _size1(fn, output_size), 1)


def adaptive_max_pool1d(input: TensorLike, output_size: Any, return_indices: bool = False) -> Any:
    """adaptive_max_pool2d over the last axis of (N, C, L) or (C, L)."""
    fn = "adaptive_max_pool1d"
    return _adaptive_max(fn, input, _size1(fn, output_size), return_indices, 1)
