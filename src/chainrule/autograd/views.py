"""More shape ops, PyTorch-style: view_as, unflatten, squeeze, unsqueeze, permute, t,
expand, expand_as, repeat, and ``__setitem__`` (an in-place write, see ``inplace.py``)."""
from __future__ import annotations

import numbers

import numpy as np

from .function import attach, make
from .stats import check_dim
from .tensor import Tensor


def _sizes(fn, sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{fn}: sizes must be ints, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def _reshaped(self, shape):
    src = self.array.shape

    def backward(g):
        return (g.reshape(src),)
    return make(self.array.reshape(shape), (self,), backward)


class _Views:
    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def unflatten(self, dim, sizes):
        shp = self.array.shape
        d = check_dim("Tensor.unflatten", dim, len(shp))
        sizes = _sizes("Tensor.unflatten", (sizes,))
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes = tuple(shp[d] // known if s == -1 else s for s in sizes)
        if int(np.prod(sizes)) != shp[d]:
            raise ValueError(f"Tensor.unflatten: sizes {sizes} do not multiply to the size "
                             f"{shp[d]} of dim {dim}")
        return _reshaped(self, shp[:d] + sizes + shp[d + 1:])

    def squeeze(self, dim=None):
        shp = self.array.shape
        if dim is None:
            new = tuple(s for s in shp if s != 1)
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            ds = {check_dim("Tensor.squeeze", d, len(shp)) for d in dims}
            new = tuple(s for i, s in enumerate(shp) if not (i in ds and s == 1))
        return self if new == shp else _reshaped(self, new)

    def unsqueeze(self, dim):
        shp = self.array.shape
        d = check_dim("Tensor.unsqueeze", dim, len(shp) + 1)
        return _reshaped(self, shp[:d] + (1,) + shp[d:])

    def permute(self, *dims):
        dims = _sizes("Tensor.permute", dims)
        nd = self.array.ndim
        if sorted(d % max(nd, 1) for d in dims) != list(range(nd)):
            raise ValueError(f"Tensor.permute: dims {dims} are not a permutation of the "
                             f"{nd} dims of shape {self.array.shape}")
        dims = tuple(d % nd for d in dims)
        inv = tuple(np.argsort(dims))

        def backward(g):
            return (g.transpose(inv),)
        return make(self.array.transpose(dims), (self,), backward)

    def t(self):
        if self.array.ndim > 2:
            raise ValueError(f"Tensor.t: expects a tensor with <= 2 dims, got shape "
                             f"{self.array.shape}")
        return self if self.array.ndim < 2 else self.transpose(0, 1)

    def swapaxes(self, axis0, axis1):
        return self.transpose(axis0, axis1)

    swapdims = swapaxes

    def expand(self, *sizes):
        sizes = _sizes("Tensor.expand", sizes)
        shp = self.array.shape
        if len(sizes) < len(shp):
            raise ValueError(f"Tensor.expand: the number of sizes {len(sizes)} must be >= the "
                             f"number of dims of shape {shp}")
        lead = len(sizes) - len(shp)
        new = tuple(s if s != -1 else (shp[i - lead] if i >= lead else -1)
                    for i, s in enumerate(sizes))
        try:
            out = np.broadcast_to(self.array, new)
        except ValueError:
            raise ValueError(f"Tensor.expand: cannot expand shape {shp} to {sizes}") from None

        def backward(g):
            from .function import unbroadcast
            return (unbroadcast(g, shp),)
        return make(out, (self,), backward)

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        sizes = _sizes("Tensor.repeat", sizes)
        shp = self.array.shape
        if len(sizes) < len(shp):
            raise ValueError(f"Tensor.repeat: the number of repeats {len(sizes)} must be >= "
                             f"the number of dims of shape {shp}")
        a = self.array.reshape((1,) * (len(sizes) - len(shp)) + shp)
        out = np.tile(a, sizes)

        def backward(g):
            # (r0, s0, r1, s1, ...) blocks: sum over the repeat axes
            split = g.reshape(sum(((r, s) for r, s in zip(sizes, a.shape)), ()))
            return (split.sum(axis=tuple(range(0, 2 * len(sizes), 2))).reshape(shp),)
        return make(out, (self,), backward)

    def __setitem__(self, index, value):
        from .inplace import setitem
        setitem(self, index, value)


attach(vars(_Views))
