/* norm.h — batch normalization kernels (see norm.c and norm_impl.h).
 *
 * Layout: x is (N, C, L) row-major, C-contiguous: NCHW with L = H*W, NCL, or NC with
 * L = 1. Channel c's M = N*L values are x[(n*C + c)*L + l]. All per-channel vectors
 * (mean, invstd, weight, bias, dweight, dbias) have C elements.
 *
 * Statistics are computed in double whatever T is, in ONE read of each channel: the sums
 * of d = x - k and d^2 about a shift k (the channel's first value, so the digits lost to
 * var = E[d^2] - E[d]^2 are those of (mean - k)^2 / var <= M - 1: shifted data, stable),
 * each into 16 fixed lanes combined in a fixed order, so the result depends only on the
 * shape, never on the thread count: every channel is reduced by one thread, channels are
 * shared out statically. The write pass (y, or dx in the backward) follows per block of
 * channels while the block is still in L2.
 *   mean = sum x / M,  var = sum (x - mean)^2 / M (biased),  invstd = 1 / sqrt(var + eps)
 *   y = (x - mean) * s + bias  with  s = weight * invstd  (per channel, in T)
 * weight/bias may be NULL (1 and 0).
 *
 * Unlike the layer backwards, the backward WRITES (=) dx, dweight and dbias (fresh
 * gradients for the autograd engine); any of the three may be NULL (not wanted).
 */
#ifndef CHAINRULE_NORM_H
#define CHAINRULE_NORM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Below this many elements (N*C*L) a call runs on one thread. */
#define CR_NORM_PARALLEL_MIN 65536

/* Training forward: batch statistics. Writes y (N, C, L), mean (C), invstd (C) and, if
 * var is not NULL, the biased batch variance (C) in double (for the running statistics).
 * Needs M = N*L >= 1. */
void cr_batch_norm_forward_f32(float *y, float *mean, float *invstd, double *var,
                               const float *x, const float *weight, const float *bias,
                               int64_t N, int64_t C, int64_t L, double eps);
void cr_batch_norm_forward_f64(double *y, double *mean, double *invstd, double *var,
                               const double *x, const double *weight, const double *bias,
                               int64_t N, int64_t C, int64_t L, double eps);

/* Given statistics (evaluation mode): y = (x - mean) * invstd * weight + bias, computed as
 * (x - mean) * s + bias like the training forward. */
void cr_batch_norm_apply_f32(float *y, const float *x, const float *mean, const float *invstd,
                             const float *weight, const float *bias, int64_t N, int64_t C,
                             int64_t L);
void cr_batch_norm_apply_f64(double *y, const double *x, const double *mean,
                             const double *invstd, const double *weight, const double *bias,
                             int64_t N, int64_t C, int64_t L);

/* Backward, one fused reduction pass per channel then one pass for dx:
 *   dbias = sum dy,  dweight = invstd * sum dy * (x - mean)
 *   training: dx = weight * invstd * (dy - dbias/M - (x - mean) * invstd * dweight/M)
 *   else (statistics were constants): dx = weight * invstd * dy
 * mean/invstd are the forward's (training) or the running ones (evaluation). */
void cr_batch_norm_backward_f32(float *dx, float *dweight, float *dbias, const float *dy,
                                const float *x, const float *mean, const float *invstd,
                                const float *weight, int64_t N, int64_t C, int64_t L,
                                int training);
void cr_batch_norm_backward_f64(double *dx, double *dweight, double *dbias, const double *dy,
                                const double *x, const double *mean, const double *invstd,
                                const double *weight, int64_t N, int64_t C, int64_t L,
                                int training);

#ifdef __cplusplus
}
#endif
#endif
