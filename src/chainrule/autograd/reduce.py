"""Reductions on Tensors: sum and mean (over all axes, an axis or a tuple of axes, with
NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``), trace."""
from __future__ import annotations

import numbers

import numpy as np

from .function import attach, make


class _Reductions:
    """Tensor's reductions (attached to Tensor at the end of this file)."""

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, out=None):
        """Sum over ``axis`` (an int, a tuple or None for all); PyTorch's
        ``dim``/``keepdim`` spellings are accepted too. An integer or bool tensor sums to
        int64 (as PyTorch); ``dtype`` casts first."""
        self = _reduce_input(self, "Tensor.sum", dtype, out, True)
        a = self.array
        axes, keepdims = _reduction_args(a.ndim, axis, keepdims, dim, keepdim, "Tensor.sum")
        out = np.sum(a, axis=axes, keepdims=keepdims)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out, dtype=a.dtype)
        shape = a.shape

        def backward(g):
            if axes is not None and not keepdims:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g, shape),)
        return make(out, (self,), backward)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None,
             out=None):
        """Mean over ``axis`` (an int, a tuple or None for all); PyTorch's
        ``dim``/``keepdim`` spellings are accepted too (a float tensor, or ``dtype=``)."""
        self = _reduce_input(self, "Tensor.mean", dtype, out, False)
        a = self.array
        axes, keepdims = _reduction_args(a.ndim, axis, keepdims, dim, keepdim, "Tensor.mean")
        if axes is None:
            count = a.size
        else:
            count = 1
            for ax in axes:
                count *= a.shape[ax]
        out = np.mean(a, axis=axes, keepdims=keepdims)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out, dtype=a.dtype)
        shape = a.shape
        scale = 1.0 / count if count else np.nan

        def backward(g):
            if axes is not None and not keepdims:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g * scale, shape),)
        return make(out, (self,), backward)

    def trace(self):
        a = self.array
        if a.ndim != 2:
            raise ValueError(f"Tensor.trace: expects a 2-D tensor, got shape {a.shape}")

        def backward(g):
            return (g * np.eye(a.shape[0], a.shape[1], dtype=a.dtype),)
        return make(np.asarray(np.trace(a), dtype=a.dtype), (self,), backward)


def _reduce_input(t, fn, dtype, out, ints_ok):
    if out is not None:
        raise TypeError(f"{fn}: out= is not supported")
    if dtype is not None:
        return t.to(dtype)
    if t.array.dtype.kind in "biu":
        if not ints_ok:
            raise TypeError(f"{fn}: expects a float tensor, got dtype {t.array.dtype} (pass "
                            f"dtype= or convert with .float())")
        return t.to(np.int64)
    return t


def _norm_axes(axis, ndim, fn):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        if isinstance(ax, (bool, np.bool_)) or not isinstance(ax, numbers.Integral):
            raise TypeError(f"{fn}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{fn}: axis {ax} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: repeated axis in {axis!r}")
    return tuple(out)


def _reduction_args(ndim, axis, keepdims, dim, keepdim, fn):
    """(axes or None, keepdims) from NumPy's axis/keepdims or PyTorch's dim/keepdim."""
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if ndim == 0 and axis is not None:  # PyTorch: dim 0 or -1 of a 0-d tensor is itself
        _norm_axes(axis, ndim, fn)
        return None, False
    return (_norm_axes(axis, ndim, fn) if axis is not None else None), keepdims


attach(vars(_Reductions))
norm_axes = _norm_axes  # shared with stats.py
