"""The parameterised activations as their textbook formulas (NumPy, float64 inside;
math.erf per element for GELU): the twins of chainrule.ops' leaky_relu/elu/gelu/silu/
softplus/hardtanh forward and backward (same names and signatures).

    leaky_relu  y = x (x > 0) else s x             y' = 1 (x > 0) else s
    elu         y = x (x > 0) else a (e^x - 1)     y' = 1 (x > 0) else a e^x
    gelu        y = x Phi(x)                       y' = Phi(x) + x phi(x)
    gelu tanh   y = x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3)
    silu        y = x s(x)                         y' = s (1 + x (1 - s))
    softplus    y = log(1 + e^(b x)) / b           y' = s(b x)   (x where b x > threshold)
    hardtanh    y = min(max(x, lo), hi)            y' = 1 on (lo, hi), else 0
"""
from __future__ import annotations

from typing import Optional

import math

import numpy as np

from .._checks import actfn_params, as_float_array, out_array, same_dtype, softmax_dim

__all__ = ["leaky_relu_forward", "leaky_relu_backward", "elu_forward", "elu_backward",
           "gelu_forward", "gelu_backward", "silu_forward", "silu_backward",
           "softplus_forward", "softplus_backward", "hardtanh_forward", "hardtanh_backward",
           "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward"]

_erf = np.frompyfunc(math.erf, 1, 1)
_K = math.sqrt(2.0 / math.pi)


def _result(fn, value, like, out):
    value = np.asarray(value).astype(like.dtype)
    if out is None:
        return value
    out = out_array(fn, "out", out, like.shape, like.dtype)
    out[...] = value
    return out


def _sig(v):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-v))


def _f(kind, v, a, b):
    with np.errstate(over="ignore", invalid="ignore"):
        if kind == "leaky_relu":
            return np.where(v > 0, v, a * v)
        if kind == "elu":
            return np.where(v > 0, v, a * np.expm1(np.minimum(v, 0)))
        if kind == "gelu" and a:
            return 0.5 * v * (1 + np.tanh(_K * (v + 0.044715 * v ** 3)))
        if kind == "gelu":
            return 0.5 * v * (1 + np.asarray(_erf(v / math.sqrt(2.0)), dtype=np.float64))
        if kind == "silu":
            return v * _sig(v)
        if kind == "softplus":
            return np.where(v * a > b, v, np.log1p(np.exp(v * a)) / a)
        return np.where(v < a, a, np.where(v > b, b, v))


def _d(kind, v, a, b):
    with np.errstate(over="ignore", invalid="ignore"):
        if kind == "leaky_relu":
            return np.where(v > 0, 1.0, a)
        if kind == "elu":
            return np.where(v > 0, 1.0, a * np.exp(np.minimum(v, 0)))
        if kind == "gelu" and a:
            t = np.tanh(_K * (v + 0.044715 * v ** 3))
            return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * _K * (1 + 3 * 0.044715 * v * v)
        if kind == "gelu":
            phi = np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)
            return 0.5 * (1 + np.asarray(_erf(v / math.sqrt(2.0)), dtype=np.float64)) + v * phi
        if kind == "silu":
            s = _sig(v)
            return s * (1 + v * (1 - s))
        if kind == "softplus":
            return np.where(v * a > b, 1.0, _sig(v * a))
        return np.where((v <= a) | (v >= b), 0.0, 1.0)


def _fwd(kind, x, p0, p1, out):
    fn = f"{kind}_forward"
    a, b = actfn_params(fn, kind, p0, p1)
    x = as_float_array(fn, "x", x)
    return _result(fn, _f(kind, x.astype(np.float64), a, b), x, out)


def _bwd(kind, dy, x, p0, p1, out):
    fn = f"{kind}_backward"
    a, b = actfn_params(fn, kind, p0, p1)
    dy = as_float_array(fn, "dy", dy)
    x = as_float_array(fn, "x", x)
    same_dtype(fn, dy=dy, x=x)
    if dy.shape != x.shape:
        raise ValueError(f"{fn}: argument 'dy' must have the shape of x {x.shape}, got "
                         f"{dy.shape}")
    return _result(fn, dy * _d(kind, x.astype(np.float64), a, b), x, out)


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01, *,
                       out: Optional[np.ndarray] = None) -> np.ndarray:
    return _fwd("leaky_relu", x, negative_slope, None, out)


