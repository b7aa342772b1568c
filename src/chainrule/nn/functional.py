"""chainrule.nn.functional — layers and losses as functions of Tensors (PyTorch's F).

Each function is one autograd node whose forward and backward call the fast kernels in
``chainrule.ops`` (dense, conv, pool) or fused NumPy expressions (activations, softmax,
losses). Every argument that takes a tensor also takes a float NumPy array (a constant).
Operands of different float dtypes raise TypeError; wrong shapes raise ValueError.
"""
from __future__ import annotations

from typing import Any, Optional, TYPE_CHECKING

import numbers

import numpy as np

from .. import ops
from .._checks import _I64, FLOAT_DTYPES as _FLOAT_DTYPES, pair
from ..autograd import Tensor
from ..autograd.function import as_tensor, make
from .pooling import *  # noqa: F401,F403  (max/avg/adaptive pooling, unpooling, 1-D)
from . import pooling as _pooling
from . import _losses as _L
from ._losses import huber_loss, kl_div, l1_loss, nll_loss, smooth_l1_loss
from ._activations import elu, gelu, hardtanh, leaky_relu, relu6, silu, softplus

if TYPE_CHECKING:
    from .._typing import DTypeLike, IntPair, TensorLike

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "relu", "sigmoid", "tanh",
           "softmax", "log_softmax", "mse_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "kl_div", "leaky_relu", "elu", "gelu", "silu",
           "softplus", "hardtanh", "relu6", "embedding", "embedding_bag"] + [
               n for n in _pooling.__all__ if n not in ("max_pool2d", "avg_pool2d")]

_REDUCTIONS = ("mean", "sum", "none")


def _same_dtype(fn, **tensors):
    items = [(k, v) for k, v in tensors.items() if v is not None]
    dt = items[0][1].array.dtype
    for k, v in items[1:]:
        if v.array.dtype != dt:
            desc = ", ".join(f"'{kk}' {vv.array.dtype}" for kk, vv in items)
            raise TypeError(f"{fn}: mixed float dtypes ({desc}); all operands must share one "
                            f"dtype (convert the module with .float()/.double() or the data "
                            f"with .astype)")
    return dt


def _check_reduction(fn, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(fn, loss, reduction):
    """Reduce an elementwise loss; returns (out, mult) where mult(g) scales the per-element
    gradient of the unreduced loss by the upstream gradient ``g``."""
    if reduction == "none":
        return loss, (lambda g: g)
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype), (lambda g: g)
    n = loss.size
    return np.asarray(loss.sum() / n if n else np.nan, dtype=loss.dtype), (lambda g: g / n)


def _dim(fn, dim, ndim):
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{fn}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{fn}: dim {dim} is out of range for an input with {ndim} dims")
    return int(dim) % max(ndim, 1)


