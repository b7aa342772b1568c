/* gemm_avx2_tmpl.h — the AVX2 micro-kernel for one dtype; included by gemm_avx2.c with T,
 * SUF (the idiom of cpu.h) and the vector type VT, LANES, MR, the intrinsics V_* and S_FMA
 * defined. */
void CR_CAT3(cr_ukr_, SUF, _avx2_packed)(CR_UKR_ARGS(T)) {
    (void)rsa; (void)csa; (void)rsb;
    enum { NR = 2 * LANES };
    VT acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = V_ZERO();
    for (int64_t p = 0; p < k; p++) {
        VT b0 = V_LOAD(b), b1 = V_LOAD(b + LANES);
        #pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            VT a_i = V_SET1(a[i]);
            acc[i][0] = V_FMADD(a_i, b0, acc[i][0]);
            acc[i][1] = V_FMADD(a_i, b1, acc[i][1]);
        }
        a += MR;
        b += NR;
    }
    if (m == MR && n == NR && csc == 1) {
        VT va = V_SET1(alpha), vb = V_SET1(beta);
        VT bn0 = bias_n ? V_LOADU(bias_n) : V_ZERO();
        VT bn1 = bias_n ? V_LOADU(bias_n + LANES) : V_ZERO();
        for (int i = 0; i < MR; i++) {
            T *c_i = c + i * rsc;
            VT bm = V_SET1(bias_m ? bias_m[i] : (T)0);
            VT x0 = V_MUL(va, acc[i][0]), x1 = V_MUL(va, acc[i][1]);
            if (beta != 0) {
                x0 = V_FMADD(vb, V_LOADU(c_i), x0);
                x1 = V_FMADD(vb, V_LOADU(c_i + LANES), x1);
            }
            if (bias_n) { x0 = V_ADD(x0, bn0); x1 = V_ADD(x1, bn1); }
            if (bias_m) { x0 = V_ADD(x0, bm); x1 = V_ADD(x1, bm); }
            V_STOREU(c_i, x0);
            V_STOREU(c_i + LANES, x1);
        }
    } else {
        T tmp[MR * NR] __attribute__((aligned(32)));
        for (int i = 0; i < MR; i++) {
            V_STORE(tmp + i * NR, acc[i][0]);
            V_STORE(tmp + i * NR + LANES, acc[i][1]);
        }
        for (int64_t i = 0; i < m; i++) {
            for (int64_t j = 0; j < n; j++) {
                T *cij = c + i * rsc + j * csc;
                T x = alpha * tmp[i * NR + j];
                if (beta != 0) x = S_FMA(beta, *cij, x);
                if (bias_n) x = x + bias_n[j];
                if (bias_m) x = x + bias_m[i];
                *cij = x;
            }
        }
    }
}
