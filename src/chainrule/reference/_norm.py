"""Batch normalization and dropout as their definitions (NumPy).

Batch norm: per channel c of x (N, C, *), over its M values, in float64:
    mean = sum x / M,  var = sum (x - mean)^2 / M,  y = (x - mean) / sqrt(var + eps) * w + b
Dropout: Philox4x32-10 (Salmon et al. 2011) written out with vectorised uint32 arithmetic,
the same stream as the C kernel, so the masks agree bit for bit.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._checks import as_float_array, out_array
from .._normchecks import (bn_input, eps_arg, mask_arg, per_channel, prob_arg, same_shape,
                           shape_arg, u64_arg)

__all__ = ["batch_norm_forward", "batch_norm_inference", "batch_norm_backward",
           "dropout_forward", "dropout_backward", "dropout_mask"]


def _channels(a, N, C, L):
    """(N, C, L) float64 view of a, channel axis first: (C, N*L)."""
    return a.reshape(N, C, L).astype(np.float64).transpose(1, 0, 2).reshape(C, N * L)


def _bcast(v, C, ndim):
    """(C,) -> shape (1, C, 1, ...) for an ndim-dimensional x."""
    return v.reshape((1, C) + (1,) * (ndim - 2))


def batch_norm_forward(x: np.ndarray, weight: Optional[np.ndarray] = None, bias=None,
                       eps: float = 1e-5, *, relu: bool = False,
                       residual: Optional[np.ndarray] = None
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training mode: x (N, C, *) -> (y, mean, invstd, var) (var biased); residual:
    y = y + residual (in x's dtype); relu=True: y = max(y, 0) (NaN stays NaN)."""
    fn = "batch_norm_forward"
    x, (N, C, L) = bn_input(fn, x)
    weight = per_channel(fn, "weight", weight, C, x.dtype)
    bias = per_channel(fn, "bias", bias, C, x.dtype)
    eps = eps_arg(fn, eps)
    if C and N * L == 0:
        raise ValueError(f"{fn}: x {x.shape} has no values per channel")
    if residual is not None:
        residual = same_shape(fn, "residual", residual, x)
    xc = _channels(x, N, C, L)
    mean = xc.mean(axis=1)
    var = ((xc - mean[:, None]) ** 2).mean(axis=1)
    invstd = 1.0 / np.sqrt(var + eps)
    w = np.ones(C) if weight is None else weight.astype(np.float64)
    b = np.zeros(C) if bias is None else bias.astype(np.float64)
    y = (x - _bcast(mean, C, x.ndim)) * _bcast(invstd * w, C, x.ndim) + _bcast(b, C, x.ndim)
    dt = x.dtype
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'relu' must be a bool, got {relu!r}")
    y = y.astype(dt)
    if residual is not None:
        y = y + residual
    if relu:
        y = np.where(y <= 0, np.zeros((), dt), y)
    return y, mean.astype(dt), invstd.astype(dt), var.astype(dt)


def batch_norm_inference(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                         weight: Optional[np.ndarray] = None, bias=None,
                         eps: float = 1e-5) -> np.ndarray:
    """y = (x - running_mean) / sqrt(running_var + eps) * weight + bias."""
    fn = "batch_norm_inference"
    x, (N, C, L) = bn_input(fn, x)
    mean = per_channel(fn, "running_mean", running_mean, C, x.dtype, optional=False)
    var = per_channel(fn, "running_var", running_var, C, x.dtype, optional=False)
    weight = per_channel(fn, "weight", weight, C, x.dtype)
    bias = per_channel(fn, "bias", bias, C, x.dtype)
    eps = eps_arg(fn, eps)
    w = np.ones(C) if weight is None else weight.astype(np.float64)
    b = np.zeros(C) if bias is None else bias.astype(np.float64)
    nd = x.ndim
    y = ((x.astype(np.float64) - _bcast(mean.astype(np.float64), C, nd))
         / np.sqrt(_bcast(var.astype(np.float64), C, nd) + eps) * _bcast(w, C, nd)
         + _bcast(b, C, nd))
    return y.astype(x.dtype)