# ---------------------------------------------------------------------------- layers
def linear(x: TensorLike, w: TensorLike, b: Optional[TensorLike] = None) -> Tensor:
    """y = x @ w.T + b.   x (*, in), w (out, in), b (out,) or None -> y (*, out)

    One autograd node on the dense kernels of ``chainrule.ops`` (linear_forward /
    linear_backward). The arguments are checked here with the messages nn promises; the
    C-contiguous arrays then take ops' fast path, and the backward asks only for the
    gradients some operand needs (no dx for a data input) in one call.
    """
    fn = "linear"
    x = as_tensor(x, fn, "x")
    w = as_tensor(w, fn, "weight")
    b = as_tensor(b, fn, "bias") if b is not None else None
    if x.array.dtype is not w.array.dtype or (b is not None and b.array.dtype is not w.array.dtype):
        _same_dtype(fn, x=x, weight=w, bias=b)
    xd, wd = x.array, w.array
    if wd.ndim != 2:
        raise ValueError(f"{fn}: weight must be 2-D (out_features, in_features), got {wd.shape}")
    if xd.ndim == 0 or xd.shape[-1] != wd.shape[1]:
        raise ValueError(f"{fn}: x must have shape (*, {wd.shape[1]}) to match weight "
                         f"{wd.shape}, got {xd.shape}")
    if b is not None and b.array.shape != (wd.shape[0],):
        raise ValueError(f"{fn}: bias must have shape ({wd.shape[0]},) to match weight "
                         f"{wd.shape}, got {b.array.shape}")
    x2 = np.ascontiguousarray(xd if xd.ndim == 2 else xd.reshape(-1, wd.shape[1]))
    wc = np.ascontiguousarray(wd)
    bc = np.ascontiguousarray(b.array) if b is not None else None
    dt = wc.dtype
    y = ops.linear_forward(x2, wc, bc)
    if xd.ndim != 2:
        y = y.reshape(xd.shape[:-1] + (wd.shape[0],))
    has_bias = b is not None
    parents = (x, w, b) if has_bias else (x, w)

    def backward(g):
        g2 = np.ascontiguousarray(g if g.ndim == 2 else g.reshape(-1, wc.shape[0]), dtype=dt)
        dx, dw, db = ops.linear_backward(g2, x2, wc, bias=has_bias and b.requires_grad,
                                         need_dx=x.requires_grad, need_dw=w.requires_grad)
        if dx is not None and xd.ndim != 2:
            dx = dx.reshape(xd.shape)
        return (dx, dw, db) if has_bias else (dx, dw)
    return make(y, parents, backward)


def conv2d(x: TensorLike, w: TensorLike, b: Optional[TensorLike] = None, stride: IntPair = 1,
           padding: Any = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, NCHW.  x (N, C, H, W), w (K, C / groups, R, S), b (K,) ->
    (N, K, P, Q). padding: int, pair, "valid" or "same" (stride 1). groups splits C and K
    into independent convolutions (groups = C: depthwise).

    One autograd node on ops.conv2d_forward / ops.conv2d_backward.
    """
    fn = "conv2d"
    x = as_tensor(x, fn, "x")
    w = as_tensor(w, fn, "weight")
    b = as_tensor(b, fn, "bias") if b is not None else None
    _same_dtype(fn, x=x, weight=w, bias=b)
    stride = pair(fn, "stride", stride, 1)
    if not isinstance(padding, str):
        padding = pair(fn, "padding", padding, 0)
    elif padding not in ("same", "valid"):
        raise ValueError(f"{fn}: padding must be an int, a pair, 'valid' or 'same', got "
                         f"{padding!r}")
    dilation = pair(fn, "dilation", dilation, 1)
    xd, wd = x.array, w.array
    if xd.ndim not in (3, 4):
        raise ValueError(f"{fn}: x must have shape (N, C, H, W) or (C, H, W), got {xd.shape}")
    if wd.ndim != 4:
        raise ValueError(f"{fn}: weight must have shape (out_channels, in_channels / groups, "
                         f"kh, kw), got {wd.shape}")
    unbatched = xd.ndim == 3
    if unbatched:
        xd = xd[None]
    y = ops.conv2d_forward(xd, wd, b.array if b is not None else None, stride, padding, dilation,
                           groups)
    has_bias = b is not None
    parents = (x, w, b) if has_bias else (x, w)
    # a data input (the first layer's images) needs no dx: LeNet conv1 backward 420 -> 150 us

    def backward(g):
        dx, dw, db = ops.conv2d_backward(g[None] if unbatched else g, xd, wd, stride, padding,
                                         dilation, groups, bias=has_bias,
                                         need_dx=x.requires_grad)
        if unbatched and dx is not None:
            dx = dx[0]
        return (dx, dw, db) if has_bias else (dx, dw)
    return make(y[0] if unbatched else y, parents, backward)


# ---------------------------------------------------------------------------- activations
def relu(x: TensorLike, inplace: bool = False) -> Tensor:
    """max(x, 0); ``inplace=True`` is accepted (the result is a new tensor either way)."""
    return as_tensor(x, "relu", "x").relu()


def sigmoid(x: TensorLike) -> Tensor:
    return as_tensor(x, "sigmoid", "x").sigmoid()


def tanh(x: TensorLike) -> Tensor:
    return as_tensor(x, "tanh", "x").tanh()


def softmax(x: TensorLike, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype: Optional[DTypeLike] = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted, stable for any finite logits);
    fused C kernels both ways (ops.softmax_forward / softmax_backward)."""
    x = as_tensor(x, "softmax", "x")
    if dtype is not None:
        x = x.to(dtype)
    d = _dim("softmax", dim, x.array.ndim)
    y = ops.softmax_forward(x.array, d)

    def backward(g):
        return (ops.softmax_backward(g, y, d),)
    return make(y, (x,), backward)


def _log_softmax(a, d):
    z = a - a.max(axis=d, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=d, keepdims=True))


