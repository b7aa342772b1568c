# _spmm.pxi — bindings for csrc/spmm.c (included by _kernels.pyx).
#
# chainrule.ops validates indptr (monotone, from 0 to nnz), indices and perm (in range)
# before calling; these re-check only the sizes that keep the C loops in bounds.

SPMM_PARALLEL_MIN = CR_SPMM_PARALLEL_MIN


def csr_from_coo(int64_t[::1] indptr, int64_t[::1] indices, int64_t[::1] perm,
                 const int64_t[::1] rows, const int64_t[::1] cols, int64_t n_cols):
    """CSR of the (rows[e], cols[e]) pairs by a stable counting sort: indptr (n_rows + 1),
    indices (E) the cols, perm (E) the edge ids in CSR order. Returns the number of
    out-of-range ids (0 when the CSR was written)."""
    cdef int64_t E = rows.shape[0], R = indptr.shape[0] - 1, bad
    if R < 0 or cols.shape[0] != E or indices.shape[0] != E or perm.shape[0] != E:
        raise ValueError(f"csr_from_coo: sizes do not agree: indptr {indptr.shape[0]}, "
                         f"indices {indices.shape[0]}, perm {perm.shape[0]}, rows {E}, "
                         f"cols {cols.shape[0]}")
    with nogil:
        bad = cr_csr_from_coo(&indptr[0], &indices[0] if E else NULL,
                              &perm[0] if E else NULL, &rows[0] if E else NULL,
                              &cols[0] if E else NULL, R, n_cols, E)
    return bad


cdef int _csr_sizes(const char *fn, Py_ssize_t R, Py_ssize_t nnz, Py_ssize_t nind,
                    Py_ssize_t nperm) except -1:
    if R < 0 or nind != nnz or (nperm >= 0 and nperm != nnz):
        raise ValueError(f"{fn.decode()}: CSR sizes do not agree: {R} rows, indptr[-1] "
                         f"{nnz}, indices {nind}, perm {nperm}")
    return 0


def spmm(floating[:, ::1] y, const int64_t[::1] indptr, const int64_t[::1] indices,
         const floating[::1] values, perm, const floating[:, ::1] x):
    """y (R, F) = A x (WRITES y) for A in CSR (indptr, indices, values[perm]); perm is an
    int64 array or None (values in CSR order)."""
    cdef int64_t R = indptr.shape[0] - 1, F = x.shape[1]
    cdef const int64_t[::1] p
    cdef const int64_t *pp = NULL
    if perm is not None:
        p = perm
        pp = &p[0] if p.shape[0] else NULL
    _csr_sizes(b"spmm", R, indptr[R] if R >= 0 else 0, indices.shape[0],
               -1 if perm is None else p.shape[0])
    if y.shape[0] != R or y.shape[1] != F:
        raise ValueError(f"spmm: y has shape ({y.shape[0]}, {y.shape[1]}), expected ({R}, {F})")
    if values.shape[0] < indices.shape[0] and perm is None:
        raise ValueError("spmm: fewer values than entries")
    if R == 0 or F == 0:
        return
    with nogil:
        if floating is float:
            cr_spmm_f32(&y[0, 0], &indptr[0], &indices[0] if indices.shape[0] else NULL,
                        &values[0] if values.shape[0] else NULL, pp,
                        &x[0, 0] if x.shape[0] else NULL, R, F)
        else:
            cr_spmm_f64(&y[0, 0], &indptr[0], &indices[0] if indices.shape[0] else NULL,
                        &values[0] if values.shape[0] else NULL, pp,
                        &x[0, 0] if x.shape[0] else NULL, R, F)


def sddmm(floating[::1] dvalues, const int64_t[::1] indptr, const int64_t[::1] indices,
          perm, const floating[:, ::1] dy, const floating[:, ::1] x):
    """dvalues[perm[j]] = <dy[i], x[indices[j]]> for every entry j of row i (WRITES)."""
    cdef int64_t R = indptr.shape[0] - 1, F = x.shape[1]
    cdef const int64_t[::1] p
    cdef const int64_t *pp = NULL
    if perm is not None:
        p = perm
        pp = &p[0] if p.shape[0] else NULL
    _csr_sizes(b"sddmm", R, indptr[R] if R >= 0 else 0, indices.shape[0],
               -1 if perm is None else p.shape[0])
    if dy.shape[0] != R or dy.shape[1] != F or dvalues.shape[0] < indices.shape[0]:
        raise ValueError(f"sddmm: dy ({dy.shape[0]}, {dy.shape[1]}) or dvalues "
                         f"({dvalues.shape[0]},) do not match {R} rows, {F} features")
    if R == 0 or indices.shape[0] == 0:
        return
    if F == 0:
        dvalues[:indices.shape[0]] = 0
        return
    with nogil:
        if floating is float:
            cr_sddmm_f32(&dvalues[0], &indptr[0], &indices[0], pp,
                         &dy[0, 0], &x[0, 0], R, F)
        else:
            cr_sddmm_f64(&dvalues[0], &indptr[0], &indices[0], pp,
                         &dy[0, 0], &x[0, 0], R, F)
