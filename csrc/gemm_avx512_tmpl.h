/* gemm_avx512_tmpl.h — the AVX-512 micro-kernel body, included once per dtype by
 * gemm_avx512.c with these macros defined:
 *   T (float/double), VT (__m512/__m512d), MASKT, LANES, MR, NV (vectors per row),
 *   V_ZERO, V_SET1, V_FMADD, V_MUL, V_ADD, V_LOAD, V_MASKZ_LOADU, V_MASK_STOREU, V_STORE,
 *   S_FMA (scalar fma), FN_PACKED, FN_STRIDED, FN_WRITE.
 * See gemm_ukr.h for the contract. Tile = MR rows x NV*LANES columns held in MR*NV
 * zmm accumulators (24 of the 32 registers), one broadcast of A per row per k step.
 */
#define NR (NV * LANES)

/* column masks: vector v of a row covers columns [v*LANES, v*LANES + LANES) */
static inline __attribute__((always_inline)) void FN_MASKS(int64_t n, MASKT mk[NV]) {
    for (int v = 0; v < NV; v++) {
        int64_t r = n - (int64_t)v * LANES;
        mk[v] = r >= LANES ? (MASKT)~(MASKT)0 : r <= 0 ? (MASKT)0 : (MASKT)((1u << r) - 1u);
    }
}

/* C = alpha*acc + beta*C + bias_n + bias_m for the m x n corner of the tile. */
static inline __attribute__((always_inline)) void
FN_WRITE(VT acc[MR][NV], T *c, int64_t rsc, int64_t csc, int64_t m, int64_t n, T alpha, T beta,
         const T *bias_n, const T *bias_m) {
    if (csc == 1) {
        MASKT mk[NV];
        FN_MASKS(n, mk);
        VT va = V_SET1(alpha), vb = V_SET1(beta), bn[NV];
        for (int v = 0; v < NV; v++)
            bn[v] = bias_n ? V_MASKZ_LOADU(mk[v], bias_n + v * LANES) : V_ZERO();
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            if (i >= m) break;
            T *c_i = c + i * rsc;
            VT bm = V_SET1(bias_m ? bias_m[i] : (T)0);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                VT x = V_MUL(va, acc[i][v]);
                if (beta != 0) x = V_FMADD(vb, V_MASKZ_LOADU(mk[v], c_i + v * LANES), x);
                if (bias_n) x = V_ADD(x, bn[v]);
                if (bias_m) x = V_ADD(x, bm);
                V_MASK_STOREU(c_i + v * LANES, mk[v], x);
            }
        }
    } else {
        /* transposed or strided C: spill the tile and write element by element, with the
         * same arithmetic as the vector path (mul, then fma with beta, then bias adds) */
        T tmp[MR * NR] __attribute__((aligned(64)));
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < NV; v++) V_STORE(tmp + i * NR + v * LANES, acc[i][v]);
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

/* Packed panels: a[p*MR + i], b[p*NR + j], zero-padded, 64-byte aligned. */
void FN_PACKED(CR_UKR_ARGS(T)) {
    (void)rsa; (void)csa; (void)rsb;
    VT acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = V_ZERO();
    for (int64_t p = 0; p < k; p++) {
        VT b_p[NV];
        for (int v = 0; v < NV; v++) b_p[v] = V_LOAD(b + v * LANES);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            VT a_i = V_SET1(a[i]);
            for (int v = 0; v < NV; v++) acc[i][v] = V_FMADD(a_i, b_p[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }
    FN_WRITE(acc, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
}

/* In-place operands: rows >= m of a are never touched (their pointers repeat row m-1),
 * columns >= n of b are masked off, so nothing outside the matrices is read. */
void FN_STRIDED(CR_UKR_ARGS(T)) {
    const T *a_row[MR];
    for (int i = 0; i < MR; i++) a_row[i] = a + (i < m ? i : m - 1) * rsa;
    MASKT mk[NV];
    FN_MASKS(n, mk);
    VT acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = V_ZERO();
    int64_t off = 0;
    for (int64_t p = 0; p < k; p++) {
        VT b_p[NV];
        for (int v = 0; v < NV; v++) b_p[v] = V_MASKZ_LOADU(mk[v], b + v * LANES);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            VT a_i = V_SET1(a_row[i][off]);
            for (int v = 0; v < NV; v++) acc[i][v] = V_FMADD(a_i, b_p[v], acc[i][v]);
        }
        off += csa;
        b += rsb;
    }
    FN_WRITE(acc, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
}

#undef NR
