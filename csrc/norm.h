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
 *   y = (x - mean) * s + bias  with  s = weight * invstd  (per channel, in T, from invstd
 *   rounded to T, so the backward can recompute y's sign from x)
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
 * residual (N, C, L) or NULL: y = y + residual (rounded to T, as a separate add would);
 * relu != 0: then y = max(y, 0) in the same write pass (bitwise relu(batch_norm(x) [+ r]):
 * the relu kernel's v <= 0 ? 0 : v on the value rounded to T). Needs M = N*L >= 1. */
void cr_batch_norm_forward_f32(float *y, float *mean, float *invstd, double *var,
                               const float *x, const float *weight, const float *bias,
                               int64_t N, int64_t C, int64_t L, double eps, int relu,
                               const float *residual);
void cr_batch_norm_forward_f64(double *y, double *mean, double *invstd, double *var,
                               const double *x, const double *weight, const double *bias,
                               int64_t N, int64_t C, int64_t L, double eps, int relu,
                               const double *residual);

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
 * mean/invstd are the forward's (training) or the running ones (evaluation).
 * relu_out (N, C, L) or NULL: the output of a forward with relu; dy is then first masked
 * as the relu backward does (dy * (relu_out > 0 ? 1 : 0)), in the same passes.
 * relu_x != 0 (with relu_out NULL and dx not NULL): the same mask, recomputed from x as the
 * forward with relu computed its y before the relu, (x - mean) * s + bias with
 * s = (T)(weight * invstd) (bias: the forward's, or NULL), bitwise that y: the masked dy
 * is written to dx by the first pass and read back by the second, so relu_out is not read.
 * dx may be dy itself (in place: the gradient is then overwritten, and a cold dx is never
 * fetched); it must not overlap x. */
void cr_batch_norm_backward_f32(float *dx, float *dweight, float *dbias, const float *dy,
                                const float *x, const float *mean, const float *invstd,
                                const float *weight, int64_t N, int64_t C, int64_t L,
                                int training, const float *relu_out, int relu_x,
                                const float *bias);
void cr_batch_norm_backward_f64(double *dx, double *dweight, double *dbias, const double *dy,
                                const double *x, const double *mean, const double *invstd,
                                const double *weight, int64_t N, int64_t C, int64_t L,
                                int training, const double *relu_out, int relu_x,
                                const double *bias);

/* Row normalization: group norm and layer norm. x is (N, G, Cg, L) row-major: row
 * r = n*G + g holds K = Cg*L contiguous values, normalised by its own statistics (one read,
 * float64 moments about the row's first value, 16 fixed lanes, as above); channel
 * c = g*Cg + ci owns L consecutive values of the row and has weight[c], bias[c] (C = G*Cg
 * elements; NULL: 1 and 0). Layer norm is G = 1, Cg = prod(normalized_shape), L = 1.
 *   mean, rstd (N*G, in T);  y = (x - mean) * (rstd * w_c) + b_c   (in T)
 * var (N*G doubles, the biased variance) may be NULL. Threads over rows. */
void cr_row_norm_forward_f32(float *y, float *mean, float *rstd, double *var, const float *x,
                             const float *weight, const float *bias, int64_t N, int64_t G,
                             int64_t Cg, int64_t L, double eps);
void cr_row_norm_forward_f64(double *y, double *mean, double *rstd, double *var,
                             const double *x, const double *weight, const double *bias,
                             int64_t N, int64_t G, int64_t Cg, int64_t L, double eps);

/* Backward: WRITES dx (N, G, Cg, L), dweight, dbias (C) (any may be NULL: not wanted).
 * With g = dy * w_c, A = sum_row g, B = sum_row g * (x - mean):
 *   dx = g * rstd - rstd * A / K - (x - mean) * rstd^3 * B / K
 *   dbias[c] = sum dy,  dweight[c] = sum dy * (x - mean) * rstd   (over n and c's values)
 * one read of dy and x per row; the parameter sums go through per-chunk partials (chunks
 * of samples fixed by the shape) added in chunk order. Returns 0, or -1 if the partials
 * could not be allocated. */
int cr_row_norm_backward_f32(float *dx, float *dweight, float *dbias, const float *dy,
                             const float *x, const float *mean, const float *rstd,
                             const float *weight, int64_t N, int64_t G, int64_t Cg,
                             int64_t L);
int cr_row_norm_backward_f64(double *dx, double *dweight, double *dbias, const double *dy,
                             const double *x, const double *mean, const double *rstd,
                             const double *weight, int64_t N, int64_t G, int64_t Cg,
                             int64_t L);

#ifdef __cplusplus
}
#endif
#endif
