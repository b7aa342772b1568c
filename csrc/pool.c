/* pool.c — max and average pooling, forward and backward (see pool.h).
 *
 * Every kernel is a loop over the N*C planes, parallel with OpenMP (static schedule).
 * A plane is read and written by one thread only, so the scatter-adds of the backward
 * passes need no atomics and are bitwise identical whatever the thread count.
 * The window is clipped once per output row/column to its in-range part [lo, hi).
 * Max pooling forward has faster paths with bitwise the same results: kernel 2x2 / stride 2
 * / no padding (pool_avx512.c, pool_avx2.c or a portable loop) and, with AVX-512, any
 * kernel and stride without padding (gathers); the general loop handles the rest.
 *
 * The float32 and float64 kernels are one body, pool_tmpl.h, included twice.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "chainrule.h"

#ifdef CR_X86
void cr_max_pool2x2_plane_f32_avx512(float *y, int64_t *idx, const float *x, int64_t W,
                                     int64_t P, int64_t Q);
void cr_max_pool2x2_plane_f64_avx512(double *y, int64_t *idx, const double *x, int64_t W,
                                     int64_t P, int64_t Q);
void cr_max_pool2d_plane_f32_avx512(float *y, int64_t *idx, const float *x, int64_t W,
                                    int64_t P, int64_t Q, int64_t kh, int64_t kw, int64_t sh,
                                    int64_t sw);
void cr_max_pool2d_plane_f64_avx512(double *y, int64_t *idx, const double *x, int64_t W,
                                    int64_t P, int64_t Q, int64_t kh, int64_t kw, int64_t sh,
                                    int64_t sw);
void cr_max_pool2x2_plane_f32_avx2(float *y, int64_t *idx, const float *x, int64_t W,
                                   int64_t P, int64_t Q);
void cr_max_pool2x2_plane_f64_avx2(double *y, int64_t *idx, const double *x, int64_t W,
                                   int64_t P, int64_t Q);
/* 2 = pool_avx512.c, 1 = pool_avx2.c, 0 = the portable loops: the ISA level of cpu.h. */
static int pool_isa(void) { return cr_isa(); }
#endif

/* Output size of one axis (PyTorch's pooling_output_shape); -1 if invalid. */
static int64_t out_size(int64_t n, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t ceil) {
    const __int128 e = (__int128)n + 2 * (__int128)p - (__int128)dil * (k - 1) - 1;
    if (e < 0 || e > INT64_MAX / 2) return -1;
    int64_t o = (ceil ? e / s + (e % s != 0) : e / s) + 1;
    if (ceil && (__int128)(o - 1) * s >= (__int128)n + p) o--;
    return o;
}

/* 1 if every window start o*s - p (o < n_out) of a dilated window meets [0, n). Only
 * windows starting in the left padding can miss (the others hold their start). */
static int windows_hit(int64_t n, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t n_out) {
    if (dil == 1) return 1; /* p <= k/2: the window holds its element at 0 */
    for (int64_t o = 0; o < n_out && o * s < p; o++) {
        const int64_t a = o * s - p, i0 = (-a + dil - 1) / dil;
        if (i0 >= k || a + i0 * dil >= n) return 0;
    }
    return 1;
}

int cr_pool2d_dims_init(cr_pool2d_dims *d) {
    if (d->N < 0 || d->C < 0 || d->H < 1 || d->W < 1 || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1 || d->ph < 0 || d->pw < 0 || 2 * d->ph > d->kh ||
        2 * d->pw > d->kw || d->dh < 1 || d->dw < 1 || d->divisor < 0)
        return -1;
    d->P = out_size(d->H, d->kh, d->sh, d->ph, d->dh, d->ceil_mode);
    d->Q = out_size(d->W, d->kw, d->sw, d->pw, d->dw, d->ceil_mode);
    if (d->P < 1 || d->Q < 1) return -1;
    if (!windows_hit(d->H, d->kh, d->sh, d->ph, d->dh, d->P) ||
        !windows_hit(d->W, d->kw, d->sw, d->pw, d->dw, d->Q))
        return -1;
    return 0;
}

/* 1 when the options leave the plain floor-mode, undilated windows of the fast paths. */
static int plain_windows(const cr_pool2d_dims *d) {
    return d->dh == 1 && d->dw == 1 && d->P == (d->H + 2 * d->ph - d->kh) / d->sh + 1 &&
           d->Q == (d->W + 2 * d->pw - d->kw) / d->sw + 1;
}

/* tiny problems stay serial */
static int pool_threads(int64_t work) { return cr_threads_for((double)work, 16384.0); }

/* In-range part [lo, hi) of the window starting at o*stride - pad, of length k, in [0, size). */
static inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size,
                          int64_t *lo, int64_t *hi) {
    int64_t start = o * stride - pad, end = start + k;
    *lo = start < 0 ? 0 : start;
    *hi = end > size ? size : end;
}

/* The plain loops below vectorise much better with AVX2/AVX-512 (float compare + int64
 * select); one clone per ISA level, chosen at load time. */
#if defined(CR_X86) && defined(__GNUC__) && !defined(__clang__)
#define POOL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define POOL_CLONES
#endif

/* Output positions o in [0, n_out) whose input index o*stride + off lies in [0, size):
 * o in [*lo, *hi). */
static inline void in_range(int64_t off, int64_t stride, int64_t n_out, int64_t size,
                            int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Kernel columns [*s0, *s1) whose input column q*sw + s*dw - pw lies in [0, W) for some
 * output q < Q; the others add nothing (a huge padded kernel would loop over all of them). */
static inline void kernel_cols(int64_t kw, int64_t sw, int64_t pw, int64_t dw, int64_t Q,
                               int64_t W, int64_t *s0, int64_t *s1) {
    const int64_t lo = pw - (Q - 1) * sw, hi = pw + W;
    *s0 = lo > 0 ? (lo + dw - 1) / dw : 0;
    const int64_t e = (hi + dw - 1) / dw;
    *s1 = e < kw ? e : kw;
}

/* Kernel rows [*i0, *i1) whose input row start + i*dil lies in [0, size). */
static inline void dilated_rows(int64_t start, int64_t k, int64_t dil, int64_t size,
                                int64_t *i0, int64_t *i1) {
    *i0 = start < 0 ? (-start + dil - 1) / dil : 0;
    const int64_t e = size - start <= 0 ? 0 : (size - start + dil - 1) / dil;
    *i1 = e < k ? e : k;
}

/* kh*kw in T, rounded once from the exact product: it can exceed int64 (kernel and padding
 * of 2^32 on a 1x1 input are valid sizes). */
#define POOL_DIV(TY, d) ((TY)((unsigned __int128)(d)->kh * (unsigned __int128)(d)->kw))

/* Divisor of window (start, k) on an axis of size n with padding p for the avg options:
 * the window clipped to the padded input, or to the input without count_include_pad. */
static inline int64_t avg_count(int64_t start, int64_t k, int64_t n, int64_t p, int64_t incl) {
    int64_t end = start + k < n + p ? start + k : n + p;
    if (!incl) {
        end = end < n ? end : n;
        start = start < 0 ? 0 : start;
    }
    return end - start;
}

#define T float
#define SUF f32
#include "pool_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "pool_tmpl.h"
#undef T
#undef SUF
