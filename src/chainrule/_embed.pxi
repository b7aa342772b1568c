# _embed.pxi — bindings for csrc/embed.c, embedding gather / scatter-add (included by
# _kernels.pyx; the C declarations are in _kernels.pxd)
#
# chainrule.ops validates shapes, dtypes and the index range; the sizes and every index
# are re-checked here so that the C code stays in bounds whatever is passed.

cdef int _emb_indices_in_range(const int64_t[::1] idx, int64_t num) except -1:
    cdef int64_t i, n = idx.shape[0]
    for i in range(n):
        if idx[i] < 0 or idx[i] >= num:
            raise ValueError(f"embedding: index {idx[i]} out of range [0, {num})")
    return 0


def embedding_forward(floating[:, ::1] out not None, const floating[:, ::1] weight not None,
                      const int64_t[::1] idx not None):
    """out (n, dim) = weight[idx] for idx (n,) int64."""
    cdef int64_t n = idx.shape[0], dim = weight.shape[1]
    if out.shape[0] != n or out.shape[1] != dim:
        raise ValueError(f"embedding_forward: 'out' has shape {(out.shape[0], out.shape[1])}, "
                         f"expected {(n, dim)}")
    _emb_indices_in_range(idx, weight.shape[0])
    if n == 0 or dim == 0:
        return
    with nogil:
        if floating is float:
            cr_embedding_forward_f32(&out[0, 0], &weight[0, 0], &idx[0], n, dim)
        else:
            cr_embedding_forward_f64(&out[0, 0], &weight[0, 0], &idx[0], n, dim)


def embedding_backward(floating[:, ::1] dweight not None, const floating[:, ::1] dout not None,
                       const int64_t[::1] idx not None, int64_t padding_idx,
                       bint scale_grad_by_freq, bint zeroed=False):
    """dweight (num, dim) WRITTEN with the row sums of dout (n, dim) over idx (n,);
    zeroed=True: dweight is all zeros already, only rows with lookups are written."""
    cdef int64_t n = idx.shape[0], num = dweight.shape[0], dim = dweight.shape[1]
    if dout.shape[0] != n or dout.shape[1] != dim:
        raise ValueError(f"embedding_backward: 'dout' has shape "
                         f"{(dout.shape[0], dout.shape[1])}, expected {(n, dim)}")
    _emb_indices_in_range(idx, num)
    if num == 0 or dim == 0:
        return
    cdef const floating *pd = &dout[0, 0] if n > 0 else NULL
    cdef const int64_t *pi = &idx[0] if n > 0 else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_embedding_backward_f32(&dweight[0, 0], pd, pi, n, num, dim, padding_idx,
                                           scale_grad_by_freq, zeroed)
        else:
            rc = cr_embedding_backward_f64(&dweight[0, 0], pd, pi, n, num, dim, padding_idx,
                                           scale_grad_by_freq, zeroed)
    if rc != 0:
        raise MemoryError("embedding_backward: could not allocate a work buffer")
