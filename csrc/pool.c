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

int cr_pool2d_dims_init(cr_pool2d_dims *d) {
    if (d->N < 0 || d->C < 0 || d->H < 1 || d->W < 1 || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1 || d->ph < 0 || d->pw < 0 || 2 * d->ph > d->kh ||
        2 * d->pw > d->kw)
        return -1;
    int64_t eh = d->H + 2 * d->ph - d->kh, ew = d->W + 2 * d->pw - d->kw;
    if (eh < 0 || ew < 0) return -1;
    d->P = eh / d->sh + 1;
    d->Q = ew / d->sw + 1;
    return 0;
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

/* Kernel columns [*s0, *s1) whose input column q*sw + s - pw lies in [0, W) for some output
 * q < Q; the others add nothing (a huge padded kernel would loop over all of them). */
static inline void kernel_cols(int64_t kw, int64_t sw, int64_t pw, int64_t Q, int64_t W,
                               int64_t *s0, int64_t *s1) {
    const int64_t lo = pw - (Q - 1) * sw, hi = pw + W;
    *s0 = lo > 0 ? lo : 0;
    *s1 = hi < kw ? hi : kw;
}

/* kh*kw in T, rounded once from the exact product: it can exceed int64 (kernel and padding
 * of 2^32 on a 1x1 input are valid sizes). */
#define POOL_DIV(TY, d) ((TY)((unsigned __int128)(d)->kh * (unsigned __int128)(d)->kw))

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
