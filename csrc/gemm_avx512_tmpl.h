/* gemm_avx512_tmpl.h — the AVX-512 micro-kernel body, included once per dtype by
 * gemm_avx512.c with these macros defined:
 *   T (float/double), VT (__m512/__m512d), MASKT, LANES, MR, NV (vectors per row),
 *   V_ZERO, V_SET1, V_FMADD, V_MUL, V_ADD, V_LOAD, V_MASKZ_LOADU, V_MASK_STOREU, V_STORE,
 *   S_FMA (scalar fma), FN_PACKED, FN_STRIDED, FN_WRITE.
 * See gemm_ukr.h for the contract. Tile = MR rows x NV*LANES columns held in MR*NV
 * zmm accumulators (24 of the 32 registers), one broadcast of A per row per k step.
 */
#define NR (NV * LANES)
#define PF_K 8 /* packed kernels: prefetch distance in k steps */

/* column masks: vector v of a row covers columns [v*LANES, v*LANES + LANES) */
static inline __attribute__((always_inline)) void FN_MASKS(int64_t n, MASKT mk[NV]) {
    for (int v = 0; v < NV; v++) {
        int64_t r = n - (int64_t)v * LANES;
        mk[v] = r >= LANES ? (MASKT)~(MASKT)0 : r <= 0 ? (MASKT)0 : (MASKT)((1u << r) - 1u);
    }
}

/* C = alpha*acc + beta*C + bias_n + bias_m for the m x n corner of the tile. */
static inline __attribute__((always_inline)) void
FN_WRITE(VT acc[MR][NV], int rows, T *c, int64_t rsc, int64_t csc, int64_t m, int64_t n,
         T alpha, T beta, const T *bias_n, const T *bias_m) {
    /* rows: how many rows of acc the kernel computed (a constant once inlined); m <= rows */
    if (m > rows) m = rows;
    if (csc == 1) {
        MASKT mk[NV];
        FN_MASKS(n, mk);
        VT va = V_SET1(alpha), vb = V_SET1(beta), bn[NV];
        for (int v = 0; v < NV; v++)
            bn[v] = bias_n ? V_MASKZ_LOADU(mk[v], bias_n + v * LANES) : V_ZERO();
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            if (i >= m || i >= rows) break;
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
        for (int i = 0; i < MR; i++) {
            if (i >= m || i >= rows) break;
            for (int v = 0; v < NV; v++) V_STORE(tmp + i * NR + v * LANES, acc[i][v]);
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

/* The accumulators are named variables, not an array: gcc keeps a 24-vector array in
 * memory (it will not scalarize an aggregate that large) and then stores it every k step.
 * The kernels come in 12-, 8- and 4-row versions (gemm_avx512_rows.h, included three
 * times): the last row tile of C uses the smallest that covers it (64 = 5*12 + 4 rows
 * then costs 64 rows of work, not 72). */
#define ACC_DECL(i) VT c##i##_0 = V_ZERO(), c##i##_1 = V_ZERO();
#define ACC_FMA(i, a_i) { VT av_ = V_SET1(a_i); c##i##_0 = V_FMADD(av_, b0, c##i##_0); \
                          c##i##_1 = V_FMADD(av_, b1, c##i##_1); }
#define ACC_FMA_PACKED(i) ACC_FMA(i, a[i])
#define ACC_FMA_STRIDED(i) ACC_FMA(i, a_row[i][off])
#define ACC_SAVE(i) acc[i][0] = c##i##_0; acc[i][1] = c##i##_1;

#define ROWS_R(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define R 12
#include "gemm_avx512_rows.h"
#undef ROWS_R
#undef R
#define ROWS_R(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define R 8
#include "gemm_avx512_rows.h"
#undef ROWS_R
#undef R
#define ROWS_R(X) X(0) X(1) X(2) X(3)
#define R 4
#include "gemm_avx512_rows.h"
#undef ROWS_R
#undef R

#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)
#define ROWS_FN(name, r) CAT3(name, _r, r)

/* Packed panels: a[p*MR + i], b[p*NR + j], zero-padded, 64-byte aligned. */
void FN_PACKED(CR_UKR_ARGS(T)) {
    if (m > 8)
        ROWS_FN(FN_PACKED, 12)(k, a, b, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
    else if (m > 4)
        ROWS_FN(FN_PACKED, 8)(k, a, b, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
    else
        ROWS_FN(FN_PACKED, 4)(k, a, b, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
    (void)rsa; (void)csa; (void)rsb;
}

/* In-place operands: rows >= m of a are never touched (their pointers repeat row m-1),
 * columns >= n of b are masked off, so nothing outside the matrices is read. */
void FN_STRIDED(CR_UKR_ARGS(T)) {
    if (m > 8)
        ROWS_FN(FN_STRIDED, 12)(k, a, rsa, csa, b, rsb, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
    else if (m > 4)
        ROWS_FN(FN_STRIDED, 8)(k, a, rsa, csa, b, rsb, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
    else
        ROWS_FN(FN_STRIDED, 4)(k, a, rsa, csa, b, rsb, c, rsc, csc, m, n, alpha, beta, bias_n, bias_m);
}

#undef CAT3_
#undef CAT3
#undef ROWS_FN
#undef ACC_DECL
#undef ACC_FMA
#undef ACC_FMA_PACKED
#undef ACC_FMA_STRIDED
#undef ACC_SAVE
#undef NR
#undef PF_K
