/* conv.c — 2-D convolution by im2col + GEMM, forward and backward (see conv.h).
 *
 * Shapes: x (N, C, H, W), w (K, C, R, S), b (K,), y (N, K, P, Q); CRS = C*R*S, PQ = P*Q.
 * Per image n and block of output rows [p0, p1) (cols = (p1-p0)*Q columns):
 *   forward   col = im2col(x_n)              (CRS, cols)
 *             y_n[:, cols] = w (K, CRS) @ col + b          GEMM, bias in the epilogue
 *   backward  dw (K, CRS) += dy_n[:, cols] (K, cols) @ col^T    GEMM, beta = 1
 *             dcol (CRS, cols) = w^T @ dy_n[:, cols]            GEMM, then
 *             dx_n += col2im(dcol)                              the adjoint of im2col
 *             db[k] += sum over n, p, q of dy[n, k, p, q]
 * A 1x1 / stride 1 / padding 0 convolution has col == x_n: no im2col, no scratch.
 *
 * Threads and determinism (the result is bitwise identical run to run for a fixed thread
 * count, and never depends on the thread count except through the GEMM's own blocking):
 *   - forward and dx: whole images per thread (each writes its own y_n / dx_n; GEMMs run
 *     serially inside the region); with fewer images than threads, images go one after
 *     another and the GEMM, im2col and col2im (split by channel) use the threads instead.
 *   - dw and db: threads own disjoint column slices of dw (CRS rows of col) and rows of
 *     db, so no two threads write one address and every element is summed over images
 *     and output rows in the same order whatever the thread count.
 *   - the row blocking depends only on the sizes and the workspace limit, not on threads.
 *
 * The float32 and float64 kernels are one body compiled twice: this file includes itself
 * with CONV_T = float, then double (the second half below, after #else).
 */
#ifndef CONV_T

#include <stdlib.h>
#include <string.h>
#include "chainrule.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static volatile int64_t g_ws_limit = CR_CONV_DEFAULT_WORKSPACE;

void cr_conv_set_workspace_limit(int64_t bytes) { g_ws_limit = bytes < 1 ? 1 : bytes; }
int64_t cr_conv_get_workspace_limit(void) { return g_ws_limit; }

int cr_conv2d_dims_init(cr_conv2d_dims *d) {
    if (d->N < 0 || d->C < 1 || d->H < 1 || d->W < 1 || d->K < 1 || d->R < 1 || d->S < 1 ||
        d->sh < 1 || d->sw < 1 || d->ph < 0 || d->pw < 0 || d->dh < 1 || d->dw < 1)
        return -1;
    int64_t eh = d->H + 2 * d->ph - d->dh * (d->R - 1) - 1;
    int64_t ew = d->W + 2 * d->pw - d->dw * (d->S - 1) - 1;
    if (eh < 0 || ew < 0) return -1;
    d->P = eh / d->sh + 1;
    d->Q = ew / d->sw + 1;
    return 0;
}

