"""Batch normalization and dropout (C with OpenMP; see csrc/norm.h and csrc/dropout.h).

Batch norm takes x (N, C) or (N, C, *) (NC, NCL, NCHW, ...) and normalises each channel c
over its M = N * prod(*) values:
    mean = sum x / M,  var = sum (x - mean)^2 / M (biased),  invstd = 1 / sqrt(var + eps)
    y = (x - mean) * invstd * weight + bias            (weight, bias: (C,) or None)
Statistics are computed in float64 (one read: moments about the channel's first value,
fixed order): bitwise the same for any thread count. Dropout draws its mask from Philox4x32-10 keyed by (seed, offset): element
i's keep bit depends only on (seed, offset, i); kept elements are scaled by 1 / (1 - p).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._checks import as_float_array, out_array
from .._normchecks import (bn_input, eps_arg, mask_arg, per_channel, prob_arg, same_shape,
                           shape_arg, u64_arg)

__all__ = ["batch_norm_forward", "batch_norm_inference", "batch_norm_backward",
           "dropout_forward", "dropout_backward", "dropout_mask"]


def batch_norm_forward(x: np.ndarray, weight: Optional[np.ndarray] = None, bias=None,
                       eps: float = 1e-5, *, relu: bool = False,
                       residual: Optional[np.ndarray] = None
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training mode (batch statistics): x (N, C, *) -> (y, mean, invstd, var).

    y has x's shape; mean, invstd and var (the biased batch variance, for the running
    statistics) are (C,) in x's dtype. Needs at least one value per channel. residual (x's
    shape and dtype): y = y + residual; relu=True: y = relu_forward(y); both in the same
    pass (bitwise the separate calls; with relu and no residual the backward takes this y
    as ``relu_out``).
    """
    fn = "batch_norm_forward"
    x, (N, C, L) = bn_input(fn, x)
    weight = per_channel(fn, "weight", weight, C, x.dtype)
    bias = per_channel(fn, "bias", bias, C, x.dtype)
    eps = eps_arg(fn, eps)
    if C and N * L == 0:
        raise ValueError(f"{fn}: x {x.shape} has no values per channel")
    if residual is not None:
        residual = same_shape(fn, "residual", residual, x).reshape(N, C, L)
    y = np.empty(x.shape, x.dtype)
    mean = np.empty(C, x.dtype)
    invstd = np.empty(C, x.dtype)
    var = np.empty(C, np.float64)
    _kernels.batch_norm_forward(y.reshape(N, C, L), mean, invstd, var, x.reshape(N, C, L),
                                weight, bias, eps, _flag(fn, "relu", relu), residual)
    return y, mean, invstd, var.astype(x.dtype)


def batch_norm_inference(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                         weight: Optional[np.ndarray] = None, bias=None,
                         eps: float = 1e-5) -> np.ndarray:
    """Evaluation mode: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias."""
    fn = "batch_norm_inference"
    x, (N, C, L) = bn_input(fn, x)
    mean = per_channel(fn, "running_mean", running_mean, C, x.dtype, optional=False)
    var = per_channel(fn, "running_var", running_var, C, x.dtype, optional=False)
    weight = per_channel(fn, "weight", weight, C, x.dtype)
    bias = per_channel(fn, "bias", bias, C, x.dtype)
    invstd = (1.0 / np.sqrt(var.astype(np.float64) + eps_arg(fn, eps))).astype(x.dtype)
    y = np.empty(x.shape, x.dtype)
    _kernels.batch_norm_apply(y.reshape(N, C, L), x.reshape(N, C, L), mean, invstd, weight,
                              bias)
    return y


