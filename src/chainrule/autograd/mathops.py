"""More of PyTorch's tensor math that scripts reach for: floor ceil round trunc frac tan
log2 log10 reciprocal lerp logsumexp outer bmm diag diagonal isclose unique bincount, the
``new_*`` factories (``t.new_zeros(...)``: this tensor's dtype), and the grad-mode helpers
``set_grad_enabled`` / ``inference_mode``. Each op is a ``cr.<name>`` function and (where
PyTorch has it) a Tensor method. Rounding ops have a zero gradient, as in PyTorch."""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .function import FLOATS, attach, const, make
from .joins import to_tensor
from .modes import grad_mode, no_grad
from .stats import check_dim
from .tensor import Tensor, new_array

__all__ = ["floor", "ceil", "round", "trunc", "frac", "tan", "log2", "log10", "reciprocal",
           "lerp", "logsumexp", "outer", "ger", "bmm", "diag", "diagonal", "isclose",
           "unique", "bincount", "set_grad_enabled", "inference_mode",
           "is_inference_mode_enabled"]


def _rounding(fn, f):
    def op(input):
        x = to_tensor(fn, input)
        a = x.array
        if a.dtype not in FLOATS:
            return const(a.copy())

        def backward(g):
            return (np.zeros_like(g),)
        return make(f(a), (x,), backward)
    op.__name__ = op.__qualname__ = fn
    return op


floor = _rounding("floor", np.floor)
ceil = _rounding("ceil", np.ceil)
trunc = _rounding("trunc", np.trunc)


def round(input, *, decimals=0):
    """Round half to even (as PyTorch), to ``decimals`` places."""
    return _rounding("round", lambda a: np.round(a, decimals))(input)


def frac(input):
    x = to_tensor("frac", input)
    return x - trunc(x)


def _unary(fn, f, d):
    """An elementwise op from f(a) and d(g, a, y) = g * f'(a); integer input -> float32."""
    def op(input):
        x = to_tensor(fn, input)
        a = x.array if x.array.dtype in FLOATS else x.array.astype(np.float32)
        y = f(a)

        def backward(g):
            return (d(g, a, y),)
        return make(y, (x,), backward)
    op.__name__ = op.__qualname__ = fn
    return op


tan = _unary("tan", np.tan, lambda g, a, y: g * (1 + y * y))
log2 = _unary("log2", np.log2, lambda g, a, y: g / (a * np.log(2).astype(a.dtype)))
log10 = _unary("log10", np.log10, lambda g, a, y: g / (a * np.log(10).astype(a.dtype)))
reciprocal = _unary("reciprocal", lambda a: 1 / a, lambda g, a, y: -g * y * y)


def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    x = to_tensor("lerp", input)
    return x + weight * (end - x)


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input), dim))``, computed stably."""
    x = to_tensor("logsumexp", input)
    a = x.array
    if a.dtype not in FLOATS:
        a = a.astype(np.float32)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(sorted({check_dim("logsumexp", d, a.ndim) for d in dims})) if a.ndim else ()
    m = a.max(axis=axes, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype)
    with np.errstate(divide="ignore"):
        y = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
    out = y if keepdim else y.reshape([s for i, s in enumerate(y.shape) if i not in axes])

    def backward(g):
        g = g.reshape(y.shape)
        return (g * np.exp(a - y),)
    return make(out, (x,), backward)


def outer(input, vec2):
    """The outer product of two 1-D tensors."""
    x, v = to_tensor("outer", input), to_tensor("outer", vec2, "vec2")
    if x.array.ndim != 1 or v.array.ndim != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {x.array.shape} and "
                         f"{v.array.shape}")
    return x.reshape(-1, 1) * v.reshape(1, -1)


ger = outer


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
    x, y = to_tensor("bmm", input), to_tensor("bmm", mat2, "mat2")
    if x.array.ndim != 3 or y.array.ndim != 3 or x.array.shape[0] != y.array.shape[0] \
            or x.array.shape[2] != y.array.shape[1]:
        raise ValueError(f"bmm: expects (b, n, m) and (b, m, p) tensors, got shapes "
                         f"{x.array.shape} and {y.array.shape}")
    return x @ y


def _diag_index(n, offset):
    r = np.arange(n)
    return (r, r + offset) if offset >= 0 else (r - offset, r)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the (dim1, dim2) planes, as the last dim of the result."""
    x = to_tensor("diagonal", input)
    a = x.array
    if a.ndim < 2:
        raise ValueError(f"diagonal: input must have at least 2 dims, got shape {a.shape}")
    d1, d2 = check_dim("diagonal", dim1, a.ndim), check_dim("diagonal", dim2, a.ndim)
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {dim1}")
    out = np.diagonal(a, offset, d1, d2).copy()

    def backward(g):
        full = np.zeros_like(a)
        rows, cols = _diag_index(g.shape[-1], offset)
        np.moveaxis(full, (d1, d2), (-2, -1))[..., rows, cols] = g
        return (full,)
    return make(out, (x,), backward)


