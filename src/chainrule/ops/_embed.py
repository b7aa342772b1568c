"""Embedding kernels (C, csrc/embed.c): embedding_forward (a gather of table rows) and
embedding_backward (their gradient, a scatter-add of rows).

The backward is deterministic and free of atomics: the lookups are counting-sorted by
table row and each thread owns a contiguous range of rows, so every row is summed in
increasing lookup order whatever the thread count (bitwise identical for 1 or N threads).
It writes the whole (num_embeddings, dim) gradient, zero for rows no index names.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _kernels
from .._embed_checks import embedding_args, embedding_grad_args

__all__ = ["embedding_forward", "embedding_backward"]


def embedding_forward(weight: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """weight[indices]: weight (num_embeddings, dim) float32/float64, indices an integer
    array of any shape with values in [0, num_embeddings) -> indices.shape + (dim,)."""
    w, idx = embedding_args("embedding_forward", weight, indices)
    out = np.empty((idx.size, w.shape[1]), w.dtype)
    _kernels.embedding_forward(out, w, idx.reshape(-1))
    return out.reshape(idx.shape + (w.shape[1],))


def embedding_backward(dout: np.ndarray, indices: np.ndarray, num_embeddings: int,
                       padding_idx: Optional[int] = None,
                       scale_grad_by_freq: bool = False) -> np.ndarray:
    """dL/dweight (num_embeddings, dim) from dout (indices.shape + (dim,)): row r is the sum
    of dout over the lookups of r (divided by their count if scale_grad_by_freq); row
    padding_idx (None, or negative counted from the end as in PyTorch) gets zeros."""
    d, idx, num, pad = embedding_grad_args("embedding_backward", dout, indices,
                                           num_embeddings, padding_idx, scale_grad_by_freq)
    # np.zeros is calloc: a large table comes as fresh zero pages, so the kernel writes
    # only the rows with lookups and the others are never faulted in (the dense 51 MB
    # gradient of a 50k x 256 table used to cost more in page faults and zeroing than in
    # the scatter-add itself)
    dw = np.zeros((num, d.shape[-1]), d.dtype)
    _kernels.embedding_backward(dw, d.reshape(idx.size, d.shape[-1]), idx.reshape(-1),
                                pad, bool(scale_grad_by_freq), True)
    return dw