/* 1x1 kernel, stride 1, no padding: the image itself is the im2col matrix. */
static int is_pointwise(const cr_conv2d_dims *d) {
    return d->R == 1 && d->S == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* Output rows per block so that one CRS x (rows*Q) buffer fits the per-thread limit
 * (at least one row). Depends on sizes and the limit only, never on the thread count. */
static int64_t rows_per_block(const cr_conv2d_dims *d, int64_t elsize) {
    int64_t row_bytes = d->C * d->R * d->S * d->Q * elsize;
    int64_t rows = g_ws_limit / (row_bytes > 0 ? row_bytes : 1);
    if (rows < 1) rows = 1;
    if (rows > d->P) rows = d->P;
    return rows;
}

static int num_threads_for(int64_t work) {
    int nt = cr_in_parallel() ? 1 : cr_get_num_threads();
    if (work < 32768) nt = 1; /* tiny problems stay serial: a fork costs more than they do */
    return nt;
}

int64_t cr_conv2d_workspace_bytes(const cr_conv2d_dims *d, int which, int64_t elsize) {
    (void)which; /* forward and backward use one CRS x (rows*Q) buffer per thread */
    if (is_pointwise(d) || d->N == 0) return 0;
    int64_t nt = cr_in_parallel() ? 1 : cr_get_num_threads();
    return nt * d->C * d->R * d->S * rows_per_block(d, elsize) * d->Q * elsize;
}

/* Output positions o in [0, n_out) whose input index o*stride + off lies in [0, size):
 * o in [*lo, *hi). */
static inline void valid_range(int64_t off, int64_t stride, int64_t n_out, int64_t size,
                               int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static void *ws_alloc(int64_t bytes) {
    if (bytes <= 0) return NULL;
    size_t sz = ((size_t)bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, sz);
}

#define CONV_T float
#define CONV_F(name) name##_f32
#define CONV_GEMM cr_gemm_f32
#include "conv.c"
#undef CONV_T
#undef CONV_F
#undef CONV_GEMM

#define CONV_T double
#define CONV_F(name) name##_f64
#define CONV_GEMM cr_gemm_f64
#include "conv.c"
#undef CONV_T
#undef CONV_F
#undef CONV_GEMM

#else /* ---------------- templated body: CONV_T, CONV_F(name), CONV_GEMM ---------------- */

#define T_ CONV_T

/* im2col of CRS rows [row0, row1) and output rows [p0, p1) of one image im (C, H, W):
 *   col[row - row0][(p - p0)*Q + q] = im[c, p*sh - ph + r*dh, q*sw - pw + s*dw]  (0 outside)
 * with row = (c*R + r)*S + s; col has (p1 - p0)*Q columns. */
static void CONV_F(im2col_rows)(T_ *col, const T_ *im, const cr_conv2d_dims *d,
                                int64_t row0, int64_t row1, int64_t p0, int64_t p1) {
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sw = d->sw;
    const int64_t ncols = (p1 - p0) * Q;
    for (int64_t row = row0; row < row1; row++) {
        const int64_t c = row / (R * S), r = (row / S) % R, s = row % S;
        const int64_t off_w = s * d->dw - d->pw;
        int64_t qlo, qhi;
        valid_range(off_w, sw, Q, W, &qlo, &qhi);
        T_ *col_row = col + (row - row0) * ncols;
        for (int64_t p = p0; p < p1; p++) {
            T_ *dst = col_row + (p - p0) * Q;
            const int64_t ih = p * d->sh - d->ph + r * d->dh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)Q * sizeof(T_));
                continue;
            }
            const T_ *src = im + (c * H + ih) * W + off_w; /* src[q*sw] = im[c, ih, q*sw + off_w] */
            for (int64_t q = 0; q < qlo; q++) dst[q] = 0;
            if (sw == 1) {
                memcpy(dst + qlo, src + qlo, (size_t)(qhi - qlo) * sizeof(T_));
            } else {
                for (int64_t q = qlo; q < qhi; q++) dst[q] = src[q * sw];
            }
            for (int64_t q = qhi; q < Q; q++) dst[q] = 0;
        }
    }
}

/* The adjoint of im2col_rows: im[c, ih, iw] += col[row - row0][...] for every in-range
 * (row, p, q); out-of-range (padding) entries of col are dropped. */
static void CONV_F(col2im_rows)(T_ *im, const T_ *col, const cr_conv2d_dims *d,
                                int64_t row0, int64_t row1, int64_t p0, int64_t p1) {
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sw = d->sw;
    const int64_t ncols = (p1 - p0) * Q;
    for (int64_t row = row0; row < row1; row++) {
        const int64_t c = row / (R * S), r = (row / S) % R, s = row % S;
        const int64_t off_w = s * d->dw - d->pw;
        int64_t qlo, qhi;
        valid_range(off_w, sw, Q, W, &qlo, &qhi);
        const T_ *col_row = col + (row - row0) * ncols;
        for (int64_t p = p0; p < p1; p++) {
            const int64_t ih = p * d->sh - d->ph + r * d->dh;
            if (ih < 0 || ih >= H) continue;
            const T_ *src = col_row + (p - p0) * Q;
            T_ *dst = im + (c * H + ih) * W + off_w; /* dst[q*sw] = im[c, ih, q*sw + off_w] */
            if (sw == 1) {
                for (int64_t q = qlo; q < qhi; q++) dst[q] += src[q];
            } else {
                for (int64_t q = qlo; q < qhi; q++) dst[q * sw] += src[q];
            }
        }
    }
}

/* im2col / col2im of one image split by channel over nt threads (each channel's rows
 * read/write only that channel's plane, so col2im stays race-free and deterministic). */
static void CONV_F(im2col_par)(T_ *col, const T_ *im, const cr_conv2d_dims *d,
                               int64_t p0, int64_t p1, int nt) {
    const int64_t RS = d->R * d->S;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < d->C; c++)
        CONV_F(im2col_rows)(col + c * RS * (p1 - p0) * d->Q, im, d, c * RS, (c + 1) * RS, p0, p1);
}

