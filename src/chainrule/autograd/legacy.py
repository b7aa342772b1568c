"""PyTorch's legacy tensor types, still common in older tutorials: ``cr.FloatTensor``,
``DoubleTensor``, ``LongTensor``, ``IntTensor``, ``BoolTensor``, ``ByteTensor``.

``cr.FloatTensor([1, 2])`` is ``cr.tensor([1, 2], dtype=cr.float32)``;
``cr.FloatTensor(2, 3)`` (ints: sizes) is ``cr.zeros(2, 3)`` (PyTorch leaves it
uninitialised); ``t.type(cr.LongTensor)`` converts; ``isinstance(t, cr.FloatTensor)`` is
True for a float32 Tensor. NumPy reads the ``dtype`` attribute, so they work wherever a
dtype does (``cr.zeros(2, dtype=cr.LongTensor)``)."""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .tensor import Tensor, tensor

__all__ = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor",
           "ByteTensor"]


class _LegacyType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.array.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'chainrule.{cls.__name__}'>"


class _Legacy(metaclass=_LegacyType):
    dtype = None

    def __new__(cls, *args):
        if args and all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                        for a in args):
            return tensor(np.zeros(tuple(int(a) for a in args), cls.dtype))
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}: expects sizes (ints) or one sequence of data, "
                            f"got {len(args)} arguments")
        return tensor([] if not args else args[0], dtype=cls.dtype)


def _make(name, dt):
    return _LegacyType(name, (_Legacy,), {"dtype": dt, "__module__": "chainrule"})


FloatTensor = _make("FloatTensor", dtypes.float32)
DoubleTensor = _make("DoubleTensor", dtypes.float64)
LongTensor = _make("LongTensor", dtypes.int64)
IntTensor = _make("IntTensor", dtypes.int32)
BoolTensor = _make("BoolTensor", dtypes.bool)
ByteTensor = _make("ByteTensor", dtypes.uint8)
