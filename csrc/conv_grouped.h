/* conv_grouped.h — grouped 2-D convolution (1 < groups, not depthwise) in one parallel
 * region (conv_grouped.c): x (N, C, H, W), w (K, C/groups, R, S), y (N, K, P, Q); group g
 * convolves channels [g*C/G, (g+1)*C/G) with filters [g*K/G, (g+1)*K/G). d holds the
 * whole layer's sizes (d->C = C, d->K = K); groups divides both (checked by the caller).
 * Kernels return 0, or -1 if the scratch allocation failed. The backward ACCUMULATES into
 * dinp, dweight, dbias (each may be NULL). Bitwise identical for any thread count.
 */
#ifndef CHAINRULE_CONV_GROUPED_H
#define CHAINRULE_CONV_GROUPED_H
#include <stdint.h>
#include "conv.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Paths (cr_conv2d_grouped_path): 0 = none (run the ungrouped kernels once per group),
 * 1 = implicit (float32, AVX-512, stride 1: the zero-padded group read in place by the
 * unpacked kernels of conv_avx512.c), 2 = im2col of one group of one image + a product. */
enum { CR_CONV_GROUPED_NONE = 0, CR_CONV_GROUPED_IMPLICIT = 1, CR_CONV_GROUPED_IM2COL = 2 };
/* which: 0 forward, 1 dx, 2 dw and db. */
int cr_conv2d_grouped_path(const cr_conv2d_dims *d, int64_t groups, int which, int64_t elsize);
/* Threads and scratch bytes (all threads) of one forward (which 0) or backward (1) call. */
int cr_conv2d_grouped_threads(const cr_conv2d_dims *d, int64_t groups);
int64_t cr_conv2d_grouped_workspace_bytes(const cr_conv2d_dims *d, int64_t groups, int which,
                                          int64_t elsize);

int cr_conv2d_grouped_forward_f32(float *out, const float *inp, const float *weight,
                                  const float *bias, const cr_conv2d_dims *d, int64_t groups);
int cr_conv2d_grouped_forward_f64(double *out, const double *inp, const double *weight,
                                  const double *bias, const cr_conv2d_dims *d, int64_t groups);
int cr_conv2d_grouped_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight,
                                   const cr_conv2d_dims *d, int64_t groups);
int cr_conv2d_grouped_backward_f64(double *dinp, double *dweight, double *dbias,
                                   const double *dout, const double *inp, const double *weight,
                                   const cr_conv2d_dims *d, int64_t groups);

#ifdef __cplusplus
}
#endif
#endif
