"""Activations and softmax cross-entropy as their textbook formulas (NumPy, float64 inside).

    relu(x) = x if x > 0 else 0           relu'(x) = [y > 0]
    sigmoid(x) = 1 / (1 + e^-x)           sigmoid'(x) = y (1 - y)
    tanh(x)                               tanh'(x) = 1 - y^2
    softmax(a)_c = e^(a_c) / sum_k e^(a_k);   loss = -log softmax(a)_t
    d loss / d a = softmax(a) - onehot(t)
"""
from __future__ import annotations

from typing import Optional, Tuple

import numbers

import numpy as np

from .._checks import as_float_array, as_index_array, check_shape, out_array, same_dtype

__all__ = ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "softmax_cross_entropy_forward",
           "softmax_cross_entropy_backward"]


def _result(fn, value, like, out):
    """value cast to like's dtype, written into out when given."""
    value = np.asarray(value).astype(like.dtype)
    if out is None:
        return value
    out = out_array(fn, "out", out, like.shape, like.dtype)
    out[...] = value
    return out


def relu_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x where x > 0, else 0 (NaN stays NaN)."""
    x = as_float_array("relu_forward", "x", x)
    return _result("relu_forward", np.where(x <= 0, 0.0, x), x, out)


def sigmoid_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = 1 / (1 + exp(-x))."""
    x = as_float_array("sigmoid_forward", "x", x)
    with np.errstate(over="ignore"):  # exp(-x) = inf for x << 0 gives y = 0, as it should
        y = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    return _result("sigmoid_forward", y, x, out)


def tanh_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = (e^x - e^-x) / (e^x + e^-x), written as NumPy's tanh."""
    x = as_float_array("tanh_forward", "x", x)
    return _result("tanh_forward", np.tanh(x.astype(np.float64)), x, out)


def _backward(fn, dy, y, out, derivative):
    dy = as_float_array(fn, "dy", dy)
    y = as_float_array(fn, "y", y)
    same_dtype(fn, dy=dy, y=y)
    if dy.shape != y.shape:
        raise ValueError(f"{fn}: argument 'dy' must have the shape of y {y.shape}, got {dy.shape}")
    return _result(fn, dy * derivative(y), y, out)


def relu_backward(dy: np.ndarray, y: np.ndarray, *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * relu'(x), with relu'(x) = 1 where y > 0, else 0."""
    return _backward("relu_backward", dy, y, out, lambda y: (y > 0).astype(y.dtype))


def sigmoid_backward(dy: np.ndarray, y: np.ndarray, *,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * y * (1 - y)."""
    return _backward("sigmoid_backward", dy, y, out, lambda y: y * (1 - y))


def tanh_backward(dy: np.ndarray, y: np.ndarray, *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * (1 - y^2)."""
    return _backward("tanh_backward", dy, y, out, lambda y: 1 - y * y)


def _targets(fn, target, N, C):
    target = as_index_array(fn, "target", target)
    check_shape(fn, "target", target, (N,))
    if N and (target.min() < 0 or target.max() >= C):
        raise ValueError(f"{fn}: target class indices must lie in [0, {C}), got "
                         f"{target.min()} .. {target.max()}")
    return target


def softmax_cross_entropy_forward(logits: np.ndarray,
                                  target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """logits (N, C), target (N,) -> (loss (N,), prob (N, C)), row by row in float64."""
    fn = "softmax_cross_entropy_forward"
    logits = as_float_array(fn, "logits", logits, 2)
    N, C = logits.shape
    if C == 0:
        raise ValueError(f"{fn}: argument 'logits' needs at least one class, got {logits.shape}")
    target = _targets(fn, target, N, C)
    loss = np.empty(N, logits.dtype)
    prob = np.empty((N, C), logits.dtype)
    for n in range(N):
        a: np.ndarray = logits[n].astype(np.float64)
        shifted = a - a.max()              # softmax is shift-invariant; avoids overflow
        log_sum = np.log(np.exp(shifted).sum())
        prob[n] = np.exp(shifted - log_sum)
        loss[n] = log_sum - shifted[target[n]]  # -log prob[n, target[n]]
    return loss, prob


def softmax_cross_entropy_backward(prob: np.ndarray, target: np.ndarray, scale, *,
                                   out: Optional[np.ndarray] = None) -> np.ndarray:
    """dlogits[n] = scale[n] * (prob[n] - onehot(target[n])); scale: 1 or N factors."""
    fn = "softmax_cross_entropy_backward"
    prob = as_float_array(fn, "prob", prob, 2)
    N, C = prob.shape
    target = _targets(fn, target, N, C)
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (numbers.Real, np.ndarray,
                                                                     list, tuple)):
        raise TypeError(f"{fn}: argument 'scale' must be a real number or a float array, "
                        f"got {scale!r}")
    if not isinstance(scale, numbers.Real):
        scale = as_float_array(fn, "scale", scale, (0, 1)).reshape(-1)
        if scale.size not in (1, N):
            raise ValueError(f"{fn}: argument 'scale' must have 1 or {N} elements, got "
                             f"{scale.size}")
    s = np.broadcast_to(np.asarray(scale, prob.dtype).reshape(-1), (N,))
    onehot = np.zeros((N, C))
    onehot[np.arange(N), target] = 1.0
    return _result(fn, s[:, None] * (prob - onehot), prob, out)
