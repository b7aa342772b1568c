# _norm.pxi — bindings for csrc/norm.c (batch, group and layer norm) and csrc/dropout.c
# (included by _kernels.pyx).
#
# chainrule.ops validates every argument; these re-derive the sizes from the arrays and
# refuse anything that would let the C loops step out of bounds. Batch norm arrays are
# (N, C, L) views (L = H*W, or 1 for (N, C) input); optional per-channel arrays
# (weight, bias, and the gradients nobody wants) are None.

# batch norms / dropouts with at least this many elements run on cr_get_num_threads() threads
NORM_PARALLEL_MIN = CR_NORM_PARALLEL_MIN
DROPOUT_PARALLEL_MIN = CR_DROPOUT_PARALLEL_MIN


cdef int _per_channel(str fn, str name, Py_ssize_t n, Py_ssize_t C) except -1:
    if n != C:
        raise ValueError(f"{fn}: '{name}' has {n} elements, expected C = {C}")
    return 0


def batch_norm_forward(floating[:, :, ::1] y, floating[::1] mean, floating[::1] invstd,
                       double[::1] var, const floating[:, :, ::1] x,
                       const floating[::1] weight, const floating[::1] bias, double eps,
                       bint relu=False, const floating[:, :, ::1] residual=None):
    """Training forward over x (N, C, L): writes y (N, C, L), mean, invstd (C) and the
    biased batch variance var (C, float64). weight/bias: (C,) or None. residual (N, C, L)
    or None: y += residual; relu: y = max(y, 0); both in the same pass."""
    cdef int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef const floating *pw = NULL
    cdef const floating *pb = NULL
    cdef const floating *pr = NULL
    fn = "batch_norm_forward"
    if (y.shape[0], y.shape[1], y.shape[2]) != (N, C, L):
        raise ValueError(f"{fn}: 'y' must have the shape of x {(N, C, L)}")
    if residual is not None:
        if (residual.shape[0], residual.shape[1], residual.shape[2]) != (N, C, L):
            raise ValueError(f"{fn}: 'residual' must have the shape of x {(N, C, L)}")
        if N * C * L:
            pr = &residual[0, 0, 0]
    _per_channel(fn, "mean", mean.shape[0], C)
    _per_channel(fn, "invstd", invstd.shape[0], C)
    _per_channel(fn, "var", var.shape[0], C)
    if weight is not None:
        _per_channel(fn, "weight", weight.shape[0], C)
        if C:
            pw = &weight[0]
    if bias is not None:
        _per_channel(fn, "bias", bias.shape[0], C)
        if C:
            pb = &bias[0]
    if C == 0:
        return
    if N * L == 0:
        raise ValueError(f"{fn}: no values per channel in x {(N, C, L)}")
    with nogil:
        if floating is float:
            cr_batch_norm_forward_f32(&y[0, 0, 0], &mean[0], &invstd[0], &var[0], &x[0, 0, 0],
                                      pw, pb, N, C, L, eps, relu, pr)
        else:
            cr_batch_norm_forward_f64(&y[0, 0, 0], &mean[0], &invstd[0], &var[0], &x[0, 0, 0],
                                      pw, pb, N, C, L, eps, relu, pr)


def batch_norm_apply(floating[:, :, ::1] y, const floating[:, :, ::1] x,
                     const floating[::1] mean, const floating[::1] invstd,
                     const floating[::1] weight, const floating[::1] bias):
    """y = (x - mean) * invstd * weight + bias per channel (evaluation forward)."""
    cdef int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef const floating *pw = NULL
    cdef const floating *pb = NULL
    fn = "batch_norm_apply"
    if (y.shape[0], y.shape[1], y.shape[2]) != (N, C, L):
        raise ValueError(f"{fn}: 'y' must have the shape of x {(N, C, L)}")
    _per_channel(fn, "mean", mean.shape[0], C)
    _per_channel(fn, "invstd", invstd.shape[0], C)
    if weight is not None:
        _per_channel(fn, "weight", weight.shape[0], C)
        if C:
            pw = &weight[0]
    if bias is not None:
        _per_channel(fn, "bias", bias.shape[0], C)
        if C:
            pb = &bias[0]
    if N * C * L == 0:
        return
    with nogil:
        if floating is float:
            cr_batch_norm_apply_f32(&y[0, 0, 0], &x[0, 0, 0], &mean[0], &invstd[0], pw, pb,
                                    N, C, L)
        else:
            cr_batch_norm_apply_f64(&y[0, 0, 0], &x[0, 0, 0], &mean[0], &invstd[0], pw, pb,
                                    N, C, L)


