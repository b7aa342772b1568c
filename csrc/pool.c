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
 * The float32 and float64 kernels are one body compiled twice: this file includes itself
 * with POOL_T = float, then double (the second half below, after #else).
 */
#ifndef POOL_T

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
#define POOL_DIV(T, d) ((T)((unsigned __int128)(d)->kh * (unsigned __int128)(d)->kw))

#define POOL_T float
#define POOL_F(name) name##_f32
#define POOL_2X2_AVX512 cr_max_pool2x2_plane_f32_avx512
#define POOL_2X2_AVX2 cr_max_pool2x2_plane_f32_avx2
#define POOL_NOPAD_AVX512 cr_max_pool2d_plane_f32_avx512
#include "pool.c"
#undef POOL_T
#undef POOL_F
#undef POOL_2X2_AVX512
#undef POOL_2X2_AVX2
#undef POOL_NOPAD_AVX512

#define POOL_T double
#define POOL_F(name) name##_f64
#define POOL_2X2_AVX512 cr_max_pool2x2_plane_f64_avx512
#define POOL_2X2_AVX2 cr_max_pool2x2_plane_f64_avx2
#define POOL_NOPAD_AVX512 cr_max_pool2d_plane_f64_avx512
#include "pool.c"
#undef POOL_T
#undef POOL_F
#undef POOL_2X2_AVX512
#undef POOL_2X2_AVX2
#undef POOL_NOPAD_AVX512

#else /* ---------------- templated body: POOL_T, POOL_F(name) ---------------- */

/* Kernel 2x2, stride 2, no padding, one (H, W) plane -> (P, Q) = (H/2, W/2):
 * y[p, q] = max of x[2p, 2q], x[2p, 2q+1], x[2p+1, 2q], x[2p+1, 2q+1] in that order, with
 * the same take rule as the general kernel below (strict >, the first NaN wins), so the
 * results are bitwise the same. This portable loop (gcc keeps it scalar) is the fallback
 * for CPUs without AVX2; pool_avx512.c is ~15x faster (64x6x28x28: 46 vs 800 us). */
static void POOL_F(max_pool2x2_plane)(POOL_T *restrict y, int64_t *restrict ix,
                                                  const POOL_T *restrict x, int64_t W,
                                                  int64_t P, int64_t Q) {
    for (int64_t p = 0; p < P; p++) {
        const POOL_T *r0 = x + 2 * p * W, *r1 = r0 + W;
        for (int64_t q = 0; q < Q; q++) {
            POOL_T m = r0[2 * q], v;
            int64_t off = 0, take;
            v = r0[2 * q + 1];
            take = (v > m) | ((v != v) & (m == m));
            m = take ? v : m;
            off = take ? 1 : off;
            v = r1[2 * q];
            take = (v > m) | ((v != v) & (m == m));
            m = take ? v : m;
            off = take ? W : off;
            v = r1[2 * q + 1];
            take = (v > m) | ((v != v) & (m == m));
            m = take ? v : m;
            off = take ? W + 1 : off;
            y[p * Q + q] = m;
            ix[p * Q + q] = 2 * p * W + 2 * q + off;
        }
    }
}

static void POOL_F(max_pool2x2_forward)(POOL_T *restrict out, int64_t *restrict idx,
                                        const POOL_T *restrict inp, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int nt = pool_threads(planes * H * W);
#ifdef CR_X86
    const int vec = W < ((int64_t)1 << 30) ? pool_isa() : 0; /* int32 offsets up to W + 1 */
#endif
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
#ifdef CR_X86
        if (vec == 2) {
            POOL_2X2_AVX512(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q);
            continue;
        }
        if (vec == 1) {
            POOL_2X2_AVX2(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q);
            continue;
        }
#endif
        POOL_F(max_pool2x2_plane)(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q);
    }
}

/* y[p, q] = max over the window, idx[p, q] = its flat index ih*W + iw (first maximum;
 * a NaN wins over every number and the first NaN is kept).
 * Loop order: for each output row, the window offsets (ih, s) in row-major order outside,
 * the output columns q inside. Each output still sees its window in row-major order (so
 * "first maximum" holds), and the q loop is branch-free and vectorises: a compare-and-
 * select per element instead of an unpredictable branch (~3x faster on random data). */
