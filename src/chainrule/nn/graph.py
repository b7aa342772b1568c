"""Graph convolution layers with PyTorch Geometric's names, arguments and semantics:
GCNConv, ChebConv, SGConv.

Edges are a (2, E) ``edge_index`` (row 0 sources, row 1 targets; messages flow source ->
target, so node i sums over its in-edges) with an optional ``edge_weight`` (E,) Tensor or
array. Propagation is the C SpMM (chainrule.ops.spmm) as one autograd node whose backward
gives d(features) through A^T's CSR and d(edge weights) as an SDDMM; the normalisations
are autograd expressions over it, so gradients reach x, the weights and edge_weight.
"""
from __future__ import annotations

from typing import Optional, TYPE_CHECKING

import numpy as np

from .. import ops
from ..autograd.function import as_tensor, const, make
from ..graph import check_edge_index
from . import functional as F
from . import init
from .modules import Linear, Module, Parameter

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import TensorLike

__all__ = ["GCNConv", "ChebConv", "SGConv", "Propagation", "propagate", "gcn_norm"]


class Propagation:
    """The CSR of A (A[target, source]) and of A^T for the edges (src[e] -> tgt[e]) on n
    nodes, both pointing at the edges' values in edge order (see ops.csr_from_coo)."""

    def __init__(self, src, tgt, num_nodes) -> None:
        self.num_nodes = num_nodes
        self.num_edges = len(src)
        self.a = ops.csr_from_coo(tgt, src, num_nodes, num_nodes)
        self.t = ops.csr_from_coo(src, tgt, num_nodes, num_nodes)


def propagate(prop, values, x):
    """y = A x for A with the given edge values (E,) Tensor and x (n, F) Tensor: y[t] =
    sum over edges s -> t of values[e] * x[s]."""
    values, x = as_tensor(values, "propagate", "values"), as_tensor(x, "propagate", "x")
    indptr, indices, perm = prop.a
    w, a = values.array, x.array

    def backward(g):
        dx, dw = ops.spmm_backward(g, indptr, indices, w, a, *prop.t, perm,
                                   need_dx=x.requires_grad, need_dvalues=values.requires_grad)
        return dw, dx
    return make(ops.spmm(indptr, indices, w, a, perm), (values, x), backward)


def _gather_fill(w, idx, fill):
    """out[k] = w[idx[k]] where idx[k] >= 0, else fill (a constant)."""
    have = idx >= 0
    out = np.full(idx.shape[0], fill, w.dtype)
    out[have] = w.array[idx[have]]

    def backward(g):
        return (np.bincount(idx[have], weights=g[have], minlength=w.array.shape[0])
                .astype(w.array.dtype),)
    return make(out, (w,), backward)


def _inv_pow(deg, p):
    """deg ** -p where deg > 0, else 0 (an isolated node), as PyG masks inf to 0."""
    d = deg.array
    pos = d > 0
    out = np.zeros_like(d)
    out[pos] = d[pos] ** -p

    def backward(g):
        r = np.zeros_like(d)
        r[pos] = g[pos] * -p * out[pos] / d[pos]
        return (r,)
    return make(out, (deg,), backward)


def _edges(fn, edge_index, edge_weight, num_nodes, dtype):
    ei, n, _ = check_edge_index(fn, edge_index, num_nodes)
    if edge_weight is not None:
        edge_weight = as_tensor(edge_weight, fn, "edge_weight")
        if edge_weight.array.shape != (ei.shape[1],) or edge_weight.array.dtype != dtype:
            raise ValueError(f"{fn}: argument 'edge_weight' must have shape ({ei.shape[1]},) "
                             f"and dtype {np.dtype(dtype)}, got {edge_weight.array.shape} "
                             f"{edge_weight.array.dtype}")
    return ei, n, edge_weight


def _with_loops(ei, w, n, fill, dtype):
    """PyG's add_remaining_self_loops: drop the edges i -> i, append one per node with
    weight fill, or the (last) weight of the node's own self loop when weights are given."""
    src, tgt = ei
    keep = np.flatnonzero(src != tgt)
    loops = np.arange(n, dtype=np.int64)
    src2, tgt2 = np.concatenate([src[keep], loops]), np.concatenate([tgt[keep], loops])
    idx = np.concatenate([keep, np.full(n, -1, np.int64)])
    if w is not None:
        own = np.flatnonzero(src == tgt)
        idx[len(keep) + src[own]] = own
    base = w if w is not None else const(np.ones(max(len(src), 1), dtype))
    if w is None:
        idx[:len(keep)] = 0 if len(src) else -1
    return src2, tgt2, _gather_fill(base, idx, fill)


