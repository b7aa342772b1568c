"""Tensor factories as PyTorch spells them: from_numpy, as_tensor, zeros, ones, full, empty,
the ``*_like`` forms, arange, linspace, eye, rand, randn, randint, randperm. Sizes go as
varargs or one tuple; ``dtype=``, ``device=`` (CPU only) and ``requires_grad=`` keywords.
Random draws come from chainrule's global generator (``cr.manual_seed``) unless a
``generator=`` (a NumPy ``Generator``) is given."""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .. import _random
from .._checks import alloc, check_bytes
from . import dtypes
from .function import FLOATS, const
from .tensor import Tensor, new_array

if TYPE_CHECKING:
    from .._typing import ArrayLike, Device, DTypeLike, Number, Size

__all__ = ["from_numpy", "as_tensor", "zeros", "ones", "full", "empty", "zeros_like",
           "ones_like", "full_like", "empty_like", "arange", "linspace", "eye", "rand",
           "randn", "randint", "randperm", "rand_like", "randn_like"]


def _size(fn, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"{fn}: size must be non-negative ints (as varargs or a tuple), "
                             f"got {size!r}")
    return tuple(int(s) for s in size)


def _leaf(fn, arr, requires_grad, device):
    dtypes.check_device(fn, device)
    t = const(arr)
    if requires_grad:
        if arr.dtype not in FLOATS:
            raise RuntimeError(f"{fn}: only float32/float64 tensors can require gradients, "
                               f"got dtype {arr.dtype}")
        t.requires_grad = True
    return t


def _dt(fn, dtype, default=None):
    """``dtype`` checked, or ``default`` when None (None: the default floating dtype)."""
    if dtype is None:
        return dtypes._default[0] if default is None else default
    return dtypes.to_dtype(fn, dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A Tensor sharing ``ndarray``'s memory (no copy), like torch.from_numpy."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"from_numpy: dtype {ndarray.dtype} is not supported; use one of "
                        f"{', '.join(str(d) for d in dtypes.SUPPORTED)}")
    return const(np.asarray(ndarray))


