/* gemm_ukr.h — internal: the micro-kernel interface shared by gemm.c and the per-ISA files.
 *
 * A micro-kernel computes one MR x NR tile of C from k steps:
 *
 *   acc[i][j] = sum_p a(i, p) * b(p, j)                 i < MR, j < NR, p < k
 *   C[i, j]   = alpha * acc[i][j] + beta * C[i, j] + bias_n[j] + bias_m[i]   i < m, j < n
 *
 * with a(i, p) = a[i * rsa + p * csa], b(p, j) = b[p * rsb + j] and
 * C[i, j] = c[i * rsc + j * csc]. beta == 0 never reads C; bias_n / bias_m may be NULL.
 * Only the first m rows and n columns of C are written.
 *
 * Two flavours per ISA:
 *   packed  — a is a packed MR-wide panel (rsa = 1, csa = MR), b a packed NR-wide panel
 *             (rsb = NR), both zero-padded and 64-byte aligned; the fastest loop.
 *   strided — reads a and b in place (any rsa/csa, unit column stride for b); must not read
 *             rows i >= m of a nor columns j >= n of b. May be NULL for an ISA, in which case
 *             gemm.c always packs.
 */
#ifndef CHAINRULE_GEMM_UKR_H
#define CHAINRULE_GEMM_UKR_H
#include <stdint.h>

#define CR_UKR_ARGS(T)                                                                    \
    int64_t k, const T *a, int64_t rsa, int64_t csa, const T *b, int64_t rsb, T *c,       \
    int64_t rsc, int64_t csc, int64_t m, int64_t n, T alpha, T beta, const T *bias_n,     \
    const T *bias_m

typedef void (*cr_ukr_f32)(CR_UKR_ARGS(float));
typedef void (*cr_ukr_f64)(CR_UKR_ARGS(double));

/* Register tile sizes of each path (rows MR broadcast from A, columns NR loaded from B). */
#define CR_AVX512_MR_F32 12
#define CR_AVX512_NR_F32 32
#define CR_AVX512_MR_F64 12
#define CR_AVX512_NR_F64 16
#define CR_AVX2_MR_F32 6
#define CR_AVX2_NR_F32 16
#define CR_AVX2_MR_F64 6
#define CR_AVX2_NR_F64 8
#define CR_GENERIC_MR 4
#define CR_GENERIC_NR_F32 16
#define CR_GENERIC_NR_F64 8

void cr_ukr_f32_generic(CR_UKR_ARGS(float));
void cr_ukr_f64_generic(CR_UKR_ARGS(double));
#ifdef CR_X86
void cr_ukr_f32_avx512_packed(CR_UKR_ARGS(float));
void cr_ukr_f32_avx512_strided(CR_UKR_ARGS(float));
void cr_ukr_f64_avx512_packed(CR_UKR_ARGS(double));
void cr_ukr_f64_avx512_strided(CR_UKR_ARGS(double));
void cr_ukr_f32_avx2_packed(CR_UKR_ARGS(float));
void cr_ukr_f64_avx2_packed(CR_UKR_ARGS(double));
#endif

#endif
