/* pool.h — 2-D max and average pooling over NCHW planes (see pool.c).
 *
 *   window of output (p, q): rows p*sh - ph + dh*[0, kh), cols q*sw - pw + dw*[0, kw);
 *   P = (H + 2ph - dh*(kh-1) - 1)/sh + 1 rounded down, or up with ceil_mode (then the last
 *   window must start inside the input or the left padding: PyTorch's rule); Q likewise.
 *   max: y = max over the in-range window (padding is -inf); idx = ih*W + iw of the first
 *        maximum in row-major order (strict >; the first NaN wins and propagates).
 *   avg (dilation 1): y = sum over the in-range window / divisor, where the divisor is
 *        divisor (if > 0), else the window's size clipped to the padded input
 *        (count_include_pad; kh*kw except for ceil_mode's last windows), else the number
 *        of in-range elements.
 * Backward functions ACCUMULATE into dinp. OpenMP over the N*C planes.
 * Adaptive pooling (pool_adaptive.c): output (P, Q) given; window of p: rows
 * [floor(p*H/P), ceil((p+1)*H/P)), columns likewise (PyTorch's windows).
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
    int64_t dh, dw;       /* dilation >= 1 (max pooling only; 1 for avg) */
    int64_t ceil_mode;    /* 0/1 */
    int64_t count_include_pad; /* avg: 0/1 */
    int64_t divisor;      /* avg: divisor_override, 0 = none */
} cr_pool2d_dims;

/* Fill d->P, d->Q; return 0, or -1 if the sizes are invalid (a window of max pooling that
 * holds no input element, possible with dilation, is invalid too). */
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

/* avg: return 0, or -1 when out of memory (the per-window divisors of the options). */
int cr_avg_pool2d_forward_f32(float *out, const float *inp, const cr_pool2d_dims *d);
int cr_avg_pool2d_forward_f64(double *out, const double *inp, const cr_pool2d_dims *d);
/* dinp[n, c, ih, iw] += dout[n, c, p, q] / divisor over every in-range window position. */
int cr_avg_pool2d_backward_f32(float *dinp, const float *dout, const cr_pool2d_dims *d);
int cr_avg_pool2d_backward_f64(double *dinp, const double *dout, const cr_pool2d_dims *d);

/* Max unpooling, d->H, d->W = output plane, d->P, d->Q = input plane (only N, C, H, W, P, Q
 * are read). forward: out (zeroed by the caller)[n, c].flat[idx[n, c, p, q]] = inp[n, c, p, q]
 * (the last write wins on duplicates); backward: dinp[n, c, p, q] = dout[n, c].flat[idx].
 * Indices outside [0, H*W) are skipped; both return their count. */
int64_t cr_max_unpool2d_forward_f32(float *out, const float *inp, const int64_t *idx,
                                    const cr_pool2d_dims *d);
int64_t cr_max_unpool2d_forward_f64(double *out, const double *inp, const int64_t *idx,
                                    const cr_pool2d_dims *d);
int64_t cr_max_unpool2d_backward_f32(float *dinp, const float *dout, const int64_t *idx,
                                     const cr_pool2d_dims *d);
int64_t cr_max_unpool2d_backward_f64(double *dinp, const double *dout, const int64_t *idx,
                                     const cr_pool2d_dims *d);

/* Adaptive pooling (only N, C, H, W, P, Q of d are read; P, Q >= 1). The max's backward is
 * cr_max_pool2d_backward. The average with P = Q = 1 is a global average (a fast path). */
void cr_adaptive_max_pool2d_forward_f32(float *out, int64_t *idx, const float *inp,
                                        const cr_pool2d_dims *d);
void cr_adaptive_max_pool2d_forward_f64(double *out, int64_t *idx, const double *inp,
                                        const cr_pool2d_dims *d);
void cr_adaptive_avg_pool2d_forward_f32(float *out, const float *inp, const cr_pool2d_dims *d);
void cr_adaptive_avg_pool2d_forward_f64(double *out, const double *inp, const cr_pool2d_dims *d);
void cr_adaptive_avg_pool2d_backward_f32(float *dinp, const float *dout, const cr_pool2d_dims *d);
void cr_adaptive_avg_pool2d_backward_f64(double *dinp, const double *dout,
                                         const cr_pool2d_dims *d);

#ifdef __cplusplus
}
#endif
#endif
