"""Conversions that stay in autograd: a differentiable dtype cast (to/float/double) and
detach (a constant sharing the data)."""
from __future__ import annotations

import numpy as np

from .function import FLOATS, attach, const, make


class _Conversions:
    """Tensor's casts (attached to Tensor at the end of this file)."""

    def detach(self):
        """A new leaf sharing ``data`` that is cut from the graph."""
        return const(self.array)

    def to(self, dtype):
        """A differentiable cast to float32 or float64 (self if the dtype already matches)."""
        dt = np.dtype(dtype) if dtype is not None else None
        if dt is None or dt not in FLOATS:
            raise TypeError(f"Tensor.to: dtype must be float32 or float64, got {dtype!r}")
        if dt == self.array.dtype:
            return self
        src = self.array.dtype

        def backward(g):
            return (g.astype(src),)
        return make(self.array.astype(dt), (self,), backward)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)


attach(vars(_Conversions))
