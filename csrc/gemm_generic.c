/* gemm_generic.c — portable C micro-kernel (any CPU; the compiler vectorizes the j loop
 * with whatever the baseline ISA offers). Works on packed and in-place operands alike:
 * it never reads rows >= m of a nor columns >= n of b.
 *
 *   acc[i][j] = sum_p a[i*rsa + p*csa] * b[p*rsb + j]        MR x NR tile, i < m, j < n
 *   C[i, j]   = alpha * acc + beta * C + bias_n[j] + bias_m[i]
 */
#include <math.h>
#include <string.h>
#include "gemm_ukr.h"

#define GENERIC_KERNEL(NAME, T, NR, S_FMA)                                                \
void NAME(CR_UKR_ARGS(T)) {                                                               \
    enum { MR = CR_GENERIC_MR };                                                          \
    T acc[MR][NR];                                                                        \
    memset(acc, 0, sizeof acc);                                                           \
    if (m == MR && n == NR) {                                                             \
        /* full tile: fixed trip counts so the compiler keeps acc in registers */         \
        for (int64_t p = 0; p < k; p++) {                                                 \
            const T *b_p = b + p * rsb;                                                   \
            for (int i = 0; i < MR; i++) {                                                \
                T a_ip = a[i * rsa + p * csa];                                            \
                for (int j = 0; j < NR; j++) acc[i][j] += a_ip * b_p[j];                  \
            }                                                                             \
        }                                                                                 \
    } else {                                                                              \
        for (int64_t p = 0; p < k; p++) {                                                 \
            const T *b_p = b + p * rsb;                                                   \
            for (int64_t i = 0; i < m; i++) {                                             \
                T a_ip = a[i * rsa + p * csa];                                            \
                for (int64_t j = 0; j < n; j++) acc[i][j] += a_ip * b_p[j];               \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    for (int64_t i = 0; i < m; i++) {                                                     \
        for (int64_t j = 0; j < n; j++) {                                                 \
            T *cij = c + i * rsc + j * csc;                                               \
            T x = alpha * acc[i][j];                                                      \
            if (beta != 0) x = S_FMA(beta, *cij, x);                                      \
            if (bias_n) x = x + bias_n[j];                                                \
            if (bias_m) x = x + bias_m[i];                                                \
            *cij = x;                                                                     \
        }                                                                                 \
    }                                                                                     \
}

GENERIC_KERNEL(cr_ukr_f32_generic, float, CR_GENERIC_NR_F32, fmaf)
GENERIC_KERNEL(cr_ukr_f64_generic, double, CR_GENERIC_NR_F64, fma)
