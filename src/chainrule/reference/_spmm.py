"""Sparse (CSR) x dense matmul, the NumPy definition (twin of chainrule.ops._spmm)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._spmm_checks import coo_args, spmm_args, spmm_backward_args

__all__ = ["csr_from_coo", "spmm", "spmm_backward"]


def csr_from_coo(rows: np.ndarray, cols: np.ndarray, num_rows: int,
                 num_cols: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the entries (rows[e], cols[e]): a stable sort of the edges by row."""
    rows, cols, num_rows, num_cols = coo_args("csr_from_coo", rows, cols, num_rows, num_cols)
    perm = np.argsort(rows, kind="stable").astype(np.int64)
    indptr: np.ndarray = np.zeros(num_rows + 1, np.int64)
    indptr[1:] = np.cumsum(np.bincount(rows, minlength=num_rows))
    return indptr, cols[perm], perm


def _rows(indptr):
    """The row of every entry: row i repeated indptr[i+1] - indptr[i] times."""
    return np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr))


def spmm(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, x: np.ndarray,
         perm: Optional[np.ndarray] = None) -> np.ndarray:
    """y[i] = sum over entries j of row i of values[perm[j]] * x[indices[j]]."""
    indptr, indices, values, x, perm = spmm_args("spmm", indptr, indices, values, x, perm)
    v = values if perm is None else values[perm]
    y = np.zeros((indptr.shape[0] - 1, x.shape[1]), x.dtype)
    np.add.at(y, _rows(indptr), v[:, None] * x[indices])
    return y


def spmm_backward(dy: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
                  x: np.ndarray, t_indptr: np.ndarray, t_indices: np.ndarray, t_perm: np.ndarray,
                  perm: Optional[np.ndarray] = None, need_dx: bool = True,
                  need_dvalues: bool = True) -> Tuple[Any, Any]:
    """dx[c] = sum over entries (i, c) of value * dy[i]; dvalues = <dy[row], x[col]> per
    entry, stored at the entry's position in ``values``. The transpose is only checked."""
    dy, indptr, indices, values, x, t_indptr, t_indices, t_perm, perm = spmm_backward_args(
        "spmm_backward", dy, indptr, indices, values, x, t_indptr, t_indices, t_perm, perm)
    rows = _rows(indptr)
    pos = np.arange(indices.shape[0]) if perm is None else perm
    dx = dvalues = None
    if need_dx:
        dx = np.zeros(x.shape, x.dtype)
        np.add.at(dx, indices, values[pos][:, None] * dy[rows])
    if need_dvalues:
        dvalues = np.zeros(values.shape, values.dtype)
        dvalues[pos] = np.einsum("ef,ef->e", dy[rows], x[indices])
    return dx, dvalues
