/* gemm_avx512_rows.h — one R-row version of the AVX-512 micro-kernels (R rows x 2 vectors
 * of accumulators), included by gemm_avx512_tmpl.h with R and ROWS_R(X) (X(i) for i < R)
 * defined. The packed A panel is always MR wide; only its first R rows are used. */
#define RCAT3_(a, b, c) a##b##c
#define RCAT3(a, b, c) RCAT3_(a, b, c)

static void RCAT3(FN_PACKED, _r, R)(int64_t k, const T *a, const T *b, T *c, int64_t rsc,
                                    int64_t csc, int64_t m, int64_t n, T alpha, T beta,
                                    const T *bias_n, const T *bias_m) {
    /* C is read/written once per k-block; start fetching its tile now so the write-out
     * does not wait on L3 (15% of the time at 1024^3 without this) */
    if (csc == 1)
        for (int64_t i = 0; i < m; i++) {
            _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * rsc + NR - 1), _MM_HINT_T0);
        }
    ROWS_R(ACC_DECL)
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; p++) {
        VT b0 = V_LOAD(b), b1 = V_LOAD(b + LANES);
        /* the panels PF_K steps ahead into L1 (the B micro-panel, KC x NR = 64 KiB, does
         * not fit L1; measured on the Xeon, 1 thread: 1.07-1.15x at 1024^3 and 2048^3 f32,
         * distance 8 better than 4, 12 or 16). Reads past the panel end are only hints. */
        _mm_prefetch((const char *)(b + PF_K * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PF_K * NR + LANES), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PF_K * MR), _MM_HINT_T0);
        ROWS_R(ACC_FMA_PACKED)
        a += MR;
        b += NR;
    }
    VT acc[MR][NV];
    ROWS_R(ACC_SAVE)
    FN_WRITE(acc, R, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
}

static void RCAT3(FN_STRIDED, _r, R)(CR_UKR_ARGS(T)) {
    const T *a_row[R];
    for (int i = 0; i < R; i++) a_row[i] = a + (i < m ? i : m - 1) * rsa;
    MASKT mk[NV];
    FN_MASKS(n, mk);
    if (csc == 1)
        for (int64_t i = 0; i < m; i++) {
            _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * rsc + NR - 1), _MM_HINT_T0);
        }
    ROWS_R(ACC_DECL)
    int64_t off = 0;
    if (n >= NR) { /* full width: plain loads */
#pragma GCC unroll 4
        for (int64_t p = 0; p < k; p++) {
            VT b0 = V_LOADU(b), b1 = V_LOADU(b + LANES);
            ROWS_R(ACC_FMA_STRIDED)
            off += csa;
            b += rsb;
        }
    } else {
#pragma GCC unroll 4
        for (int64_t p = 0; p < k; p++) {
            VT b0 = V_MASKZ_LOADU(mk[0], b), b1 = V_MASKZ_LOADU(mk[1], b + LANES);
            ROWS_R(ACC_FMA_STRIDED)
            off += csa;
            b += rsb;
        }
    }
    VT acc[MR][NV];
    ROWS_R(ACC_SAVE)
    FN_WRITE(acc, R, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
}

#undef RCAT3_
#undef RCAT3
