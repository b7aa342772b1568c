/* gemm_generic_tmpl.h — the portable micro-kernel for one dtype; included by gemm_generic.c
 * with T, SUF, NR (tile columns) and S_FMA (fmaf / fma) defined (the idiom of cpu.h). */
void CR_CAT3(cr_ukr_, SUF, _generic)(CR_UKR_ARGS(T)) {
    enum { MR = CR_GENERIC_MR };
    T acc[MR][NR];
    memset(acc, 0, sizeof acc);
    if (m == MR && n == NR) {
        /* full tile: fixed trip counts so the compiler keeps acc in registers */
        for (int64_t p = 0; p < k; p++) {
            const T *b_p = b + p * rsb;
            for (int i = 0; i < MR; i++) {
                T a_ip = a[i * rsa + p * csa];
                for (int j = 0; j < NR; j++) acc[i][j] += a_ip * b_p[j];
            }
        }
    } else {
        for (int64_t p = 0; p < k; p++) {
            const T *b_p = b + p * rsb;
            for (int64_t i = 0; i < m; i++) {
                T a_ip = a[i * rsa + p * csa];
                for (int64_t j = 0; j < n; j++) acc[i][j] += a_ip * b_p[j];
            }
        }
    }
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            T *cij = c + i * rsc + j * csc;
            T x = alpha * acc[i][j];
            if (beta != 0) x = S_FMA(beta, *cij, x);
            if (bias_n) x = x + bias_n[j];
            if (bias_m) x = x + bias_m[i];
            *cij = x;
        }
    }
}

/* Skinny-GEMM kernels (gemm_ukr.h): one sum per element over p in order. */
void CR_CAT3(cr_skinny_dot_, SUF, _generic)(CR_SKINNY_ARGS(T)) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < n; j++) {
            const T *ai = a + i * lda, *bj = b + j * ldb;
            T s = 0;
            for (int64_t p = 0; p < k; p++) s += ai[p] * bj[p];
            (void)accum;
            (void)pf;
            out[i * ors + j * ocs] = s;
        }
}

void CR_CAT3(cr_skinny_axpy_, SUF, _generic)(CR_SKINNY_ARGS(T)) {
    (void)pf;
    for (int64_t j = 0; j < n; j++) {
        T *o = out + j * ocs;
        if (!accum)
            for (int64_t i = 0; i < rows; i++) o[i * ors] = 0;
        for (int64_t p = 0; p < k; p++) { /* vectorizable over i */
            const T *ap = a + p * lda;
            const T bpj = b[p * ldb + j];
            for (int64_t i = 0; i < rows; i++) o[i * ors] += ap[i] * bpj;
        }
    }
}
