"""Batch normalization: ``F.batch_norm`` and ``nn.BatchNorm1d`` / ``nn.BatchNorm2d``
(PyTorch's names, arguments, defaults, state-dict keys and semantics).

Training uses the batch statistics (biased variance to normalise) and, when running
statistics are given, updates them in place with the unbiased variance:
    running = (1 - momentum) * running + momentum * batch_stat
Evaluation normalises with the running statistics. One autograd node on the C kernels of
``chainrule.ops`` (batch_norm_forward / batch_norm_inference / batch_norm_backward).
"""
from __future__ import annotations

from typing import Optional, TYPE_CHECKING

import numbers

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .. import ops
from .._checks import alloc
from ..autograd import Tensor
from ..autograd.engine import CLOSURE_REFS, sole
from ..autograd.function import as_tensor, make
from .modules import Module, Parameter, _as_dtype, _int_arg

if TYPE_CHECKING:
    from .._typing import DTypeLike, TensorLike

__all__ = ["batch_norm", "BatchNorm1d", "BatchNorm2d", "bn_relu", "bn_add_relu"]


def _array_arg(fn, name, v, C, dt):
    """A running statistic: an ndarray (updated in place) or a Tensor (its array), (C,)."""
    if isinstance(v, Tensor):
        v = v.array
    if not isinstance(v, np.ndarray) or v.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be a float ndarray or Tensor of shape ({C},), "
                        f"got {type(v).__name__}")
    if v.shape != (C,):
        raise ValueError(f"{fn}: {name} must have shape ({C},) for input with C = {C} "
                         f"channels, got {v.shape}")
    if v.dtype != dt:
        raise TypeError(f"{fn}: {name} has dtype {v.dtype} but the input has {dt}")
    return v


def batch_norm(input: TensorLike, running_mean: TensorLike, running_var: TensorLike,
               weight: Optional[TensorLike] = None, bias: Optional[TensorLike] = None,
               training: bool = False, momentum: Optional[float] = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalization over the channel dim 1 of input (N, C, *).

    training=True: batch statistics; running_mean/running_var (ndarrays of shape (C,), or
    None) are updated in place. training=False: the running statistics are required.
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps,
                relu=False, residual=None):
    """batch_norm; relu=True: relu(batch_norm(...)) as one node on the fused kernels;
    residual (a Tensor of the input's shape and dtype): relu(batch_norm(...) + residual)."""
    fn = "batch_norm"
    x = as_tensor(input, fn, "input")
    xd = x.array
    if xd.ndim < 2:
        raise ValueError(f"{fn}: input must have shape (N, C) or (N, C, *), got {xd.shape}")
    C, dt = xd.shape[1], xd.dtype
    w = as_tensor(weight, fn, "weight") if weight is not None else None
    b = as_tensor(bias, fn, "bias") if bias is not None else None
    for name, t in (("weight", w), ("bias", b)):
        if t is not None:
            if t.array.dtype != dt:
                raise TypeError(f"{fn}: {name} has dtype {t.array.dtype} but the input has "
                                f"{dt} (convert the module with .float()/.double())")
            if t.array.shape != (C,):
                raise ValueError(f"{fn}: {name} must have shape ({C},) for input "
                                 f"{xd.shape}, got {t.array.shape}")
    rm = None if running_mean is None else _array_arg(fn, "running_mean", running_mean, C, dt)
    rv = None if running_var is None else _array_arg(fn, "running_var", running_var, C, dt)
    if not isinstance(momentum, numbers.Real) or isinstance(momentum, (bool, np.bool_)):
        raise TypeError(f"{fn}: momentum must be a float, got {momentum!r}")
    wd = w.array if w is not None else None
    bd = b.array if b is not None else None
    if training:
        M = xd.size // C if C else 0
        if M <= 1:
            raise ValueError(f"{fn}: expected more than 1 value per channel when training, "
                             f"got input size {xd.shape}")
        y, mean, invstd, var = ops.batch_norm_forward(
            xd, wd, bd, eps, relu=relu, residual=None if residual is None else residual.array)
        if rm is not None:
            rm *= 1.0 - momentum
            rm += momentum * mean
        if rv is not None:
            rv *= 1.0 - momentum
            rv += (momentum * M / (M - 1)) * var.astype(np.float64)
    else:
        if rm is None or rv is None:
            raise ValueError(f"{fn}: running_mean and running_var are required when "
                             f"training=False")
        y = ops.batch_norm_inference(xd, rm, rv, wd, bd, eps)
        if residual is not None:
            np.add(y, residual.array, out=y)
        if relu:
            ops.relu_forward(y, out=y)
        mean = rm.copy()  # the backward needs the statistics of this call
        invstd = (1.0 / np.sqrt(rv.astype(np.float64) + eps)).astype(dt)
    xc = np.ascontiguousarray(xd)
    if residual is not None:
        return _residual_node(y, x, w, b, residual, lambda g, mask: ops.batch_norm_backward(
            g, xc, wd, mean, invstd, training, mask))
    if relu and training:
        # the relu's mask recomputed from x (bitwise y > 0), so y is not read again; dx
        # overwrites the incoming gradient when nothing else holds it (no cold dx fetched)
        bc = None if bd is None else bd.copy()
        return _affine_node(y, x, w, b, lambda g, mask, own=False: ops.batch_norm_backward(
            g, xc, wd, mean, invstd, training, mask, relu=True, bias=bc,
            out=g if own and mask[0] else None), inplace=True)
    r = y if relu else None  # the relu's mask (y > 0) for the backward
    return _affine_node(y, x, w, b, lambda g, mask, own=False: ops.batch_norm_backward(
        g, xc, wd, mean, invstd, training, mask, relu_out=r,
        out=g if own and mask[0] else None), inplace=True)


