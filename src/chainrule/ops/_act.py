"""Activations and the fused softmax cross-entropy (C, csrc/act.c), any shape, NumPy in/out.

The backward of each activation is written from its forward's output y (relu: dy*(y>0),
sigmoid: dy*y*(1-y), tanh: dy*(1-y^2)), so a training step needs to keep only y. One
pass over memory each way, on all threads for large arrays. ``out=`` (keyword-only) writes
the result into a given C-contiguous array of the right shape and dtype, which may be the
input itself (in place) but must not partly overlap it; the autograd layer uses it to
reuse gradient buffers. sigmoid_forward and tanh_forward are NumPy ufunc expressions
(there is nothing to fuse); they are here so every activation has one entry point.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .. import _kernels
from .._checks import (_I64, _ND, as_float_array, as_index_array, as_real, check_shape,
                       out_array, plain, same_dtype)

__all__ = ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "softmax_cross_entropy_forward",
           "softmax_cross_entropy_backward"]


def _output(fn, out, like):
    """A new array like ``like``, or ``out`` checked to be one (it is written in place)."""
    if out is None:
        return np.empty(like.shape, like.dtype)
    return out_array(fn, "out", out, like.shape, like.dtype)


def relu_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = max(x, 0) elementwise, any shape (NaN stays NaN)."""
    fn = "relu_forward"
    x = as_float_array(fn, "x", x)
    out = _output(fn, out, x)
    _kernels.relu_forward(out, x)
    return out


def _act_backward(fn, kernel, dy, y, out):
    if (out is None or out is dy) and type(dy) is _ND and type(y) is _ND \
            and dy.shape == y.shape:
        # the autograd layer's call (in place on dy, or a fresh output): the binding checks
        # dtypes, contiguity, writability and overlap before it writes; what it refuses
        # gets the full checks' message below
        o = dy if out is not None else np.empty(y.shape, y.dtype)
        try:
            kernel(o, dy, y)
            return o
        except (TypeError, ValueError, BufferError):
            pass
    if not (plain(getattr(y, "dtype", None), dy, y) and dy.shape == y.shape):
        dy = as_float_array(fn, "dy", dy)
        y = as_float_array(fn, "y", y)
        if dy.dtype is not y.dtype:
            same_dtype(fn, dy=dy, y=y)
        if dy.shape != y.shape:
            raise ValueError(f"{fn}: argument 'dy' must have the shape of y {y.shape}, got "
                             f"{dy.shape}")
    out = _output(fn, out, y)
    kernel(out, dy, y)
    return out