static void CONV_F(col2im_par)(T_ *im, const T_ *col, const cr_conv2d_dims *d,
                               int64_t p0, int64_t p1, int nt) {
    const int64_t RS = d->R * d->S;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < d->C; c++)
        CONV_F(col2im_rows)(im, col + c * RS * (p1 - p0) * d->Q, d, c * RS, (c + 1) * RS, p0, p1);
}

void CONV_F(cr_im2col)(T_ *col, const T_ *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1) {
    CONV_F(im2col_rows)(col, im, d, 0, d->C * d->R * d->S, p0, p1);
}

void CONV_F(cr_col2im)(T_ *im, const T_ *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1) {
    CONV_F(col2im_rows)(im, col, d, 0, d->C * d->R * d->S, p0, p1);
}

/* y_n (K, PQ) = w (K, CRS) @ im2col(x_n) + b, one block of output rows at a time.
 * ws: CRS x (rows*Q) scratch (unused for pointwise); nt > 1 = threads for this image. */
static void CONV_F(forward_image)(T_ *y_n, const T_ *x_n, const T_ *w, const T_ *b,
                                  const cr_conv2d_dims *d, T_ *ws, int64_t rows, int nt) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    if (is_pointwise(d)) {
        CONV_GEMM(0, 0, d->K, PQ, CRS, 1, w, CRS, x_n, PQ, 0, y_n, PQ, NULL, b, CR_ACT_NONE);
        return;
    }
    for (int64_t p0 = 0; p0 < d->P; p0 += rows) {
        const int64_t p1 = p0 + rows < d->P ? p0 + rows : d->P;
        const int64_t cols = (p1 - p0) * d->Q;
        CONV_F(im2col_par)(ws, x_n, d, p0, p1, nt);
        CONV_GEMM(0, 0, d->K, cols, CRS, 1, w, CRS, ws, cols, 0, y_n + p0 * d->Q, PQ,
                  NULL, b, CR_ACT_NONE);
    }
}

int CONV_F(cr_conv2d_forward)(T_ *out, const T_ *inp, const T_ *weight, const T_ *bias,
                              const cr_conv2d_dims *d) {
    const int64_t N = d->N, CHW = d->C * d->H * d->W, KPQ = d->K * d->P * d->Q;
    const int64_t CRS = d->C * d->R * d->S;
    if (N == 0) return 0;
    const int64_t rows = rows_per_block(d, sizeof(T_));
    const int64_t ws_elems = is_pointwise(d) ? 0 : CRS * rows * d->Q;
    int nt = num_threads_for(N * KPQ * CRS);
    const int by_image = nt > 1 && N >= nt; /* else: images in turn, threads inside */
    const int nbuf = by_image ? nt : 1;
    T_ *ws = (T_ *)ws_alloc(nbuf * ws_elems * (int64_t)sizeof(T_));
    if (ws_elems > 0 && !ws) return -1;
    if (by_image) {
        #pragma omp parallel num_threads(nt)
        {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            T_ *ws_t = ws ? ws + t * ws_elems : NULL;
            #pragma omp for schedule(static)
            for (int64_t n = 0; n < N; n++)
                CONV_F(forward_image)(out + n * KPQ, inp + n * CHW, weight, bias, d, ws_t, rows, 1);
        }
    } else {
        for (int64_t n = 0; n < N; n++)
            CONV_F(forward_image)(out + n * KPQ, inp + n * CHW, weight, bias, d, ws, rows, nt);
    }
    free(ws);
    return 0;
}

/* dx_n (C, H, W) += col2im(w^T @ dy_n), block by block. */
static void CONV_F(backward_input_image)(T_ *dx_n, const T_ *dy_n, const T_ *w,
                                         const cr_conv2d_dims *d, T_ *ws, int64_t rows, int nt) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    if (is_pointwise(d)) {
        CONV_GEMM(1, 0, CRS, PQ, d->K, 1, w, CRS, dy_n, PQ, 1, dx_n, PQ, NULL, NULL, CR_ACT_NONE);
        return;
    }
    for (int64_t p0 = 0; p0 < d->P; p0 += rows) {
        const int64_t p1 = p0 + rows < d->P ? p0 + rows : d->P;
        const int64_t cols = (p1 - p0) * d->Q;
        CONV_GEMM(1, 0, CRS, cols, d->K, 1, w, CRS, dy_n + p0 * d->Q, PQ, 0, ws, cols,
                  NULL, NULL, CR_ACT_NONE);
        CONV_F(col2im_par)(dx_n, ws, d, p0, p1, nt);
    }
}