def _residual_node(y, x, w, b, res, grads):
    """The node of y = relu(batch_norm(x) + res): the relu's mask applied to g (in place
    when nothing else holds g) is res's gradient and batch norm's incoming one."""
    parents = tuple(t for t in (x, w, b) if t is not None) + (res,)

    def backward(g):
        if sole(g, CLOSURE_REFS) and g.dtype == y.dtype:
            g = ops.relu_backward(g, y, out=g)
        else:
            g = ops.relu_backward(np.ascontiguousarray(g, dtype=y.dtype), y)
        mask = (x.requires_grad, w is not None and w.requires_grad,
                b is not None and b.requires_grad)
        dx, dw, db = grads(g, mask) if any(mask) else (None, None, None)
        return (dx,) + tuple(d for t, d in ((w, dw), (b, db)) if t is not None) + (g,)
    return make(y, parents, backward)


def _affine_node(y, x, w, b, grads, inplace=False):
    """One autograd node y(x, weight, bias) for the normalizations: ``grads(g, mask)``
    returns (dx, dweight, dbias) in one kernel call, mask saying which are wanted; a
    missing weight or bias is no parent and gets no gradient. inplace: ``grads(g, mask,
    own)`` is told whether g is a fresh array nothing else holds (dx may overwrite it)."""
    parents = tuple(t for t in (x, w, b) if t is not None)

    def backward(g):
        mask = (x.requires_grad, w is not None and w.requires_grad,
                b is not None and b.requires_grad)
        if inplace:
            own = sole(g, CLOSURE_REFS) and g.dtype == y.dtype and g.shape == y.shape
            dx, dw, db = grads(g, mask, own)
        else:
            dx, dw, db = grads(g, mask)
        return (dx,) + tuple(d for t, d in ((w, dw), (b, db)) if t is not None)
    return make(y, parents, backward)


def _eps(fn, eps):
    """eps as a float; a ValueError naming ``fn`` unless a real number >= 0."""
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{fn}: eps must be a float >= 0, got {eps!r}")
    return float(eps)


