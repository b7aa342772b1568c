"""F.interpolate and nn.Upsample (PyTorch's arguments, defaults and index rules).

Modes 'nearest' (3-D, 4-D, 5-D inputs), 'linear' (3-D), 'bilinear' (4-D) and 'trilinear'
(5-D), with ``size`` or ``scale_factor`` and, for the interpolating modes,
``align_corners``. Resampling is separable: along each spatial dim (the last first, PyTorch's
order of terms) the output gathers one (nearest) or two weighted (linear) input positions;
the backward adds each gradient back to its sources (np.add.reduceat over the runs of
equal indices), so both ways cost O(output) per dim.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd.function import FLOATS, as_tensor, make
from .modules import Module

__all__ = ["interpolate", "upsample", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]

_DIMS = {"nearest": (1, 2, 3), "linear": (1,), "bilinear": (2,), "trilinear": (3,)}


def _taps(mode, n_in, n_out, scale, align_corners, dtype):
    """Along one dim: source indices and weights of each output position, PyTorch's rules;
    ``scale`` is the in/out ratio (1 / scale_factor when a scale factor is used as given).
    nearest: [(index, None)]; linear: [(i0, 1 - w), (i1, w)]. Indices never decrease."""
    dst = np.arange(n_out, dtype=np.float64)
    if mode == "nearest":
        return [(np.minimum(np.floor(dst * scale).astype(np.int64), n_in - 1), None)]
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    w1 = (src - i0).astype(dtype)
    return [(i0, (1 - w1).astype(dtype)), (np.minimum(i0 + 1, n_in - 1), w1)]


def _shape_w(w, axis, ndim):
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis))


def _gather(a, axis, taps):
    """Forward along ``axis``: sum of weighted gathers (PyTorch's order of the terms)."""
    out = None
    for idx, w in taps:
        t = np.take(a, idx, axis=axis)
        if w is not None:
            t *= _shape_w(w, axis, a.ndim)
        out = t if out is None else out + t
    return out


def _scatter(g, axis, taps, n_in):
    """Backward along ``axis``: each output gradient (times its weight) added to its source;
    the indices never decrease, so each source's terms are one contiguous run (reduceat)."""
    shape = list(g.shape)
    shape[axis] = n_in
    acc = np.zeros(shape, g.dtype)
    for idx, w in taps:
        gw = g * _shape_w(w, axis, g.ndim) if w is not None else g
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        sums = np.add.reduceat(gw, starts, axis=axis)
        where = [slice(None)] * g.ndim
        where[axis] = idx[starts]
        acc[tuple(where)] += sums
    return acc


def _per_dim(fn, name, value, k, kind):
    if isinstance(value, (tuple, list)):
        if len(value) != k:
            raise ValueError(f"{fn}: {name} must have {k} entries for an input with {k} "
                             f"spatial dims, got {tuple(value)}")
        vals = tuple(value)
    else:
        vals = (value,) * k
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, kind) or v <= 0 or \
                (kind is numbers.Real and not math.isfinite(v)):
            what = "ints" if kind is numbers.Integral else "numbers"
            raise ValueError(f"{fn}: {name} must be positive {what} (or a tuple of {k}), "
                             f"got {value!r}")
    return vals


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims (all dims after N, C) to ``size`` or by ``scale_factor``
    (exactly one), as torch.nn.functional.interpolate."""
    fn = "interpolate"
    x = as_tensor(input, fn, "input")
    a = x.array
    if mode not in _DIMS:
        raise ValueError(f"{fn}: mode must be 'nearest', 'linear', 'bilinear' or 'trilinear', "
                         f"got {mode!r}")
    k = a.ndim - 2
    if k not in _DIMS[mode]:
        want = " or ".join(f"{d + 2}-D" for d in _DIMS[mode])
        raise ValueError(f"{fn}: mode {mode!r} needs a {want} input (N, C, spatial...), got "
                         f"shape {a.shape}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{fn}: align_corners can only be set with the interpolating modes "
                         f"(linear, bilinear, trilinear), not 'nearest'")
    if antialias:
        raise ValueError(f"{fn}: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fn}: give exactly one of size and scale_factor")
    n_in = a.shape[2:]
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{fn}: recompute_scale_factor applies only with scale_factor")
        n_out = tuple(int(s) for s in _per_dim(fn, "size", size, k, numbers.Integral))
        scales = tuple(i / o for i, o in zip(n_in, n_out))
    else:
        sf = tuple(float(s) for s in _per_dim(fn, "scale_factor", scale_factor, k,
                                              numbers.Real))
        n_out = tuple(int(math.floor(i * s)) for i, s in zip(n_in, sf))
        if any(o <= 0 for o in n_out):
            raise ValueError(f"{fn}: scale_factor {scale_factor!r} gives an empty output for "
                             f"spatial size {n_in}")
        scales = tuple(i / o for i, o in zip(n_in, n_out)) if recompute_scale_factor \
            else tuple(1.0 / s for s in sf)
    if a.dtype not in FLOATS:
        raise TypeError(f"{fn}: input must be float32 or float64, got {a.dtype}")
    ac = bool(align_corners)
    # the last spatial dim first: the same order of terms as PyTorch's kernels
    plan = [(2 + d, _taps(mode, n_in[d], n_out[d], scales[d], ac, a.dtype), n_in[d])
            for d in reversed(range(k)) if n_in[d] != n_out[d] or scales[d] != 1.0]
    out = a
    for axis, taps, _ in plan:
        out = _gather(out, axis, taps)
    out = np.ascontiguousarray(out) if plan else out.copy()

    def backward(g):
        for axis, taps, n in reversed(plan):
            g = _scatter(g, axis, taps, n)
        return (np.ascontiguousarray(g),)
    return make(out, (x,), backward)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


class Upsample(Module):
    """F.interpolate as a layer: Upsample(size=None, scale_factor=None, mode='nearest',
    align_corners=None, recompute_scale_factor=None)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of size and "
                             f"scale_factor")
        if mode not in _DIMS:
            raise ValueError(f"{type(self).__name__}: mode must be 'nearest', 'linear', "
                             f"'bilinear' or 'trilinear', got {mode!r}")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self):
        s = f"scale_factor={self.scale_factor}" if self.scale_factor is not None \
            else f"size={self.size}"
        return s + f", mode='{self.mode}'"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear with align_corners=True, as PyTorch's."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, "bilinear", align_corners=True)
