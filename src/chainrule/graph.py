"""chainrule.graph — graphs as edge lists, their adjacency and Laplacian matrices, and the
graph Fourier transform (NumPy in, NumPy out).

Edges follow PyTorch Geometric: ``edge_index`` is a (2, E) integer array, row 0 the
source and row 1 the target of each edge; a message flows source -> target, so the
adjacency matrix has A[target, source] = weight (an undirected graph lists both
directions). Duplicate edges add up. Sparse results are :class:`CSRMatrix`.
"""
from typing import NamedTuple

import numpy as np

from . import ops
from ._checks import as_float_array, as_int

__all__ = ["CSRMatrix", "check_edge_index", "adjacency", "degree", "laplacian",
           "graph_fourier", "inverse_graph_fourier", "add_self_loops", "to_undirected",
           "num_nodes_of"]


class CSRMatrix(NamedTuple):
    """A sparse matrix: row i holds data[indptr[i]:indptr[i+1]] at columns indices[...]."""
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple

    def toarray(self):
        out = np.zeros(self.shape, self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        np.add.at(out, (rows, self.indices), self.data)
        return out

    def __matmul__(self, x):
        """A @ x for a dense x (n,) or (n, F), on the C SpMM kernel."""
        x = np.asarray(x, self.data.dtype)
        y = ops.spmm(self.indptr, self.indices, self.data, x.reshape(x.shape[0], -1))
        return y.reshape((self.shape[0],) + x.shape[1:])


def num_nodes_of(edge_index, num_nodes=None):
    """num_nodes, or 1 + the largest id in edge_index (0 without edges)."""
    if num_nodes is not None:
        return num_nodes
    return int(edge_index.max()) + 1 if edge_index.size else 0


def check_edge_index(fn, edge_index, num_nodes=None, edge_weight=None, dtype=np.float32):
    """Validated (edge_index int64 (2, E), num_nodes, edge_weight (E,) float or None)."""
    a = np.asarray(getattr(edge_index, "array", edge_index))
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{fn}: argument 'edge_index' must be an integer array of shape "
                        f"(2, E), got dtype {a.dtype} with shape {a.shape}")
    if a.ndim != 2 or a.shape[0] != 2:
        raise ValueError(f"{fn}: argument 'edge_index' must have shape (2, E) (row 0 "
                         f"sources, row 1 targets), got {a.shape}")
    a = np.ascontiguousarray(a, np.int64)
    if num_nodes is not None:
        num_nodes = as_int(fn, "num_nodes", num_nodes, 0)
    n = num_nodes_of(a, num_nodes)
    if a.size and (a.min() < 0 or a.max() >= n):
        bad = a[(a < 0) | (a >= n)]
        raise ValueError(f"{fn}: argument 'edge_index' has node ids outside [0, {n}) "
                         f"(num_nodes={n}; first bad id: {int(bad[0])})")
    if edge_weight is not None:
        edge_weight = as_float_array(fn, "edge_weight", edge_weight, 1)
        if edge_weight.shape[0] != a.shape[1]:
            raise ValueError(f"{fn}: argument 'edge_weight' must have shape "
                             f"({a.shape[1]},) (one per edge), got {edge_weight.shape}")
    return a, n, edge_weight


def _weights(edge_index, edge_weight, dtype=np.float32):
    if edge_weight is None:
        return np.ones(edge_index.shape[1], dtype)
    return edge_weight


def adjacency(edge_index, num_nodes=None, edge_weight=None, dense=False):
    """A (num_nodes, num_nodes) with A[target, source] = the summed weights of the edges
    source -> target (1 each without edge_weight): a CSRMatrix with sorted, distinct
    column indices per row, or a dense ndarray (dense=True)."""
    fn = "adjacency"
    ei, n, w = check_edge_index(fn, edge_index, num_nodes, edge_weight)
    w = _weights(ei, w)
    if dense:
        out = np.zeros((n, n), w.dtype)
        np.add.at(out, (ei[1], ei[0]), w)
        return out
    key = ei[1] * max(n, 1) + ei[0]  # coalesce: sort by (target, source), sum duplicates
    uniq, inv = np.unique(key, return_inverse=True)
    data = np.zeros(uniq.shape[0], w.dtype)
    np.add.at(data, inv.reshape(-1), w)
    rows, cols = uniq // max(n, 1), uniq % max(n, 1)
    indptr = np.zeros(n + 1, np.int64)
    indptr[1:] = np.cumsum(np.bincount(rows, minlength=n))
    return CSRMatrix(indptr, cols.astype(np.int64), data, (n, n))


