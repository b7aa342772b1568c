"""Conv1d and ConvTranspose2d (and their functional forms) on the 2-D conv kernels.

conv1d runs conv2d on (N, C, 1, L) views. conv_transpose2d is conv2d's adjoint in x: its
forward is ops.conv2d_backward's dx (the conv weight (C_in, C_out / groups, kh, kw) read as
K = C_in filters over C_out channels), its backward is ops.conv2d_forward (dx) and
ops.conv2d_backward's dw (dw).
"""
from __future__ import annotations

from typing import Any, Optional, TYPE_CHECKING

import math

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .. import ops
from .._checks import alloc, check_numel, pair
from ..autograd.function import as_tensor, make
from . import functional as F
from . import init
from .modules import Conv2d, Module, Parameter, _as_dtype, _int_arg, _mode_pad, _padding_mode

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import DTypeLike, IntPair, TensorLike

__all__ = ["conv1d", "conv_transpose2d", "Conv1d", "ConvTranspose2d"]


def _one(fn, name, v, minimum):
    """An int or a 1-tuple -> int (Conv1d's sizes)."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    return pair(fn, name, v, minimum)[0]


def conv1d(x: TensorLike, w: TensorLike, b: Optional[TensorLike] = None, stride: IntPair = 1,
           padding: Any = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation, NCL: x (N, C, L) or (C, L), w (K, C / groups, k), b (K,)."""
    fn = "conv1d"
    x = as_tensor(x, fn, "x")
    w = as_tensor(w, fn, "weight")
    if x.array.ndim not in (2, 3):
        raise ValueError(f"{fn}: x must have shape (N, C, L) or (C, L), got {x.array.shape}")
    if w.array.ndim != 3:
        raise ValueError(f"{fn}: weight must have shape (out_channels, in_channels / groups, "
                         f"k), got {w.array.shape}")
    p = padding if isinstance(padding, str) else (0, _one(fn, "padding", padding, 0))
    x4 = x.reshape(x.array.shape[:-1] + (1, x.array.shape[-1]))
    w4 = w.reshape(w.array.shape[:2] + (1, w.array.shape[2]))
    y = F.conv2d(x4, w4, b, (1, _one(fn, "stride", stride, 1)), p,
                 (1, _one(fn, "dilation", dilation, 1)), groups)
    return y.reshape(y.array.shape[:-2] + (y.array.shape[-1],))


def conv_transpose2d(x: TensorLike, w: TensorLike, b: Optional[TensorLike] = None,
                     stride: IntPair = 1, padding: Any = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> Tensor:
    """Transposed 2-D convolution (PyTorch's argument order): x (N, C_in, H, W),
    w (C_in, C_out / groups, kh, kw), b (C_out,) -> (N, C_out, Ho, Wo) with
    Ho = (H - 1)*sh - 2*ph + dh*(kh - 1) + output_padding_h + 1."""
    fn = "conv_transpose2d"
    x = as_tensor(x, fn, "x")
    w = as_tensor(w, fn, "weight")
    b = as_tensor(b, fn, "bias") if b is not None else None
    stride = pair(fn, "stride", stride, 1)
    padding = pair(fn, "padding", padding, 0)
    dilation = pair(fn, "dilation", dilation, 1)
    opad = pair(fn, "output_padding", output_padding, 0)
    if any(o >= max(s, d) for o, s, d in zip(opad, stride, dilation)):
        raise ValueError(f"{fn}: output_padding {opad} must be smaller than stride {stride} "
                         f"or dilation {dilation}")
    xd, wd = x.array, w.array
    if xd.ndim not in (3, 4) or wd.ndim != 4:
        raise ValueError(f"{fn}: x must be (N, C_in, H, W) or (C_in, H, W) and weight "
                         f"(C_in, C_out / groups, kh, kw), got x {xd.shape}, weight {wd.shape}")
    if xd.dtype != wd.dtype or (b is not None and b.array.dtype != xd.dtype):
        raise TypeError(f"{fn}: x, weight and bias must share a dtype, got {xd.dtype}, "
                        f"{wd.dtype}{'' if b is None else ', ' + str(b.array.dtype)}")
    unbatched = xd.ndim == 3
    if unbatched:
        xd = xd[None]
    groups = _int_arg(fn, "groups", groups, 1)
    N, Cin, H, W = xd.shape
    if wd.shape[0] != Cin:
        raise ValueError(f"{fn}: weight {wd.shape} expects {wd.shape[0]} input channels, x "
                         f"{xd.shape} has {Cin}")
    Cout = wd.shape[1] * groups
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
                zip((H, W), stride, padding, dilation, wd.shape[2:], opad))
    if min(out) < 1:
        raise ValueError(f"{fn}: output size {out} is empty for x {xd.shape}, weight "
                         f"{wd.shape}, stride {stride}, padding {padding}")
    shape = (N, Cout) + out
    check_numel(fn, "the output (N, C_out, Ho, Wo)", shape)
    y, _, _ = ops.conv2d_backward(xd, np.zeros(shape, xd.dtype), wd, stride, padding,
                                  dilation, groups, bias=False, need_dw=False)
    if b is not None:
        if b.array.shape != (Cout,):
            raise ValueError(f"{fn}: bias must have shape ({Cout},), got {b.array.shape}")
        y += b.array[None, :, None, None]
    parents = (x, w) if b is None else (x, w, b)

    def backward(g):
        g = g[None] if unbatched else g
        dx = ops.conv2d_forward(g, wd, None, stride, padding, dilation, groups) \
            if x.requires_grad else None
        dw = None
        if w.requires_grad:  # a frozen weight costs no dW
            _, dw, _ = ops.conv2d_backward(xd, g, wd, stride, padding, dilation, groups,
                                           bias=False, need_dx=False)
        if unbatched and dx is not None:
            dx = dx[0]
        grads = (dx, dw)
        if b is None:
            return grads
        return grads + (g.sum(axis=(0, 2, 3)) if b.requires_grad else None,)
    return make(y[0] if unbatched else y, parents, backward)


