"""Python protocols PyTorch tensors support that scripts rely on: ``%`` / ``//`` (and
remainder, fmod, floor_divide), ``format(t, spec)`` (a one-element tensor formats as its
number: ``f"{loss:>7f}"``), ``x in t`` and ``reversed(t)``."""
from __future__ import annotations

import numpy as np

from .arith import binary_op, operand
from .function import attach
from .tensor import Tensor

__all__ = ["remainder", "fmod", "floor_divide"]


def _reflect(method):
    def op(self, other):
        o = operand(self, other, method)
        if o is NotImplemented:
            return o
        if isinstance(o, tuple):
            self, o = o
        return getattr(o, method)(self)
    return op


class _Protocols:
    # Python's modulo: the sign of the divisor (torch.remainder); gradient 1 and -floor(a/b)
    __mod__ = binary_op("__mod__", "remainder", "np.mod(a, b)", "g",
                        "-g * np.floor(a / b).astype(g.dtype)")
    __rmod__ = _reflect("__mod__")
    # floor division, as PyTorch's // (zero gradient: piecewise constant)
    __floordiv__ = binary_op("__floordiv__", "floor_divide", "np.floor_divide(a, b)",
                             "np.zeros(a.shape, g.dtype)", "np.zeros(b.shape, g.dtype)")
    __rfloordiv__ = _reflect("__floordiv__")
    # C's fmod: the sign of the dividend
    fmod = binary_op("fmod", "fmod", "np.fmod(a, b)", "g",
                     "-g * np.trunc(a / b).astype(g.dtype)")

    def remainder(self, other):
        return self % other

    def floor_divide(self, other):
        return self // other

    def __format__(self, spec):
        if self.array.ndim == 0:
            return self.array.item().__format__(spec)
        return object.__format__(self, spec)

    def __contains__(self, element):
        if not isinstance(element, (Tensor, int, float, bool, np.generic)):
            raise RuntimeError(f"Tensor.__contains__: only a Tensor or a scalar can be "
                               f"searched for, got {type(element).__name__}")
        return bool((self == element).any())

    def __reversed__(self):
        return self if self.array.ndim == 0 else self.flip(0)


def remainder(input, other):
    return input % other if isinstance(input, Tensor) else _Protocols.__rmod__(other, input)


def fmod(input, other):
    return input.fmod(other)


def floor_divide(input, other):
    return input // other if isinstance(input, Tensor) else \
        _Protocols.__rfloordiv__(other, input)


attach(vars(_Protocols))
