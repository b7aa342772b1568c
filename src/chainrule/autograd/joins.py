"""Functions of several tensors and the remaining elementwise math, as PyTorch spells
them: cat, stack, where, maximum, minimum, clamp/clip, neg, pow, sin, cos, log1p, sign,
square, softmax, log_softmax, matmul. Each is a ``cr.<name>`` function and (where PyTorch
has it) a Tensor method."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import numbers

import numpy as np

from .arith import operand
from .function import FLOATS, attach, const, make, unbroadcast
from .stats import check_dim
from .tensor import Tensor, new_array

if TYPE_CHECKING:
    from .._typing import DTypeLike, TensorLike

__all__ = ["cat", "concat", "concatenate", "stack", "where", "maximum", "minimum", "clamp",
           "clip", "neg", "pow", "sin", "cos", "log1p", "sign", "square", "softmax",
           "log_softmax", "matmul", "mm", "is_tensor"]


def to_tensor(fn, x, name="input"):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic, numbers.Number, list, tuple)):
        return const(new_array(fn, x, copy=False))
    raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(x).__name__}")


def _tensors(fn, tensors):
    if isinstance(tensors, (Tensor, np.ndarray)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{fn}: argument 'tensors' must be a sequence of Tensors, got "
                        f"{type(tensors).__name__}")
    ts = [to_tensor(fn, x, "tensors") for x in tensors]
    if not ts:
        raise ValueError(f"{fn}: expected a non-empty sequence of tensors")
    dts = {t.array.dtype for t in ts}
    if len(dts) > 1:
        if len(dts & set(FLOATS)) > 1:
            raise TypeError(f"{fn}: mixed float dtypes {sorted(map(str, dts))}")
        target = np.result_type(*dts)
        ts = [t if t.array.dtype == target else t.to(target) for t in ts]
    return ts


def cat(tensors: Sequence[TensorLike], dim: int = 0) -> Tensor:
    ts = _tensors("cat", tensors)
    ts = [t for t in ts if not (t.array.ndim == 1 and t.array.shape[0] == 0)] or ts[:1]
    nd = ts[0].array.ndim
    d = check_dim("cat", dim, nd)
    for t in ts:
        if t.array.ndim != nd or t.array.shape[:d] + t.array.shape[d + 1:] != \
                ts[0].array.shape[:d] + ts[0].array.shape[d + 1:]:
            raise ValueError(f"cat: tensors must match except in dim {dim}; got shapes "
                             f"{[x.array.shape for x in ts]}")
    sizes = np.cumsum([t.array.shape[d] for t in ts])[:-1]

    def backward(g):
        return tuple(np.split(g, sizes, axis=d))
    return make(np.concatenate([t.array for t in ts], axis=d), tuple(ts), backward)


concat = concatenate = cat


def stack(tensors: Sequence[TensorLike], dim: int = 0) -> Tensor:
    ts = _tensors("stack", tensors)
    shp = ts[0].array.shape
    if any(t.array.shape != shp for t in ts):
        raise ValueError(f"stack: all tensors must have the same shape; got "
                         f"{[t.array.shape for t in ts]}")
    d = check_dim("stack", dim, len(shp) + 1)

    def backward(g):
        return tuple(np.moveaxis(g, d, 0))
    return make(np.stack([t.array for t in ts], axis=d), tuple(ts), backward)


def where(condition: TensorLike, input: Optional[TensorLike] = None,
          other: Optional[TensorLike] = None) -> Any:
    c = np.asarray(condition.array if isinstance(condition, Tensor) else condition)
    if input is None and other is None:
        return tuple(const(i.astype(np.int64)) for i in np.nonzero(c))
    if c.dtype != np.bool_:
        raise TypeError(f"where: argument 'condition' must be a bool tensor, got {c.dtype}")
    x = input if isinstance(input, Tensor) else None
    y = other if isinstance(other, Tensor) else None
    if x is None and y is None:
        x = to_tensor("where", input)
    if x is None:
        x = operand(y, input, "where")
    if y is None:
        y = operand(x, other, "where")
    if isinstance(y, tuple):
        x, y = y
    elif x.array.dtype != y.array.dtype:
        pair = operand(x, y, "where")
        x, y = pair if isinstance(pair, tuple) else (x, pair)
    a, b = x.array, y.array
    try:
        out = np.where(c, a, b)
    except ValueError:
        raise ValueError(f"where: shapes {c.shape}, {a.shape} and {b.shape} do not "
                         f"broadcast") from None

    def backward(g):
        z = np.zeros((), g.dtype)
        return (unbroadcast(np.where(c, g, z), a.shape) if x.requires_grad else None,
                unbroadcast(np.where(c, z, g), b.shape) if y.requires_grad else None)
    return make(out, (x, y), backward)


def _pair(fn, a, b):
    a = to_tensor(fn, a)
    o = operand(a, b, fn)
    if o is NotImplemented:
        raise TypeError(f"{fn}: argument 'other' must be a Tensor or a number, got "
                        f"{type(b).__name__}")
    return o if isinstance(o, tuple) else (a, o)


def _extreme2(fn, x, y, take_x):
    x, y = _pair(fn, x, y)
    a, b = x.array, y.array
    try:
        out = np.maximum(a, b) if fn == "maximum" else np.minimum(a, b)
    except ValueError:
        raise ValueError(f"{fn}: shapes {a.shape} and {b.shape} do not broadcast") from None

    def backward(g):
        # ties split the gradient evenly (PyTorch's rule for maximum/minimum)
        wx = np.where(a == b, 0.5, take_x(a, b)).astype(g.dtype)
        return (unbroadcast(g * wx, a.shape) if x.requires_grad else None,
                unbroadcast(g * (1 - wx), b.shape) if y.requires_grad else None)
    return make(out, (x, y), backward)


def maximum(input: TensorLike, other: TensorLike) -> Tensor:
    return _extreme2("maximum", input, other, np.greater)


def minimum(input: TensorLike, other: TensorLike) -> Tensor:
    return _extreme2("minimum", input, other, np.less)


def clamp(input: TensorLike, min: Any = None, max: Any = None) -> Tensor:
    x = to_tensor("clamp", input)
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' and 'max' must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x if min is None else maximum(x, min)
        return out if max is None else minimum(out, max)
    for nm, v in (("min", min), ("max", max)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise TypeError(f"clamp: argument '{nm}' must be a number or a Tensor, got {v!r}")
    a = x.array
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    out = np.clip(a, lo, hi).astype(a.dtype, copy=False)

    def backward(g):
        return (g * ((a >= lo) & (a <= hi)),)
    return make(out, (x,), backward)


clip = clamp


def _unary(fn, f, d):
    """An elementwise op from f(a) and d(g, a, y) = g * f'(a)."""
    def op(input):
        x = to_tensor(fn, input)
        a = x.array
        if a.dtype not in FLOATS:
            a = a.astype(np.float32)
        y = f(a)

        def backward(g):
            return (d(g, a, y),)
        return make(y, (x,), backward)
    op.__name__ = op.__qualname__ = fn
    return op


