"""Argument checks shared by chainrule.ops and chainrule.reference for the sparse-dense
kernels (spmm, spmm_backward, csr_from_coo): both sides accept and reject the same calls."""
import numpy as np

from ._checks import as_float_array, as_index_array, as_int, same_dtype


def index_vector(fn, name, a, length=None):
    a = as_index_array(fn, name, a)
    if a.ndim != 1 or (length is not None and a.shape[0] != length):
        want = "(E,)" if length is None else f"({length},)"
        raise ValueError(f"{fn}: argument '{name}' must have shape {want}, got {a.shape}")
    return a


def in_range(fn, name, a, hi, what):
    """Every entry of a in [0, hi); ValueError naming the first one that is not."""
    # one reduction finds negatives too: as unsigned they are >= 2**63 > hi
    if a.size and a.view(np.uint64).max() >= hi:
        bad = a[(a < 0) | (a >= hi)]
        raise ValueError(f"{fn}: argument '{name}' has {bad.size} {what} outside [0, {hi}) "
                         f"(first: {int(bad[0])})")


def csr(fn, indptr, indices, perm, num_cols, prefix=""):
    """Validated (indptr, indices, perm) of a CSR matrix with num_cols columns."""
    indptr = index_vector(fn, prefix + "indptr", indptr)
    if indptr.shape[0] < 1:
        raise ValueError(f"{fn}: argument '{prefix}indptr' must have num_rows + 1 >= 1 "
                         f"entries, got shape {indptr.shape}")
    indices = index_vector(fn, prefix + "indices", indices)
    nnz = indices.shape[0]
    if indptr[0] != 0 or indptr[-1] != nnz or (indptr.shape[0] > 1
                                                and np.diff(indptr).min() < 0):
        raise ValueError(f"{fn}: argument '{prefix}indptr' must rise from 0 to "
                         f"len({prefix}indices) = {nnz} without decreasing, got "
                         f"{indptr[0]} ... {indptr[-1]} over {indptr.shape[0]} entries")
    in_range(fn, prefix + "indices", indices, num_cols, "column indices")
    if perm is not None:
        perm = index_vector(fn, prefix + "perm", perm, nnz)
        in_range(fn, prefix + "perm", perm, nnz, "entries")
    return indptr, indices, perm


def spmm_args(fn, indptr, indices, values, x, perm):
    x = as_float_array(fn, "x", x, 2)
    values = as_float_array(fn, "values", values, 1)
    same_dtype(fn, values=values, x=x)
    indptr, indices, perm = csr(fn, indptr, indices, perm, x.shape[0])
    if values.shape[0] != indices.shape[0]:
        raise ValueError(f"{fn}: argument 'values' must have one entry per nonzero "
                         f"({indices.shape[0]},), got {values.shape}")
    return indptr, indices, values, x, perm


def spmm_backward_args(fn, dy, indptr, indices, values, x, t_indptr, t_indices, t_perm,
                       perm):
    indptr, indices, values, x, perm = spmm_args(fn, indptr, indices, values, x, perm)
    dy = as_float_array(fn, "dy", dy, 2)
    same_dtype(fn, dy=dy, x=x)
    R, C, F = indptr.shape[0] - 1, x.shape[0], x.shape[1]
    if dy.shape != (R, F):
        raise ValueError(f"{fn}: argument 'dy' must have shape ({R}, {F}) (rows of A, "
                         f"features of x {x.shape}), got {dy.shape}")
    t_indptr, t_indices, t_perm = csr(fn, t_indptr, t_indices, t_perm, R, "t_")
    if t_indptr.shape[0] != C + 1 or t_indices.shape[0] != indices.shape[0]:
        raise ValueError(f"{fn}: the transpose must have {C} rows and {indices.shape[0]} "
                         f"nonzeros, got t_indptr {t_indptr.shape}, t_indices "
                         f"{t_indices.shape}")
    for name, p in (("perm", perm), ("t_perm", t_perm)):
        if p is not None and p.size and np.bincount(p, minlength=p.size).max() > 1:
            raise ValueError(f"{fn}: argument '{name}' must be a permutation of "
                             f"range({p.size}) (an edge listed twice)")
    return dy, indptr, indices, values, x, t_indptr, t_indices, t_perm, perm


def coo_args(fn, rows, cols, num_rows, num_cols):
    num_rows = as_int(fn, "num_rows", num_rows, 0)
    num_cols = as_int(fn, "num_cols", num_cols, 0)
    rows = index_vector(fn, "rows", rows)
    cols = index_vector(fn, "cols", cols, rows.shape[0])
    in_range(fn, "rows", rows, num_rows, "row ids")
    in_range(fn, "cols", cols, num_cols, "column ids")
    return rows, cols, num_rows, num_cols
