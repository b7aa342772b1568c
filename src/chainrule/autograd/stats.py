"""More reductions, PyTorch-style: max/min (overall, along ``dim`` -> (values, indices), or
elementwise with another tensor), argmax/argmin, prod, var/std (``correction``/``unbiased``),
norm, all/any. ``dim`` may be an int or a tuple where PyTorch allows it; ``keepdim`` keeps it."""
from __future__ import annotations

import collections
import numbers

import numpy as np

from .function import FLOATS, attach, const, make
from .reduce import norm_axes
from .tensor import Tensor

MinMax = collections.namedtuple("MinMax", ["values", "indices"])  # torch.return_types.max


def check_dim(fn, dim, ndim):
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{fn}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{fn}: dim {dim} is out of range for a tensor with {ndim} dims")
    return int(dim) % max(ndim, 1)


def _extreme(self, fn, dim, keepdim, other, pick):
    if other is not None:
        from .joins import maximum, minimum
        return (maximum if fn == "max" else minimum)(self, other)
    a = self.array
    if a.size == 0:
        raise RuntimeError(f"Tensor.{fn}: the tensor is empty (shape {a.shape})")
    if dim is None:  # over everything: gradient split evenly among ties, as PyTorch
        out = np.asarray(pick(a))

        def backward(g):
            mask = (a == out)
            return ((mask * (g / mask.sum())).astype(a.dtype),)
        return make(out, (self,), backward)
    d = check_dim(f"Tensor.{fn}", dim, a.ndim)
    arg = np.argmax if fn == "max" else np.argmin
    a2 = a if a.ndim else a.reshape(1)
    kidx = np.expand_dims(arg(a2, axis=d), d)
    vals = np.take_along_axis(a2, kidx, axis=d)
    idx = kidx

    def backward(g):
        full = np.zeros_like(a2)
        gk = g.reshape(kidx.shape)
        np.put_along_axis(full, kidx, gk, axis=d)
        return (full.reshape(a.shape),)
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    return MinMax(make(vals, (self,), backward), const(idx.astype(np.int64)))


def _arg(self, fn, dim, keepdim):
    a = self.array
    f = np.argmax if fn == "argmax" else np.argmin
    if dim is None:
        out = np.asarray(f(a), dtype=np.int64)
        return const(out.reshape((1,) * a.ndim) if keepdim else out)
    d = check_dim(f"Tensor.{fn}", dim, a.ndim)
    out = f(a if a.ndim else a.reshape(1), axis=d)
    if keepdim:
        out = np.expand_dims(out, d)
    return const(np.asarray(out, dtype=np.int64).reshape(out.shape if a.ndim else ()))


def _axes(fn, a, dim):
    if dim is None:
        return None
    axes = norm_axes(dim, a.ndim, fn)
    return None if a.ndim == 0 else axes


def _expand(g, axes, keepdim, shape):
    if axes is not None and not keepdim and len(shape):
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class _Stats:
    def max(self, dim=None, keepdim=False, *, other=None):
        if isinstance(dim, (Tensor, np.ndarray)):
            dim, other = None, dim
        return _extreme(self, "max", dim, keepdim, other, np.max)

    def min(self, dim=None, keepdim=False, *, other=None):
        if isinstance(dim, (Tensor, np.ndarray)):
            dim, other = None, dim
        return _extreme(self, "min", dim, keepdim, other, np.min)

    def amax(self, dim=None, keepdim=False):
        return _extreme(self, "max", None, keepdim, None, np.max) if dim is None \
            else self.max(dim, keepdim).values

    def amin(self, dim=None, keepdim=False):
        return _extreme(self, "min", None, keepdim, None, np.min) if dim is None \
            else self.min(dim, keepdim).values

    def argmax(self, dim=None, keepdim=False):
        return _arg(self, "argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _arg(self, "argmin", dim, keepdim)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        a = self.array if dtype is None else self.array.astype(dtype)
        if dim is not None:
            check_dim("Tensor.prod", dim, a.ndim)
        axes = _axes("Tensor.prod", a, dim)
        out = np.asarray(np.prod(a, axis=axes, keepdims=keepdim), dtype=a.dtype)

        def backward(g):
            # d prod / d a_i = product of the others (exact with zeros: no division)
            ax = tuple(range(a.ndim)) if axes is None else axes
            moved = np.moveaxis(a, ax, tuple(range(a.ndim - len(ax), a.ndim)))
            flat = moved.reshape(moved.shape[:a.ndim - len(ax)] + (-1,))
            ones = np.ones_like(flat[..., :1])
            left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
            right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
            others = (left * right).reshape(moved.shape)
            others = np.moveaxis(others, tuple(range(a.ndim - len(ax), a.ndim)), ax)
            return ((_expand(g, axes, keepdim, a.shape) * others).astype(a.dtype),)
        return make(out, (self,), backward)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _var(self, "var", dim, unbiased, keepdim, correction, False)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _var(self, "std", dim, unbiased, keepdim, correction, True)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The vector p-norm over ``dim`` (all elements if None); p may be a number,
        'fro' (= 2) or inf."""
        a = self.array
        if a.dtype not in FLOATS:
            raise TypeError(f"Tensor.norm: expects a float tensor, got {a.dtype}")
        if p == "fro" or p is None:
            p = 2
        if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise ValueError(f"Tensor.norm: p must be a number, 'fro' or inf, got {p!r}")
        x = self.abs()
        if p == float("inf"):
            return x.amax(dim, keepdim)
        if p == 2:
            return (self * self).sum(dim=dim, keepdim=keepdim).sqrt()
        if p == 1:
            return x.sum(dim=dim, keepdim=keepdim)
        return (x ** p).sum(dim=dim, keepdim=keepdim) ** (1.0 / p)

    def all(self, dim=None, keepdim=False, *, axis=None, out=None, keepdims=None):
        dim = axis if dim is None else dim  # np.all(t) passes NumPy's names
        keepdim = keepdim if keepdims is None else keepdims
        return const(np.asarray(np.all(self.array, axis=_axes("Tensor.all", self.array, dim),
                                       keepdims=keepdim)))

    def any(self, dim=None, keepdim=False, *, axis=None, out=None, keepdims=None):
        dim = axis if dim is None else dim  # np.any(t) passes NumPy's names
        keepdim = keepdim if keepdims is None else keepdims
        return const(np.asarray(np.any(self.array, axis=_axes("Tensor.any", self.array, dim),
                                       keepdims=keepdim)))


def _var(self, fn, dim, unbiased, keepdim, correction, root):
    a = self.array
    if a.dtype not in FLOATS:
        raise TypeError(f"Tensor.{fn}: expects a float tensor, got {a.dtype}")
    if isinstance(dim, bool):  # var(False): PyTorch's old positional unbiased
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _axes(f"Tensor.{fn}", a, dim)
    n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
    mean = a.mean(axis=axes, keepdims=True)
    diff = a - mean
    denom = max(n - correction, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.asarray((diff * diff).sum(axis=axes, keepdims=keepdim) / denom, dtype=a.dtype)
        out = np.sqrt(v) if root else v

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            gv = g / (2 * out) if root else g
            return ((_expand(gv, axes, keepdim, a.shape) * (2.0 / denom) * diff)
                    .astype(a.dtype),)
    return make(out, (self,), backward)


attach(vars(_Stats))
