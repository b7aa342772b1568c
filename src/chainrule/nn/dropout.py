"""Dropout: ``F.dropout`` / ``F.dropout2d`` and ``nn.Dropout`` / ``nn.Dropout2d``.

In training each element (dropout) or each whole channel (dropout2d) is zeroed with
probability p and the rest are scaled by 1 / (1 - p); in evaluation they are the identity
(the input itself is returned). The masks come from the Philox kernels of
``chainrule.ops`` keyed by a (seed, offset) pair drawn from chainrule's global generator,
so successive calls differ and ``cr.manual_seed(s)`` replays a run exactly, on any thread
count.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import ops
from .._normchecks import prob_arg
from .._random import get_generator
from ..autograd.function import as_tensor, make
from .modules import Module

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import TensorLike

__all__ = ["dropout", "dropout2d", "Dropout", "Dropout2d"]


def _seed_offset():
    """A fresh (seed, offset) for one mask, from chainrule's global generator."""
    s, o = get_generator().integers(0, 1 << 64, size=2, dtype=np.uint64)
    return int(s), int(o)


def _inplace_target(fn, x):
    if x.requires_grad and x.is_leaf:
        raise ValueError(f"{fn}: inplace=True on a leaf Tensor that requires grad (use "
                         f"inplace=False)")
    return x.array


def dropout(input: TensorLike, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p, scale the others by 1 / (1 - p) (training);
    the identity otherwise. inplace=True writes the result into input's array."""
    fn = "dropout"
    x = as_tensor(input, fn, "input")
    p = prob_arg(fn, p)
    if not training:
        return x
    seed, offset = _seed_offset()
    if inplace:
        xd = _inplace_target(fn, x)
        y, mask = ops.dropout_forward(xd, p, seed, offset)
        xd[...] = y
        y = xd
    else:
        y, mask = ops.dropout_forward(x.array, p, seed, offset)

    def backward(g):
        return (ops.dropout_backward(g, mask, p),)
    return make(y, (x,), backward)


def dropout2d(input: TensorLike, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels: input (N, C, H, W) (or (N, C, L)); channel (n, c) is dropped
    with probability p, the kept ones are scaled by 1 / (1 - p)."""
    fn = "dropout2d"
    x = as_tensor(input, fn, "input")
    p = prob_arg(fn, p)
    xd = x.array
    if xd.ndim not in (3, 4):
        raise ValueError(f"{fn}: input must be (N, C, H, W) or (N, C, L), got shape "
                         f"{xd.shape}")
    if not training:
        return x
    seed, offset = _seed_offset()
    dt = xd.dtype.type
    keep = ops.dropout_mask(xd.shape[:2], p, seed, offset)
    scale = dt(1) / dt(1.0 - p) if p < 1.0 else dt(0)
    m = np.where(keep, scale, dt(0)).astype(xd.dtype).reshape(xd.shape[:2] +
                                                              (1,) * (xd.ndim - 2))
    if inplace:
        xd = _inplace_target(fn, x)
        np.multiply(xd, m, out=xd)
        y = xd
    else:
        y = xd * m

    def backward(g):
        return (g * m,)
    return make(y, (x,), backward)


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = prob_arg(type(self).__name__, p)
        self.inplace = bool(inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    def forward(self, input: TensorLike) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    def forward(self, input: TensorLike) -> Tensor:
        return dropout2d(input, self.p, self.training, self.inplace)
