"""Scans, reorders and splits, PyTorch-style: cumsum, cumprod, flip (fliplr, flipud), roll,
tril, triu, chunk, split, unbind, narrow. Each is a ``cr.<name>`` function and a Tensor
method, with gradients. chunk / split / unbind / narrow return slices of the input (each
its own node; gradients of all pieces add up in the input)."""
from __future__ import annotations

import numbers

import numpy as np

from .function import attach, make
from .joins import to_tensor
from .stats import check_dim

__all__ = ["cumsum", "cumprod", "flip", "fliplr", "flipud", "roll", "tril", "triu", "chunk",
           "split", "unbind", "narrow"]


def _int(fn, name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: argument '{name}' must be an int, got {v!r}")
    return int(v)


def _scan_input(fn, input, dim, dtype):
    x = to_tensor(fn, input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.array.dtype.kind in "biu":  # PyTorch: integer and bool scans give int64
        x = x.to(np.int64)
    a = x.array
    return x, (a if a.ndim else a.reshape(1)), check_dim(fn, dim, a.ndim)


def _rev_cumsum(g, d):
    return np.flip(np.cumsum(np.flip(g, d), axis=d), d)


def cumsum(input, dim, *, dtype=None):
    """Cumulative sums along ``dim``."""
    x, a, d = _scan_input("cumsum", input, dim, dtype)
    out = np.cumsum(a, axis=d).reshape(x.array.shape)

    def backward(g):
        return (_rev_cumsum(g.reshape(a.shape), d).reshape(x.array.shape),)
    return make(out, (x,), backward)


def cumprod(input, dim, *, dtype=None):
    """Cumulative products along ``dim`` (exact gradients also where entries are zero)."""
    x, a, d = _scan_input("cumprod", input, dim, dtype)
    out = np.cumprod(a, axis=d)

    def backward(g):
        g = g.reshape(a.shape)
        if np.all(a != 0):
            return ((_rev_cumsum(g * out, d) / a).reshape(x.array.shape),)
        # d out_j / d a_i = prod_{k<i} a_k * prod_{i<k<=j} a_k for j >= i (no division)
        am, gm = np.moveaxis(a, d, -1), np.moveaxis(g, d, -1)
        n = am.shape[-1]
        before = np.cumprod(np.concatenate([np.ones_like(am[..., :1]), am[..., :-1]], -1), -1)
        gx = np.empty_like(am)
        for i in range(n):
            after = np.cumprod(np.concatenate([np.ones_like(am[..., :1]), am[..., i + 1:]],
                                              -1), -1)
            gx[..., i] = before[..., i] * (gm[..., i:] * after).sum(-1)
        return (np.moveaxis(gx, -1, d).reshape(x.array.shape),)
    return make(out.reshape(x.array.shape), (x,), backward)


def _dims(fn, dims, ndim):
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    ds = tuple(check_dim(fn, d, ndim) for d in dims)
    if len(set(ds)) != len(ds):
        raise ValueError(f"{fn}: dim {dims} appears multiple times in the list of dims")
    return ds


def flip(input, dims):
    """The entries in reverse order along each of ``dims``."""
    x = to_tensor("flip", input)
    ds = _dims("flip", dims, x.array.ndim) if x.array.ndim else ()

    def backward(g):
        return (np.flip(g, ds).copy(),)
    return make(np.flip(x.array, ds).copy(), (x,), backward)


def fliplr(input):
    x = to_tensor("fliplr", input)
    if x.array.ndim < 2:
        raise ValueError(f"fliplr: input must be >= 2-d, got shape {x.array.shape}")
    return flip(x, 1)


def flipud(input):
    x = to_tensor("flipud", input)
    if x.array.ndim < 1:
        raise ValueError("flipud: input must be >= 1-d, got a 0-d tensor")
    return flip(x, 0)


def roll(input, shifts, dims=None):
    """Entries shifted cyclically by ``shifts`` along ``dims`` (None: over the flattened
    tensor, shape kept)."""
    x = to_tensor("roll", input)
    sh = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    sh = tuple(_int("roll", "shifts", s) for s in sh)
    if dims is None:
        if len(sh) != 1:
            raise ValueError(f"roll: with dims=None, shifts must be one int, got {shifts!r}")
        ax = None
        sh = sh[0]
    else:
        ax = _dims("roll", dims, x.array.ndim)
        if len(ax) != len(sh):
            raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same "
                             f"length")
    neg = -sh if ax is None else tuple(-s for s in sh)

    def backward(g):
        return (np.roll(g, neg, ax),)
    return make(np.roll(x.array, sh, ax), (x,), backward)


def _tri(fn, keep, input, diagonal):
    x = to_tensor(fn, input)
    if x.array.ndim < 2:
        raise ValueError(f"{fn}: input must have at least 2 dims, got shape {x.array.shape}")
    k = _int(fn, "diagonal", diagonal)

    def backward(g):
        return (keep(g, k),)
    return make(keep(x.array, k), (x,), backward)


def tril(input, diagonal=0):
    """The lower triangle (of the last two dims) on and below ``diagonal``; zeros above."""
    return _tri("tril", np.tril, input, diagonal)


def triu(input, diagonal=0):
    """The upper triangle (of the last two dims) on and above ``diagonal``; zeros below."""
    return _tri("triu", np.triu, input, diagonal)


def narrow(input, dim, start, length):
    """The slice ``start : start + length`` of ``input`` along ``dim``."""
    x = to_tensor("narrow", input)
    d = check_dim("narrow", dim, x.array.ndim)
    n = x.array.shape[d]
    start, length = _int("narrow", "start", start), _int("narrow", "length", length)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                         f"size ({n}) of shape {x.array.shape}")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def split(tensor, split_size_or_sections, dim=0):
    """Pieces along ``dim``: of size ``split_size_or_sections`` each (the last may be
    smaller), or of the given list of sizes (which must add up to the dim's size)."""
    x = to_tensor("split", tensor, "tensor")
    d = check_dim("split", dim, x.array.ndim)
    n = x.array.shape[d]
    s = split_size_or_sections
    if isinstance(s, numbers.Integral) and not isinstance(s, bool):
        if s <= 0 and not (s == 0 and n == 0):
            raise ValueError(f"split: split_size must be a positive int, got {s}")
        sizes = [min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = [_int("split", "split_size_or_sections", v) for v in s]
        if sum(sizes) != n or any(v < 0 for v in sizes):
            raise ValueError(f"split: sizes {list(s)} must be >= 0 and add up to the size {n} "
                             f"of dim {dim}")
    starts = np.cumsum([0] + sizes[:-1])
    return tuple(narrow(x, d, int(b), v) for b, v in zip(starts, sizes))


def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces along ``dim``, each of size ceil(n / chunks) (the last
    smaller), as PyTorch."""
    x = to_tensor("chunk", input)
    chunks = _int("chunk", "chunks", chunks)
    if chunks < 1:
        raise ValueError(f"chunk: chunks must be >= 1, got {chunks}")
    d = check_dim("chunk", dim, x.array.ndim)
    n = x.array.shape[d]
    if n == 0:  # PyTorch: `chunks` empty pieces
        return tuple(narrow(x, d, 0, 0) for _ in range(chunks))
    return split(x, -(-n // chunks), d)


def unbind(input, dim=0):
    """The slices ``input.select(dim, i)`` for every i, as a tuple."""
    x = to_tensor("unbind", input)
    d = check_dim("unbind", dim, x.array.ndim)
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.array.shape[d]))


class _Reorder:
    def cumsum(self, dim, *, dtype=None):
        return cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return cumprod(self, dim, dtype=dtype)

    def flip(self, *dims):
        return flip(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], numbers.Integral)
                    else dims)

    def fliplr(self):
        return fliplr(self)

    def flipud(self):
        return flipud(self)

    def roll(self, shifts, dims=None):
        return roll(self, shifts, dims)

    def tril(self, diagonal=0):
        return tril(self, diagonal)

    def triu(self, diagonal=0):
        return triu(self, diagonal)

    def narrow(self, dim, start, length):
        return narrow(self, dim, start, length)

    def split(self, split_size, dim=0):
        return split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return unbind(self, dim)

    def select(self, dim, index):
        d = check_dim("Tensor.select", dim, self.array.ndim)
        return self[(slice(None),) * d + (_int("Tensor.select", "index", index),)]

    def tril_(self, diagonal=0):
        from .inplace import apply
        return apply(self, "tril_", lambda x: tril(x, diagonal))

    def triu_(self, diagonal=0):
        from .inplace import apply
        return apply(self, "triu_", lambda x: triu(x, diagonal))


attach(vars(_Reorder))
