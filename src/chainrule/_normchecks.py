"""Argument checks of the batch norm and dropout kernels, shared by ``chainrule.ops`` and
``chainrule.reference`` (kept apart from _checks.py so the norm family stays in its own
files). Messages name the function, the argument and the shapes, as in _checks."""
import math
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
    return x, (N, C, math.prod(x.shape[2:]))


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
    if v.dtype != dtype:  # same_dtype's message, without an array to compare with
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


def _stats_arg(fn, name, v, shape, dtype):
    v = as_float_array(fn, name, v)
    if v.shape != tuple(shape):
        raise ValueError(f"{fn}: argument '{name}' must have shape {tuple(shape)}, got {v.shape}")
    same_dtype(fn, x=np.empty(0, dtype), **{name: v})
    return np.ascontiguousarray(v)


def _affine_arg(fn, name, v, shape, dtype):
    if v is None:
        return None
    v = as_float_array(fn, name, v)
    if v.shape != tuple(shape):
        raise ValueError(f"{fn}: argument '{name}' must have shape {tuple(shape)}, got {v.shape}")
    same_dtype(fn, x=np.empty(0, dtype), **{name: v})
    return np.ascontiguousarray(v).reshape(-1)


def group_norm_input(fn, x, num_groups):
    """x (N, C, *) and num_groups (an int >= 1 dividing C) -> (x C-contiguous, (N, G, Cg, L))."""
    x = as_float_array(fn, "x", x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: argument 'x' must be (N, C, *), got shape {x.shape}")
    if isinstance(num_groups, (bool, np.bool_)) or not isinstance(num_groups, numbers.Integral):
        raise TypeError(f"{fn}: argument 'num_groups' must be an int, got {num_groups!r}")
    N, C, G = x.shape[0], x.shape[1], int(num_groups)
    if G < 1 or C % G:
        raise ValueError(f"{fn}: the {C} channels of x {x.shape} do not divide into "
                         f"num_groups={G} groups")
    L = int(np.prod(x.shape[2:], dtype=np.int64))
    if N and C * L == 0:
        raise ValueError(f"{fn}: x {x.shape} has no values per group")
    return np.ascontiguousarray(x), (N, G, C // G, L)


def layer_norm_input(fn, x, normalized_shape):
    """x (*, S) with S = normalized_shape (an int or a tuple of ints) -> (x C-contiguous,
    S, rows = prod(*), K = prod(S))."""
    x = as_float_array(fn, "x", x)
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_))
            for d in normalized_shape):
        raise TypeError(f"{fn}: argument 'normalized_shape' must be an int or a tuple of "
                        f"ints, got {normalized_shape!r}")
    s = tuple(int(d) for d in normalized_shape)
    if not s or x.ndim < len(s) or x.shape[x.ndim - len(s):] != s:
        raise ValueError(f"{fn}: x of shape {x.shape} does not end with normalized_shape {s}")
    K = int(np.prod(s, dtype=np.int64))
    rows = int(np.prod(x.shape[:x.ndim - len(s)], dtype=np.int64))
    if rows and K == 0:
        raise ValueError(f"{fn}: normalized_shape {s} has no values")
    return np.ascontiguousarray(x), s, rows, K


def output_mask_arg(fn, output_mask):
    if not isinstance(output_mask, (tuple, list)) or len(output_mask) != 3:
        raise ValueError(f"{fn}: argument 'output_mask' must be 3 bools (dx, dweight, dbias), "
                         f"got {output_mask!r}")
    return tuple(bool(v) for v in output_mask)