def batch_norm_backward(const floating[:, :, ::1] dy, const floating[:, :, ::1] x,
                        const floating[::1] mean, const floating[::1] invstd,
                        const floating[::1] weight, floating[:, :, ::1] dx,
                        floating[::1] dweight, floating[::1] dbias, bint training,
                        const floating[:, :, ::1] relu_out=None, bint relu_x=False,
                        const floating[::1] bias=None):
    """WRITES dx (N, C, L), dweight, dbias (C) (each may be None: not wanted) from dy and
    x (N, C, L), mean and invstd (C), weight (C) or None; relu_out (N, C, L) or None: the
    output of a forward with relu (dy is masked where it is not > 0). relu_x: that mask
    recomputed from x, weight and bias (C) or None, as the forward computed y (needs dx;
    relu_out None). dx may be dy (in place) but must not overlap x. Inputs first here
    (unlike the C order) so the dtype is always taken from an array."""
    cdef int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef const floating *pw = NULL
    cdef floating *pdx = NULL
    cdef floating *pdw = NULL
    cdef floating *pdb = NULL
    cdef const floating *pr = NULL
    cdef const floating *pbias = NULL
    fn = "batch_norm_backward"
    if relu_x and (relu_out is not None or dx is None):
        raise ValueError(f"{fn}: relu_x needs dx and no relu_out")
    if bias is not None:
        _per_channel(fn, "bias", bias.shape[0], C)
        if C:
            pbias = &bias[0]
    if (dy.shape[0], dy.shape[1], dy.shape[2]) != (N, C, L):
        raise ValueError(f"{fn}: 'dy' must have the shape of x {(N, C, L)}")
    if relu_out is not None:
        if (relu_out.shape[0], relu_out.shape[1], relu_out.shape[2]) != (N, C, L):
            raise ValueError(f"{fn}: 'relu_out' must have the shape of x {(N, C, L)}")
        if N * C * L:
            pr = &relu_out[0, 0, 0]
    _per_channel(fn, "mean", mean.shape[0], C)
    _per_channel(fn, "invstd", invstd.shape[0], C)
    if weight is not None:
        _per_channel(fn, "weight", weight.shape[0], C)
        if C:
            pw = &weight[0]
    if dx is not None:
        if (dx.shape[0], dx.shape[1], dx.shape[2]) != (N, C, L):
            raise ValueError(f"{fn}: 'dx' must have the shape of x {(N, C, L)}")
        if N * C * L:
            pdx = &dx[0, 0, 0]
    if dweight is not None:
        _per_channel(fn, "dweight", dweight.shape[0], C)
        if C:
            pdw = &dweight[0]
    if dbias is not None:
        _per_channel(fn, "dbias", dbias.shape[0], C)
        if C:
            pdb = &dbias[0]
    if C == 0:
        return
    if N * L == 0:  # no values: zero parameter gradients
        for c in range(C):
            if pdw != NULL:
                pdw[c] = 0
            if pdb != NULL:
                pdb[c] = 0
        return
    with nogil:
        if floating is float:
            cr_batch_norm_backward_f32(pdx, pdw, pdb, &dy[0, 0, 0], &x[0, 0, 0], &mean[0],
                                       &invstd[0], pw, N, C, L, training, pr, relu_x, pbias)
        else:
            cr_batch_norm_backward_f64(pdx, pdw, pdb, &dy[0, 0, 0], &x[0, 0, 0], &mean[0],
                                       &invstd[0], pw, N, C, L, training, pr, relu_x, pbias)



cdef int _row_dims(str fn, Py_ssize_t R, Py_ssize_t K, int64_t G, int64_t L) except -1:
    if G < 1 or L < 1 or R % G or K % L:
        raise ValueError(f"{fn}: rows {R} / values per row {K} do not split into G = {G} "
                         f"groups / channels of L = {L} values")
    return 0


def row_norm_forward(floating[:, ::1] y, floating[::1] mean, floating[::1] rstd,
                     double[::1] var, const floating[:, ::1] x, const floating[::1] weight,
                     const floating[::1] bias, int64_t G, int64_t L, double eps):
    """Group / layer norm (csrc/norm.h): x (N*G, K) with K = Cg*L -> y (x's shape), mean
    and rstd (N*G), var (N*G, float64) or None; weight, bias (G*Cg) or None."""
    cdef int64_t R = x.shape[0], K = x.shape[1]
    cdef const floating *pw = NULL
    cdef const floating *pb = NULL
    cdef double *pv = NULL
    fn = "row_norm_forward"
    _row_dims(fn, R, K, G, L)
    cdef int64_t N = R // G, Cg = K // L
    if (y.shape[0], y.shape[1]) != (R, K):
        raise ValueError(f"{fn}: 'y' must have the shape of x {(R, K)}")
    _per_channel(fn, "mean", mean.shape[0], R)
    _per_channel(fn, "rstd", rstd.shape[0], R)
    if var is not None:
        _per_channel(fn, "var", var.shape[0], R)
        if R:
            pv = &var[0]
    if weight is not None:
        _per_channel(fn, "weight", weight.shape[0], G * Cg)
        if G * Cg:
            pw = &weight[0]
    if bias is not None:
        _per_channel(fn, "bias", bias.shape[0], G * Cg)
        if G * Cg:
            pb = &bias[0]
    if R == 0 or K == 0:
        return
    with nogil:
        if floating is float:
            cr_row_norm_forward_f32(&y[0, 0], &mean[0], &rstd[0], pv, &x[0, 0], pw, pb, N, G,
                                    Cg, L, eps)
        else:
            cr_row_norm_forward_f64(&y[0, 0], &mean[0], &rstd[0], pv, &x[0, 0], pw, pb, N, G,
                                    Cg, L, eps)


