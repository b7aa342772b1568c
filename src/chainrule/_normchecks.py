"""Argument checks of the batch norm and dropout kernels, shared by ``chainrule.ops`` and
``chainrule.reference`` (kept apart from _checks.py so the norm family stays in its own
files). Messages name the function, the argument and the shapes, as in _checks."""
import numbers

import numpy as np

from ._checks import as_float_array, same_dtype

UINT64_MAX = (1 << 64) - 1


def bn_input(fn, x):
    """x (N, C) or (N, C, *) -> (x C-contiguous, (N, C, L)) with L the product of *."""
    x = as_float_array(fn, "x", x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: argument 'x' must be (N, C) or (N, C, *), got shape {x.shape}")
    N, C = x.shape[:2]
    return x, (N, C, int(np.prod(x.shape[2:], dtype=np.int64)))


def per_channel(fn, name, v, C, dtype, optional=True):
    """A (C,) float vector of ``dtype`` (None allowed when optional)."""
    if v is None:
        if optional:
            return None
        raise TypeError(f"{fn}: argument '{name}' must be a float array of shape ({C},), "
                        f"got None")
    v = as_float_array(fn, name, v)
    if v.shape != (C,):
        raise ValueError(f"{fn}: argument '{name}' must have shape ({C},) (C = {C} channels "
                         f"of x), got {v.shape}")
    same_dtype(fn, x=np.empty(0, dtype), **{name: v})
    return v


def eps_arg(fn, eps):
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{fn}: argument 'eps' must be a float, got {eps!r}")
    eps = float(eps)
    if not eps >= 0.0 or eps == float("inf"):
        raise ValueError(f"{fn}: argument 'eps' must be finite and >= 0, got {eps}")
    return eps


def same_shape(fn, name, v, x, xname="x"):
    v = as_float_array(fn, name, v)
    if v.shape != x.shape:
        raise ValueError(f"{fn}: argument '{name}' must have the shape of '{xname}' "
                         f"{x.shape}, got {v.shape}")
    same_dtype(fn, **{xname: x, name: v})
    return v


def prob_arg(fn, p):
    """The dropout probability: a real number in [0, 1]."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{fn}: argument 'p' must be a float in [0, 1], got {p!r}")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: dropout probability 'p' must be between 0 and 1, got {p}")
    return p


def u64_arg(fn, name, v):
    """seed / offset of the Philox stream: an int in [0, 2**64)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: argument '{name}' must be an int, got {v!r}")
    v = int(v)
    if not 0 <= v <= UINT64_MAX:
        raise ValueError(f"{fn}: argument '{name}' must be in [0, 2**64), got {v}")
    return v


def mask_arg(fn, mask, shape):
    """A uint8 (or bool) keep-mask of the given shape, as C-contiguous uint8."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{fn}: argument 'mask' must be a uint8 ndarray, got "
                        f"{type(mask).__name__}")
    if mask.dtype not in (np.uint8, np.bool_):
        raise TypeError(f"{fn}: argument 'mask' must have dtype uint8 (or bool), got "
                        f"{mask.dtype} (shape {mask.shape})")
    if mask.shape != shape:
        raise ValueError(f"{fn}: argument 'mask' must have the shape of dy {shape}, got "
                         f"{mask.shape}")
    return np.ascontiguousarray(mask).view(np.uint8)


def shape_arg(fn, shape):
    """A shape: a tuple/list of ints >= 0."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{fn}: argument 'shape' must be a tuple of ints, got {shape!r}")
    out = []
    for v in shape:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{fn}: argument 'shape' must hold ints >= 0, got {shape!r}")
        out.append(int(v))
    n = 1
    for v in out:
        n *= v
    if n >= 1 << 48:
        raise ValueError(f"{fn}: argument 'shape' {tuple(out)} has {n} elements, too many")
    return tuple(out)
