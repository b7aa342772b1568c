/* pool.h — 2-D max and average pooling over NCHW planes (see pool.c).
 *
 *   window of output (p, q): rows p*sh - ph + [0, kh), cols q*sw - pw + [0, kw);
 *   P = (H + 2ph - kh)/sh + 1, Q likewise (floor, no ceil_mode, no dilation).
 *   max: y = max over the in-range window (padding is -inf); idx = ih*W + iw of the first
 *        maximum in row-major order (strict >; the first NaN wins and propagates).
 *   avg: y = sum over the in-range window / (kh*kw)   (count_include_pad = True).
 * Backward functions ACCUMULATE into dinp. OpenMP over the N*C planes.
 */
#ifndef CHAINRULE_POOL_H
#define CHAINRULE_POOL_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t N, C, H, W;   /* input (N, C, H, W) */
    int64_t kh, kw;       /* window >= 1 */
    int64_t sh, sw;       /* stride >= 1 */
    int64_t ph, pw;       /* padding, 0 <= ph <= kh/2, 0 <= pw <= kw/2 */
    int64_t P, Q;         /* output (N, C, P, Q) */
} cr_pool2d_dims;

/* Fill d->P, d->Q; return 0, or -1 if the sizes are invalid. */
int cr_pool2d_dims_init(cr_pool2d_dims *d);

/* out, idx (N, C, P, Q) from inp (N, C, H, W). */
void cr_max_pool2d_forward_f32(float *out, int64_t *idx, const float *inp, const cr_pool2d_dims *d);
void cr_max_pool2d_forward_f64(double *out, int64_t *idx, const double *inp, const cr_pool2d_dims *d);
/* dinp[n, c].flat[idx[n,c,p,q]] += dout[n,c,p,q]. Indices outside [0, H*W) are skipped and
 * counted: returns the number of bad indices (0 = all good). */
int64_t cr_max_pool2d_backward_f32(float *dinp, const float *dout, const int64_t *idx,
                                   const cr_pool2d_dims *d);
int64_t cr_max_pool2d_backward_f64(double *dinp, const double *dout, const int64_t *idx,
                                   const cr_pool2d_dims *d);

void cr_avg_pool2d_forward_f32(float *out, const float *inp, const cr_pool2d_dims *d);
void cr_avg_pool2d_forward_f64(double *out, const double *inp, const cr_pool2d_dims *d);
/* dinp[n, c, ih, iw] += dout[n, c, p, q] / (kh*kw) over every in-range window position. */
void cr_avg_pool2d_backward_f32(float *dinp, const float *dout, const cr_pool2d_dims *d);
void cr_avg_pool2d_backward_f64(double *dinp, const double *dout, const cr_pool2d_dims *d);

#ifdef __cplusplus
}
#endif
#endif
