/* gemm_avx2.c — AVX2+FMA GEMM micro-kernels (compiled with -mavx2 -mfma, called only
 * when the CPU reports avx2 and fma; see gemm.c for dispatch).
 *
 *   fp32: 6 x 16 tile (6 rows x 2 ymm), fp64: 6 x 8 tile (6 rows x 2 ymm).
 * 12 accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers (the Haswell
 * shape). Packed operands only: edge tiles are zero-padded by the packing in gemm.c.
 */
#include <immintrin.h>
#include <math.h>
#include "gemm_ukr.h"

/* Body shared by both dtypes. */
#define AVX2_KERNEL(NAME, T, VT, LANES, MR, V_ZERO, V_SET1, V_FMADD, V_MUL, V_ADD, V_LOAD,   \
                    V_LOADU, V_STORE, V_STOREU, S_FMA)                                    \
void NAME(CR_UKR_ARGS(T)) {                                                               \
    (void)rsa; (void)csa; (void)rsb;                                                      \
    enum { NR = 2 * LANES };                                                              \
    VT acc[MR][2];                                                                        \
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = V_ZERO();                        \
    for (int64_t p = 0; p < k; p++) {                                                     \
        VT b0 = V_LOAD(b), b1 = V_LOAD(b + LANES);                                        \
        _Pragma("GCC unroll 8")                                                           \
        for (int i = 0; i < MR; i++) {                                                    \
            VT a_i = V_SET1(a[i]);                                                        \
            acc[i][0] = V_FMADD(a_i, b0, acc[i][0]);                                      \
            acc[i][1] = V_FMADD(a_i, b1, acc[i][1]);                                      \
        }                                                                                 \
        a += MR;                                                                          \
        b += NR;                                                                          \
    }                                                                                     \
    if (m == MR && n == NR && csc == 1) {                                                 \
        VT va = V_SET1(alpha), vb = V_SET1(beta);                                         \
        VT bn0 = bias_n ? V_LOADU(bias_n) : V_ZERO();                                     \
        VT bn1 = bias_n ? V_LOADU(bias_n + LANES) : V_ZERO();                             \
        for (int i = 0; i < MR; i++) {                                                    \
            T *c_i = c + i * rsc;                                                         \
            VT bm = V_SET1(bias_m ? bias_m[i] : (T)0);                                    \
            VT x0 = V_MUL(va, acc[i][0]), x1 = V_MUL(va, acc[i][1]);                      \
            if (beta != 0) {                                                              \
                x0 = V_FMADD(vb, V_LOADU(c_i), x0);                                       \
                x1 = V_FMADD(vb, V_LOADU(c_i + LANES), x1);                               \
            }                                                                             \
            if (bias_n) { x0 = V_ADD(x0, bn0); x1 = V_ADD(x1, bn1); }                     \
            if (bias_m) { x0 = V_ADD(x0, bm); x1 = V_ADD(x1, bm); }                       \
            V_STOREU(c_i, x0);                                                            \
            V_STOREU(c_i + LANES, x1);                                                    \
        }                                                                                 \
    } else {                                                                              \
        T tmp[MR * NR] __attribute__((aligned(32)));                                      \
        for (int i = 0; i < MR; i++) {                                                    \
            V_STORE(tmp + i * NR, acc[i][0]);                                             \
            V_STORE(tmp + i * NR + LANES, acc[i][1]);                                     \
        }                                                                                 \
        for (int64_t i = 0; i < m; i++) {                                                 \
            for (int64_t j = 0; j < n; j++) {                                             \
                T *cij = c + i * rsc + j * csc;                                           \
                T x = alpha * tmp[i * NR + j];                                            \
                if (beta != 0) x = S_FMA(beta, *cij, x);                                  \
                if (bias_n) x = x + bias_n[j];                                            \
                if (bias_m) x = x + bias_m[i];                                            \
                *cij = x;                                                                 \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}

AVX2_KERNEL(cr_ukr_f32_avx2_packed, float, __m256, 8, CR_AVX2_MR_F32, _mm256_setzero_ps,
            _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_load_ps,
            _mm256_loadu_ps, _mm256_store_ps, _mm256_storeu_ps, fmaf)
AVX2_KERNEL(cr_ukr_f64_avx2_packed, double, __m256d, 4, CR_AVX2_MR_F64, _mm256_setzero_pd,
            _mm256_set1_pd, _mm256_fmadd_pd, _mm256_mul_pd, _mm256_add_pd, _mm256_load_pd,
            _mm256_loadu_pd, _mm256_store_pd, _mm256_storeu_pd, fma)
