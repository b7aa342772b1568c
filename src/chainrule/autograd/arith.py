"""Arithmetic on Tensors: + - * / ** with NumPy broadcasting, unary -, and @.

The elementwise binary ops are one template, :func:`binary_op`, and a table: each op states
its forward and its local derivatives as expressions; the template does the rest (operand
coercion, the dtype check, the broadcasting error, summing gradients back to each
operand's shape, and the node). A Python number never changes a tensor's dtype; Tensors of float32 and float64
in one operation raise TypeError.
"""
from __future__ import annotations

import linecache
import numbers

import numpy as np

from .. import ops as _ops
from .function import FLOATS, attach, const, make, unbroadcast
from .tensor import Tensor

__all__ = ["binary_op", "operand", "result_dtype"]


def _check_same(fn, a, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}: mixed float dtypes ({a.dtype} and {b.dtype}); both operands "
                        f"must share one dtype (convert with cr.tensor(x, dtype=...))")


def result_dtype(fn, da, db):
    """PyTorch's type promotion between two tensors' dtypes, except that float32 with
    float64 is a TypeError (chainrule never silently changes a float dtype): a float beats
    an integer or bool; two integer dtypes give the wider; bool with bool stays bool."""
    if da == db:
        return da
    fa, fb = da in FLOATS, db in FLOATS
    if fa and fb:
        raise TypeError(f"{fn}: mixed float dtypes ({da} and {db}); both operands "
                        f"must share one dtype (convert with .to(dtype) or .float()/.double())")
    if fa or fb:
        return da if fa else db
    return np.promote_types(da, db)


def _scalar_dtype(fn, dt, x):
    """The dtype of ``tensor (op) Python number`` (PyTorch: the number never widens a
    tensor of the same kind; a float number with an integer tensor gives float32)."""
    if dt in FLOATS:
        return dt
    if isinstance(x, (bool, np.bool_)):
        return dt
    if isinstance(x, numbers.Integral):
        return dt if dt.kind in "iu" else np.dtype(np.int64)
    return np.dtype(np.float32)


def operand(self, other, fn):
    """The other operand of a binary op as a Tensor (numbers keep self's dtype), or
    NotImplemented for a type the op does not take. When the dtypes differ (an integer
    or bool tensor with a float one, ...), returns the pair (self, other) both cast to
    the promoted dtype instead (see :func:`result_dtype`)."""
    if isinstance(other, Tensor):
        if other.array.dtype is not self.array.dtype and other.array.dtype != self.array.dtype:
            return _promote(fn, self, other)
        return other
    if isinstance(other, numbers.Real):
        dt = self.array.dtype
        if dt in FLOATS and not isinstance(other, (bool, np.bool_)):
            return const(np.asarray(other, dtype=dt))
        odt = _scalar_dtype(fn, dt, other)
        o = const(np.asarray(other, dtype=odt))
        return o if odt == dt else (_cast(self, odt), o)
    if isinstance(other, np.ndarray):
        if type(other) is not np.ndarray:  # np.matrix & co: plain array semantics
            other = np.asarray(other)
        if other.dtype.kind not in "biuf":
            raise TypeError(f"{fn}: operand must be a numeric array, got dtype "
                            f"{other.dtype} with shape {other.shape}")
        o = const(other)
        if other.dtype != self.array.dtype:
            return _promote(fn, self, o)
        return o
    return NotImplemented


def _cast(t, dt):
    return t if t.array.dtype == dt else t.to(dt)


def _promote(fn, a, b):
    dt = result_dtype(fn, a.array.dtype, b.array.dtype)
    return _cast(a, dt), _cast(b, dt)


def _bcast_error(fn, a, b):
    return ValueError(f"{fn}: operand shapes {a.shape} and {b.shape} do not broadcast "
                      f"(NumPy rules: trailing dimensions must be equal or 1)")


# Each binary op is generated from this template once, at import (as collections.namedtuple
# builds its classes): it runs exactly the code of a hand-written method, with no extra
# call per op or per gradient -- the per-op Python cost is what small models pay.
_TEMPLATE = """\
def {method}(self, other):
    o = operand(self, other, "{fn}")
    if o.__class__ is not Tensor:
        if o is NotImplemented:
            return o
        if o.__class__ is tuple:
            self, o = o
    a, b = self.array, o.array
    try:
        y = {forward}
    except ValueError:
        raise _bcast_error("{fn}", a, b) from None

    def backward(g):
        return (unbroadcast({d_self}, a.shape) if self.requires_grad else None,
                unbroadcast({d_other}, b.shape) if o.requires_grad else None)
    return make(y, (self, o), backward)
"""


def binary_op(method, fn, forward, d_self, d_other):
    """The Tensor method ``method`` (e.g. '__mul__') of an elementwise op with NumPy
    broadcasting, from Python expressions in the operands' arrays ``a`` and ``b``, the
    result ``y`` and the incoming gradient ``g``: ``forward`` computes y from a and b;
    ``d_self`` and ``d_other`` are g times the local derivative with respect to each
    operand (summed back to the operand's shape by the method, and evaluated only when
    that operand requires a gradient). ``fn`` names the op in errors; anomaly messages
    name it after ``method``. The expressions may use this module's names (np, ...)."""
    src = _TEMPLATE.format(method=method, fn=fn, forward=forward, d_self=d_self,
                           d_other=d_other)
    filename = f"<chainrule.autograd.arith: Tensor.{method}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)  # tracebacks
    namespace = {}
    exec(compile(src, filename, "exec"), globals(), namespace)
    op = namespace[method]
    op.__qualname__ = f"Tensor.{method}"
    return op


