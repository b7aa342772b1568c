/* conv_pw_dot.h — dw of a stride-1 1x1 convolution as dot products along the pixels
 * (float32, AVX-512: conv_pw_dot_avx512.c), used by the pointwise path (conv_pointwise.c)
 * for layers with few weights and many pixels. */
#ifndef CHAINRULE_CONV_PW_DOT_H
#define CHAINRULE_CONV_PW_DOT_H
#include <stdint.h>

/* values of x's and dy's rows one slab of pixels may span (their rows stay in L2) */
#define CR_PW_DOT_SLAB_BYTES ((int64_t)256 << 10)

/* Floats of lane buffer cr_pw_dw_dot_f32_avx512 needs for output rows [k0, k1). */
int64_t cr_pw_dw_dot_buf(int64_t k0, int64_t k1, int64_t C);

/* Rows [k0, k1) of dw (K x C): dw[k][c] = (beta ? dw[k][c] : 0) + sum over images n and
 * pixels j < PQ of dy[n][k][j] * x[n][c][j] (dy: N x K x PQ, x: N x C x PQ, contiguous).
 * buf: cr_pw_dw_dot_buf floats, 64-byte aligned. The sums do not depend on k0, k1. */
void cr_pw_dw_dot_f32_avx512(float *dw, const float *dy, const float *x, int64_t N, int64_t K,
                             int64_t C, int64_t PQ, int64_t k0, int64_t k1, int beta,
                             float *buf);
#endif
