"""Comparisons and logic on Tensors: == != < <= > >= (and eq ne lt le gt ge), & | ^ ~
(and logical_and/or/xor/not). Results are bool tensors outside the graph; ``__hash__``
stays identity (a Tensor is still usable as a dict key)."""
from __future__ import annotations

import numbers

import numpy as np

from .function import attach, const
from .tensor import Tensor


def _other(fn, other):
    """The other operand as an ndarray or a Python number, or NotImplemented."""
    if isinstance(other, Tensor):
        return other.array
    if isinstance(other, np.ndarray):
        return np.asarray(other)
    if isinstance(other, (numbers.Number, np.generic)):
        return other
    return NotImplemented


def _compare(name, ufunc):
    def op(self, other):
        b = _other(name, other)
        if b is NotImplemented:
            if name in ("eq", "ne"):  # t == "x" is False, as in Python
                return NotImplemented
            raise TypeError(f"Tensor.{name}: argument 'other' must be a Tensor, an array or a "
                            f"number, got {type(other).__name__}")
        try:
            return const(np.asarray(ufunc(self.array, b)))
        except ValueError:
            raise ValueError(f"Tensor.{name}: shapes {self.array.shape} and {np.shape(b)} do "
                             f"not broadcast") from None
    op.__name__ = name
    return op


def _logical(name, ufunc):
    def op(self, other):
        b = _other(name, other)
        if b is NotImplemented:
            return NotImplemented
        a = self.array
        bk = np.asarray(b).dtype.kind
        if a.dtype.kind not in "biu" or bk not in "biu":
            raise TypeError(f"Tensor.{name}: bitwise ops take bool or integer tensors, got "
                            f"dtypes {a.dtype} and {np.asarray(b).dtype}")
        return const(np.asarray(ufunc(a, b)))
    op.__name__ = name
    return op


class _Compare:
    eq = __eq__ = _compare("eq", np.equal)
    ne = __ne__ = _compare("ne", np.not_equal)
    lt = less = __lt__ = _compare("lt", np.less)
    le = less_equal = __le__ = _compare("le", np.less_equal)
    gt = greater = __gt__ = _compare("gt", np.greater)
    ge = greater_equal = __ge__ = _compare("ge", np.greater_equal)
    __and__ = __rand__ = bitwise_and = _logical("and", np.bitwise_and)
    __or__ = __ror__ = bitwise_or = _logical("or", np.bitwise_or)
    __xor__ = __rxor__ = bitwise_xor = _logical("xor", np.bitwise_xor)
    __hash__ = Tensor.__hash__

    def __invert__(self):
        a = self.array
        if a.dtype.kind not in "biu":
            raise TypeError(f"Tensor.__invert__: ~ takes a bool or integer tensor, got {a.dtype}")
        return const(np.invert(a))

    bitwise_not = __invert__

    def logical_not(self):
        return const(np.logical_not(self.array))

    def logical_and(self, other):
        return const(np.logical_and(self.array, _other("logical_and", other)))

    def logical_or(self, other):
        return const(np.logical_or(self.array, _other("logical_or", other)))

    def logical_xor(self, other):
        return const(np.logical_xor(self.array, _other("logical_xor", other)))

    def equal(self, other):
        """True when ``other`` has the same shape and values (PyTorch's torch.equal)."""
        b = np.asarray(_other("equal", other))
        return self.array.shape == b.shape and bool(np.array_equal(self.array, b))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self.array, np.asarray(_other("allclose", other)), rtol=rtol,
                                atol=atol, equal_nan=equal_nan))

    def isnan(self):
        return const(np.isnan(self.array))

    def isinf(self):
        return const(np.isinf(self.array))

    def isfinite(self):
        return const(np.isfinite(self.array))


del Tensor.__hash__  # re-attached (unchanged) with the comparisons below
attach(vars(_Compare))
