"""F.embedding_bag and nn.EmbeddingBag: sums, means or maxima of bags of embeddings
without materialising the bags as a tensor. The lookup and the table gradient are the C
kernels of ops.embedding_*; the per-bag reduction is NumPy."""
from __future__ import annotations

from typing import Optional, TYPE_CHECKING

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .. import ops
from .._checks import alloc, as_int
from .._embed_checks import padding_index
from ..autograd.function import as_tensor, make
from . import init
from .modules import Module, Parameter

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import DTypeLike, TensorLike

__all__ = ["embedding_bag", "EmbeddingBag"]

_MODES = ("sum", "mean", "max")


def _bags(fn, input, offsets, include_last_offset):
    """-> flat indices (n,), the bag of each (n,), the number of bags."""
    from .sparse import _indices
    idx = _indices(fn, input)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{fn}: offsets must be None for a 2-D input (each row is a "
                             f"bag), got input shape {idx.shape}")
        B, L = idx.shape
        return idx.reshape(-1), np.repeat(np.arange(B), L), B
    if idx.ndim != 1:
        raise ValueError(f"{fn}: input must be 1-D (with offsets) or 2-D (B, L), got shape "
                         f"{idx.shape}")
    if offsets is None:
        raise ValueError(f"{fn}: a 1-D input needs offsets (the start of each bag)")
    off = _indices(fn, offsets)
    if off.ndim != 1:
        raise ValueError(f"{fn}: offsets must be 1-D, got shape {off.shape}")
    n = idx.size
    if include_last_offset:
        if off.size == 0 or off[-1] != n:
            raise ValueError(f"{fn}: with include_last_offset the last offset must be "
                             f"len(input) = {n}, got offsets {off.tolist()[:8]}")
        off = off[:-1]
    if off.size and (off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] > n):
        raise ValueError(f"{fn}: offsets must start at 0, not decrease and stay <= "
                         f"len(input) = {n}, got {off.tolist()[:8]}")
    B = off.size
    seg = np.zeros(n, np.int64)
    if B:
        np.add.at(seg, off[1:][off[1:] < n], 1)
        seg = np.cumsum(seg)
    return idx, seg, B


