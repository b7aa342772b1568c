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
