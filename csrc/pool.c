/* pool.c — max and average pooling, forward and backward (see pool.h).
 *
 * Every kernel is a loop over the N*C planes, parallel with OpenMP (static schedule).
 * A plane is read and written by one thread only, so the scatter-adds of the backward
 * passes need no atomics and are bitwise identical whatever the thread count.
 * The window is clipped once per output row/column to its in-range part [lo, hi).
 *
 * The float32 and float64 kernels are one body compiled twice: this file includes itself
 * with POOL_T = float, then double (the second half below, after #else).
 */
#ifndef POOL_T

#include <math.h>
#include "chainrule.h"

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

static int pool_threads(int64_t work) {
    int nt = cr_in_parallel() ? 1 : cr_get_num_threads();
    return work < 16384 ? 1 : nt; /* tiny problems stay serial */
}

/* In-range part [lo, hi) of the window starting at o*stride - pad, of length k, in [0, size). */
static inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size,
                          int64_t *lo, int64_t *hi) {
    int64_t start = o * stride - pad, end = start + k;
    *lo = start < 0 ? 0 : start;
    *hi = end > size ? size : end;
}

#define POOL_T float
#define POOL_F(name) name##_f32
#include "pool.c"
#undef POOL_T
#undef POOL_F

#define POOL_T double
#define POOL_F(name) name##_f64
#include "pool.c"
#undef POOL_T
#undef POOL_F

#else /* ---------------- templated body: POOL_T, POOL_F(name) ---------------- */

/* y[p, q] = max over the window, idx[p, q] = its flat index ih*W + iw (first maximum;
 * a NaN wins over every number and the first NaN is kept). */
void POOL_F(cr_max_pool2d_forward)(POOL_T *out, int64_t *idx, const POOL_T *inp,
                                   const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const POOL_T *x = inp + pl * H * W;
        POOL_T *y = out + pl * P * Q;
        int64_t *ix = idx + pl * P * Q;
        for (int64_t p = 0; p < P; p++) {
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                window(q, d->sw, d->pw, d->kw, W, &w0, &w1);
                int64_t best_i = h0 * W + w0;
                POOL_T best = x[best_i];
                for (int64_t ih = h0; ih < h1; ih++) {
                    for (int64_t iw = w0; iw < w1; iw++) {
                        const POOL_T v = x[ih * W + iw];
                        if (v > best || (v != v && best == best)) {
                            best = v;
                            best_i = ih * W + iw;
                        }
                    }
                }
                y[p * Q + q] = best;
                ix[p * Q + q] = best_i;
            }
        }
    }
}

int64_t POOL_F(cr_max_pool2d_backward)(POOL_T *dinp, const POOL_T *dout, const int64_t *idx,
                                       const cr_pool2d_dims *d) {
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

/* y[p, q] = (sum of the in-range window) / (kh*kw). */
void POOL_F(cr_avg_pool2d_forward)(POOL_T *out, const POOL_T *inp, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const POOL_T div = (POOL_T)(d->kh * d->kw);
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const POOL_T *x = inp + pl * H * W;
        POOL_T *y = out + pl * P * Q;
        for (int64_t p = 0; p < P; p++) {
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                window(q, d->sw, d->pw, d->kw, W, &w0, &w1);
                POOL_T s = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) s += x[ih * W + iw];
                y[p * Q + q] = s / div;
            }
        }
    }
}

/* dx[ih, iw] += dy[p, q] / (kh*kw) for every (p, q) whose window covers (ih, iw). */
void POOL_F(cr_avg_pool2d_backward)(POOL_T *dinp, const POOL_T *dout, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const POOL_T div = (POOL_T)(d->kh * d->kw);
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        POOL_T *dx = dinp + pl * H * W;
        const POOL_T *dy = dout + pl * P * Q;
        for (int64_t p = 0; p < P; p++) {
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                window(q, d->sw, d->pw, d->kw, W, &w0, &w1);
                const POOL_T g = dy[p * Q + q] / div;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) dx[ih * W + iw] += g;
            }
        }
    }
}

#endif /* POOL_T */