def embedding_bag(input: TensorLike, weight: TensorLike, offsets: Optional[TensorLike] = None,
                  max_norm: Optional[float] = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Optional[TensorLike] = None,
                  include_last_offset: bool = False, padding_idx: Optional[int] = None) -> Tensor:
    """(B, dim): the sum / mean / max over each bag of weight[input]. input 2-D (B, L) (one
    bag per row) or 1-D with offsets (B,) (bag b = input[offsets[b]:offsets[b+1]]); entries
    equal to padding_idx are left out of their bag; an empty bag gives zeros.
    per_sample_weights (same shape as input) scales each row, mode='sum' only."""
    fn = "embedding_bag"
    from .sparse import _check_sparse, _renorm
    _check_sparse(fn, sparse)
    if mode not in _MODES:
        raise ValueError(f"{fn}: mode must be one of {_MODES}, got {mode!r}")
    w = as_tensor(weight, fn, "weight")
    if w.array.ndim != 2:
        raise ValueError(f"{fn}: weight must be 2-D, got shape {w.array.shape}")
    num, D = w.array.shape
    idx, seg, B = _bags(fn, input, offsets, include_last_offset)
    pad = padding_index(fn, padding_idx, num)
    psw = None
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{fn}: per_sample_weights is only supported for mode='sum', "
                             f"got mode={mode!r}")
        psw = as_tensor(per_sample_weights, fn, "per_sample_weights")
        ishape = np.shape(getattr(input, "array", input))
        if psw.array.size != idx.size or psw.array.shape != ishape:
            raise ValueError(f"{fn}: per_sample_weights must have the shape of input "
                             f"{ishape}, got {psw.array.shape}")
        if psw.array.dtype != w.array.dtype:
            raise TypeError(f"{fn}: per_sample_weights has dtype {psw.array.dtype} but weight "
                            f"has {w.array.dtype}")
    if max_norm is not None:
        _renorm(fn, w.array, idx, float(max_norm), norm_type)
    rows = ops.embedding_forward(w.array, idx)          # (n, D), checks the indices
    keep = idx != pad
    count = np.bincount(seg[keep], minlength=B).astype(w.array.dtype)
    out = np.zeros((B, D), w.array.dtype)
    scale = psw.array.reshape(-1) if psw is not None else None
    arg = None
    if mode == "max":
        arg = np.full((B, D), -1, np.int64)
        for b in range(B):
            sel = np.flatnonzero((seg == b) & keep)
            if sel.size:
                k = np.argmax(rows[sel], axis=0)
                arg[b] = sel[k]
                out[b] = rows[sel[k], np.arange(D)]
    else:
        contrib = rows * scale[:, None] if scale is not None else rows
        np.add.at(out, seg[keep], contrib[keep])
        if mode == "mean":
            out /= np.maximum(count, 1)[:, None]

    def backward(g):
        drow = np.zeros_like(rows)
        if mode == "max":
            b, j = np.nonzero(arg >= 0)
            drow[arg[b, j], j] = g[b, j]
        else:
            drow[keep] = g[seg[keep]]
            if mode == "mean":
                drow /= np.maximum(count, 1)[seg][:, None]
        dps = None
        if psw is not None:
            dps = np.where(keep, (drow * rows).sum(axis=1), 0).astype(rows.dtype)
            dps = dps.reshape(psw.array.shape)
            drow *= scale[:, None]
        dw = ops.embedding_backward(drow, idx, num, None if pad < 0 else pad,
                                    bool(scale_grad_by_freq))
        return (dw,) + ((dps,) if psw is not None else ())
    return make(out, (w,) + ((psw,) if psw is not None else ()), backward)


class EmbeddingBag(Module):
    """forward(input, offsets=None, per_sample_weights=None) = F.embedding_bag with this
    module's weight (num_embeddings, embedding_dim) ~ N(0, 1) and settings."""

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: Optional[float] = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Optional[TensorLike] = None,
                 include_last_offset: bool = False, padding_idx: Optional[int] = None, *,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = "EmbeddingBag"
        from .sparse import _check_sparse
        _check_sparse(fn, sparse)
        if mode not in _MODES:
            raise ValueError(f"{fn}: mode must be one of {_MODES}, got {mode!r}")
        self.num_embeddings = as_int(fn, "num_embeddings", num_embeddings, 0)
        self.embedding_dim = as_int(fn, "embedding_dim", embedding_dim, 0)
        p = padding_index(fn, padding_idx, self.num_embeddings)
        self.padding_idx = None if p < 0 else p
        self.max_norm, self.norm_type, self.mode = max_norm, norm_type, mode
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        self.include_last_offset = bool(include_last_offset)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            dt = np.dtype(dtype or get_default_dtype())
            self.weight = Parameter(alloc(fn, "weight", shape, dt))
            init.normal_(self.weight)
            if self.padding_idx is not None:
                self.weight.array[self.padding_idx] = 0
        else:
            w = np.array(getattr(_weight, "array", _weight))
            if w.shape != shape or w.dtype not in (np.float32, np.float64):
                raise ValueError(f"{fn}: _weight must be a float array of shape {shape}, "
                                 f"got {w.dtype} {w.shape}")
            self.weight = Parameter(w)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        e = np.asarray(getattr(embeddings, "array", embeddings))
        if e.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got "
                             f"shape {e.shape}")
        m = cls(e.shape[0], e.shape[1], max_norm, norm_type, scale_grad_by_freq, mode,
                sparse, e, include_last_offset, padding_idx)
        m.weight.requires_grad = not freeze
        return m

    def forward(self, input: TensorLike, offsets: Optional[TensorLike] = None,
                per_sample_weights: Optional[TensorLike] = None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, self.sparse,
                             per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