def row_norm_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                      const floating[::1] mean, const floating[::1] rstd,
                      const floating[::1] weight, floating[:, ::1] dx, floating[::1] dweight,
                      floating[::1] dbias, int64_t G, int64_t L):
    """WRITES dx (N*G, K), dweight, dbias (G*Cg) (each may be None: not wanted) from dy,
    x (N*G, K), mean, rstd (N*G) and weight (G*Cg) or None."""
    cdef int64_t R = x.shape[0], K = x.shape[1]
    cdef const floating *pw = NULL
    cdef floating *pdx = NULL
    cdef floating *pdw = NULL
    cdef floating *pdb = NULL
    cdef int rc
    fn = "row_norm_backward"
    _row_dims(fn, R, K, G, L)
    cdef int64_t N = R // G, Cg = K // L
    if (dy.shape[0], dy.shape[1]) != (R, K):
        raise ValueError(f"{fn}: 'dy' must have the shape of x {(R, K)}")
    _per_channel(fn, "mean", mean.shape[0], R)
    _per_channel(fn, "rstd", rstd.shape[0], R)
    if weight is not None:
        _per_channel(fn, "weight", weight.shape[0], G * Cg)
        if G * Cg:
            pw = &weight[0]
    if dx is not None:
        if (dx.shape[0], dx.shape[1]) != (R, K):
            raise ValueError(f"{fn}: 'dx' must have the shape of x {(R, K)}")
        if R * K:
            pdx = &dx[0, 0]
    if dweight is not None:
        _per_channel(fn, "dweight", dweight.shape[0], G * Cg)
        if G * Cg:
            pdw = &dweight[0]
    if dbias is not None:
        _per_channel(fn, "dbias", dbias.shape[0], G * Cg)
        if G * Cg:
            pdb = &dbias[0]
    if G * Cg == 0:
        return
    cdef const floating *pdy = &dy[0, 0] if R * K else NULL
    cdef const floating *px = &x[0, 0] if R * K else NULL
    cdef const floating *pm = &mean[0] if R else NULL
    cdef const floating *ps = &rstd[0] if R else NULL
    with nogil:
        if floating is float:
            rc = cr_row_norm_backward_f32(pdx, pdw, pdb, pdy, px, pm, ps, pw, N, G, Cg, L)
        else:
            rc = cr_row_norm_backward_f64(pdx, pdw, pdb, pdy, px, pm, ps, pw, N, G, Cg, L)
    if rc != 0:
        raise MemoryError(f"{fn}: could not allocate the parameter partial sums")

def philox4x32_10(ctr, key):
    """One Philox4x32-10 block: 4 uint32 words from a 4-word counter and a 2-word key."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t out[4]
    for i in range(4):
        c[i] = ctr[i]
    k[0] = key[0]
    k[1] = key[1]
    cr_philox4x32_10(out, c, k)
    return (out[0], out[1], out[2], out[3])


def dropout_mask(uint8_t[::1] mask, double p, uint64_t seed, uint64_t offset):
    """mask[i] = 1 if element i of the (seed, offset) stream is kept, else 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_mask: p must be in [0, 1], got {p}")
    cdef int64_t n = mask.shape[0]
    if n == 0:
        return
    with nogil:
        cr_dropout_mask(&mask[0], n, p, seed, offset)


def dropout_forward(floating[::1] y, uint8_t[::1] mask, const floating[::1] x, double p,
                    uint64_t seed, uint64_t offset):
    """y = x * mask / (1 - p) and mask (n,) from the (seed, offset) stream; 1-D arrays."""
    cdef int64_t n = x.shape[0]
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_forward: p must be in [0, 1], got {p}")
    if y.shape[0] != n or mask.shape[0] != n:
        raise ValueError(f"dropout_forward: sizes differ: y {y.shape[0]}, mask "
                         f"{mask.shape[0]}, x {n}")
    if n == 0:
        return
    with nogil:
        if floating is float:
            cr_dropout_forward_f32(&y[0], &mask[0], &x[0], n, p, seed, offset)
        else:
            cr_dropout_forward_f64(&y[0], &mask[0], &x[0], n, p, seed, offset)


def dropout_backward(floating[::1] dx, const floating[::1] dy, const uint8_t[::1] mask,
                     double p):
    """dx = dy * mask / (1 - p) (WRITES dx; may be dy); 1-D arrays of equal size."""
    cdef int64_t n = dy.shape[0]
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_backward: p must be in [0, 1], got {p}")
    if dx.shape[0] != n or mask.shape[0] != n:
        raise ValueError(f"dropout_backward: sizes differ: dx {dx.shape[0]}, mask "
                         f"{mask.shape[0]}, dy {n}")
    if n == 0:
        return
    with nogil:
        if floating is float:
            cr_dropout_backward_f32(&dx[0], &dy[0], &mask[0], n, p)
        else:
            cr_dropout_backward_f64(&dx[0], &dy[0], &mask[0], n, p)
