"""Argument checks shared by ops.embedding_* and reference.embedding_* (same errors)."""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, as_index_array, as_int


def index_array(fn, name, indices):
    """as_index_array, with a ragged or otherwise unconvertible sequence a ValueError
    that names fn."""
    try:
        return as_index_array(fn, name, indices)
    except ValueError as e:
        raise ValueError(f"{fn}: '{name}' must be an integer array ({e})") from None


def _indices(fn, indices, num):
    idx = index_array(fn, "indices", indices)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{fn}: 'indices' holds {bad}, outside [0, {num}) for "
                             f"num_embeddings={num} (indices shape {idx.shape})")
    return idx


def padding_index(fn, padding_idx, num):
    """PyTorch's padding_idx: None, or an int in [-num, num) (negative from the end) -> the
    row, or -1 for none."""
    if padding_idx is None:
        return -1
    p = as_int(fn, "padding_idx", padding_idx)
    if not -num <= p < num:
        raise ValueError(f"{fn}: padding_idx must be within [-{num}, {num}) for "
                         f"num_embeddings={num}, got {padding_idx}")
    return p + num if p < 0 else p


def embedding_args(fn, weight, indices):
    w = as_float_array(fn, "weight", weight, 2)
    return w, _indices(fn, indices, w.shape[0])


def embedding_grad_args(fn, dout, indices, num_embeddings, padding_idx, scale_grad_by_freq):
    num = as_int(fn, "num_embeddings", num_embeddings, 0)
    if not isinstance(scale_grad_by_freq, (bool, np.bool_)):
        raise TypeError(f"{fn}: scale_grad_by_freq must be a bool, got {scale_grad_by_freq!r}")
    idx = _indices(fn, indices, num)
    d = as_float_array(fn, "dout", dout)
    if d.ndim < 1 or d.shape[:-1] != idx.shape:
        raise ValueError(f"{fn}: 'dout' must have shape indices.shape + (dim,) = "
                         f"{idx.shape} + (dim,), got {d.shape}")
    if num * max(d.shape[-1], 1) * d.itemsize >= 2**62:
        raise ValueError(f"{fn}: a ({num}, {d.shape[-1]}) {d.dtype} gradient is too large")
    return d, idx, num, padding_index(fn, padding_idx, num)
