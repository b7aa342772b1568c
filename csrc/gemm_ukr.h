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

/* Transposing pack: dst[p*W + r] = src[r*ld + p] (r < R), 0 for R <= r < W, p < kc. */
typedef void (*cr_pack_t_f32)(float *dst, int64_t W, const float *src, int64_t ld, int64_t R,
                              int64_t kc);
typedef void (*cr_pack_t_f64)(double *dst, int64_t W, const double *src, int64_t ld, int64_t R,
                              int64_t kc);

/* Skinny-GEMM kernels (gemm_skinny_tmpl.h): raw sums out(i, j) = sum_p a(i, p) * b(p, j) for
 * i < rows, j < n (n <= 32), out(i, j) = out[i*ors + j*ocs].
 *   dot:  a(i, p) = a[i*lda + p] (rows of the big operand contiguous), b(p, j) = b[j*ldb + p];
 *   axpy: a(i, p) = a[i + p*lda] (its columns contiguous), b(p, j) = b[p*ldb + j]; ors == 1;
 *         with accum, the sums continue from out (the caller splits K in chunks for L1 and
 *         TLB: each element still gets one fused sum over p in order). dot ignores accum.
 *   pf:   rows of a past the k used here (p = k .. k+pf-1, same columns) that exist and come
 *         next: axpy may prefetch them into L2 (a hint only; dot and generic ignore it).
 * Each element's arithmetic does not depend on where it falls in the block (see
 * gemm_skinny_simd_tmpl.h), so results do not depend on the thread split. */
#define CR_SKINNY_ARGS(T)                                                                 \
    int64_t rows, int64_t n, int64_t k, const T *a, int64_t lda, const T *b, int64_t ldb, \
    T *out, int64_t ors, int64_t ocs, int accum, int64_t pf
typedef void (*cr_skinny_f32)(CR_SKINNY_ARGS(float));
typedef void (*cr_skinny_f64)(CR_SKINNY_ARGS(double));

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
void cr_skinny_dot_f32_generic(CR_SKINNY_ARGS(float));
void cr_skinny_axpy_f32_generic(CR_SKINNY_ARGS(float));
void cr_skinny_dot_f64_generic(CR_SKINNY_ARGS(double));
void cr_skinny_axpy_f64_generic(CR_SKINNY_ARGS(double));
#ifdef CR_X86
void cr_ukr_f32_avx512_packed(CR_UKR_ARGS(float));
void cr_ukr_f32_avx512_strided(CR_UKR_ARGS(float));
void cr_ukr_f64_avx512_packed(CR_UKR_ARGS(double));
void cr_ukr_f64_avx512_strided(CR_UKR_ARGS(double));
void cr_pack_t_f32_avx512(float *dst, int64_t W, const float *src, int64_t ld, int64_t R,
                          int64_t kc);
void cr_pack_t_f64_avx512(double *dst, int64_t W, const double *src, int64_t ld, int64_t R,
                          int64_t kc);
void cr_ukr_f32_avx2_packed(CR_UKR_ARGS(float));
void cr_ukr_f64_avx2_packed(CR_UKR_ARGS(double));
void cr_skinny_dot_f32_avx512(CR_SKINNY_ARGS(float));
void cr_skinny_axpy_f32_avx512(CR_SKINNY_ARGS(float));
void cr_skinny_dot_f64_avx512(CR_SKINNY_ARGS(double));
void cr_skinny_axpy_f64_avx512(CR_SKINNY_ARGS(double));
void cr_skinny_dot_f32_avx2(CR_SKINNY_ARGS(float));
void cr_skinny_axpy_f32_avx2(CR_SKINNY_ARGS(float));
void cr_skinny_dot_f64_avx2(CR_SKINNY_ARGS(double));
void cr_skinny_axpy_f64_avx2(CR_SKINNY_ARGS(double));
#endif

#endif