def diag(input, diagonal=0):
    """1-D input: the square matrix with it on diagonal ``diagonal``; 2-D input: that
    diagonal as a 1-D tensor."""
    x = to_tensor("diag", input)
    a = x.array
    if a.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    if a.ndim != 1:
        raise ValueError(f"diag: expects a 1-D or 2-D tensor, got shape {a.shape}")
    n = a.shape[0] + abs(diagonal)
    out = np.zeros((n, n), a.dtype)
    rows, cols = _diag_index(a.shape[0], diagonal)
    out[rows, cols] = a

    def backward(g):
        return (g[rows, cols],)
    return make(out, (x,), backward)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a = to_tensor("isclose", input).array
    b = to_tensor("isclose", other, "other").array
    return const(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with the inverse indices (input's shape)
    and the counts; ``dim`` picks distinct slices along it. No gradient."""
    a = to_tensor("unique", input).array
    if dim is not None:
        dim = check_dim("unique", dim, a.ndim)
    res = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
    vals, inv, counts = res
    if dim is None:
        inv = inv.reshape(a.shape)
    out = [const(vals)]
    if return_inverse:
        out.append(const(inv.astype(np.int64).reshape(-1) if dim is not None
                         else inv.astype(np.int64)))
    if return_counts:
        out.append(const(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Counts of each value of a 1-D non-negative integer tensor (weighted sums with
    ``weights``); length max(input) + 1, at least ``minlength``."""
    a = to_tensor("bincount", input).array
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"bincount: input must be a 1-D integer tensor, got dtype {a.dtype} "
                        f"shape {a.shape}")
    if a.size and a.min() < 0:
        raise ValueError("bincount: input must hold non-negative integers")
    if weights is None:
        return const(np.bincount(a, minlength=minlength).astype(np.int64))
    w = to_tensor("bincount", weights, "weights").array
    if w.shape != a.shape:
        raise ValueError(f"bincount: weights shape {w.shape} must equal input shape {a.shape}")
    dt = w.dtype if w.dtype in FLOATS else np.dtype(np.float64)
    return const(np.bincount(a, weights=w, minlength=minlength).astype(dt))


class set_grad_enabled:
    """``set_grad_enabled(mode)``: switch gradient recording on or off -- at once when
    called, and back to the previous state at the end when used as a ``with`` block."""

    def __init__(self, mode):
        self._prev = grad_mode.enabled
        grad_mode.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        grad_mode.enabled = self._prev
        return False


class inference_mode(no_grad):
    """``with cr.inference_mode():`` (or as a decorator) records no graph, like no_grad
    (PyTorch's faster no_grad; here the same). ``mode=False`` changes nothing."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = grad_mode.enabled
        if self.mode:
            grad_mode.enabled = False
        return self

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(self.mode):
                return fn(*args, **kwargs)
        return wrapper


def is_inference_mode_enabled():
    return False


def _new(self, fn, data, dtype, requires_grad):
    t = Tensor.__new__(Tensor)
    t.array = data.astype(self.array.dtype if dtype is None else dtypes.to_dtype(fn, dtype),
                          copy=False)
    t._grad = None
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    return t.requires_grad_(requires_grad) if requires_grad else t


def _size(fn, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in size):
        raise TypeError(f"{fn}: size must be ints, got {size!r}")
    return tuple(int(s) for s in size)


class _MathOps:
    def floor(self):
        return floor(self)

    def ceil(self):
        return ceil(self)

    def round(self, *, decimals=0):
        return round(self, decimals=decimals)

    def trunc(self):
        return trunc(self)

    def frac(self):
        return frac(self)

    def tan(self):
        return tan(self)

    def log2(self):
        return log2(self)

    def log10(self):
        return log10(self)

    def reciprocal(self):
        return reciprocal(self)

    def lerp(self, end, weight):
        return lerp(self, end, weight)

    def logsumexp(self, dim, keepdim=False):
        return logsumexp(self, dim, keepdim)

    def outer(self, vec2):
        return outer(self, vec2)

    ger = outer

    def bmm(self, mat2):
        return bmm(self, mat2)

    def diag(self, diagonal=0):
        return diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return diagonal(self, offset, dim1, dim2)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return isclose(self, other, rtol, atol, equal_nan)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return bincount(self, weights, minlength)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        dtypes.check_device("Tensor.new_zeros", device)
        return _new(self, "Tensor.new_zeros", np.zeros(_size("Tensor.new_zeros", size)),
                    dtype, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        dtypes.check_device("Tensor.new_ones", device)
        return _new(self, "Tensor.new_ones", np.ones(_size("Tensor.new_ones", size)),
                    dtype, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        dtypes.check_device("Tensor.new_empty", device)
        return _new(self, "Tensor.new_empty", np.zeros(_size("Tensor.new_empty", size)),
                    dtype, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        dtypes.check_device("Tensor.new_full", device)
        return _new(self, "Tensor.new_full", np.full(_size("Tensor.new_full", (size,)),
                                                     fill_value), dtype, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        dtypes.check_device("Tensor.new_tensor", device)
        return _new(self, "Tensor.new_tensor", new_array("Tensor.new_tensor", data),
                    dtype, requires_grad)


attach(vars(_MathOps))
