"""Shape ops on Tensors: reshape/view, flatten, transpose (and ``.T``), indexing."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .function import attach, make
from .tensor import Tensor


class _Shape:
    """Tensor's shape methods (attached to Tensor at the end of this file)."""

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.array.shape
        try:
            out = self.array.reshape(shape)
        except (ValueError, TypeError) as e:
            raise ValueError(f"Tensor.reshape: cannot reshape a tensor of shape {src} "
                             f"into {shape}") from e

        def backward(g):
            return (g.reshape(src),)
        return make(out, (self,), backward)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        shp = self.array.shape
        nd = max(len(shp), 1)
        s = start_dim % nd
        e = end_dim % nd
        if s > e:
            raise ValueError(f"Tensor.flatten: start_dim {start_dim} comes after end_dim "
                             f"{end_dim} for shape {shp}")
        if not shp:
            return self.reshape(1)
        new = shp[:s] + (math.prod(shp[s:e + 1]),) + shp[e + 1:]
        if new == shp:  # nothing to merge: the tensor itself, as torch.flatten may return
            return self
        return self.reshape(new)

    def transpose(self, dim0=None, dim1=None):
        """Swap two axes; with no arguments reverse all axes (like ``.T``)."""
        if dim0 is None and dim1 is None:
            def backward(g):
                return (g.T,)
            return make(self.array.T, (self,), backward)
        if dim0 is None or dim1 is None:
            raise TypeError("Tensor.transpose: give both axes (dim0, dim1) or none")
        nd = self.array.ndim
        for d in (dim0, dim1):
            if not isinstance(d, numbers.Integral) or not -nd <= d < nd:
                raise ValueError(f"Tensor.transpose: axis {d!r} is out of range for shape "
                                 f"{self.array.shape}")

        def backward(g):
            return (np.swapaxes(g, dim0, dim1),)
        return make(np.swapaxes(self.array, dim0, dim1), (self,), backward)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.array
        elif isinstance(index, tuple):
            index = tuple(i.array if isinstance(i, Tensor) else i for i in index)
        a = self.array
        out = a[index]
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        basic = _is_basic_index(index)

        def backward(g):
            full = np.zeros_like(a)
            if basic:
                full[index] += g
            else:
                np.add.at(full, index, g)
            return (full,)
        return make(out, (self,), backward)


def _is_basic_index(index):
    """True when ``a[index]`` is a view (ints, slices, None, Ellipsis): no repeated elements."""
    items = index if isinstance(index, tuple) else (index,)
    for it in items:
        if not (it is None or it is Ellipsis or isinstance(it, (slice, numbers.Integral))) \
                or isinstance(it, (bool, np.bool_)):
            return False
    return True


attach(vars(_Shape))