def leaky_relu_backward(dy: np.ndarray, x: np.ndarray, negative_slope: float = 0.01, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    return _bwd("leaky_relu", dy, x, negative_slope, None, out)


def elu_forward(x: np.ndarray, alpha: float = 1.0, *,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    return _fwd("elu", x, alpha, None, out)


def elu_backward(dy: np.ndarray, x: np.ndarray, alpha: float = 1.0, *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    return _bwd("elu", dy, x, alpha, None, out)


def gelu_forward(x: np.ndarray, approximate: str = "none", *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    return _fwd("gelu", x, approximate, None, out)


def gelu_backward(dy: np.ndarray, x: np.ndarray, approximate: str = "none", *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    return _bwd("gelu", dy, x, approximate, None, out)


def silu_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    return _fwd("silu", x, None, None, out)


def silu_backward(dy: np.ndarray, x: np.ndarray, *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    return _bwd("silu", dy, x, None, None, out)


def softplus_forward(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0, *,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    return _fwd("softplus", x, beta, threshold, out)


def softplus_backward(dy: np.ndarray, x: np.ndarray, beta: float = 1.0, threshold: float = 20.0, *,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
    return _bwd("softplus", dy, x, beta, threshold, out)


def hardtanh_forward(x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0, *,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    return _fwd("hardtanh", x, min_val, max_val, out)


def hardtanh_backward(dy: np.ndarray, x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0,
                      *, out: Optional[np.ndarray] = None) -> np.ndarray:
    return _bwd("hardtanh", dy, x, min_val, max_val, out)


# ---- softmax over one axis -----------------------------------------------------------------
def _softmax_args(fn, x, dim):
    x = as_float_array(fn, "x", x)
    return x, softmax_dim(fn, dim, x.ndim)


def softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """softmax(x)_i = e^(x_i) / sum_k e^(x_k) along dim (shifted by the max, float64)."""
    x, d = _softmax_args("softmax_forward", x, dim)
    a = x.astype(np.float64).reshape(x.shape or (1,))
    e = np.exp(a - a.max(axis=d, keepdims=True, initial=-np.inf))
    return (e / e.sum(axis=d, keepdims=True)).reshape(x.shape).astype(x.dtype)


def log_softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """log_softmax(x)_i = x_i - log sum_k e^(x_k) along dim (float64)."""
    x, d = _softmax_args("log_softmax_forward", x, dim)
    a = x.astype(np.float64).reshape(x.shape or (1,))
    z = a - a.max(axis=d, keepdims=True, initial=-np.inf)
    return (z - np.log(np.exp(z).sum(axis=d, keepdims=True))).reshape(x.shape).astype(x.dtype)


def _softmax_grad(fn, dy, y, dim, log):
    dy = as_float_array(fn, "dy", dy)
    y = as_float_array(fn, "y", y)
    same_dtype(fn, dy=dy, y=y)
    if dy.shape != y.shape:
        raise ValueError(f"{fn}: argument 'dy' must have the shape of y {y.shape}, got "
                         f"{dy.shape}")
    d = softmax_dim(fn, dim, y.ndim)
    g = dy.astype(np.float64).reshape(y.shape or (1,))
    v = y.astype(np.float64).reshape(y.shape or (1,))
    if log:
        dx = g - np.exp(v) * g.sum(axis=d, keepdims=True)
    else:
        dx = v * (g - (g * v).sum(axis=d, keepdims=True))
    return dx.reshape(y.shape).astype(y.dtype)


def softmax_backward(dy: np.ndarray, y: np.ndarray, dim: int = -1) -> np.ndarray:
    """dx = y (dy - sum(dy y)) along dim."""
    return _softmax_grad("softmax_backward", dy, y, dim, False)


def log_softmax_backward(dy: np.ndarray, y: np.ndarray, dim: int = -1) -> np.ndarray:
    """dx = dy - e^y sum(dy) along dim."""
    return _softmax_grad("log_softmax_backward", dy, y, dim, True)
