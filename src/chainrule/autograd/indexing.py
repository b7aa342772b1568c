"""Index-driven ops, PyTorch-style: gather, scatter / scatter_add (and the in-place
``scatter_`` / ``scatter_add_``), index_select, masked_select, nonzero, take_along_dim.
Each is a ``cr.<name>`` function and a Tensor method; gradients flow to the float
operands (never to the index).

Index rules as in PyTorch: ``index`` is an integer tensor (or array); for gather and
scatter it has the input's number of dims and fits inside it (``index.size(d) <=
input.size(d)`` for ``d != dim``; for scatter also ``<= src.size(d)`` for every d), its
values lie in ``[0, input.size(dim))``; an out-of-range value raises IndexError.
"""
from __future__ import annotations

import numbers

import numpy as np

from .function import attach, const, make
from .joins import to_tensor
from .stats import check_dim
from .tensor import Tensor

__all__ = ["gather", "scatter", "scatter_add", "index_select", "masked_select", "nonzero",
           "take_along_dim"]


def _index(fn, index, name="index"):
    a = index.array if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: argument '{name}' must be an integer tensor (int64), got "
                        f"dtype {a.dtype}")
    return a.astype(np.intp, copy=False)


def _in_range(fn, idx, size, dim):
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"{fn}: index {bad} is out of bounds for dimension {dim} with "
                         f"size {size}")


def _grid(idx, d):
    """Open-mesh index arrays addressing ``a[..., idx[...], ...]`` along ``d`` element by
    element of ``idx`` (torch.gather's addressing)."""
    nd = idx.ndim
    return tuple(idx if k == d else
                 np.arange(idx.shape[k]).reshape((1,) * k + (-1,) + (1,) * (nd - k - 1))
                 for k in range(nd))


def _gather_args(fn, x, dim, index):
    x = to_tensor(fn, x)
    idx = _index(fn, index)
    a = x.array
    nd = max(a.ndim, 1)
    d = check_dim(fn, dim, a.ndim)
    if idx.ndim != a.ndim and not (a.ndim == 0 and idx.ndim <= 1):
        raise ValueError(f"{fn}: index must have the same number of dims as input; got "
                         f"index shape {idx.shape} and input shape {a.shape}")
    a2 = a.reshape((1,) * (nd - a.ndim) + a.shape)
    idx2 = idx.reshape((1,) * (nd - idx.ndim) + idx.shape)
    for k in range(nd):
        if k != d and idx2.shape[k] > a2.shape[k]:
            raise ValueError(f"{fn}: index shape {idx.shape} is larger than input shape "
                             f"{a.shape} in dim {k} (only dim {dim} may differ)")
    _in_range(fn, idx2, a2.shape[d], dim)
    return x, a2, idx2, d


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim=1 (any rank); the output has
    index's shape."""
    x, a, idx, d = _gather_args("gather", input, dim, index)
    where = _grid(idx, d)
    out = a[where].reshape(np.shape(index))
    shape = x.array.shape

    def backward(g):
        full = np.zeros_like(a)
        np.add.at(full, where, g.reshape(idx.shape))
        return (full.reshape(shape),)
    return make(out, (x,), backward)


def take_along_dim(input, indices, dim=None):
    """``np.take_along_axis`` with gradients (dim None: over the flattened input);
    indices broadcast against input like PyTorch."""
    x = to_tensor("take_along_dim", input)
    idx = _index("take_along_dim", indices, "indices")
    if dim is None:
        return take_along_dim(x.reshape(-1), idx.reshape(-1), 0)
    d = check_dim("take_along_dim", dim, x.array.ndim)
    if idx.ndim != x.array.ndim:
        raise ValueError(f"take_along_dim: indices must have the input's number of dims; got "
                         f"shapes {idx.shape} and {x.array.shape}")
    _in_range("take_along_dim", idx, x.array.shape[d], dim)
    bshape = tuple(max(s, i) if k != d else i
                   for k, (s, i) in enumerate(zip(x.array.shape, idx.shape)))
    xs = tuple(s if k == d else b for k, (s, b) in enumerate(zip(x.array.shape, bshape)))
    try:
        xb = x.expand(xs) if xs != x.array.shape else x
        idx = np.broadcast_to(idx, bshape)
    except ValueError:
        raise ValueError(f"take_along_dim: shapes {x.array.shape} and {np.shape(indices)} "
                         f"do not broadcast outside dim {dim}") from None
    return gather(xb, d, idx)