def _true_divide(a, b):
    """a / b; integer or bool operands give float32 (PyTorch's true division)."""
    if a.dtype.kind in "biu":
        return np.true_divide(a, b, dtype=np.float32)
    return a / b


def _pow_exponent_grad(g, a, b, y):
    """g * d(a^b)/db = g a^b log a, with log a taken as 0 where a <= 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(a.dtype)
    return g * y * la


# method: (name in errors, forward, g * d/d(self), g * d/d(other)) as expressions in the
# operands' arrays a, b, the result y and the incoming gradient g
_BINARY = {
    "__add__": ("add", "a + b", "g", "g"),
    "__sub__": ("sub", "a - b", "g", "-g"),
    "__mul__": ("mul", "a * b", "g * b", "g * a"),
    "__truediv__": ("div", "_true_divide(a, b)", "g / b", "-g * y / b"),
    "__pow__": ("pow", "a ** b", "g * b * a ** (b - 1)", "_pow_exponent_grad(g, a, b, y)"),
}
_OPS = {method: binary_op(method, *spec) for method, spec in _BINARY.items()}
_tensor_pow = _OPS.pop("__pow__")  # Tensor.__pow__ below tries a constant exponent first



def _reflected(self, other, fn):
    """(self, other as a Tensor) for a reflected op, promoted like the forward ops;
    other is NotImplemented when the operand is not ours."""
    o = operand(self, other, fn)
    if o.__class__ is not Tensor and o is not NotImplemented and o.__class__ is tuple:
        self, o = o  # promoted pair (else a Tensor subclass)
    return self, o

class _Arithmetic:
    """The rest of Tensor's arithmetic (attached to Tensor at the end of this file)."""

    __add__ = __radd__ = _OPS["__add__"]
    __sub__ = _OPS["__sub__"]
    __mul__ = __rmul__ = _OPS["__mul__"]
    __truediv__ = _OPS["__truediv__"]

    def __rsub__(self, other):
        x, o = _reflected(self, other, "sub")
        return o if o is NotImplemented else o.__sub__(x)

    def __rtruediv__(self, other):
        x, o = _reflected(self, other, "div")
        return o if o is NotImplemented else o.__truediv__(x)

    def __pow__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, (bool, np.bool_)) \
                and (self.array.dtype in FLOATS or isinstance(other, numbers.Integral)):
            # constant exponent: d(a^p)/da = p a^(p-1); keeps a^0 and a^1 exact at a = 0
            p = float(other)
            a = self.array
            out = a ** p if a.dtype in FLOATS else a ** int(other)

            def backward(g):
                if p == 0.0:
                    return (np.zeros_like(g),)
                if p == 1.0:
                    return (g,)
                if p == 2.0:
                    return (g * (2.0 * a),)
                return (g * (p * a ** (p - 1.0)),)
            return make(out, (self,), backward)
        return _tensor_pow(self, other)

    def __rpow__(self, other):
        o = operand(self, other, "pow")
        if o.__class__ is not Tensor:
            if o is NotImplemented:
                return o
            if o.__class__ is tuple:  # promoted pair (else a Tensor subclass)
                self, o = o
        return _tensor_pow(o, self)

    def __neg__(self):
        def backward(g):
            return (-g,)
        return make(-self.array, (self,), backward)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        o = operand(self, other, "matmul")
        if o.__class__ is not Tensor:
            if o is NotImplemented:
                return o
            if o.__class__ is tuple:  # promoted pair (else a Tensor subclass)
                self, o = o
        return _matmul(self, o)

    def __rmatmul__(self, other):
        o = operand(self, other, "matmul")
        if o.__class__ is not Tensor:
            if o is NotImplemented:
                return o
            if o.__class__ is tuple:  # promoted pair (else a Tensor subclass)
                self, o = o
        return _matmul(o, self)


# ---------------------------------------------------------------------------- matmul
def _mm2(a, b, trans_a, trans_b):
    """ops.matmul on 2-D arrays; a Fortran-ordered view (e.g. ``x.T``) is passed as its
    C-ordered transpose with the flag flipped instead of being copied."""
    if not a.flags.c_contiguous and a.flags.f_contiguous:
        a, trans_a = a.T, not trans_a
    if not b.flags.c_contiguous and b.flags.f_contiguous:
        b, trans_b = b.T, not trans_b
    return _ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b)


def _matmul(x, y):
    """numpy.matmul semantics; 2-D @ 2-D goes to ops.matmul (transpose flags, no copies)."""
    a, b = x.array, y.array
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
        out = _mm2(a, b, False, False)

        def backward(g):
            # dA = G B^T,  dB = A^T G
            return (_mm2(g, b, False, True) if x.requires_grad else None,
                    _mm2(a, g, True, False) if y.requires_grad else None)
        return make(out, (x, y), backward)

    try:
        out = np.matmul(a, b)
    except ValueError as e:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match ({e})") from None

    def backward(g):
        # Promote 1-D operands to matrices as numpy.matmul does, then reduce back.
        a2 = a if a.ndim > 1 else a[None, :]
        b2 = b if b.ndim > 1 else b[:, None]
        g2 = g
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if x.requires_grad:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if y.requires_grad:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb
    return make(out, (x, y), backward)


attach(vars(_Arithmetic))
