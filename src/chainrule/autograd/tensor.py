"""The Tensor class: a float32/float64 NumPy array plus the node fields the backward walk
(``engine.py``) reads, and the :func:`tensor` factory.

This file holds the data side only: properties, conversions to NumPy and Python, the
``backward`` entry point. The ops live in modules grouped by kind, each attaching its
methods to :class:`Tensor` when ``chainrule.autograd`` is imported:

- ``arith.py``: + - * / ** (one binary-op template), unary -, @
- ``shape.py``: reshape/view, flatten, transpose/T, indexing
- ``reduce.py``: sum, mean, trace
- ``pointwise.py``: exp, log, abs, sqrt, relu, sigmoid, tanh
- ``convert.py``: to/float/double, detach

An op builds its result with :func:`chainrule.autograd.function.make`. A new kind of op
goes in a new module ending with ``attach(vars(<its class of methods>))``, imported by
``chainrule/autograd/__init__.py``.
"""
from __future__ import annotations

import numpy as np

from . import engine

__all__ = ["Tensor", "tensor", "FLOATS", "float_array"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # the dtypes a Tensor may hold


def float_array(fn, name, data, dtype=None):
    """data -> float32/float64 ndarray (a copy). dtype=None keeps a float array's dtype;
    Python numbers, lists and integer arrays become float32. ``fn`` and ``name`` (the
    calling function and its argument) go into the TypeError for anything else.
    Internal API (see ``function.py``)."""
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in FLOATS:
            raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, np.ndarray):
        kind = data.dtype.kind
        if kind == "f":
            if dtype is None and data.dtype not in FLOATS:
                raise TypeError(f"{fn}: argument '{name}' has dtype {data.dtype}; "
                                f"only float32 and float64 are supported")
            return np.array(data, dtype=dtype if dtype is not None else data.dtype)
        if kind in "iub":
            return np.array(data, dtype=dtype if dtype is not None else np.float32)
        raise TypeError(f"{fn}: argument '{name}' must be real numbers, got an array of dtype "
                        f"{data.dtype} with shape {data.shape}")
    try:
        arr = np.array(data)
    except Exception as e:
        raise TypeError(f"{fn}: cannot make a tensor from {type(data).__name__}") from e
    if arr.dtype.kind not in "iubf":
        raise TypeError(f"{fn}: argument '{name}' must be real numbers (a number, nested lists "
                        f"or a float array), got {type(data).__name__} giving dtype {arr.dtype}")
    if arr.dtype.kind == "f" and isinstance(data, np.generic):
        return arr.astype(dtype if dtype is not None else arr.dtype)
    return arr.astype(dtype if dtype is not None else np.float32)


class Tensor:
    """A float32/float64 NumPy array with reverse-mode autograd.

    ``array`` is the ndarray holding the values (what ``np.asarray(t)`` and ``t.numpy()``
    return, no copy): chainrule's own layers read and write it directly. ``grad`` is None
    or an ndarray of the same shape and dtype holding dL/d(this tensor) accumulated over
    ``backward()`` calls (leaves only).
    """

    __slots__ = ("array", "_grad", "requires_grad", "_parents", "_backward", "_seq",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        self.array = float_array("Tensor", "data", data, dtype)
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None

    @property
    def data(self):
        """The values without the graph (currently the ndarray ``array`` itself)."""
        return self.array

    @data.setter
    def data(self, value):
        self.array = value

    # ------------------------------------------------------------------ properties
    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if isinstance(value, Tensor):
            value = value.array
        if not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.grad: must be None or an ndarray, got {type(value).__name__}")
        if value.dtype != self.array.dtype:
            raise TypeError(f"Tensor.grad: dtype {value.dtype} does not match the tensor's "
                            f"dtype {self.array.dtype}")
        if value.shape != self.array.shape:
            raise ValueError(f"Tensor.grad: shape {value.shape} does not match the tensor's "
                             f"shape {self.array.shape}")
        self._grad = value

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def size(self):
        return self.array.size

    @property
    def is_leaf(self):
        return self._backward is None

    @property
    def T(self):
        return self.transpose()

    def __len__(self):
        return len(self.array)

    def __repr__(self):
        body = np.array2string(self.array, prefix="tensor(", separator=", ")
        extra = "" if self.array.dtype == np.float32 else f", dtype={self.array.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.array.dtype:
            return self.array.astype(dtype)
        return self.array

    def __hash__(self):
        return id(self)

    def __bool__(self):
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    # ------------------------------------------------------------------ conversions
    def numpy(self):
        """The underlying ndarray (shared, not a copy)."""
        return self.array

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"Tensor.item: only a tensor with one element can be converted to "
                             f"a Python number, got shape {self.array.shape}")
        return self.array.item()

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        self._grad = None

    # ------------------------------------------------------------------ autograd
    backward = engine.backward  # the walk itself (engine.py), bound without a wrapper
    register_post_accumulate_grad_hook = engine.register_post_accumulate_grad_hook


def tensor(data, dtype=None, requires_grad=False):
    """A new leaf Tensor holding a copy of ``data``.

    dtype=None keeps a float32/float64 array's dtype; Python numbers, lists and integer
    arrays become float32. ``dtype`` may be float32 or float64.
    """
    t = Tensor.__new__(Tensor)
    t.array = float_array("tensor", "data", data, dtype)
    t._grad = None
    t.requires_grad = bool(requires_grad)
    t._parents = ()
    t._backward = None
    return t