class _NormBase(Module):
    """The state of batch and instance norm (PyTorch's _NormBase): weight (ones), bias
    (zeros) when affine, buffers running_mean (zeros), running_var (ones),
    num_batches_tracked (int64 0) when track_running_stats."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = type(self).__name__
        self.num_features = _int_arg(fn, "num_features", num_features, 1)
        self.eps = _eps(fn, eps)
        if momentum is not None and (isinstance(momentum, (bool, np.bool_))
                                     or not isinstance(momentum, numbers.Real)):
            raise TypeError(f"{fn}: momentum must be a float or None, got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = _as_dtype(fn, dtype if dtype is not None else get_default_dtype())
        C = self.num_features
        if self.affine:
            self.weight = Parameter(alloc(fn, "weight", (C,), dt, fill=1))
            self.bias = Parameter(alloc(fn, "bias", (C,), dt, fill=0))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(C, dt))
            self.register_buffer("running_var", np.ones(C, dt))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            self.bias.array[...] = 0

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Shared by BatchNorm1d/2d."""

    _ndims: tuple[int, ...] = ()

    def forward(self, input):
        return self._forward(input, False)

    def _forward(self, input, relu, residual=None):
        fn = type(self).__name__
        x = as_tensor(input, fn, "input")
        if x.array.ndim not in self._ndims:
            want = " or ".join(f"{d}D" for d in self._ndims)
            raise ValueError(f"{fn}: expected {want} input (got {x.array.ndim}D input of shape "
                             f"{x.array.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            # += 1 on the buffer's array: no in-place op on a Tensor, whose version stamp
            # would make the next backward check every older node (engine.mark_modified);
            # the int64 counter is never a saved operand of a graph
            nbt = self.num_batches_tracked
            nbt = nbt.array if isinstance(nbt, Tensor) else nbt
            nbt += 1  # the ndarray, in place
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return _batch_norm(x, self.running_mean if keep else None,
                           self.running_var if keep else None, self.weight, self.bias,
                           use_batch, factor, self.eps, relu, residual)

class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input."""
    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input."""
    _ndims = (4,)


def bn_relu(bn: Module, x: TensorLike) -> Tensor:
    """``F.relu(bn(x))`` for a BatchNorm1d/2d module ``bn``, as one autograd node on the
    fused kernels (``ops.batch_norm_forward(relu=True)``, ``batch_norm_backward(relu_out=)``):
    one pass less over the activations each way, results bitwise those of the two calls
    (running statistics and num_batches_tracked included). Used by chainrule.models. When
    ``bn`` has hooks, or is a subclass with its own forward, it is called as usual (hooks
    run) and F.relu applied."""
    from . import modules
    d = bn.__dict__
    if type(bn).forward is not _BatchNorm.forward or (modules._any_hooks and (
            d.get("_forward_pre_hooks") or d.get("_forward_hooks") or d.get("_backward_hooks"))):
        return as_tensor(bn(x), "bn_relu", "x").relu()
    return bn._forward(x, True)


def bn_add_relu(bn: Module, x: TensorLike, residual: TensorLike) -> Tensor:
    """``F.relu(bn(x) + residual)`` (the end of a ResNet basic block) as one node: batch
    norm, the add and the ReLU in one write pass, bitwise the three calls. Falls back to
    them as :func:`bn_relu` does, and when ``residual`` is not a Tensor of ``bn(x)``'s
    shape and dtype (broadcasting, promotion)."""
    from . import modules
    d = bn.__dict__
    xt = as_tensor(x, "bn_add_relu", "x")
    if type(bn).forward is not _BatchNorm.forward or (modules._any_hooks and (
            d.get("_forward_pre_hooks") or d.get("_forward_hooks") or d.get("_backward_hooks"))) \
            or not isinstance(residual, Tensor) or residual.array.shape != xt.array.shape \
            or residual.array.dtype != xt.array.dtype or not residual.array.flags.c_contiguous:
        return (as_tensor(bn(xt), "bn_add_relu", "x") + residual).relu()
    return bn._forward(xt, True, residual)
