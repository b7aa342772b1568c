"""Pooling layers beyond MaxPool2d/AvgPool2d (those are in modules.py): unpooling, adaptive
and 1-D pooling, PyTorch's names, arguments and defaults; each calls nn.functional."""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

from . import functional as F
from .modules import Module

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import IntPair, TensorLike

__all__ = ["MaxUnpool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxPool1d", "AvgPool1d",
           "AdaptiveAvgPool1d", "AdaptiveMaxPool1d"]


class MaxUnpool2d(Module):
    """F.max_unpool2d: forward(input, indices, output_size=None)."""

    def __init__(self, kernel_size: IntPair, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, input: TensorLike, indices: TensorLike, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _Adaptive(Module):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_Adaptive):
    def __init__(self, output_size: Any) -> None:
        super().__init__(output_size)

    def forward(self, x: TensorLike) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)


class AdaptiveMaxPool2d(_Adaptive):
    def forward(self, x: TensorLike) -> Any:
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_Adaptive):
    def __init__(self, output_size: Any) -> None:
        super().__init__(output_size)

    def forward(self, x: TensorLike) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveMaxPool1d(_Adaptive):
    def forward(self, x: TensorLike) -> Any:
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class MaxPool1d(Module):
    def __init__(self, kernel_size: IntPair, stride: Any = None, padding: Any = 0,
                 dilation: IntPair = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, kernel_size if stride is None else stride, padding
        self.dilation, self.return_indices = dilation, bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x: TensorLike) -> Any:
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    def __init__(self, kernel_size: IntPair, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, kernel_size if stride is None else stride, padding
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def forward(self, x: TensorLike) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