class Conv1d(Conv2d):
    """1-D convolution, NCL; weight (out, in / groups, k). PyTorch's arguments and init."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: Any = 1,
                 padding: Any = 0, dilation: IntPair = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Optional[DTypeLike] = None) -> None:
        fn = "Conv1d"
        k = _one(fn, "kernel_size", kernel_size, 1)
        p = padding if isinstance(padding, str) else (0, _one(fn, "padding", padding, 0))
        super().__init__(in_channels, out_channels, (1, k), (1, _one(fn, "stride", stride, 1)),
                         p, (1, _one(fn, "dilation", dilation, 1)), groups, bias,
                         padding_mode, dtype)
        self.weight.array = self.weight.array.reshape(self.out_channels, -1, k)  # same values
        self.kernel_size, self.stride = (k,), (self.stride[1],)
        self.dilation = (self.dilation[1],)
        if not isinstance(self.padding, str):
            self.padding = (self.padding[1],)

    def forward(self, x: TensorLike) -> Tensor:
        if self.padding_mode != "zeros":
            return conv1d(F.pad(x, _mode_pad(self), mode=self.padding_mode), self.weight,
                          self.bias, self.stride, 0, self.dilation, self.groups)
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        for name, default in (("padding", (0,)), ("dilation", (1,)), ("groups", 1)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        s += ", bias=False" if self.bias is None else ""
        return s + (f", padding_mode={self.padding_mode}" if self.padding_mode != "zeros" else "")


class ConvTranspose2d(Module):
    """Transposed 2-D convolution; weight (in, out / groups, kh, kw), bias (out,).
    Initialised as PyTorch (fan_in from weight.shape[1] * kh * kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: Any = 1,
                 padding: Any = 0, output_padding: IntPair = 0, groups: int = 1,
                 bias: bool = True, dilation: IntPair = 1, padding_mode: str = "zeros",
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = "ConvTranspose2d"
        self.in_channels = _int_arg(fn, "in_channels", in_channels, 1)
        self.out_channels = _int_arg(fn, "out_channels", out_channels, 1)
        self.groups = _int_arg(fn, "groups", groups, 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{fn}: groups={self.groups} must divide in_channels "
                             f"({self.in_channels}) and out_channels ({self.out_channels})")
        self.kernel_size = pair(fn, "kernel_size", kernel_size, 1)
        self.stride = pair(fn, "stride", stride, 1)
        self.padding = pair(fn, "padding", padding, 0)
        self.output_padding = pair(fn, "output_padding", output_padding, 0)
        self.dilation = pair(fn, "dilation", dilation, 1)
        self.padding_mode = _padding_mode(fn, padding_mode, ("zeros",))  # as PyTorch
        dt = _as_dtype(fn, dtype if dtype is not None else get_default_dtype())
        self.weight = Parameter(alloc(fn, "weight", (self.in_channels, self.out_channels //
                                                     self.groups) + self.kernel_size, dt))
        if bias:
            self.bias = Parameter(alloc(fn, "bias", (self.out_channels,), dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.weight.array[0].size)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: TensorLike) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.groups, self.dilation)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
