"""F.one_hot, F.pad, F.normalize, F.cosine_similarity, F.pairwise_distance,
F.logsigmoid: PyTorch's functional helpers built from Tensor ops (gradients come from
those ops). Arrays are accepted wherever a tensor goes, as everywhere in F."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import FLOATS, const, make
from ..autograd.joins import to_tensor
from . import _padding

__all__ = ["one_hot", "pad", "normalize", "cosine_similarity", "pairwise_distance",
           "logsigmoid"]


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each index
    (``num_classes=-1``: max(tensor) + 1)."""
    a = to_tensor("one_hot", tensor, "tensor").array
    if a.dtype != np.int64:
        raise TypeError(f"one_hot: is only applicable to index tensors (int64), got dtype "
                        f"{a.dtype}")
    if a.size and a.min() < 0:
        raise ValueError("one_hot: class values must be non-negative")
    n = int(a.max()) + 1 if num_classes == -1 and a.size else num_classes
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or an int >= 0, got {num_classes!r}")
    if a.size and a.max() >= n:
        raise ValueError(f"one_hot: class values must be smaller than num_classes ({n}), "
                         f"got {a.max()}")
    return const((a[..., None] == np.arange(n)).astype(np.int64))


def pad(input, pad, mode="constant", value=None):
    """Pad (or, negative amounts, crop) the last len(pad) // 2 dims: ``pad`` = (left, right)
    of the last dim, then of the one before, ... Modes 'constant' (with ``value``) and,
    as PyTorch, 'reflect', 'replicate' and 'circular' (``_padding.py``)."""
    x = to_tensor("pad", input)
    if mode != "constant" and mode not in _padding.MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.array.ndim or \
            any(isinstance(p, bool) or not isinstance(p, numbers.Integral) for p in pad):
        raise ValueError(f"pad: pad must be an even number of ints, at most 2 per dim of shape "
                         f"{x.array.shape}, got {pad}")
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f"pad: value={value!r} applies to mode 'constant' only, not "
                             f"{mode!r}")
        _padding.check("pad", mode, pad, x.array.shape)
        return _padding.pad(x, pad, mode)
    nd = x.array.ndim
    widths = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        widths[nd - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    crop = tuple(slice(max(-lo, 0), s - max(-hi, 0)) for (lo, hi), s in
                 zip(widths, x.array.shape))
    if any(c.start > c.stop for c in crop):
        raise ValueError(f"pad: cropping {pad} leaves a negative size of shape "
                         f"{x.array.shape}")
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        x = x[crop]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    a = x.array
    out = np.pad(a, grow, constant_values=0 if value is None else value)
    keep = tuple(slice(lo, lo + s) for (lo, _), s in zip(grow, a.shape))

    def backward(g):
        return (np.ascontiguousarray(g[keep]),)
    return make(out.astype(a.dtype, copy=False), (x,), backward)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input / max(||input||_p over dim, eps)``."""
    x = to_tensor("normalize", input)
    return x / x.norm(p, dim, keepdim=True).clamp_min(eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along ``dim`` (broadcasting), each norm
    clamped to at least ``eps``."""
    a, b = to_tensor("cosine_similarity", x1, "x1"), to_tensor("cosine_similarity", x2, "x2")
    na = a.norm(2, dim, keepdim=True).clamp_min(eps)
    nb = b.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((a / na) * (b / nb)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim."""
    a = to_tensor("pairwise_distance", x1, "x1")
    return (a - x2 + eps).norm(p, -1, keepdim)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    x = to_tensor("logsigmoid", input)
    a = x.array if x.array.dtype in FLOATS else x.array.astype(np.float32)
    out = np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))

    def backward(g):
        return (g * (1 - np.exp(out)),)  # 1 - sigmoid(x)
    return make(out.astype(a.dtype, copy=False), (x,), backward)