def log_softmax(x: TensorLike, dim: Optional[int] = None, _stacklevel: int = 3,
                dtype: Optional[DTypeLike] = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (max-shifted, stable for any finite logits); fused C
    kernels both ways (ops.log_softmax_forward / log_softmax_backward)."""
    x = as_tensor(x, "log_softmax", "x")
    if dtype is not None:
        x = x.to(dtype)
    d = _dim("log_softmax", dim, x.array.ndim)
    y = ops.log_softmax_forward(x.array, d)

    def backward(g):
        return (ops.log_softmax_backward(g, y, d),)
    return make(y, (x,), backward)


# ---------------------------------------------------------------------------- losses
def _target(fn, input, target):
    """Loss target as a Tensor of the input's dtype and shape (arrays become constants)."""
    if isinstance(target, (list, tuple)) or isinstance(target, numbers.Real):
        target = np.asarray(target, dtype=input.array.dtype)
    t = as_tensor(target, fn, "target")
    _same_dtype(fn, input=input, target=t)
    if t.array.shape != input.array.shape:
        raise ValueError(f"{fn}: target shape {t.array.shape} must equal input shape "
                         f"{input.array.shape}")
    return t


def mse_loss(input: TensorLike, target: TensorLike, size_average: Optional[bool] = None,
             reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """mean/sum/none of (input - target)^2."""
    fn = "mse_loss"
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        reduction = _L.legacy_reduction(fn, size_average, reduce, reduction)
    x = as_tensor(input, fn, "input")
    t = _target(fn, x, target)
    diff = x.array - t.array
    out, mult = _reduce(fn, diff * diff, reduction)

    def backward(g):
        dx = mult(g) * (2.0 * diff)
        return (dx if x.requires_grad else None, -dx if t.requires_grad else None)
    return make(out, (x, t), backward)


def _weight(fn, weight, x):
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else np.asarray(weight)
    try:
        np.broadcast_shapes(w.shape, x.array.shape)
    except ValueError:
        raise ValueError(f"{fn}: weight of shape {w.shape} does not broadcast to the input "
                         f"shape {x.array.shape}") from None
    return w.astype(x.array.dtype, copy=False)


def binary_cross_entropy(input: TensorLike, target: TensorLike,
                         weight: Any = None, size_average: Optional[bool] = None,
                         reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """-w (t log p + (1 - t) log(1 - p)), each log clamped at -100 as in PyTorch.

    input holds probabilities in [0, 1]; weight (optional) broadcasts to the input.
    """
    fn = "binary_cross_entropy"
    if isinstance(weight, str):  # the positional reduction of chainrule <= 0.1
        weight, reduction = None, weight
    reduction = _L.legacy_reduction(fn, size_average, reduce, reduction)
    x = as_tensor(input, fn, "input")
    t = _target(fn, x, target)
    w = _weight(fn, weight, x)
    p, y = x.array, t.array
    if np.any((p < 0) | (p > 1)) or np.isnan(p).any():
        raise ValueError(f"{fn}: input must hold probabilities in [0, 1] (apply sigmoid, or use "
                         f"binary_cross_entropy_with_logits); got values in "
                         f"[{np.nanmin(p) if p.size else 0}, {np.nanmax(p) if p.size else 0}]")
    with np.errstate(divide="ignore"):
        logp = np.maximum(np.log(p), -100.0)
        log1mp = np.maximum(np.log1p(-p), -100.0)
    loss = -(y * logp + (1.0 - y) * log1mp)
    out, mult = _reduce(fn, loss if w is None else loss * w, reduction)

    def backward(g):
        m = mult(g) if w is None else mult(g) * w
        dx = dt = None
        if x.requires_grad:  # PyTorch: (p - t) / max(p (1 - p), 1e-12)
            dx = m * (p - y) / np.maximum(p * (1.0 - p), 1e-12)
        if t.requires_grad:
            dt = m * (log1mp - logp)
        return dx, dt
    return make(out, (x, t), backward)


def binary_cross_entropy_with_logits(input: TensorLike, target: TensorLike,
                                     weight: Any = None,
                                     size_average: Optional[bool] = None,
                                     reduce: Optional[bool] = None, reduction: str = "mean",
                                     pos_weight: Optional[TensorLike] = None) -> Tensor:
    """BCE of sigmoid(input), computed stably: max(x, 0) - x t + log(1 + exp(-|x|)).

    pos_weight (broadcast over the last dim, one per class) scales the positive term:
    (1 - t) x + (1 + (pos_weight - 1) t) (log(1 + exp(-|x|)) + max(-x, 0)).
    """
    fn = "binary_cross_entropy_with_logits"
    if isinstance(weight, str):  # the positional reduction of chainrule <= 0.1
        weight, reduction = None, weight
    reduction = _L.legacy_reduction(fn, size_average, reduce, reduction)
    x = as_tensor(input, fn, "input")
    t = _target(fn, x, target)
    w = _weight(fn, weight, x)
    pw = _weight(fn + " (pos_weight)", pos_weight, x)
    a, y = x.array, t.array
    sp = np.log1p(np.exp(-np.abs(a)))  # log(1 + exp(-|x|))
    if pw is None:
        loss = np.maximum(a, 0.0) - a * y + sp
    else:
        lw = 1.0 + (pw - 1.0) * y
        loss = (1.0 - y) * a + lw * (sp + np.maximum(-a, 0.0))
    out, mult = _reduce(fn, loss if w is None else loss * w, reduction)

    def backward(g):
        m = mult(g) if w is None else mult(g) * w
        dx = dt = None
        if x.requires_grad:
            s = ops.sigmoid_forward(a)
            dx = m * (s - y) if pw is None else m * ((1.0 - y) - lw * (1.0 - s))
        if t.requires_grad:
            dt = -m * a if pw is None else m * (-a + (pw - 1.0) * (sp + np.maximum(-a, 0.0)))
        return dx, dt
    return make(out, (x, t), backward)


def cross_entropy(input: TensorLike, target: TensorLike, weight: Any = None,
                  size_average: Optional[bool] = None, ignore_index: int = -100,
                  reduce: Optional[bool] = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C), (C,) or (N, C, d1, ...).

    target: int class indices (N,) / () / (N, d1, ...), or class probabilities of the
    input's shape. With label smoothing eps the target distribution becomes
    q = (1 - eps) * target + eps / C; loss_n = -sum_c q_nc log_softmax(input)_nc.
    ``weight`` (C,) weighs each class; targets equal to ``ignore_index`` add nothing;
    with class indices 'mean' divides by the summed weights of the counted targets
    (PyTorch's weighted mean), with probabilities by the number of samples.
    (A number in the third place is the label smoothing of chainrule <= 0.1.)
    """
    fn = "cross_entropy"
    if (weight is None and size_average is None and reduce is None and type(input) is Tensor
            and type(label_smoothing) is float and label_smoothing == 0.0
            and type(ignore_index) is int and ignore_index < 0
            and (reduction == "mean" or reduction == "sum" or reduction == "none")):
        # The common call -- float logits (N, C), int64 class indices (N,) -- straight to the
        # fused kernels. They refuse a target outside [0, C) (an ignore_index one included):
        # the general path below then handles it or raises the error naming it.
        a = input.array
        idx = target.array if type(target) is Tensor else target
        if (type(idx) is np.ndarray and idx.dtype is _I64 and a.ndim == 2
                and idx.shape == (a.shape[0],) and a.shape[1] and a.dtype in _FLOAT_DTYPES):
            try:
                return _cross_entropy_indices(input, a, idx, False, reduction)
            except ValueError:
                pass
    if isinstance(weight, numbers.Real) and not isinstance(weight, bool):  # old positional
        weight, label_smoothing = None, weight
        if isinstance(size_average, str):
            size_average, reduction = None, size_average
    reduction = _L.legacy_reduction(fn, size_average, reduce, reduction)
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be a number in [0, 1], got "
                         f"{label_smoothing!r}")
    x = as_tensor(input, fn, "input")
    a = x.array
    if a.ndim == 0:
        raise ValueError(f"{fn}: input must be logits of shape (N, C), (C,) or (N, C, d1, ...),"
                         f" got {a.shape}")
    general = a.ndim > 2 or weight is not None
    if general or (isinstance(target, Tensor) and target.array.dtype.kind in "iu"):
        probs = isinstance(target, Tensor) and target.array.dtype.kind == "f" or \
            isinstance(target, np.ndarray) and target.dtype.kind == "f"
        if probs:
            t = as_tensor(target, fn, "target")
            _same_dtype(fn, input=x, target=t)
            if t.array.shape != a.shape:
                raise ValueError(f"{fn}: probability target must have the input's shape "
                                 f"{a.shape}, got {t.array.shape}")
            return _L.cross_entropy_probs(fn, x, t, weight, reduction, float(label_smoothing))
        idx = _L.class_target(fn, target)
        if not general and ignore_index < 0 and (idx.size == 0 or idx.min() >= 0):
            target = idx  # the plain case: the fused kernel below
        else:
            return _L.cross_entropy_general(fn, x, idx, weight, ignore_index, reduction,
                                            float(label_smoothing))
    single = a.ndim == 1
    a2 = a[None] if single else a
    N, C = a2.shape
    if C == 0:
        raise ValueError(f"{fn}: input {a.shape} has 0 classes; at least one is needed")
    eps = float(label_smoothing)

    t = None  # a probability target Tensor (may require grad)
    if isinstance(target, Tensor):
        t = target
    else:
        if isinstance(target, (list, tuple, numbers.Integral)):
            target = np.asarray(target)
        if not isinstance(target, np.ndarray):
            raise TypeError(f"{fn}: target must be an int array of class indices or a float "
                            f"array/Tensor of class probabilities, got {type(target).__name__}")
        if target.dtype.kind == "f":
            t = as_tensor(target, fn, "target")
        elif target.dtype.kind not in "iu":
            raise TypeError(f"{fn}: target must hold int class indices or float probabilities, "
                            f"got dtype {target.dtype}")
    if t is not None:  # probabilities
        _same_dtype(fn, input=x, target=t)
        if t.array.shape != a.shape:
            raise ValueError(f"{fn}: probability target must have the input's shape {a.shape}, "
                             f"got {t.array.shape} (class indices must be an int array)")
        q = t.array[None] if single else t.array
        q = q * (1.0 - eps) + eps / C if eps else q
    else:
        idx = np.asarray(target, dtype=target.dtype.newbyteorder("="))  # '>i8', np.matrix
        want = () if single else (N,)
        if idx.shape != want:
            raise ValueError(f"{fn}: class-index target must have shape {want} for input "
                             f"{a.shape}, got {idx.shape}")
        if idx.size and (idx == ignore_index).any():
            return _L.cross_entropy_general(fn, x, np.asarray(idx, np.int64), None,
                                            ignore_index, reduction, eps)
        idx = idx.reshape(-1)
        # one reduction finds negatives too: as unsigned they are >= 2**63 > C
        u = idx.view(f"u{idx.dtype.itemsize}") if idx.dtype.kind == "i" else idx
        if idx.size and u.max() >= C:
            bad = idx[(idx < 0) | (idx >= C)][0]
            raise ValueError(f"{fn}: class index {int(bad)} is out of range for {C} classes")
        if not eps:
            return _cross_entropy_indices(x, a2, idx, single, reduction)
        q = np.full(a2.shape, eps / C, dtype=a.dtype)
        q[np.arange(N), idx] += 1.0 - eps

    logp = _log_softmax(a2, 1)
    loss = -(q * logp).sum(axis=1)
    if reduction == "none":
        out = loss[0] if single else loss
        out = np.asarray(out, dtype=a.dtype)
    elif reduction == "sum":
        out = np.asarray(loss.sum(), dtype=a.dtype)
    else:
        out = np.asarray(loss.sum() / N if N else np.nan, dtype=a.dtype)
    parents = (x,) if t is None else (x, t)

    def backward(g):
        if reduction == "none":
            m = (g.reshape(1) if single else g)[:, None]
        elif reduction == "sum":
            m = g
        else:
            m = g / N
        dx = dt = None
        if x.requires_grad:
            # d/dx of -sum_c q_c log p_c = p * sum(q) - q
            dx = m * (np.exp(logp) * q.sum(axis=1, keepdims=True) - q)
            if single:
                dx = dx[0]
        if t is not None and t.requires_grad:
            dt = -(1.0 - eps) * m * logp
            if single:
                dt = dt[0]
        return (dx,) if t is None else (dx, dt)
    return make(out, parents, backward)


def _cross_entropy_indices(x, a2, idx, single, reduction):
    """cross_entropy for class indices without label smoothing, on the fused softmax
    cross-entropy kernels (one C call each way instead of ~12 NumPy calls).
    loss_n = -log softmax(a2)[n, idx_n];  d loss_n / d a2[n] = softmax(a2)[n] - onehot(idx_n).
    """
    N, C = a2.shape
    dt = a2.dtype
    a2 = np.ascontiguousarray(a2)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    loss, prob = ops.softmax_cross_entropy_forward(a2, idx)  # idx checked above
    if reduction == "none":
        out = np.asarray(loss[0] if single else loss, dtype=dt)
    elif reduction == "sum":
        out = np.asarray(loss.sum(), dtype=dt)
    else:
        out = np.asarray(loss.sum() / N if N else np.nan, dtype=dt)

    def backward(g):
        if reduction == "mean":
            g = g / N
        scale = np.ascontiguousarray(g, dtype=dt).reshape(-1)  # 1 or N factors
        dx = ops.softmax_cross_entropy_backward(prob, idx, scale)
        return (dx[0] if single else dx,)
    return make(out, (x,), backward)


# batch norm and dropout live in their own modules (they need nn.Module for their layers)
from .norm import batch_norm  # noqa: E402
from .dropout import dropout, dropout2d  # noqa: E402
from .conv import conv1d, conv_transpose2d  # noqa: E402
__all__ += ["batch_norm", "dropout", "dropout2d", "conv1d", "conv_transpose2d"]
from .normalization import group_norm, layer_norm, instance_norm  # noqa: E402
__all__ += ["group_norm", "layer_norm", "instance_norm"]
from .sparse import embedding, embedding_bag  # noqa: E402  (uses nn.modules)
from ._tensor_fns import (cosine_similarity, logsigmoid, normalize, one_hot, pad,  # noqa: E402
                          pairwise_distance)
__all__ += ["one_hot", "pad", "normalize", "cosine_similarity", "pairwise_distance",
            "logsigmoid"]
from .upsampling import interpolate, upsample  # noqa: E402  (uses nn.modules)
__all__ += ["interpolate", "upsample"]
