"""Sorting, PyTorch-style: sort, argsort, topk (``cr.<name>`` functions and Tensor
methods). sort and topk return ``(values, indices)`` namedtuples; gradients flow to the
selected values (scattered back through the indices). Sorting is stable (equal values keep
their order, in both directions); NaN counts as the largest value, as in PyTorch.
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from .function import attach, const, make
from .joins import to_tensor
from .stats import check_dim

__all__ = ["sort", "argsort", "topk"]

# named "sort"/"topk" as torch.return_types.sort/topk (mypy wants the variable's name)
SortResult = collections.namedtuple("sort", ["values", "indices"])  # type: ignore[name-match]
TopkResult = collections.namedtuple("topk", ["values", "indices"])  # type: ignore[name-match]


def _order(a, d, descending):
    """Stable argsort of ``a`` along ``d`` (descending keeps ties in their order too)."""
    if not descending:
        return np.argsort(a, axis=d, kind="stable")
    rev = np.flip(a, d)  # stable ascending of the reversed array, read backwards
    return a.shape[d] - 1 - np.flip(np.argsort(rev, axis=d, kind="stable"), d)


def _take(x, a, d, idx, shape):
    """Values of ``a`` at ``idx`` along ``d``, shaped ``shape``, as a node (gradient
    scattered back through ``idx``)."""
    vals = np.take_along_axis(a, idx, axis=d).reshape(shape)

    def backward(g):
        full = np.zeros_like(a)
        np.put_along_axis(full, idx, g.reshape(idx.shape), axis=d)
        return (full.reshape(x.array.shape),)
    return make(vals, (x,), backward)


def _args(fn, input, dim):
    x = to_tensor(fn, input)
    a = x.array
    d = check_dim(fn, dim, a.ndim)
    return x, (a if a.ndim else a.reshape(1)), d


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` of ``input`` sorted along ``dim``."""
    x, a, d = _args("sort", input, dim)
    idx = _order(a, d, bool(descending))
    shape = x.array.shape
    return SortResult(_take(x, a, d, idx, shape), const(idx.astype(np.int64).reshape(shape)))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (int64, no gradient)."""
    x, a, d = _args("argsort", input, dim)
    return const(_order(a, d, bool(descending)).astype(np.int64).reshape(x.array.shape))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (or, ``largest=False``, smallest) entries
    along ``dim``, in sorted order."""
    x, a, d = _args("topk", input, dim)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    if not 0 <= k <= a.shape[d]:
        raise ValueError(f"topk: k ({k}) is out of range for dimension {dim} of size "
                         f"{a.shape[d]}")
    idx = np.take(_order(a, d, bool(largest)), np.arange(k), axis=d)
    shape = idx.shape if x.array.ndim or not k else ()  # a 0-d input gives 0-d results
    return TopkResult(_take(x, a, d, idx, shape), const(idx.astype(np.int64).reshape(shape)))


class _Sorting:
    def sort(self, dim=-1, descending=False, stable=False):
        return sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return topk(self, k, dim, largest, sorted)


attach(vars(_Sorting))