def degree(index, num_nodes=None, dtype=None, edge_weight=None):
    """How often each node id occurs in ``index`` (e.g. edge_index[1]: in-degrees), or the
    summed edge_weight per id; float32 unless dtype (or edge_weight's dtype) says else."""
    fn = "degree"
    index = np.asarray(index)
    if index.ndim != 1 or index.dtype == np.bool_ or not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"{fn}: argument 'index' must be a 1-D integer array, got dtype "
                        f"{index.dtype} with shape {index.shape}")
    ei, n, w = check_edge_index(fn, np.stack([index, index]), num_nodes, edge_weight)
    dt = dtype if dtype is not None else (w.dtype if w is not None else np.float32)
    return np.bincount(ei[0], weights=w, minlength=n).astype(dt)


def laplacian(edge_index, num_nodes=None, normalization=None, edge_weight=None, dense=False):
    """The graph Laplacian of the adjacency A (see adjacency) with D = diag(A's row sums):
    None: L = D - A;  "sym": I - D^-1/2 A D^-1/2;  "rw": I - D^-1 A (a node of degree 0
    gets a 0 row in D^-1/2 and D^-1, so L = I there). Weights must be non-negative.
    A CSRMatrix (dense=False) or a dense ndarray."""
    fn = "laplacian"
    if normalization not in (None, "sym", "rw"):
        raise ValueError(f"{fn}: argument 'normalization' must be None, 'sym' or 'rw', got "
                         f"{normalization!r}")
    ei, n, w = check_edge_index(fn, edge_index, num_nodes, edge_weight)
    if w is not None and w.size and not (w >= 0).all():
        raise ValueError(f"{fn}: argument 'edge_weight' must be non-negative for a Laplacian "
                         f"(min {w.min()})")
    A = adjacency(ei, n, w)
    rows = np.repeat(np.arange(n), np.diff(A.indptr))
    deg = np.bincount(rows, weights=A.data, minlength=n).astype(A.data.dtype)
    if normalization is None:
        diag, off = deg, -A.data
    else:
        inv = np.zeros_like(deg)
        pos = deg > 0
        if normalization == "sym":
            inv[pos] = deg[pos] ** -0.5
            off = -inv[rows] * A.data * inv[A.indices]
        else:
            inv[pos] = 1.0 / deg[pos]
            off = -inv[rows] * A.data
        diag = np.ones(n, A.data.dtype)
    # L = diag + off: append the diagonal, then coalesce as a CSR
    all_rows = np.concatenate([rows, np.arange(n)])
    all_cols = np.concatenate([A.indices, np.arange(n)])
    L = adjacency(np.stack([all_cols, all_rows]), n, np.concatenate([off, diag]).astype(
        A.data.dtype), dense=dense)
    return L


def _eigh(fn, L):
    if isinstance(L, CSRMatrix):
        L = L.toarray()
    L = as_float_array(fn, "L", L)
    if L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(f"{fn}: argument 'L' must be a square (n, n) matrix, got shape "
                         f"{L.shape}")
    return np.linalg.eigh(L)


def _signal(fn, x, n, dtype):
    x = as_float_array(fn, "x", x, (1, 2))
    if x.shape[0] != n:
        raise ValueError(f"{fn}: argument 'x' must have {n} rows (one per node of L), got "
                         f"shape {x.shape}")
    return x.astype(np.result_type(x.dtype, dtype), copy=False)


