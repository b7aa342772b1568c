/* gemm.h — general matrix multiply, BLAS-shaped, row-major.
 *
 *   C[M x N] = act( alpha * op(A)[M x K] @ op(B)[K x N] + beta * C + bias_n[j] + bias_m[i] )
 *
 * op(A) = A (M x K, row stride lda) or A^T (A stored K x M, row stride lda) when trans_a;
 * op(B) = B (K x N, row stride ldb) or B^T (B stored N x K, row stride ldb) when trans_b.
 * beta == 0 means C is write-only (its old contents, even NaN, are ignored).
 * bias_n (length N, added to every row) and bias_m (length M, added to every column)
 * may be NULL; act is one of CR_ACT_*. K == 0 gives C = act(beta*C + biases).
 * Runs on cr_get_num_threads() threads, or serially when called inside a parallel region.
 */
#ifndef CHAINRULE_GEMM_H
#define CHAINRULE_GEMM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

void cr_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc,
                 const float *bias_n, const float *bias_m, int act);
void cr_gemm_f64(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                 double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
                 double beta, double *C, int64_t ldc,
                 const double *bias_n, const double *bias_m, int act);

/* The micro-kernel path follows the CPU runtime's ISA level (cpu.h: cr_isa). */

/* Override the cache block sizes KC, MC, NC (<= 0: the path's default). For tests/tuning;
 * CHAINRULE_GEMM_BLOCKS=kc,mc,nc does the same at the first call. Results do not depend
 * on MC and NC; they depend on KC only through rounding (the K sum is split at KC). The
 * skinny path's axpy kernel takes KC and MC as its K chunk and block rows (no change in
 * results there). */
void cr_gemm_set_blocks(int64_t kc, int64_t mc, int64_t nc);

/* The skinny path (C with a side of at most 32, read like a GEMV; gemm_skinny_tmpl.h):
 * mode -1 = chosen by size (the default), 0 = never, 1 = whenever a side is <= 32 (tests). */
void cr_gemm_set_skinny(int mode);

#ifdef __cplusplus
}
#endif
#endif
