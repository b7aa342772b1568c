/* gemm.c — PLACEHOLDER naive GEMM with the final signature (see gemm.h).
 * To be replaced by the blocked, packed, SIMD version. */
#include <math.h>
#include "chainrule.h"

#define GEMM_NAIVE(T, NAME, EXPF)                                                          \
void NAME(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, T alpha,            \
          const T *A, int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc,    \
          const T *bias_n, const T *bias_m, int act) {                                     \
    int nt = cr_in_parallel() ? 1 : cr_get_num_threads();                                  \
    _Pragma("omp parallel for num_threads(nt) schedule(static)")                           \
    for (int64_t i = 0; i < M; i++) {                                                      \
        for (int64_t j = 0; j < N; j++) {                                                  \
            T s = 0;                                                                       \
            for (int64_t k = 0; k < K; k++) {                                              \
                T a = trans_a ? A[k * lda + i] : A[i * lda + k];                           \
                T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];                           \
                s += a * b;                                                                \
            }                                                                              \
            T v = alpha * s + (beta == 0 ? (T)0 : beta * C[i * ldc + j]);                  \
            if (bias_n) v += bias_n[j];                                                    \
            if (bias_m) v += bias_m[i];                                                    \
            if (act == CR_ACT_TANH) v = tanh##EXPF(v);                                     \
            else if (act == CR_ACT_RELU) v = v > 0 ? v : 0;                                \
            else if (act == CR_ACT_SIGMOID) v = 1 / (1 + exp##EXPF(-v));                   \
            C[i * ldc + j] = v;                                                            \
        }                                                                                  \
    }                                                                                      \
}
GEMM_NAIVE(float, cr_gemm_f32, f)
GEMM_NAIVE(double, cr_gemm_f64, )

const char *cr_gemm_path(void) { return "generic"; }