def gcn_norm(edge_index, edge_weight, num_nodes, improved=False, add_self_loops=True,
             dtype=np.float32):
    """(Propagation, values) of D^-1/2 (A + fill I) D^-1/2 with D the in-degrees of
    A + fill I (fill 2 when improved, else 1), as PyG's gcn_norm; values is a Tensor that
    carries gradients to edge_weight."""
    ei, n, w = _edges("gcn_norm", edge_index, edge_weight, num_nodes, dtype)
    if add_self_loops:
        src, tgt, w = _with_loops(ei, w, n, 2.0 if improved else 1.0, dtype)
    else:
        src, tgt = ei
        w = w if w is not None else const(np.ones(len(src), dtype))
    prop = Propagation(src, tgt, n)
    deg = propagate(prop, w, const(np.ones((n, 1), dtype))).reshape(n)
    dis = _inv_pow(deg, 0.5)
    return prop, dis[src] * w * dis[tgt]


def _glorot_lin(in_channels, out_channels):
    lin = Linear(in_channels, out_channels, bias=False)
    init.xavier_uniform_(lin.weight)
    return lin


def _bias(module, bias, out_channels):
    if bias:
        module.bias = Parameter(np.zeros(out_channels, np.float32))
    else:
        module.register_parameter("bias", None)


class GCNConv(Module):
    """x' = D^-1/2 (A + I) D^-1/2 x W^T + b (Kipf & Welling), PyG's GCNConv: lin (no
    bias, Glorot init) then propagation then bias (zeros). improved uses A + 2I; cached
    keeps the normalised adjacency of the first call (transductive use); normalize=False
    propagates with edge_weight (or ones) as given, without self loops."""

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops: bool = True, normalize: bool = True,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self.lin = _glorot_lin(in_channels, out_channels)
        _bias(self, bias, out_channels)
        self._cache: Optional[tuple] = None

    def reset_parameters(self):
        init.xavier_uniform_(self.lin.weight)
        if self.bias is not None:
            init.zeros_(self.bias)
        self._cache = None

    def forward(self, x: TensorLike, edge_index: TensorLike,
                edge_weight: Optional[TensorLike] = None) -> Tensor:
        x = as_tensor(x, "GCNConv", "x")
        dt = self.lin.weight.array.dtype
        if self._cache is not None:
            prop, norm = self._cache
        elif self.normalize:
            prop, norm = gcn_norm(edge_index, edge_weight, x.array.shape[0], self.improved,
                                  self.add_self_loops, dt)
        else:
            ei, n, w = _edges("GCNConv", edge_index, edge_weight, x.array.shape[0], dt)
            prop = Propagation(ei[0], ei[1], n)
            norm = w if w is not None else const(np.ones(ei.shape[1], dt))
        if self.cached and self._cache is None:
            self._cache = (prop, norm.detach() if hasattr(norm, "detach") else norm)
        out = propagate(prop, norm, self.lin(x))
        return out + self.bias if self.bias is not None else out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


def _laplacian_hat(edge_index, edge_weight, n, normalization, lambda_max, dtype):
    """(Propagation, off-diagonal values Tensor, diagonal) of L_hat = 2 L / lambda_max - I
    as PyG's ChebConv: self loops removed, D the out-degrees (at sources)."""
    ei, n, w = _edges("ChebConv", edge_index, edge_weight, n, dtype)
    keep = np.flatnonzero(ei[0] != ei[1])
    src, tgt = ei[0][keep], ei[1][keep]
    w = _gather_fill(w, keep, 0.0) if w is not None else const(np.ones(len(keep), dtype))
    prop = Propagation(src, tgt, n)
    scale = 2.0 / lambda_max
    if normalization is None:
        back = Propagation(tgt, src, n)  # row sums at the source
        deg = propagate(back, w, const(np.ones((n, 1), dtype))).reshape(n)
        return prop, w * -scale, deg * scale - 1.0
    deg = propagate(Propagation(tgt, src, n), w, const(np.ones((n, 1), dtype))).reshape(n)
    if normalization == "sym":
        dis = _inv_pow(deg, 0.5)
        off = dis[src] * w * dis[tgt]
    else:
        off = _inv_pow(deg, 1.0)[src] * w
    return prop, off * -scale, const(np.full(n, scale - 1.0, dtype))