POOL_CLONES void POOL_F(cr_max_pool2d_forward)(POOL_T *restrict out, int64_t *restrict idx,
                                   const POOL_T *restrict inp, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int64_t sw = d->sw, pw = d->pw, kw = d->kw;
    if (d->kh == 2 && kw == 2 && d->sh == 2 && sw == 2 && d->ph == 0 && pw == 0) {
        POOL_F(max_pool2x2_forward)(out, idx, inp, d);
        return;
    }
    const int nt = pool_threads(planes * H * W);
#ifdef CR_X86
    /* no padding: every window is in range; gather 16/8 output columns at once (AVX-512) */
    if (d->ph == 0 && pw == 0 && H * W < ((int64_t)1 << 30) && sw < ((int64_t)1 << 25) &&
        pool_isa() == 2) {
        #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t pl = 0; pl < planes; pl++)
            POOL_NOPAD_AVX512(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q,
                              d->kh, kw, d->sh, sw);
        return;
    }
#endif
    int64_t s0, s1;
    kernel_cols(kw, sw, pw, Q, W, &s0, &s1);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const POOL_T *x = inp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            POOL_T *restrict y = out + (pl * P + p) * Q;
            int64_t *restrict ix = idx + (pl * P + p) * Q;
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) { /* padding is -inf: start at the first in-range */
                int64_t w0, w1;
                window(q, sw, pw, kw, W, &w0, &w1);
                y[q] = -(POOL_T)INFINITY;
                ix[q] = h0 * W + w0;
            }
            for (int64_t ih = h0; ih < h1; ih++) {
                const POOL_T *x_row = x + ih * W;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t qlo, qhi; /* columns q whose iw = q*sw + s - pw is in [0, W) */
                    in_range(s - pw, sw, Q, W, &qlo, &qhi);
                    for (int64_t q = qlo; q < qhi; q++) {
                        const int64_t iw = q * sw + s - pw;
                        const POOL_T v = x_row[iw], m = y[q];
                        const int64_t take = -(int64_t)((v > m) | ((v != v) & (m == m)));
                        y[q] = take ? v : m;
                        ix[q] = (ix[q] & ~take) | ((ih * W + iw) & take);
                    }
                }
            }
        }
    }
}

int64_t POOL_F(cr_max_pool2d_backward)(POOL_T *restrict dinp, const POOL_T *restrict dout,
                                       const int64_t *restrict idx, const cr_pool2d_dims *d) {
    const int64_t HW = d->H * d->W, PQ = d->P * d->Q, planes = d->N * d->C;
    const int nt = pool_threads(planes * PQ);
    int64_t bad = 0;
    #pragma omp parallel for num_threads(nt) schedule(static) reduction(+:bad) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        POOL_T *dx = dinp + pl * HW;
        const POOL_T *dy = dout + pl * PQ;
        const int64_t *ix = idx + pl * PQ;
        for (int64_t i = 0; i < PQ; i++) {
            const int64_t j = ix[i];
            if ((uint64_t)j < (uint64_t)HW) dx[j] += dy[i];
            else bad++;
        }
    }
    return bad;
}

/* y[p, q] = (sum of the in-range window) / (kh*kw); same loop order as the max. */
POOL_CLONES void POOL_F(cr_avg_pool2d_forward)(POOL_T *restrict out, const POOL_T *restrict inp,
                                   const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int64_t sw = d->sw, pw = d->pw, kw = d->kw;
    const POOL_T div = POOL_DIV(POOL_T, d);
    int64_t s0, s1;
    kernel_cols(kw, sw, pw, Q, W, &s0, &s1);
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const POOL_T *x = inp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            POOL_T *restrict y = out + (pl * P + p) * Q;
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) y[q] = 0;
            for (int64_t ih = h0; ih < h1; ih++) {
                const POOL_T *x_row = x + ih * W;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t qlo, qhi;
                    const int64_t off = s - pw;
                    in_range(off, sw, Q, W, &qlo, &qhi);
                    for (int64_t q = qlo; q < qhi; q++) y[q] += x_row[q * sw + off];
                }
            }
            for (int64_t q = 0; q < Q; q++) y[q] /= div;
        }
    }
}

/* dx[ih, iw] += dy[p, q] / (kh*kw) for every (p, q) whose window covers (ih, iw). */
POOL_CLONES void POOL_F(cr_avg_pool2d_backward)(POOL_T *restrict dinp, const POOL_T *restrict dout,
                                    const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int64_t sw = d->sw, pw = d->pw, kw = d->kw;
    const POOL_T div = POOL_DIV(POOL_T, d);
    int64_t s0, s1;
    kernel_cols(kw, sw, pw, Q, W, &s0, &s1);
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        POOL_T *dx = dinp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            const POOL_T *restrict dy = dout + (pl * P + p) * Q;
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t ih = h0; ih < h1; ih++) {
                POOL_T *restrict dx_row = dx + ih * W;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t qlo, qhi;
                    const int64_t off = s - pw;
                    in_range(off, sw, Q, W, &qlo, &qhi);
                    for (int64_t q = qlo; q < qhi; q++) dx_row[q * sw + off] += dy[q] / div;
                }
            }
        }
    }
}

#endif /* POOL_T */
