"""NumPy twins of ops.embedding_forward / embedding_backward (same names, signatures and
errors): fancy indexing and np.add.at, the textbook statement."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .._embed_checks import embedding_args, embedding_grad_args

__all__ = ["embedding_forward", "embedding_backward"]


def embedding_forward(weight: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """weight[indices] -> indices.shape + (dim,)."""
    w, idx = embedding_args("embedding_forward", weight, indices)
    return w[idx]


def embedding_backward(dout: np.ndarray, indices: np.ndarray, num_embeddings: int,
                       padding_idx: Optional[int] = None,
                       scale_grad_by_freq: bool = False) -> np.ndarray:
    """dweight[r] = sum of dout over the lookups of row r (/ their count if
    scale_grad_by_freq); row padding_idx gets zeros."""
    d, idx, num, pad = embedding_grad_args("embedding_backward", dout, indices,
                                           num_embeddings, padding_idx, scale_grad_by_freq)
    flat, g = idx.reshape(-1), d.reshape(idx.size, d.shape[-1])
    dw = np.zeros((num, d.shape[-1]), d.dtype)
    for i, r in enumerate(flat):  # in lookup order, as the C kernel sums
        dw[r] += g[i]
    if scale_grad_by_freq:
        rows, count = np.unique(flat, return_counts=True)
        dw[rows] /= count.astype(d.dtype)[:, None]
    if pad >= 0:
        dw[pad] = 0
    return dw