class _Lins(Module):
    """The K linear maps of ChebConv as children "0".."K-1" (PyG's ModuleList keys:
    lins.0.weight, ...); indexable and iterable."""

    def __init__(self, lins) -> None:
        super().__init__()
        for k, lin in enumerate(lins):
            setattr(self, str(k), lin)
        self._n = len(lins)

    def __getitem__(self, k):
        return getattr(self, str(range(self._n)[k]))

    def __len__(self):
        return self._n

    def __iter__(self):
        return (self[k] for k in range(self._n))


class ChebConv(Module):
    """Chebyshev spectral graph convolution (Defferrard et al.), PyG's ChebConv:
    out = sum_k lins[k](T_k), T_0 = x, T_1 = L_hat x, T_k = 2 L_hat T_{k-1} - T_{k-2}, with
    L_hat = 2 L / lambda_max - I and L the Laplacian of ``normalization`` (None, "sym",
    "rw"); lambda_max defaults to 2.0 ("sym" only, as PyG)."""

    def __init__(self, in_channels: int, out_channels: int, K: int,
                 normalization: Optional[str] = "sym", bias: bool = True) -> None:
        super().__init__()
        if not isinstance(K, int) or K < 1:
            raise ValueError(f"ChebConv: argument 'K' must be an int >= 1, got {K!r}")
        if normalization not in (None, "sym", "rw"):
            raise ValueError(f"ChebConv: argument 'normalization' must be None, 'sym' or "
                             f"'rw', got {normalization!r}")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.normalization = normalization
        self.lins = _Lins([_glorot_lin(in_channels, out_channels) for _ in range(K)])
        _bias(self, bias, out_channels)

    def forward(self, x: TensorLike, edge_index: TensorLike,
                edge_weight: Optional[TensorLike] = None, batch=None, lambda_max=None) -> Tensor:
        x = as_tensor(x, "ChebConv", "x")
        if lambda_max is None:
            if self.normalization != "sym":
                raise ValueError("ChebConv: lambda_max must be given when normalization "
                                 f"is {self.normalization!r} (2.0 is assumed only for 'sym')")
            lambda_max = 2.0
        dt = self.lins[0].weight.array.dtype
        prop, off, diag = _laplacian_hat(edge_index, edge_weight, x.array.shape[0],
                                         self.normalization, float(lambda_max), dt)
        diag = diag.reshape(-1, 1)

        def lhat(t):
            return propagate(prop, off, t) + diag * t
        tx0, out = x, self.lins[0](x)
        if self.K > 1:
            tx1 = lhat(x)
            out = out + self.lins[1](tx1)
            for k in range(2, self.K):
                tx2 = lhat(tx1) * 2.0 - tx0
                out = out + self.lins[k](tx2)
                tx0, tx1 = tx1, tx2
        return out + self.bias if self.bias is not None else out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, K={self.K}, " \
               f"normalization={self.normalization}"


class SGConv(Module):
    """Simplified graph convolution (Wu et al.), PyG's SGConv: x' = lin(S^K x) with S the
    GCN normalisation D^-1/2 (A + I) D^-1/2; cached keeps S^K x of the first call."""

    def __init__(self, in_channels: int, out_channels: int, K: int = 1, cached: bool = False,
                 add_self_loops: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.cached, self.add_self_loops = cached, add_self_loops
        self.lin = Linear(in_channels, out_channels, bias=bias)
        self._cache = None

    def forward(self, x: TensorLike, edge_index: TensorLike,
                edge_weight: Optional[TensorLike] = None) -> Tensor:
        x = as_tensor(x, "SGConv", "x")
        if self._cache is not None:
            return self.lin(self._cache)
        prop, norm = gcn_norm(edge_index, edge_weight, x.array.shape[0], False,
                              self.add_self_loops, self.lin.weight.array.dtype)
        for _ in range(self.K):
            x = propagate(prop, norm, x)
        if self.cached:
            self._cache = const(x.array)
        return self.lin(x)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, K={self.K}"