def relu_backward(dy: np.ndarray, y: np.ndarray, *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * (y > 0) from y = relu_forward(x) (x > 0 exactly where y > 0)."""
    return _act_backward("relu_backward", _kernels.relu_backward, dy, y, out)


def sigmoid_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = 1 / (1 + exp(-x)), computed as exp(x) / (1 + exp(x)) for x < 0 (no overflow)."""
    fn = "sigmoid_forward"
    x = as_float_array(fn, "x", x)
    e = np.exp(-np.abs(x))
    y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
    if out is None:
        return y
    out = out_array(fn, "out", out, x.shape, x.dtype)
    out[...] = y
    return out


def sigmoid_backward(dy: np.ndarray, y: np.ndarray, *,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * y * (1 - y) from y = sigmoid_forward(x)."""
    return _act_backward("sigmoid_backward", _kernels.sigmoid_backward, dy, y, out)


def tanh_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = tanh(x) elementwise (NumPy's ufunc)."""
    fn = "tanh_forward"
    x = as_float_array(fn, "x", x)
    if out is not None:
        out = out_array(fn, "out", out, x.shape, x.dtype)
    return np.tanh(x, out=out)


def tanh_backward(dy: np.ndarray, y: np.ndarray, *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * (1 - y * y) from y = tanh_forward(x)."""
    return _act_backward("tanh_backward", _kernels.tanh_backward, dy, y, out)


def _targets(fn, target, N, C):
    """target (N,) int64 class indices in [0, C); ValueError naming the first bad one."""
    target = as_index_array(fn, "target", target)
    check_shape(fn, "target", target, (N,))
    # one reduction finds negatives too: as unsigned they are >= 2**63 > C
    if N and target.view(np.uint64).max() >= C:
        bad = target[(target < 0) | (target >= C)]
        raise ValueError(f"{fn}: {bad.size} of {N} target class indices lie outside "
                         f"[0, {C}) (first: {int(bad[0])}); logits have {C} classes")
    return target


def softmax_cross_entropy_forward(logits: np.ndarray,
                                  target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-row cross-entropy of softmax(logits) against class indices, and the softmax.

    logits (N, C) float, target (N,) int in [0, C) -> (loss (N,), prob (N, C)) with
    prob = softmax(logits) by rows and loss[n] = -log prob[n, target[n]] (computed as
    logsumexp - logit, exact for large logits). C >= 1.
    """
    fn = "softmax_cross_entropy_forward"
    if (type(logits) is _ND and type(target) is _ND and logits.ndim == 2
            and target.dtype is _I64 and logits.shape[1]):  # the binding checks the rest
        prob = np.empty(logits.shape, logits.dtype)
        loss = np.empty(logits.shape[0], logits.dtype)
        try:
            if not _kernels.softmax_xent_forward(prob, loss, logits, target):
                return loss, prob
        except (TypeError, ValueError, BufferError):  # refused: the checks below say why, or convert
            pass
    logits = as_float_array(fn, "logits", logits, 2)
    N, C = logits.shape
    if C == 0:
        raise ValueError(f"{fn}: argument 'logits' needs at least one class, got shape "
                         f"{logits.shape}")
    target = as_index_array(fn, "target", target)
    check_shape(fn, "target", target, (N,))
    prob = np.empty((N, C), logits.dtype)
    loss = np.empty(N, logits.dtype)
    if _kernels.softmax_xent_forward(prob, loss, logits, target):  # counts bad targets
        _targets(fn, target, N, C)  # raises, naming them
    return loss, prob


def softmax_cross_entropy_backward(prob: np.ndarray, target: np.ndarray, scale, *,
                                   out: Optional[np.ndarray] = None) -> np.ndarray:
    """dlogits = scale * (prob - onehot(target)): the gradient of sum_n scale_n * loss_n.

    prob (N, C) from softmax_cross_entropy_forward, target (N,) int in [0, C), scale a
    number or a float array of 1 or N elements (one factor per row: the upstream gradient
    of each row's loss, e.g. 1/N for a mean). -> dlogits (N, C); out= may be prob itself.
    """
    fn = "softmax_cross_entropy_backward"
    if (out is None and type(prob) is _ND and type(target) is _ND and type(scale) is _ND
            and target.dtype is _I64 and scale.dtype is prob.dtype and prob.ndim == 2
            and prob.shape[1]):
        # the autograd layer's call: the kernel skips and counts bad targets, no 2nd pass
        dl = np.empty(prob.shape, prob.dtype)
        try:
            if not _kernels.softmax_xent_backward(dl, prob, target, scale):
                return dl
        except (TypeError, ValueError, BufferError):  # refused: the checks below say why, or convert
            pass
    prob = as_float_array(fn, "prob", prob, 2)
    N, C = prob.shape
    target = _targets(fn, target, N, C)
    if isinstance(scale, np.ndarray) and scale.dtype is prob.dtype and scale.ndim == 1 \
            and scale.flags.c_contiguous:  # fast path: the autograd layer's per-row factors
        s = scale
    elif isinstance(scale, np.ndarray) or not np.isscalar(scale):
        s = as_float_array(fn, "scale", scale, (0, 1)).reshape(-1).astype(prob.dtype)
    else:
        s = np.full(1, as_real(fn, "scale", scale), prob.dtype)
    if s.shape[0] != 1 and s.shape[0] != N:
        raise ValueError(f"{fn}: argument 'scale' must have 1 or {N} elements (prob "
                         f"{prob.shape}), got {s.shape[0]}")
    out = _output(fn, out, prob)
    _kernels.softmax_xent_backward(out, prob, target, s)
    return out
