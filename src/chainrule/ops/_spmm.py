"""Sparse (CSR) x dense matmul for graph layers (C, csrc/spmm.c), NumPy in/out.

A sparse R x C matrix is (indptr, indices, values[, perm]): row i holds entries j in
[indptr[i], indptr[i+1]) at column indices[j] with value values[perm[j]] (perm None:
values[j]). perm keeps the values in the caller's edge order, so one edge-weight vector
serves A and A^T. csr_from_coo builds both from an edge list (a stable counting sort);
spmm_backward gets dx = A^T dy from the transpose (no atomics, deterministic) and
d(values) as a sampled dense-dense product. Threads split rows by nonzero count.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._spmm_checks import coo_args, spmm_args, spmm_backward_args

__all__ = ["csr_from_coo", "spmm", "spmm_backward"]


def csr_from_coo(rows: np.ndarray, cols: np.ndarray, num_rows: int,
                 num_cols: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the num_rows x num_cols pattern with entries at (rows[e], cols[e]) ->
    (indptr (num_rows + 1,), indices (E,), perm (E,)) int64: entries sorted by row, in edge
    order within a row (stable); perm[j] is the edge id of entry j. Duplicates stay
    separate entries (spmm sums them)."""
    fn = "csr_from_coo"
    rows, cols, num_rows, num_cols = coo_args(fn, rows, cols, num_rows, num_cols)
    E = rows.shape[0]
    indptr: np.ndarray = np.empty(num_rows + 1, np.int64)
    indices = np.empty(E, np.int64)
    perm = np.empty(E, np.int64)
    if _kernels.csr_from_coo(indptr, indices, perm, rows, cols, num_cols):
        raise ValueError(f"{fn}: ids out of range")  # pragma: no cover - coo_args checked
    return indptr, indices, perm


def spmm(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, x: np.ndarray,
         perm: Optional[np.ndarray] = None) -> np.ndarray:
    """y = A x: A (R, C) in CSR, x (C, F) float -> y (R, F) in x's dtype. values (nnz,)
    shares x's dtype; duplicate entries add up; empty rows give zeros."""
    indptr, indices, values, x, perm = spmm_args("spmm", indptr, indices, values, x, perm)
    y = np.empty((indptr.shape[0] - 1, x.shape[1]), x.dtype)
    _kernels.spmm(y, indptr, indices, values, perm, x)
    return y


def spmm_backward(dy: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
                  x: np.ndarray, t_indptr: np.ndarray, t_indices: np.ndarray, t_perm: np.ndarray,
                  perm: Optional[np.ndarray] = None, need_dx: bool = True,
                  need_dvalues: bool = True) -> Tuple[Any, Any]:
    """Gradients of y = spmm(indptr, indices, values, x, perm) for upstream dy (R, F):
    (dx (C, F) = A^T dy, dvalues (nnz,) with dvalues[e] = <dy[row_e], x[col_e]> in the
    order of ``values``); None for what is not needed. (t_indptr, t_indices, t_perm) is
    A^T's CSR whose t_perm points into ``values`` (csr_from_coo(cols, rows, C, R) when A
    came from csr_from_coo(rows, cols, R, C); then perm is that call's perm)."""
    fn = "spmm_backward"
    dy, indptr, indices, values, x, t_indptr, t_indices, t_perm, perm = spmm_backward_args(
        fn, dy, indptr, indices, values, x, t_indptr, t_indices, t_perm, perm)
    dx = dvalues = None
    if need_dx:
        dx = np.empty(x.shape, x.dtype)
        _kernels.spmm(dx, t_indptr, t_indices, values, t_perm, dy)
    if need_dvalues:
        dvalues = np.empty(values.shape, values.dtype)
        _kernels.sddmm(dvalues, indptr, indices, perm, dy, x)
    return dx, dvalues