def batch_norm_backward(dy: np.ndarray, x: np.ndarray, weight: np.ndarray, mean: np.ndarray,
                        invstd: np.ndarray, training: bool = True,
                        output_mask: Tuple[bool, bool, bool] = (True, True, True), *,
                        relu_out: Optional[np.ndarray] = None, relu: bool = False,
                        bias: Optional[np.ndarray] = None,
                        out: Optional[np.ndarray] = None) -> Tuple[Any, ...]:
    """-> (dx, dweight, dbias); an entry is None where output_mask says it is not wanted.

    relu_out: the y of ``batch_norm_forward(..., relu=True)`` (x's shape): the gradient of
    relu(batch_norm(x)), i.e. dy first masked as relu_backward(dy, relu_out) does, in the
    same passes. relu=True (instead of relu_out): the same gradient with the mask
    recomputed from x, weight, ``bias`` (the forward's, (C,) or None), mean and invstd as
    the forward computed y -- bitwise the mask of relu_out, without reading it.
    out: dx is written there (x's shape and dtype, C-contiguous); it may be dy itself
    (in place) but must not overlap x or relu_out.

    dy, x (N, C, *); weight (C,) or None (ones); mean, invstd (C,): the forward's batch
    statistics (training=True) or the running ones (training=False: then the statistics
    are constants and dx = dy * weight * invstd).
        dbias = sum dy,  dweight = sum dy * (x - mean) * invstd   (per channel)
        dx = weight * invstd * (dy - dbias / M - (x - mean) * invstd * dweight / M)
    """
    fn = "batch_norm_backward"
    x, (N, C, L) = bn_input(fn, x)
    dy = same_shape(fn, "dy", dy, x)
    weight = per_channel(fn, "weight", weight, C, x.dtype)
    mean = per_channel(fn, "mean", mean, C, x.dtype, optional=False)
    invstd = per_channel(fn, "invstd", invstd, C, x.dtype, optional=False)
    if not isinstance(output_mask, (tuple, list)) or len(output_mask) != 3:
        raise ValueError(f"{fn}: argument 'output_mask' must be 3 bools (dx, dweight, dbias), "
                         f"got {output_mask!r}")
    want_dx, want_dw, want_db = (bool(v) for v in output_mask)
    relu = _flag(fn, "relu", relu)
    if relu_out is not None:
        if relu:
            raise ValueError(f"{fn}: give relu_out or relu=True, not both")
        relu_out = same_shape(fn, "relu_out", relu_out, x).reshape(N, C, L)
    bias = per_channel(fn, "bias", bias, C, x.dtype) if relu else None
    if out is not None:
        if not want_dx:
            raise ValueError(f"{fn}: argument 'out' given but output_mask does not want dx")
        out = out_array(fn, "out", out, x.shape, x.dtype)
        for name, v in (("x", x), ("relu_out", relu_out), ("dy", dy)):
            if v is not None and np.may_share_memory(out, v) and not (
                    name == "dy" and out.ctypes.data == dy.ctypes.data):
                raise ValueError(f"{fn}: argument 'out' overlaps '{name}'"
                                 + (" (only dy itself may be out)" if name == "dy" else ""))
    dx = (out if out is not None else np.empty(x.shape, x.dtype)) if want_dx or relu else None
    dw = np.empty(C, x.dtype) if want_dw else None
    db = np.empty(C, x.dtype) if want_db else None
    _kernels.batch_norm_backward(dy.reshape(N, C, L), x.reshape(N, C, L), mean, invstd, weight,
                                 None if dx is None else dx.reshape(N, C, L), dw, db,
                                 bool(training), relu_out, relu, bias)
    return dx if want_dx else None, dw, db


def _flag(fn, name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: argument '{name}' must be a bool, got {v!r}")
    return bool(v)


def dropout_forward(x: np.ndarray, p: float, seed: int,
                    offset: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """-> (y, mask): mask (x's shape, uint8) is 1 where kept; y = x * mask / (1 - p).

    Element i = 64 g + 16 q + k (row-major, q < 4, k < 16) is kept iff word q of
    Philox4x32-10 with counter (16 g + k, offset) and key seed is >= floor(p * 2**32):
    reproducible for (seed, offset) on any thread count (see csrc/dropout.h).
    """
    fn = "dropout_forward"
    x = as_float_array(fn, "x", x)
    p = prob_arg(fn, p)
    seed = u64_arg(fn, "seed", seed)
    offset = u64_arg(fn, "offset", offset)
    y = np.empty(x.shape, x.dtype)
    mask = np.empty(x.shape, np.uint8)
    _kernels.dropout_forward(y.reshape(-1), mask.reshape(-1), x.reshape(-1), p, seed, offset)
    return y, mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """dx = dy * mask / (1 - p); mask from dropout_forward (uint8 or bool, dy's shape)."""
    fn = "dropout_backward"
    dy = as_float_array(fn, "dy", dy)
    mask = mask_arg(fn, mask, dy.shape)
    p = prob_arg(fn, p)
    dx = np.empty(dy.shape, dy.dtype)
    _kernels.dropout_backward(dx.reshape(-1), dy.reshape(-1), mask.reshape(-1), p)
    return dx


def dropout_mask(shape, p: float, seed: int, offset: int = 0) -> np.ndarray:
    """The keep mask (uint8, ``shape``) that dropout_forward would draw for this shape."""
    fn = "dropout_mask"
    shape = shape_arg(fn, shape)
    p = prob_arg(fn, p)
    mask = np.empty(shape, np.uint8)
    _kernels.dropout_mask(mask.reshape(-1), p, u64_arg(fn, "seed", seed),
                          u64_arg(fn, "offset", offset))
    return mask