def as_tensor(data: Any, dtype: DTypeLike = None, device: Device = None) -> Tensor:
    """``data`` as a Tensor, sharing memory when it is already a Tensor or an ndarray of
    the requested dtype (a copy otherwise)."""
    dtypes.check_device("as_tensor", device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return const(new_array("as_tensor", data, dtype, copy=False))


def _filled(fn, size, value, dtype, requires_grad, device):
    return _leaf(fn, alloc(fn, "size", _size(fn, size), _dt(fn, dtype), fill=value),
                 requires_grad, device)


def zeros(*size: Size, dtype: DTypeLike = None, device: Device = None,
          requires_grad: bool = False, out: None = None) -> Tensor:
    return _filled("zeros", size, 0, dtype, requires_grad, device)


def ones(*size: Size, dtype: DTypeLike = None, device: Device = None,
         requires_grad: bool = False, out: None = None) -> Tensor:
    return _filled("ones", size, 1, dtype, requires_grad, device)


def empty(*size: Size, dtype: DTypeLike = None, device: Device = None,
          requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return _filled("empty", size, 0, dtype, requires_grad, device)


def full(size: Size, fill_value: Number, *, dtype: DTypeLike = None, device: Device = None,
         requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = new_array("full", fill_value).dtype
    return _filled("full", (size,) if not isinstance(size, (tuple, list)) else (tuple(size),),
                   fill_value, dtype, requires_grad, device)


def _like(fn, x, dtype):
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{fn}: argument 'input' must be a Tensor, got {type(x).__name__}")
    return x.shape, (x.dtype if dtype is None else dtype)


def zeros_like(input: Any, *, dtype: DTypeLike = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    shape, dt = _like("zeros_like", input, dtype)
    return _filled("zeros_like", (shape,), 0, dt, requires_grad, device)


def ones_like(input: Any, *, dtype: DTypeLike = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    shape, dt = _like("ones_like", input, dtype)
    return _filled("ones_like", (shape,), 1, dt, requires_grad, device)


def empty_like(input: Any, *, dtype: DTypeLike = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Any, fill_value: Number, *, dtype: DTypeLike = None,
              device: Device = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like("full_like", input, dtype)
    return _filled("full_like", (shape,), fill_value, dt, requires_grad, device)


def arange(start: Number, end: Optional[Number] = None, step: Number = 1, *,
           dtype: DTypeLike = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    """[start, end) in steps of ``step``; int64 when all are ints, else the default floating dtype."""
    if end is None:
        start, end = 0, start
    for nm, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, Tensor):
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"arange: argument '{nm}' must be a number, got {v!r}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dt = _dt("arange", dtype, dtypes.int64 if ints else None)
    n = max(int(np.ceil((end - start) / step)), 0)
    check_bytes("arange", "the result", (n,), np.float64)
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(dt) if not ints \
        else np.arange(start, end, step).astype(dt)
    return _leaf("arange", arr, requires_grad, device)


def linspace(start: Number, end: Number, steps: int, *, dtype: DTypeLike = None,
             device: Device = None, requires_grad: bool = False) -> Tensor:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    check_bytes("linspace", "steps", (steps,), np.float64)
    arr = np.linspace(start, end, int(steps)).astype(_dt("linspace", dtype))
    return _leaf("linspace", arr, requires_grad, device)


def eye(n: int, m: Optional[int] = None, *, dtype: DTypeLike = None, device: Device = None,
        requires_grad: bool = False) -> Tensor:
    check_bytes("eye", "size", _size("eye", (n, n) if m is None else (n, m)), _dt("eye", dtype))
    return _leaf("eye", np.eye(n, m, dtype=_dt("eye", dtype)), requires_grad, device)


def _gen(generator):
    return generator if generator is not None else _random.get_generator()


def _float_dt(fn, dtype):
    dt = _dt(fn, dtype)
    if dt not in FLOATS:
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
    return dt


def rand(*size: Size, generator: Optional[np.random.Generator] = None,
         dtype: DTypeLike = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    dt = _float_dt("rand", dtype)
    size = _size("rand", size)
    check_bytes("rand", "size", size, np.float64)
    return _leaf("rand", _gen(generator).random(size).astype(dt),
                 requires_grad, device)


def randn(*size: Size, generator: Optional[np.random.Generator] = None,
          dtype: DTypeLike = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    dt = _float_dt("randn", dtype)
    size = _size("randn", size)
    check_bytes("randn", "size", size, np.float64)
    return _leaf("randn", _gen(generator).standard_normal(size).astype(dt),
                 requires_grad, device)


def rand_like(input: Any, *, dtype: DTypeLike = None, device: Device = None,
              requires_grad: bool = False) -> Tensor:
    shape, dt = _like("rand_like", input, dtype)
    return rand(shape, dtype=dt, device=device, requires_grad=requires_grad)


def randn_like(input: Any, *, dtype: DTypeLike = None, device: Device = None,
               requires_grad: bool = False) -> Tensor:
    shape, dt = _like("randn_like", input, dtype)
    return randn(shape, dtype=dt, device=device, requires_grad=requires_grad)


def randint(low: Any = 0, high: Any = None, size: Any = None, *,
            generator: Optional[np.random.Generator] = None, dtype: DTypeLike = None,
            device: Device = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` also works, as in PyTorch)."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(low=0, high, size) with a size tuple")
    if not high > low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    size = _size("randint", (size,))
    check_bytes("randint", "size", size, np.int64)
    arr = _gen(generator).integers(low, high, size)
    return _leaf("randint", arr.astype(_dt("randint", dtype, dtypes.int64)), requires_grad,
                 device)


def randperm(n: int, *, generator: Optional[np.random.Generator] = None,
             dtype: DTypeLike = None, device: Device = None,
             requires_grad: bool = False) -> Tensor:
    check_bytes("randperm", "n", _size("randperm", (n,)), np.int64)
    arr = _gen(generator).permutation(int(n))
    return _leaf("randperm", arr.astype(_dt("randperm", dtype, dtypes.int64)), requires_grad,
                 device)
