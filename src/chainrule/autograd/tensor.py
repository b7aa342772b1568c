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

from typing import TYPE_CHECKING, Any, Iterator, Optional, Tuple, Union, overload

import numpy as np

from . import dtypes, engine
from .dtypes import FLOATS, SUPPORTED
from .size import Size

if TYPE_CHECKING:  # the methods the op modules attach at import (function.attach), for checkers
    from ._methods import TensorMethods as _AttachedOps
else:
    _AttachedOps = object  # at run time Tensor's only base is object, as before

__all__ = ["Tensor", "tensor", "FLOATS", "float_array", "new_array"]


def new_array(fn, data, dtype=None, copy=True):
    """data -> ndarray with PyTorch's dtype inference (``cr.tensor``): Python floats ->
    float32, ints -> int64, bools -> bool; NumPy arrays and scalars keep their dtype;
    ``dtype`` (any spelling :func:`dtypes.to_dtype` takes) converts. ``copy=False`` shares
    an ndarray's memory when no conversion is needed. np.matrix becomes a plain array."""
    dt = dtypes.to_dtype(fn, dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
        if arr.dtype not in SUPPORTED and dt is None:
            raise TypeError(f"{fn}: argument 'data' has dtype {arr.dtype}; supported dtypes "
                            f"are {', '.join(str(d) for d in SUPPORTED)}")
        if dt is None:
            dt = arr.dtype
        return np.array(arr, dtype=dt, copy=True) if copy else arr.astype(dt, copy=False)
    try:
        arr = np.array(data)
    except Exception as e:
        raise TypeError(f"{fn}: cannot make a tensor from {type(data).__name__}") from e
    kind = arr.dtype.kind
    if kind not in "iubf":
        raise TypeError(f"{fn}: argument 'data' must be numbers (a number, nested lists or an "
                        f"array), got {type(data).__name__} giving dtype {arr.dtype}")
    if dt is None:
        dt = {"f": dtypes._default[0], "i": dtypes.int64, "u": dtypes.int64,
              "b": dtypes.bool}[kind]
    return arr.astype(dt, copy=False)


def float_array(fn, name, data, dtype=None):
    """data -> float32/float64 ndarray (a copy). dtype=None keeps a float array's dtype;
    Python numbers, lists and integer arrays get the default floating dtype (float32 unless
    ``cr.set_default_dtype``). ``fn`` and ``name`` (the
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
            return np.array(data, dtype=dtype if dtype is not None else dtypes._default[0])
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
    return arr.astype(dtype if dtype is not None else dtypes._default[0])


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    if method == "__call__" and not kwargs and len(inputs) == 2 and ufunc in _UFUNC_OPS:
        a, b = inputs
        if isinstance(a, Tensor):
            return getattr(a, _UFUNC_OPS[ufunc][0])(b)
        return getattr(b, _UFUNC_OPS[ufunc][1])(a)  # b is the Tensor: its reflected op
    inputs = tuple(x.array if isinstance(x, Tensor) else x for x in inputs)
    if "out" in kwargs:
        kwargs["out"] = tuple(x.array if isinstance(x, Tensor) else x for x in kwargs["out"])
    return getattr(ufunc, method)(*inputs, **kwargs)


_UFUNC_OPS = {np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
              np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__",
                                                                     "__rtruediv__"),
              np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
              np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
              np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
              np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__")}


class Tensor(_AttachedOps):
    """A float32/float64 NumPy array with reverse-mode autograd.

    ``array`` is the ndarray holding the values (what ``np.asarray(t)`` and ``t.numpy()``
    return, no copy): chainrule's own layers read and write it directly. ``grad`` is None
    or an ndarray of the same shape and dtype holding dL/d(this tensor) accumulated over
    ``backward()`` calls (leaves only).
    """

    # _version: bumped (to a fresh creation number) by in-place ops; _gradt: the cached
    # Tensor view of _grad. Both may be unset (read with getattr): make() never pays for them.
    __slots__ = ("array", "_grad", "requires_grad", "_parents", "_backward", "_seq",
                 "_version", "_gradt", "__weakref__")
    __array_priority__ = 1000
    # NumPy ufuncs on Tensors: ``ndarray (op) Tensor`` runs the Tensor op (gradients flow);
    # any other ufunc (np.isfinite(t), np.exp(t), ...) sees the ndarrays and returns one.
    __array_ufunc__ = _array_ufunc

    array: np.ndarray  # the values (a slot)
    _grad: Optional[np.ndarray]

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.array = float_array("Tensor", "data", data, dtype)
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None

    @property
    def data(self) -> Tensor:
        """A Tensor sharing this tensor's memory, outside the graph (PyTorch's ``.data``):
        in-place changes through it are not tracked. chainrule's own code uses ``array``."""
        t = Tensor.__new__(Tensor)
        t.array = self.array
        t._grad = None
        t.requires_grad = False
        t._parents = ()
        t._backward = None
        return t

    @data.setter
    def data(self, value: Union[Tensor, np.ndarray]) -> None:
        if isinstance(value, Tensor):
            value = value.array
        if not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.data: must be a Tensor or an ndarray, got "
                            f"{type(value).__name__}")
        if value.dtype not in SUPPORTED:
            raise TypeError(f"Tensor.data: dtype {value.dtype} is not supported")
        self.array = np.asarray(value)

    # ------------------------------------------------------------------ properties
    @property
    def grad(self) -> Optional[Tensor]:
        """None or a Tensor (no graph) viewing the accumulated gradient ndarray ``_grad``;
        assignable (a Tensor or ndarray of this shape and dtype; None clears)."""
        g = self._grad
        if g is None:
            return None
        t = getattr(self, "_gradt", None)
        if t is None or t.array is not g:
            t = Tensor.__new__(Tensor)
            t.array = g
            t._grad = None
            t.requires_grad = False
            t._parents = ()
            t._backward = None
            self._gradt = t
        return t

    @grad.setter
    def grad(self, value: Union[Tensor, np.ndarray, None]) -> None:
        if value is None:
            self._grad = None
            return
        if isinstance(value, Tensor):
            value = value.array
        if not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.grad: must be None, a Tensor or an ndarray, got "
                            f"{type(value).__name__}")
        if value.dtype != self.array.dtype:
            raise TypeError(f"Tensor.grad: dtype {value.dtype} does not match the tensor's "
                            f"dtype {self.array.dtype}")
        if value.shape != self.array.shape:
            raise ValueError(f"Tensor.grad: shape {value.shape} does not match the tensor's "
                             f"shape {self.array.shape}")
        self._grad = value

    @property
    def shape(self) -> Tuple[int, ...]:
        """The shape as a :class:`chainrule.Size` (a tuple subclass, PyTorch's torch.Size)."""
        return Size(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @overload
    def size(self, dim: None = None) -> Tuple[int, ...]: ...
    @overload
    def size(self, dim: int) -> int: ...

    def size(self, dim: Optional[int] = None) -> Union[Tuple[int, ...], int]:
        """The shape (a :class:`chainrule.Size`), or its entry ``dim``."""
        if dim is None:
            return Size(self.array.shape)
        nd = self.array.ndim
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) \
                or not -max(nd, 1) <= dim < max(nd, 1):
            raise IndexError(f"Tensor.size: dim {dim!r} is out of range for a tensor of "
                             f"shape {self.array.shape}")
        return self.array.shape[dim] if nd else 1

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return self.array.size

    nelement = numel

    def element_size(self) -> int:
        return self.array.itemsize

    @property
    def device(self) -> dtypes.device:
        return dtypes.CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self.array.dtype in FLOATS

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __len__(self) -> int:
        return len(self.array)

    def __repr__(self) -> str:
        body = np.array2string(self.array, prefix="tensor(", separator=", ")
        extra = "" if self.array.dtype in (dtypes._default[0], np.int64, np.bool_) \
            else f", dtype={self.array.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> np.ndarray:
        # NumPy 2 passes copy=True for np.array(t) and trusts the result to be a copy
        a = self.array
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError(f"Tensor.__array__: converting {a.dtype} to "
                                 f"{np.dtype(dtype)} needs a copy, but copy=False")
            return a.astype(dtype)
        return a.copy() if copy else a

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"Tensor.__bool__: the truth value of a tensor with "
                               f"{self.array.size} elements is ambiguous (use .any() or .all())")
        return bool(self.array.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError(f"Tensor.__index__: only an integer tensor with one element can "
                            f"be used as an index, got dtype {self.array.dtype} shape "
                            f"{self.array.shape}")
        return int(self.item())

    def __iter__(self) -> Iterator[Tensor]:
        if self.array.ndim == 0:
            raise TypeError("Tensor.__iter__: iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # ------------------------------------------------------------------ conversions
    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not a copy)."""
        return self.array

    def tolist(self) -> Any:
        return self.array.tolist()

    def item(self) -> Union[int, float, bool]:
        if self.array.size != 1:
            raise ValueError(f"Tensor.item: only a tensor with one element can be converted to "
                             f"a Python number, got shape {self.array.shape}")
        return self.array.item()

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.array.dtype not in FLOATS:
            raise RuntimeError(f"Tensor.requires_grad_: only float32/float64 tensors can "
                               f"require gradients, got dtype {self.array.dtype}")
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self) -> None:
        self._grad = None

    # ------------------------------------------------------------------ autograd
    backward = engine.backward  # the walk itself (engine.py), bound without a wrapper
    register_post_accumulate_grad_hook = engine.register_post_accumulate_grad_hook


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new leaf Tensor holding a copy of ``data`` (PyTorch's ``torch.tensor``).

    dtype=None infers like PyTorch: Python floats -> the default dtype (float32), ints -> int64, bools -> bool;
    NumPy arrays keep their dtype. Only float tensors may require gradients.
    """
    dtypes.check_device("tensor", device)
    t = Tensor.__new__(Tensor)
    t.array = new_array("tensor", data, dtype)
    if requires_grad and t.array.dtype not in FLOATS:
        raise RuntimeError(f"tensor: only float32/float64 tensors can require gradients, "
                           f"got dtype {t.array.dtype}")
    t._grad = None
    t.requires_grad = bool(requires_grad)
    t._parents = ()
    t._backward = None
    return t