def graph_fourier(x, L):
    """x_hat = U^T x, with L = U diag(lambda) U^T (numpy.linalg.eigh: eigenvalues in
    ascending order). x (n,) or (n, F); L (n, n) dense or a CSRMatrix, symmetric."""
    _, U = _eigh("graph_fourier", L)
    return U.T @ _signal("graph_fourier", x, U.shape[0], U.dtype)


def inverse_graph_fourier(x_hat, L):
    """x = U x_hat, the inverse of graph_fourier on the same L."""
    _, U = _eigh("inverse_graph_fourier", L)
    return U @ _signal("inverse_graph_fourier", x_hat, U.shape[0], U.dtype)


def add_self_loops(edge_index, edge_weight=None, fill_value=1.0, num_nodes=None):
    """(edge_index with an edge i -> i appended for every node, edge_weight with
    fill_value for them, or None without edge_weight), as PyG's add_self_loops."""
    ei, n, w = check_edge_index("add_self_loops", edge_index, num_nodes, edge_weight)
    loop = np.arange(n, dtype=np.int64)
    out = np.concatenate([ei, np.stack([loop, loop])], axis=1)
    if w is None:
        return out, None
    return out, np.concatenate([w, np.full(n, fill_value, w.dtype)])


def to_undirected(edge_index, edge_weight=None, num_nodes=None):
    """Both directions of every edge, coalesced (sorted by source then target, duplicates
    merged with their weights added): edge_index, or (edge_index, edge_weight)."""
    ei, n, w = check_edge_index("to_undirected", edge_index, num_nodes, edge_weight)
    both = np.concatenate([ei, ei[::-1]], axis=1)
    key = both[0] * max(n, 1) + both[1]
    uniq, inv = np.unique(key, return_inverse=True)
    out = np.stack([uniq // max(n, 1), uniq % max(n, 1)]).astype(np.int64)
    if w is None:
        return out
    ww = np.zeros(uniq.shape[0], w.dtype)
    np.add.at(ww, inv.reshape(-1), np.concatenate([w, w]))
    return out, ww


GRAPH_KEYS = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")
KARATE_CITATION = ("W. W. Zachary, An Information Flow Model for Conflict and Fission in "
                   "Small Groups, Journal of Anthropological Research 33(4), 452-473, 1977")


def load_graph(path=None):
    """A node-classification graph as a dict of arrays: x (n, F) float32, edge_index (2, E)
    int64, y (n,) int64, train_mask / val_mask / test_mask (n,) bool. path: an .npz with
    those keys (x optional: one-hot node ids); None: the bundled Zachary karate club (34
    members, 78 friendships listed in both directions, the two factions after the split as
    labels, 4 labelled nodes (0, 1, 32, 33) for training, 8 for validation, 22 for test)."""
    from importlib import resources
    fn = "load_graph"
    if path is None:
        f = resources.files("chainrule.datasets").joinpath("karate.npz").open("rb")
    else:
        f = open(path, "rb")
    with f, np.load(f, allow_pickle=False) as z:
        missing = [k for k in GRAPH_KEYS[1:] if k not in z.files]
        if missing:
            raise ValueError(f"{fn}: {path} lacks the arrays {missing} (has {z.files})")
        g = {k: z[k] for k in GRAPH_KEYS if k in z.files}
    n = g["y"].shape[0]
    if "x" not in g:
        g["x"] = np.eye(n, dtype=np.float32)
    g["x"] = np.asarray(g["x"], np.float32)
    g["y"] = np.asarray(g["y"]).astype(np.int64)
    if g["x"].ndim != 2 or g["x"].shape[0] != n or g["y"].ndim != 1:
        raise ValueError(f"{fn}: x must be (n, F) and y (n,), got x {g['x'].shape}, y "
                         f"{g['y'].shape}")
    for k in GRAPH_KEYS[3:]:
        if g[k].shape != (n,) or g[k].dtype != np.bool_:
            raise ValueError(f"{fn}: {k} must be a bool array of shape ({n},), got "
                             f"{g[k].dtype} {g[k].shape}")
    g["edge_index"] = check_edge_index(fn, g["edge_index"], n)[0]
    return g
