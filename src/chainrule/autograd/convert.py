"""Conversions that stay in autograd: dtype casts (to/float/double/long/int/bool/type_as;
differentiable between float dtypes), device moves (CPU only), detach, clone, contiguous."""
from __future__ import annotations

import numpy as np

from . import dtypes
from .function import FLOATS, attach, const, make
from .tensor import Tensor


def _cast(self, dt):
    if dt == self.array.dtype:
        return self
    src = self.array.dtype
    if dt in FLOATS and src in FLOATS:
        def backward(g):
            return (g.astype(src),)
        return make(self.array.astype(dt), (self,), backward)
    return const(self.array.astype(dt))  # to or from an integer/bool dtype: no gradient


class _Conversions:
    """Tensor's casts (attached to Tensor at the end of this file)."""

    def detach(self):
        """A new leaf sharing ``array`` that is cut from the graph."""
        return const(self.array)

    def detach_(self):
        self._parents = ()
        self._backward = None
        self.requires_grad = False
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """``to(dtype)``, ``to("cpu")``, ``to(device, dtype)``, ``to(other_tensor)``; a cast
        between float dtypes is differentiable; self when nothing changes (copy=False)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.array.dtype
            elif isinstance(a, (str, dtypes.device)):
                device = a
            elif a is not None:
                dtype = a
        dtypes.check_device("Tensor.to", device)
        out = self if dtype is None else _cast(self, dtypes.to_dtype("Tensor.to", dtype))
        return out.clone() if copy and out is self else out

    def type_as(self, other):
        if not isinstance(other, Tensor):
            raise TypeError(f"Tensor.type_as: argument 'other' must be a Tensor, got "
                            f"{type(other).__name__}")
        return _cast(self, other.array.dtype)

    def type(self, dtype=None):
        if dtype is None:
            return f"chainrule.{self.array.dtype}"
        return _cast(self, dtypes.to_dtype("Tensor.type", dtype))

    def float(self):
        return _cast(self, dtypes.float32)

    def double(self):
        return _cast(self, dtypes.float64)

    def long(self):
        return _cast(self, dtypes.int64)

    def int(self):
        return _cast(self, dtypes.int32)

    def bool(self):
        return _cast(self, dtypes.bool)

    def byte(self):
        return _cast(self, dtypes.uint8)

    def cpu(self):
        return self

    def clone(self):
        """A copy with its own memory; gradients flow back to self."""
        def backward(g):
            return (g,)
        return make(self.array.copy(), (self,), backward)

    def contiguous(self):
        if self.array.flags.c_contiguous:
            return self

        def backward(g):
            return (g,)
        return make(np.ascontiguousarray(self.array), (self,), backward)

    def is_contiguous(self):
        return bool(self.array.flags.c_contiguous)


attach(vars(_Conversions))
