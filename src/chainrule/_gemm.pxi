# _gemm.pxi — bindings for csrc/gemm.c (included by _kernels.pyx)

cdef extern from "chainrule.h" nogil:
    void cr_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float beta, float *C, int64_t ldc,
                     const float *bias_n, const float *bias_m, int act)
    void cr_gemm_f64(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                     double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
                     double beta, double *C, int64_t ldc,
                     const double *bias_n, const double *bias_m, int act)
    const char *cr_gemm_path()


def gemm_path():
    return cr_gemm_path().decode()


def gemm(bint trans_a, bint trans_b, const floating[:, ::1] a, const floating[:, ::1] b,
         floating[:, ::1] c, double alpha=1.0, double beta=0.0,
         const floating[::1] bias_n=None, const floating[::1] bias_m=None, int act=0):
    """c = act(alpha * op(a) @ op(b) + beta * c + bias_n + bias_m[:, None]) in place."""
    cdef int64_t M = c.shape[0], N = c.shape[1]
    cdef int64_t K = a.shape[0] if trans_a else a.shape[1]
    cdef int64_t am = a.shape[1] if trans_a else a.shape[0]
    cdef int64_t bk = b.shape[1] if trans_b else b.shape[0]
    cdef int64_t bn = b.shape[0] if trans_b else b.shape[1]
    if am != M or bn != N or bk != K:
        raise ValueError(f"gemm: shapes do not agree: a ({a.shape[0]}, {a.shape[1]}), "
                         f"b ({b.shape[0]}, {b.shape[1]}), c ({M}, {N}), "
                         f"trans_a={trans_a}, trans_b={trans_b}")
    if bias_n is not None and bias_n.shape[0] != N:
        raise ValueError(f"gemm: bias_n has length {bias_n.shape[0]}, expected {N}")
    if bias_m is not None and bias_m.shape[0] != M:
        raise ValueError(f"gemm: bias_m has length {bias_m.shape[0]}, expected {M}")
    if M == 0 or N == 0:
        return
    cdef const floating *pa = &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL
    cdef const floating *pb = &b[0, 0] if b.shape[0] * b.shape[1] > 0 else NULL
    cdef const floating *pbn = &bias_n[0] if bias_n is not None else NULL
    cdef const floating *pbm = &bias_m[0] if bias_m is not None else NULL
    cdef int64_t lda = a.shape[1] if a.shape[1] > 0 else 1
    cdef int64_t ldb = b.shape[1] if b.shape[1] > 0 else 1
    with nogil:
        if floating is float:
            cr_gemm_f32(trans_a, trans_b, M, N, K, <float>alpha, pa, lda, pb, ldb,
                        <float>beta, &c[0, 0], N, pbn, pbm, act)
        else:
            cr_gemm_f64(trans_a, trans_b, M, N, K, alpha, pa, lda, pb, ldb,
                        beta, &c[0, 0], N, pbn, pbm, act)
