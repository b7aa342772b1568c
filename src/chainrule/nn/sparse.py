"""nn.Embedding, nn.EmbeddingBag and F.embedding / F.embedding_bag (PyTorch's semantics).

The lookup and its gradient are the C kernels ops.embedding_forward / embedding_backward
(a row gather; a deterministic scatter-add of rows, bitwise identical for any thread
count). max_norm renormalises the looked-up rows of the weight in place, outside autograd,
as PyTorch does. Gradients are dense (sparse=True is not supported: chainrule has no
sparse tensors).
"""
from __future__ import annotations

from typing import Optional, TYPE_CHECKING

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .. import ops
from .._checks import alloc, as_int
from .._embed_checks import index_array, padding_index
from ..autograd.function import as_tensor, make
from . import init
from .modules import Module, Parameter

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import DTypeLike, TensorLike

__all__ = ["embedding", "embedding_bag", "Embedding", "EmbeddingBag"]


def _indices(fn, x):
    a = getattr(x, "array", x)
    try:
        return index_array(fn, "input", a)
    except TypeError:
        raise TypeError(f"{fn}: input must hold integer indices (an int array), got "
                        f"{type(x).__name__} of dtype {getattr(np.asarray(a), 'dtype', '?')}"
                        ) from None


def _renorm(fn, w, idx, max_norm, norm_type):
    """PyTorch's embedding_renorm_: rows of w named in idx with norm > max_norm are scaled
    to max_norm / (norm + 1e-7), in place, no gradient."""
    rows = np.unique(idx)
    if rows.size == 0:
        return
    if rows[0] < 0 or rows[-1] >= w.shape[0]:
        ops.embedding_forward(w, idx)  # words the index error
    norm = np.linalg.norm(w[rows].astype(np.float64), ord=float(norm_type), axis=1)
    big = norm > max_norm
    w[rows[big]] *= (max_norm / (norm[big] + 1e-7)).astype(w.dtype)[:, None]


def _check_sparse(fn, sparse):
    if sparse:
        raise NotImplementedError(f"{fn}: sparse=True (sparse gradients) is not supported; "
                                  f"chainrule's gradients are dense")


def embedding(input: TensorLike, weight: TensorLike, padding_idx: Optional[int] = None,
              max_norm: Optional[float] = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """weight[input]: input an integer array (any shape), weight (num_embeddings, dim) ->
    input.shape + (dim,). padding_idx's row gets no gradient; max_norm renormalises the
    looked-up rows of weight in place first."""
    fn = "embedding"
    _check_sparse(fn, sparse)
    w = as_tensor(weight, fn, "weight")
    idx = _indices(fn, input)
    if w.array.ndim != 2:
        raise ValueError(f"{fn}: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {w.array.shape}")
    num = w.array.shape[0]
    pad = padding_index(fn, padding_idx, num)
    if max_norm is not None:
        _renorm(fn, w.array, idx, float(max_norm), norm_type)
    out = ops.embedding_forward(w.array, idx)

    def backward(g):
        return (ops.embedding_backward(g, idx, num, None if pad < 0 else pad,
                                       bool(scale_grad_by_freq)),)
    return make(out, (w,), backward)


class Embedding(Module):
    """A lookup table: forward(input) = weight[input]. weight (num_embeddings,
    embedding_dim) ~ N(0, 1) from chainrule's generator, the padding_idx row zeroed."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 max_norm: Optional[float] = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Optional[TensorLike] = None, _freeze=False, *,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = "Embedding"
        _check_sparse(fn, sparse)
        self.num_embeddings = as_int(fn, "num_embeddings", num_embeddings, 0)
        self.embedding_dim = as_int(fn, "embedding_dim", embedding_dim, 0)
        p = padding_index(fn, padding_idx, self.num_embeddings)
        self.padding_idx = None if p < 0 else p
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            dt = np.dtype(dtype if dtype is not None else get_default_dtype())
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
        self.weight.requires_grad = not _freeze

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of ``embeddings`` (2-D); frozen unless freeze=False."""
        e = np.asarray(getattr(embeddings, "array", embeddings))
        if e.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{e.shape}")
        return cls(e.shape[0], e.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=e, _freeze=bool(freeze))

    def forward(self, input: TensorLike) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


from ._embedding_bag import embedding_bag, EmbeddingBag  # noqa: E402