def _scatter(fn, input, dim, index, src, add):
    x, a, idx, d = _gather_args(fn, input, dim, index)
    if isinstance(src, (numbers.Number, np.generic)):
        if add:
            raise TypeError(f"{fn}: argument 'src' must be a Tensor, got a number")
        s = const(np.asarray(src, dtype=a.dtype))
    else:
        s = to_tensor(fn, src, "src")
    if s.array.dtype != a.dtype:
        raise TypeError(f"{fn}: src dtype {s.array.dtype} must equal the input's dtype "
                        f"{a.dtype}")
    sa = s.array
    if sa.ndim:
        if sa.ndim != a.ndim and not (x.array.ndim == 0 and sa.ndim <= 1):
            raise ValueError(f"{fn}: src must have the input's number of dims; got src shape "
                             f"{sa.shape} and input shape {x.array.shape}")
        sa = sa.reshape((1,) * (a.ndim - sa.ndim) + sa.shape)
        if any(i > s_ for i, s_ in zip(idx.shape, sa.shape)):
            raise ValueError(f"{fn}: index shape {np.shape(index)} is larger than src shape "
                             f"{s.array.shape}")
        part = sa[tuple(slice(0, i) for i in idx.shape)]
    else:
        part = np.broadcast_to(sa, idx.shape)
    where = _grid(idx, d)
    out = a.copy()
    if add:
        np.add.at(out, where, part)
    else:
        out[where] = part
    shape, sshape = x.array.shape, s.array.shape

    def backward(g):
        g = g.reshape(a.shape)
        gx = gs = None
        if x.requires_grad:
            gx = g
            if not add:
                gx = g.copy()
                gx[where] = 0
            gx = gx.reshape(shape)
        if s.requires_grad:
            picked = g[where]
            if sa.ndim:
                gs = np.zeros(sa.shape, g.dtype)
                gs[tuple(slice(0, i) for i in idx.shape)] = picked
                gs = gs.reshape(sshape)
            else:
                gs = np.asarray(picked.sum(), g.dtype)
        return (gx, gs)
    return make(out.reshape(shape), (x, s), backward)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of ``input`` with ``out[i][index[i][j][k]][k] = src[i][j][k]`` (dim=1);
    ``src`` may be a number (or pass ``value=``). ``reduce='add'`` is scatter_add."""
    if value is not None:
        if src is not None:
            raise TypeError("scatter: give either 'src' or 'value', not both")
        src = value
    if src is None:
        raise TypeError("scatter: missing argument 'src' (a Tensor or a number)")
    if reduce not in (None, "add"):
        raise ValueError(f"scatter: reduce must be None or 'add', got {reduce!r}")
    if reduce == "add" and not isinstance(src, (Tensor, np.ndarray)):
        src = const(np.full(np.shape(_index("scatter", index)), src,
                            to_tensor("scatter", input).array.dtype))
    return _scatter("scatter", input, dim, index, src, reduce == "add")


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with ``out[i][index[i][j][k]][k] += src[i][j][k]`` (dim=1);
    repeated indices accumulate."""
    return _scatter("scatter_add", input, dim, index, src, True)


def index_select(input, dim, index):
    """The entries ``index`` (a 1-D integer tensor) of ``input`` along ``dim``."""
    x = to_tensor("index_select", input)
    idx = _index("index_select", index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    a = x.array
    d = check_dim("index_select", dim, a.ndim)
    a2 = a if a.ndim else a.reshape(1)
    idx = idx.reshape(-1)
    _in_range("index_select", idx, a2.shape[d], dim)
    out = np.take(a2, idx, axis=d)
    if not a.ndim:
        out = out.reshape(())

    def backward(g):
        full = np.zeros_like(a2)
        np.add.at(np.moveaxis(full, d, 0), idx, np.moveaxis(g.reshape(out.shape if a.ndim
                                                                      else (idx.size,)), d, 0))
        return (full.reshape(a.shape),)
    return make(out, (x,), backward)


def masked_select(input, mask):
    """The 1-D tensor of ``input``'s entries where the bool ``mask`` (broadcast) is True."""
    x = to_tensor("masked_select", input)
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
    try:
        shape = np.broadcast_shapes(x.array.shape, m.shape)
    except ValueError:
        raise ValueError(f"masked_select: shapes {x.array.shape} and {m.shape} do not "
                         f"broadcast") from None
    xb = x if shape == x.array.shape else x.expand(shape)
    return xb[np.broadcast_to(m, shape)]


def nonzero(input, *, as_tuple=False):
    """The indices of the non-zero entries: an (n, ndim) int64 tensor, or (as_tuple) one
    1-D tensor per dim."""
    a = to_tensor("nonzero", input).array
    if as_tuple:
        return tuple(const(i.astype(np.int64)) for i in np.nonzero(a.reshape(a.shape or (1,))))
    return const(np.argwhere(a).astype(np.int64))


class _Indexing:
    def gather(self, dim, index, *, sparse_grad=False):
        return gather(self, dim, index)

    def take_along_dim(self, indices, dim=None):
        return take_along_dim(self, indices, dim)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return scatter_add(self, dim, index, src)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        from .inplace import apply
        return apply(self, "scatter_", lambda x: scatter(x, dim, index, src, value=value,
                                                         reduce=reduce), src)

    def scatter_add_(self, dim, index, src):
        from .inplace import apply
        return apply(self, "scatter_add_", lambda x: scatter_add(x, dim, index, src), src)

    def index_select(self, dim, index):
        return index_select(self, dim, index)

    def masked_select(self, mask):
        return masked_select(self, mask)

    def nonzero(self, *, as_tuple=False):
        return nonzero(self, as_tuple=as_tuple)


attach(vars(_Indexing))
