"""Parameterised activations (C, csrc/actfn.c): LeakyReLU, ELU, GELU, SiLU, Softplus,
Hardtanh, any shape, NumPy in/out, PyTorch's formulas and defaults.

``<name>_forward(x, params..., *, out=None)`` gives y; ``<name>_backward(dy, x, params...,
*, out=None)`` gives dx = dy * f'(x) from the forward's INPUT x. One fused pass each way,
on all threads for large arrays. ``out=`` writes into a given C-contiguous array of the
right shape and dtype (may be the input itself, must not partly overlap it).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _kernels
from .._checks import actfn_params, as_float_array, out_array, plain, same_dtype, softmax_dim

__all__ = ["leaky_relu_forward", "leaky_relu_backward", "elu_forward", "elu_backward",
           "gelu_forward", "gelu_backward", "silu_forward", "silu_backward",
           "softplus_forward", "softplus_backward", "hardtanh_forward", "hardtanh_backward",
           "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward"]

_KINDS = _kernels.ACTFN_KINDS


def _fwd(kind, x, p0, p1, out):
    fn = f"{kind}_forward"
    a, b = actfn_params(fn, kind, p0, p1)
    x = as_float_array(fn, "x", x)
    if out is None:
        out = np.empty(x.shape, x.dtype)
    else:
        out = out_array(fn, "out", out, x.shape, x.dtype)
    _kernels.actfn_forward(_KINDS[kind], out, x, a, b)
    return out


def _bwd(kind, dy, x, p0, p1, out):
    fn = f"{kind}_backward"
    a, b = actfn_params(fn, kind, p0, p1)
    if not (plain(getattr(x, "dtype", None), dy, x) and dy.shape == x.shape):
        dy = as_float_array(fn, "dy", dy)
        x = as_float_array(fn, "x", x)
        if dy.dtype is not x.dtype:
            same_dtype(fn, dy=dy, x=x)
        if dy.shape != x.shape:
            raise ValueError(f"{fn}: argument 'dy' must have the shape of x {x.shape}, got "
                             f"{dy.shape}")
    if out is None:
        out = np.empty(x.shape, x.dtype)
    else:
        out = out_array(fn, "out", out, x.shape, x.dtype)
    _kernels.actfn_backward(_KINDS[kind], out, dy, x, a, b)
    return out


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01, *,
                       out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x if x > 0 else negative_slope * x."""
    return _fwd("leaky_relu", x, negative_slope, None, out)


def leaky_relu_backward(dy: np.ndarray, x: np.ndarray, negative_slope: float = 0.01, *,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy if x > 0 else negative_slope * dy."""
    return _bwd("leaky_relu", dy, x, negative_slope, None, out)


def elu_forward(x: np.ndarray, alpha: float = 1.0, *,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x if x > 0 else alpha * (exp(x) - 1)."""
    return _fwd("elu", x, alpha, None, out)


def elu_backward(dy: np.ndarray, x: np.ndarray, alpha: float = 1.0, *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy if x > 0 else dy * alpha * exp(x)."""
    return _bwd("elu", dy, x, alpha, None, out)


def gelu_forward(x: np.ndarray, approximate: str = "none", *,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2, or with approximate='tanh'
    x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    return _fwd("gelu", x, approximate, None, out)


def gelu_backward(dy: np.ndarray, x: np.ndarray, approximate: str = "none", *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * (Phi(x) + x phi(x)) (or the derivative of the tanh form)."""
    return _bwd("gelu", dy, x, approximate, None, out)


def silu_forward(x: np.ndarray, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x * sigmoid(x)."""
    return _fwd("silu", x, None, None, out)


def silu_backward(dy: np.ndarray, x: np.ndarray, *,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * s (1 + x (1 - s)), s = sigmoid(x)."""
    return _bwd("silu", dy, x, None, None, out)


def softplus_forward(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0, *,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = log(1 + exp(beta x)) / beta, or x where beta x > threshold."""
    return _fwd("softplus", x, beta, threshold, out)


def softplus_backward(dy: np.ndarray, x: np.ndarray, beta: float = 1.0, threshold: float = 20.0, *,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy * sigmoid(beta x), or dy where beta x > threshold."""
    return _bwd("softplus", dy, x, beta, threshold, out)


def hardtanh_forward(x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0, *,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """y = clamp(x, min_val, max_val) (NaN stays NaN)."""
    return _fwd("hardtanh", x, min_val, max_val, out)


def hardtanh_backward(dy: np.ndarray, x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0,
                      *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """dx = dy where min_val < x < max_val, else 0."""
    return _bwd("hardtanh", dy, x, min_val, max_val, out)


# ---- softmax over one axis (csrc/actfn.c: rows of the moved-last axis) ------------------
def _rows(a, d):
    """a with axis d moved last, C-contiguous, as (rows, C); and the inverse."""
    a1 = a.reshape(1) if a.ndim == 0 else a
    m = np.ascontiguousarray(np.moveaxis(a1, d, -1))
    return m.reshape(-1, m.shape[-1]) if m.shape[-1] else m.reshape(0, 0), m.shape


def _unrows(r, shape, d, like):
    out = np.moveaxis(r.reshape(shape), -1, d)
    return np.ascontiguousarray(out).reshape(like.shape)


def _softmax_fwd(fn, x, dim, log):
    x = as_float_array(fn, "x", x)
    d = softmax_dim(fn, dim, x.ndim)
    r, shape = _rows(x, d)
    out = np.empty_like(r)
    _kernels.softmax_rows(out, r, log)
    return _unrows(out, shape, d, x)


def _softmax_bwd(fn, dy, y, dim, log):
    dy = as_float_array(fn, "dy", dy)
    y = as_float_array(fn, "y", y)
    same_dtype(fn, dy=dy, y=y)
    if dy.shape != y.shape:
        raise ValueError(f"{fn}: argument 'dy' must have the shape of y {y.shape}, got "
                         f"{dy.shape}")
    d = softmax_dim(fn, dim, y.ndim)
    ry, shape = _rows(y, d)
    rg, _ = _rows(dy, d)
    out = np.empty_like(ry)
    _kernels.softmax_rows_backward(out, rg, ry, log)
    return _unrows(out, shape, d, y)


def softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """y = exp(x - max) / sum(exp(x - max)) along ``dim`` (sums in double)."""
    return _softmax_fwd("softmax_forward", x, dim, False)


def softmax_backward(dy: np.ndarray, y: np.ndarray, dim: int = -1) -> np.ndarray:
    """dx = y * (dy - sum(dy * y)) along ``dim``, from y = softmax_forward(x, dim)."""
    return _softmax_bwd("softmax_backward", dy, y, dim, False)


def log_softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """y = x - max - log(sum(exp(x - max))) along ``dim``."""
    return _softmax_fwd("log_softmax_forward", x, dim, True)


def log_softmax_backward(dy: np.ndarray, y: np.ndarray, dim: int = -1) -> np.ndarray:
    """dx = dy - exp(y) * sum(dy) along ``dim``, from y = log_softmax_forward(x, dim)."""
    return _softmax_bwd("log_softmax_backward", dy, y, dim, True)