def batch_norm_backward(dy: np.ndarray, x: np.ndarray, weight: np.ndarray, mean: np.ndarray,
                        invstd: np.ndarray, training: bool = True,
                        output_mask: Tuple[bool, bool, bool] = (True, True, True), *,
                        relu_out: Optional[np.ndarray] = None, relu: bool = False,
                        bias: Optional[np.ndarray] = None,
                        out: Optional[np.ndarray] = None) -> Tuple[Any, ...]:
    """(dx, dweight, dbias) of y = (x - mean) * invstd * weight + bias; in training mode
    mean and invstd are functions of x too (the three-term formula). relu_out: the output
    of relu(y) -- dy is first multiplied by (relu_out > 0); relu=True: the same with y
    recomputed from x, weight, bias, mean and invstd. out: dx is written there."""
    fn = "batch_norm_backward"
    x, (N, C, L) = bn_input(fn, x)
    dy = same_shape(fn, "dy", dy, x)
    weight = per_channel(fn, "weight", weight, C, x.dtype)
    mean = per_channel(fn, "mean", mean, C, x.dtype, optional=False)
    invstd = per_channel(fn, "invstd", invstd, C, x.dtype, optional=False)
    if not isinstance(output_mask, (tuple, list)) or len(output_mask) != 3:
        raise ValueError(f"{fn}: argument 'output_mask' must be 3 bools (dx, dweight, dbias), "
                         f"got {output_mask!r}")
    M = N * L
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument 'relu' must be a bool, got {relu!r}")
    if relu_out is not None:
        if relu:
            raise ValueError(f"{fn}: give relu_out or relu=True, not both")
        relu_out = same_shape(fn, "relu_out", relu_out, x)
        dy = dy * (relu_out > 0).astype(dy.dtype)
    if relu:
        bias = per_channel(fn, "bias", bias, C, x.dtype)
        w1: np.ndarray = np.ones(C) if weight is None else weight.astype(np.float64)
        b1 = np.zeros(C) if bias is None else bias.astype(np.float64)
        yc = (_channels(x, N, C, L) - mean.astype(np.float64)[:, None]) * \
            (w1 * invstd.astype(np.float64))[:, None] + b1[:, None]
        dy = dy * (yc > 0).reshape(C, N, L).transpose(1, 0, 2).reshape(x.shape).astype(dy.dtype)
    g = _channels(dy, N, C, L)
    xhat = (_channels(x, N, C, L) - mean.astype(np.float64)[:, None]) * \
        invstd.astype(np.float64)[:, None]
    w: np.ndarray = np.ones(C) if weight is None else weight.astype(np.float64)
    dbias = g.sum(axis=1)
    dweight = (g * xhat).sum(axis=1)
    k = (w * invstd.astype(np.float64))[:, None]
    if training and M:
        dxc = k * (g - dbias[:, None] / M - xhat * dweight[:, None] / M)
    else:
        dxc = k * g
    dx = dxc.reshape(C, N, L).transpose(1, 0, 2).reshape(x.shape)
    dt = x.dtype
    if out is not None:
        if not output_mask[0]:
            raise ValueError(f"{fn}: argument 'out' given but output_mask does not want dx")
        out = out_array(fn, "out", out, x.shape, dt)
        out[...] = dx
    res = (out if out is not None else dx.astype(dt), dweight.astype(dt), dbias.astype(dt))
    return tuple(o if want else None for o, want in zip(res, output_mask))


# ---- Philox4x32-10 ----------------------------------------------------------------------
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def philox4x32_10(ctr, key):
    """Philox4x32-10 on arrays: ctr = (c0, c1, c2, c3) uint32 arrays (broadcastable),
    key = (k0, k1) ints; returns 4 uint32 arrays. Each round:
        (c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0))
    then the key is bumped by the Weyl constants (W0, W1)."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in ctr)
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _S32) ^ c1 ^ np.uint64(k0), p1 & _LO,
                          (p0 >> _S32) ^ c3 ^ np.uint64(k1), p0 & _LO)
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def _keep(n, p, seed, offset):
    """Keep bits of elements 0 .. n-1: element 64 g + 16 q + k takes word q of the block
    with counter (16 g + k, offset); it is kept iff that word is >= floor(p * 2**32)."""
    groups = (n + 63) // 64
    j = np.arange(groups * 16, dtype=np.uint64)
    ctr = (j & _LO, j >> _S32, np.uint64(offset & 0xFFFFFFFF), np.uint64(offset >> 32))
    words = np.stack(philox4x32_10(ctr, (seed & 0xFFFFFFFF, seed >> 32)))  # (4, 16 G)
    words = words.reshape(4, groups, 16).transpose(1, 0, 2).reshape(-1)
    thr = int(p * 4294967296.0)
    return words[:n].astype(np.uint64) >= np.uint64(thr) if thr < (1 << 32) else \
        np.zeros(n, bool)


def _scaled(a, mask, p):
    dt = a.dtype.type
    s = dt(1) / dt(1.0 - p) if p < 1.0 else dt(np.inf)
    return a * np.where(mask, s, dt(0))


def dropout_forward(x: np.ndarray, p: float, seed: int,
                    offset: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """-> (y, mask (uint8)); y = x * (kept ? 1 / (1 - p) : 0)."""
    fn = "dropout_forward"
    x = as_float_array(fn, "x", x)
    p = prob_arg(fn, p)
    seed, offset = u64_arg(fn, "seed", seed), u64_arg(fn, "offset", offset)
    mask = _keep(x.size, p, seed, offset).reshape(x.shape)
    return _scaled(x, mask, p), mask.astype(np.uint8)


def dropout_backward(dy: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """dx = dy * (mask ? 1 / (1 - p) : 0)."""
    fn = "dropout_backward"
    dy = as_float_array(fn, "dy", dy)
    mask = mask_arg(fn, mask, dy.shape)
    return _scaled(dy, mask != 0, prob_arg(fn, p))


def dropout_mask(shape, p: float, seed: int, offset: int = 0) -> np.ndarray:
    """The keep mask (uint8) of dropout_forward for this shape."""
    fn = "dropout_mask"
    shape = shape_arg(fn, shape)
    p = prob_arg(fn, p)
    n = int(np.prod(shape, dtype=np.int64))
    return _keep(n, p, u64_arg(fn, "seed", seed), u64_arg(fn, "offset", offset)) \
        .reshape(shape).astype(np.uint8)