int CONV_F(cr_conv2d_backward)(T_ *dinp, T_ *dweight, T_ *dbias, const T_ *dout,
                               const T_ *inp, const T_ *weight, const cr_conv2d_dims *d) {
    const int64_t N = d->N, K = d->K, CHW = d->C * d->H * d->W;
    const int64_t PQ = d->P * d->Q, KPQ = K * PQ, CRS = d->C * d->R * d->S;
    if (N == 0) return 0;
    const int pointwise = is_pointwise(d);
    const int64_t rows = rows_per_block(d, sizeof(T_));
    const int64_t ws_elems = pointwise ? 0 : CRS * rows * d->Q;
    int nt = num_threads_for(N * KPQ * CRS);
    T_ *ws = (T_ *)ws_alloc(nt * ws_elems * (int64_t)sizeof(T_));
    if (ws_elems > 0 && !ws) return -1;

    /* db[k] += sum_n sum_pq dy[n, k, pq]   and   dw[:, slice] += dy_n @ col_n[slice]^T.
     * Thread t owns rows [k0, k1) of db and CRS rows [r0, r1) of col (columns of dw). */
    if (dweight || dbias) {
        #pragma omp parallel num_threads(nt)
        {
            int t = 0, T = 1;
#ifdef _OPENMP
            t = omp_get_thread_num();
            T = omp_get_num_threads();
#endif
            if (dbias) {
                const int64_t k0 = K * t / T, k1 = K * (t + 1) / T;
                for (int64_t k = k0; k < k1; k++) {
                    T_ acc = 0;
                    for (int64_t n = 0; n < N; n++) {
                        const T_ *dy_nk = dout + n * KPQ + k * PQ;
                        T_ part = 0;
                        for (int64_t i = 0; i < PQ; i++) part += dy_nk[i];
                        acc += part;
                    }
                    dbias[k] += acc;
                }
            }
            const int64_t r0 = CRS * t / T, r1 = CRS * (t + 1) / T;
            if (dweight && r1 > r0) {
                T_ *ws_t = ws ? ws + t * ws_elems : NULL;
                for (int64_t n = 0; n < N; n++) {
                    const T_ *x_n = inp + n * CHW, *dy_n = dout + n * KPQ;
                    if (pointwise) { /* col_n = x_n (C, HW) */
                        CONV_GEMM(0, 1, K, r1 - r0, PQ, 1, dy_n, PQ, x_n + r0 * PQ, PQ, 1,
                                  dweight + r0, CRS, NULL, NULL, CR_ACT_NONE);
                        continue;
                    }
                    for (int64_t p0 = 0; p0 < d->P; p0 += rows) {
                        const int64_t p1 = p0 + rows < d->P ? p0 + rows : d->P;
                        const int64_t cols = (p1 - p0) * d->Q;
                        CONV_F(im2col_rows)(ws_t, x_n, d, r0, r1, p0, p1);
                        CONV_GEMM(0, 1, K, r1 - r0, cols, 1, dy_n + p0 * d->Q, PQ, ws_t, cols, 1,
                                  dweight + r0, CRS, NULL, NULL, CR_ACT_NONE);
                    }
                }
            }
        }
    }

    /* dx_n += col2im(w^T @ dy_n): whole images per thread, as in the forward. */
    if (dinp) {
        const int by_image = nt > 1 && N >= nt;
        if (by_image) {
            #pragma omp parallel num_threads(nt)
            {
                int t = 0;
#ifdef _OPENMP
                t = omp_get_thread_num();
#endif
                T_ *ws_t = ws ? ws + t * ws_elems : NULL;
                #pragma omp for schedule(static)
                for (int64_t n = 0; n < N; n++)
                    CONV_F(backward_input_image)(dinp + n * CHW, dout + n * KPQ, weight, d,
                                                 ws_t, rows, 1);
            }
        } else {
            for (int64_t n = 0; n < N; n++)
                CONV_F(backward_input_image)(dinp + n * CHW, dout + n * KPQ, weight, d, ws,
                                             rows, nt);
        }
    }
    free(ws);
    return 0;
}

#undef T_
#endif /* CONV_T */