sin = _unary("sin", np.sin, lambda g, a, y: g * np.cos(a))
cos = _unary("cos", np.cos, lambda g, a, y: -g * np.sin(a))
log1p = _unary("log1p", np.log1p, lambda g, a, y: g / (1 + a))
square = _unary("square", np.square, lambda g, a, y: g * (2 * a))
rsqrt = _unary("rsqrt", lambda a: 1 / np.sqrt(a), lambda g, a, y: -0.5 * g * y / a)
expm1 = _unary("expm1", np.expm1, lambda g, a, y: g * (y + 1))


def sign(input: TensorLike) -> Tensor:
    x = to_tensor("sign", input)
    return const(np.sign(x.array))


def neg(input: TensorLike) -> Tensor:
    return -to_tensor("neg", input)


def pow(input: TensorLike, exponent: Any) -> Tensor:
    if not isinstance(input, Tensor):
        return to_tensor("pow", exponent, "exponent").__rpow__(input)
    return input ** exponent


def _softmax_args(fn, x, dim, dtype):
    x = to_tensor(fn, x)
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        raise TypeError(f"{fn}: argument 'dim' is required (PyTorch's implicit dim is "
                        f"deprecated)")
    return x, check_dim(fn, dim, x.array.ndim)


def softmax(input: TensorLike, dim: Optional[int] = None,
            dtype: Optional[DTypeLike] = None) -> Tensor:
    x, d = _softmax_args("softmax", input, dim, dtype)
    a = x.array
    e = np.exp(a - a.max(axis=d, keepdims=True))
    y = e / e.sum(axis=d, keepdims=True)

    def backward(g):
        return (y * (g - (g * y).sum(axis=d, keepdims=True)),)
    return make(y, (x,), backward)


def log_softmax(input: TensorLike, dim: Optional[int] = None,
                dtype: Optional[DTypeLike] = None) -> Tensor:
    x, d = _softmax_args("log_softmax", input, dim, dtype)
    a = x.array
    s = a - a.max(axis=d, keepdims=True)
    y = s - np.log(np.exp(s).sum(axis=d, keepdims=True))

    def backward(g):
        return (g - np.exp(y) * g.sum(axis=d, keepdims=True),)
    return make(y, (x,), backward)


def matmul(input: TensorLike, other: TensorLike) -> Tensor:
    return to_tensor("matmul", input) @ other


mm = matmul


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


class _Joins:
    """The Tensor methods of this module's functions."""

    def clamp(self, min=None, max=None):
        return clamp(self, min, max)

    clip = clamp

    def clamp_min(self, min):
        return clamp(self, min=min)

    def clamp_max(self, max):
        return clamp(self, max=max)

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    def neg(self):
        return -self

    negative = neg

    def pow(self, exponent):
        return self ** exponent

    def sin(self):
        return sin(self)

    def cos(self):
        return cos(self)

    def log1p(self):
        return log1p(self)

    def expm1(self):
        return expm1(self)

    def square(self):
        return square(self)

    def rsqrt(self):
        return rsqrt(self)

    def sign(self):
        return sign(self)

    def softmax(self, dim=None, dtype=None):
        return softmax(self, dim, dtype)

    def log_softmax(self, dim=None, dtype=None):
        return log_softmax(self, dim, dtype)

    def matmul(self, other):
        return self @ other

    mm = matmul

    def where(self, condition, other):
        return where(condition, self, other)

    def add(self, other, *, alpha=1):
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    multiply = mul
    divide = div


attach(vars(_Joins))
