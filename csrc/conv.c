/* conv.c — 2-D convolution by im2col + matrix products, forward and backward (see conv.h).
 *
 * Shapes: x (N, C, H, W), w (K, C, R, S), b (K,), y (N, K, P, Q); CRS = C*R*S, PQ = P*Q.
 * Work is cut into blocks: a block of output rows [p0, p1) of one image (cols = (p1-p0)*Q
 * columns) or, when images are small (PQ < 512), a group of G whole images side by side
 * (cols = G*PQ), so the matrix products stay wide enough to run fast. Per block:
 *   forward   col = im2col(x)                        (CRS, cols)
 *             y[:, cols] = w (K, CRS) @ col + b      (bias in the product's epilogue)
 *   backward  dw (K, CRS) += dy[:, cols] @ col^T
 *             dcol (CRS, cols) = w^T @ dy[:, cols],  dx += col2im(dcol)
 *             db[k] += sum over n, p, q of dy[n, k, p, q]
 * A 1x1 / stride 1 / padding 0 convolution has col == x_n: no im2col, no scratch.
 *
 * The products go to cr_gemm (csrc/gemm.h), except in float32 on AVX-512 CPUs, where the
 * unpacked kernels of conv_avx512.c do dw always, the forward up to K = 128 and dx for
 * K <= 32 (see small_fwd); the choice depends on the shapes only. A stride-1 float32
 * forward with K <= 128 skips im2col altogether ("implicit im2col", see implicit_fwd_ok),
 * and so does the backward of small layers (implicit_bwd_ok) and the dw of larger ones
 * whose dx runs as a convolution (implicit_dw_ok).
 *
 * Threads and determinism (bitwise identical run to run, and for any thread count, as
 * long as the GEMM sums each element in an order independent of its own threading):
 *   - forward and dx: whole blocks of images per thread (each writes its own y_n / dx_n;
 *     products run serially inside the region); with fewer image blocks than threads the
 *     blocks go one after another and the GEMM, im2col and col2im (split by channel)
 *     use the threads instead.
 *   - dw and db: threads own disjoint column slices of dw (CRS rows of col) and rows of
 *     db, so no two threads write one address and every element is summed over images
 *     and blocks in the same order whatever the thread count.
 *   - block sizes depend only on the sizes and the workspace limit, never on threads.
 *
 * Memory: each thread owns one scratch buffer of (CRS + K) x cols values, with cols
 * chosen so that it stays under the per-thread workspace limit (one output row at least).
 *
 * The float32 and float64 kernels are one body compiled twice: this file includes itself
 * with CONV_T = float, then double (the second half below, after #else).
 */
#ifndef CONV_T

#include <stdlib.h>
#include <string.h>
#include "chainrule.h"
#include "split.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef CR_X86
void cr_conv_bcast_f32_avx512(int64_t m, int64_t n, int64_t kd, const float *A, int64_t rsa,
                              int64_t csa, const float *B, int64_t ldb, const int64_t *boff,
                              float *C, int64_t ldc, const int64_t *coff, int acc,
                              const float *bias);
void cr_conv_dot_f32_avx512(int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                            const float *B, int64_t ldb, const int64_t *boff, float *C,
                            int64_t ldc);
void cr_conv_dot_acc_f32_avx512(int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                                const float *B, const int64_t *boff, float *acc);
void cr_conv_dot_reduce_f32_avx512(int64_t m, int64_t n, const float *acc, float *C, int64_t ldc);
/* The AVX-512 kernels run at ISA level avx512 (cpu.h); below it the portable code runs. */
static int have_avx512(void) { return cr_isa() >= CR_ISA_AVX512; }
#endif

static volatile int64_t g_ws_limit = CR_CONV_DEFAULT_WORKSPACE;

static void *g_ws_cache; /* the scratch buffer kept between calls (see ws_alloc) */

/* Setting the limit also frees the cached scratch buffer, so memory drops at once. */
void cr_conv_set_workspace_limit(int64_t bytes) {
    g_ws_limit = bytes < 1 ? 1 : bytes;
    free(__atomic_exchange_n(&g_ws_cache, NULL, __ATOMIC_ACQ_REL));
}
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

/* How work is cut into blocks: G images per block (whole images) when G > 1, else
 * `rows` output rows of one image. Depends on the sizes and the limit, never on threads. */
typedef struct { int64_t G, rows, cols; } conv_blocking;

#define CONV_TARGET_COLS 512 /* below this many columns the products lose speed */

static conv_blocking blocking(const cr_conv2d_dims *d, int64_t elsize) {
    conv_blocking b;
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    const int64_t per_col = (CRS + d->K) * elsize; /* col (or dcol) + a K-row block */
    int64_t max_cols = g_ws_limit / per_col;
    b.G = 1;
    if (PQ < CONV_TARGET_COLS && PQ <= max_cols) {
        int64_t g = (CONV_TARGET_COLS + PQ - 1) / PQ;
        if (g * PQ > max_cols) g = max_cols / PQ;
        if (g > d->N / 8) g = d->N / 8;   /* keep >= 8 blocks for the threads */
        if (g > 1) b.G = g;
    }
    if (b.G > 1) {
        b.rows = d->P;
        b.cols = b.G * PQ;
    } else {
        b.rows = max_cols / d->Q;
        if (b.rows < 1) b.rows = 1;
        if (b.rows > d->P) b.rows = d->P;
        b.cols = b.rows * d->Q;
    }
    return b;
}

/* A small dw (<= 8192 values) lets the implicit backward keep 16-wide partial sums of it. */
static int dw_small(const cr_conv2d_dims *d) { return d->K * d->C * d->R * d->S <= 8192; }

/* tiny problems stay serial: a fork costs more than they do */
#define CONV_THREAD_MIN_WORK 32768.0

/* Implicit im2col (float32, AVX-512, stride 1, few output channels): with the image
 * zero-padded to (C, Hp, Wp), row (c, r, s) of im2col is the contiguous run
 *   xp[c*Hp*Wp + r*dh*Wp + s*dw + j],  j = p*Wp + q,
 * if the output is laid out "wide", P rows of Wp (the last Wp - Q columns of each row are
 * junk, dropped when copying out). The forward then reads the image in place through a
 * table of row offsets instead of building im2col, which for small images cost more than
 * the product itself. Wide columns: nw = (P-1)*Wp + Q; the last row ends at xp's end. */
static int implicit_fwd_ok(const cr_conv2d_dims *d, int64_t elsize) {
#ifdef CR_X86
    if (elsize != 4 || !have_avx512() || d->sh != 1 || d->sw != 1 || d->K > 128 ||
        is_pointwise(d))
        return 0;
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    const int64_t nw = (d->P - 1) * Wp + d->Q;
    return (d->C * Hp * Wp + d->K * nw) * elsize <= g_ws_limit;
#else
    (void)d; (void)elsize;
    return 0;
#endif
}

static int64_t implicit_ws_elems(const cr_conv2d_dims *d) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    return d->C * Hp * Wp + d->K * ((d->P - 1) * Wp + d->Q);
}

/* Per-thread scratch of the implicit backward: xp, dxp, dy_wide and the 16-wide partial
 * sums of the thread's slice of dw (at most ceil(CRS/nt) + 1 columns). */
static int64_t implicit_bwd_elems(const cr_conv2d_dims *d, int64_t nt) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw, CRS = d->C * d->R * d->S;
    return 2 * d->C * Hp * Wp + d->K * ((d->P - 1) * Wp + d->Q) + d->K * ((CRS + nt - 1) / nt + 1) * 16;
}

/* The implicit backward keeps 16-wide partial sums of a small dw across images; its scratch
 * must fit the limit (checked for one thread, the largest case, so the choice never
 * depends on threads). A larger dw is summed image by image instead (implicit_dw_ok). */
static int implicit_bwd_ok(const cr_conv2d_dims *d, int64_t elsize) {
    return implicit_fwd_ok(d, elsize) && dw_small(d) &&
           implicit_bwd_elems(d, 1) * elsize <= g_ws_limit;
}

/* For stride 1, dx is itself a convolution: the correlation of dy with the kernel flipped
 * in space and transposed in channels,
 *   dx[n, c, i, j] = sum_{k,r,s} w[k, c, r, s] * dy[n, k, i + ph - r*dh, j + pw - s*dw]
 *                  = conv(dy, w')[n, c, i, j],  w'[c, k, r', s'] = w[k, c, R-1-r', S-1-s'],
 * with padding dh*(R-1) - ph (>= 0 needed) and the same dilation; its output is H x W.
 * Run through the implicit forward (accumulating into dx) it needs neither im2col nor
 * col2im: 20% faster than w^T @ dy + col2im on 64->64 3x3. Fills *dd with its sizes. */
static int dx_as_conv_ok(const cr_conv2d_dims *d, cr_conv2d_dims *dd) {
    if (d->sh != 1 || d->sw != 1 || implicit_bwd_ok(d, 4)) return 0; /* small: see there */
    *dd = *d;
    dd->C = d->K; dd->H = d->P; dd->W = d->Q; dd->K = d->C;
    dd->ph = d->dh * (d->R - 1) - d->ph;
    dd->pw = d->dw * (d->S - 1) - d->pw;
    if (dd->ph < 0 || dd->pw < 0 || cr_conv2d_dims_init(dd) != 0) return 0;
    return dd->P == d->H && dd->Q == d->W && implicit_fwd_ok(dd, 4);
}

/* dw of a large layer read in place (float32, AVX-512, stride 1, dx done as a convolution):
 * per image, dw[k, crs] += sum_j dy_wide[k, j] * xp[offs[crs] + j] (the implicit
 * backward's product, one horizontal sum per image instead of 16-wide partial sums of a
 * dw too large for them). No im2col: 1.3x faster than im2col + dot on 64->64 3x3, and
 * the scratch (xp and dy_wide per thread) is the implicit forward's, far below im2col's. */
static int implicit_dw_ok(const cr_conv2d_dims *d, int64_t elsize) {
    cr_conv2d_dims dd;
    return elsize == 4 && implicit_fwd_ok(d, elsize) && !implicit_bwd_ok(d, elsize) &&
           dx_as_conv_ok(d, &dd);
}

/* Exactly what the kernels below allocate (they make the same decisions). */
int64_t cr_conv2d_workspace_bytes(const cr_conv2d_dims *d, int which, int64_t elsize) {
    if (d->N == 0) return 0;
    const int64_t CRS = d->C * d->R * d->S, K = d->K;
    int64_t nt = cr_threads_for((double)d->N * K * d->P * d->Q * CRS, CONV_THREAD_MIN_WORK);
    const int64_t offs_bytes = CRS * (int64_t)sizeof(int64_t);
    if (which == 0 && implicit_fwd_ok(d, elsize)) {
        if (nt > d->N) nt = d->N;
        return nt * implicit_ws_elems(d) * elsize + offs_bytes;
    }
    if (which == 1 && implicit_bwd_ok(d, elsize))
        return nt * implicit_bwd_elems(d, nt) * elsize + offs_bytes;
    if (which == 1 && implicit_dw_ok(d, elsize)) { /* dx (as a convolution), then dw */
        cr_conv2d_dims dd;
        dx_as_conv_ok(d, &dd);
        const int64_t dx_bytes = cr_conv2d_workspace_bytes(&dd, 0, elsize) + K * CRS * elsize;
        const int64_t dw_bytes = nt * implicit_ws_elems(d) * elsize + offs_bytes;
        return dx_bytes > dw_bytes ? dx_bytes : dw_bytes;
    }
    if (is_pointwise(d)) return 0;
    const conv_blocking b = blocking(d, elsize);
    const int64_t ws_bytes = (CRS + K) * b.cols * elsize;
    const int64_t nblocks = (d->N + b.G - 1) / b.G;
    if (which == 0) return (nt > 1 && nblocks >= nt ? nt : 1) * ws_bytes;
    int64_t bytes = nt * ws_bytes;
    cr_conv2d_dims dd;
    if (elsize == 4 && dx_as_conv_ok(d, &dd)) { /* dx first, then dw: the larger of the two */
        const int64_t dx_bytes = cr_conv2d_workspace_bytes(&dd, 0, elsize) + K * CRS * elsize;
        if (dx_bytes > bytes) bytes = dx_bytes;
    }
    return bytes;
}

/* Output positions o in [0, n_out) whose input index o*stride + off lies in [0, size):
 * o in [*lo, *hi). */
static inline void valid_range(int64_t off, int64_t stride, int64_t n_out, int64_t size,
                               int64_t *lo, int64_t *hi) {
    int64_t l, h;
    if (stride == 1) { /* no divisions: this runs once per im2col row */
        l = off >= 0 ? 0 : -off;
        h = size - off <= 0 ? 0 : size - off;
    } else {
        l = off >= 0 ? 0 : (-off + stride - 1) / stride;
        h = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
    }
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* GCC turns short copy loops back into memcpy/memset calls; for im2col's rows of a few
 * dozen values the call costs more than the copy. */
#if defined(__GNUC__) && !defined(__clang__)
#define CONV_NO_MEMCPY __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define CONV_NO_MEMCPY
#endif

/* Scratch buffers: one is cached across calls, because the page faults of a fresh
 * multi-MiB buffer on every call cost ~10% of a mid-size layer. Thread-safe: a caller
 * takes the cached buffer with an atomic exchange (concurrent callers allocate their
 * own) and puts its buffer back when done (freeing whatever was cached). The cached size
 * is bounded by the workspace limit times the thread count. A 64-byte header holds the
 * usable size. */

/* (c, r, s) -> the next im2col row's (c, r, s), s fastest (row = (c*R + r)*S + s). */
static inline void next_crs(int64_t *c, int64_t *r, int64_t *s, int64_t R, int64_t S) {
    if (++*s < S) return;
    *s = 0;
    if (++*r < R) return;
    *r = 0;
    ++*c;
}

static void *ws_alloc(int64_t bytes) {
    if (bytes <= 0) return NULL;
    const size_t need = ((size_t)bytes + 63) & ~(size_t)63;
    char *c = (char *)__atomic_exchange_n(&g_ws_cache, NULL, __ATOMIC_ACQ_REL);
    if (c && *(size_t *)c >= need) return c + 64;
    free(c);
    c = (char *)aligned_alloc(64, need + 64);
    if (!c) return NULL;
    *(size_t *)c = need;
    return c + 64;
}

static void ws_free(void *p) {
    if (!p) return;
    void *old = __atomic_exchange_n(&g_ws_cache, (char *)p - 64, __ATOMIC_ACQ_REL);
    free(old);
}

#define CONV_T float
#define CONV_F(name) name##_f32
#define CONV_GEMM cr_gemm_f32
#define CONV_IS_F32 1
#include "conv.c"
#undef CONV_T
#undef CONV_F
#undef CONV_GEMM
#undef CONV_IS_F32

#define CONV_T double
#define CONV_F(name) name##_f64
#define CONV_GEMM cr_gemm_f64
#define CONV_IS_F32 0
#include "conv.c"
#undef CONV_T
#undef CONV_F
#undef CONV_GEMM
#undef CONV_IS_F32

#else /* ---------------- templated body: CONV_T, CONV_F(name), CONV_GEMM ---------------- */

#define T_ CONV_T

/* im2col of CRS rows [row0, row1) and output rows [p0, p1) of one image im (C, H, W):
 *   col[(row - row0)*ld + (p - p0)*Q + q] = im[c, p*sh - ph + r*dh, q*sw - pw + s*dw]
 * (0 outside the image), with row = (c*R + r)*S + s.
 * The in-image ranges of p and q are computed once per row, so the inner loop is a plain
 * copy; it is kept a loop (not memcpy) because a libc call per row of Q = 8..32 values
 * cost more than the copy itself (CONV_NO_MEMCPY stops GCC turning it back into one). */
CONV_NO_MEMCPY static void CONV_F(im2col_rows)(T_ *restrict col, int64_t ld,
                                               const T_ *restrict im, const cr_conv2d_dims *d,
                                               int64_t row0, int64_t row1, int64_t p0, int64_t p1) {
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sw = d->sw;
    int64_t c = row0 / (R * S), r = (row0 / S) % R, s = row0 % S; /* (c, r, s) of row */
    for (int64_t row = row0; row < row1; row++, next_crs(&c, &r, &s, R, S)) {
        const int64_t off_w = s * d->dw - d->pw, off_h = r * d->dh - d->ph;
        int64_t qlo, qhi, plo, phi;
        valid_range(off_w, sw, Q, W, &qlo, &qhi);
        valid_range(off_h, d->sh, p1, H, &plo, &phi);
        if (plo < p0) plo = p0;
        if (phi < plo) phi = plo;
        T_ *col_row = col + (row - row0) * ld;
        for (int64_t i = 0; i < (plo - p0) * Q; i++) col_row[i] = 0;
        for (int64_t i = (phi - p0) * Q; i < (p1 - p0) * Q; i++) col_row[i] = 0;
        for (int64_t p = plo; p < phi; p++) {
            T_ *restrict dst = col_row + (p - p0) * Q;
            /* src[q*sw] = im[c, ih, q*sw + off_w] */
            const T_ *restrict src = im + (c * H + p * d->sh + off_h) * W + off_w;
            for (int64_t q = 0; q < qlo; q++) dst[q] = 0;
            if (sw == 1) {
                for (int64_t q = qlo; q < qhi; q++) dst[q] = src[q];
            } else {
                for (int64_t q = qlo; q < qhi; q++) dst[q] = src[q * sw];
            }
            for (int64_t q = qhi; q < Q; q++) dst[q] = 0;
        }
    }
}

/* The adjoint of im2col_rows: im[c, ih, iw] += col[...] for every in-range (row, p, q);
 * entries of col that fall on the padding are dropped. */
CONV_NO_MEMCPY static void CONV_F(col2im_rows)(T_ *restrict im, const T_ *col, int64_t ld, const cr_conv2d_dims *d,
                                int64_t row0, int64_t row1, int64_t p0, int64_t p1) {
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sw = d->sw;
    int64_t c = row0 / (R * S), r = (row0 / S) % R, s = row0 % S; /* (c, r, s) of row */
    for (int64_t row = row0; row < row1; row++, next_crs(&c, &r, &s, R, S)) {
        const int64_t off_w = s * d->dw - d->pw;
        int64_t qlo, qhi;
        valid_range(off_w, sw, Q, W, &qlo, &qhi);
        const int64_t off_h = r * d->dh - d->ph;
        int64_t plo, phi;
        valid_range(off_h, d->sh, p1, H, &plo, &phi);
        if (plo < p0) plo = p0;
        const T_ *col_row = col + (row - row0) * ld;
        for (int64_t p = plo; p < phi; p++) {
            const T_ *restrict src = col_row + (p - p0) * Q;
            /* dst[q*sw] = im[c, ih, q*sw + off_w] */
            T_ *restrict dst = im + (c * H + p * d->sh + off_h) * W + off_w;
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
static void CONV_F(im2col_par)(T_ *col, int64_t ld, const T_ *im, const cr_conv2d_dims *d,
                               int64_t p0, int64_t p1, int nt) {
    const int64_t RS = d->R * d->S;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < d->C; c++)
        CONV_F(im2col_rows)(col + c * RS * ld, ld, im, d, c * RS, (c + 1) * RS, p0, p1);
}

static void CONV_F(col2im_par)(T_ *im, const T_ *col, int64_t ld, const cr_conv2d_dims *d,
                               int64_t p0, int64_t p1, int nt) {
    const int64_t RS = d->R * d->S;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < d->C; c++)
        CONV_F(col2im_rows)(im, col + c * RS * ld, ld, d, c * RS, (c + 1) * RS, p0, p1);
}

void CONV_F(cr_im2col)(T_ *col, const T_ *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1) {
    CONV_F(im2col_rows)(col, (p1 - p0) * d->Q, im, d, 0, d->C * d->R * d->S, p0, p1);
}

void CONV_F(cr_col2im)(T_ *im, const T_ *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1) {
    CONV_F(col2im_rows)(im, col, (p1 - p0) * d->Q, d, 0, d->C * d->R * d->S, p0, p1);
}

/* C (m, n) = op(A) (m, kd) @ B (kd, n) [+ C if acc] [+ bias[i]]; op(A)(i, p) is
 * A[i*lda + p] or, if trans_a, A[p*lda + i]. `small` picks the unpacked AVX-512 kernel
 * for float32 (a decision made from the shapes only). */
static void CONV_F(mm)(int small, int trans_a, int64_t m, int64_t n, int64_t kd, const T_ *A,
                       int64_t lda, const T_ *B, int64_t ldb, T_ *C, int64_t ldc, int acc,
                       const T_ *bias) {
#if CONV_IS_F32 && defined(CR_X86)
    if (small && have_avx512()) {
        cr_conv_bcast_f32_avx512(m, n, kd, (const float *)A, trans_a ? 1 : lda,
                                 trans_a ? lda : 1, (const float *)B, ldb, NULL, (float *)C, ldc,
                                 NULL, acc, (const float *)bias);
        return;
    }
#endif
    (void)small;
    CONV_GEMM(trans_a, 0, m, n, kd, 1, A, lda, B, ldb, acc ? 1 : 0, C, ldc, NULL, bias,
              CR_ACT_NONE);
}

/* C (m, n) += A (m, L) @ B (n, L)^T, rows of A and B contiguous (the dw product). */
static void CONV_F(mm_nt)(int small, int64_t m, int64_t n, int64_t L, const T_ *A, int64_t lda,
                          const T_ *B, int64_t ldb, T_ *C, int64_t ldc) {
#if CONV_IS_F32 && defined(CR_X86)
    if (small && have_avx512()) {
        cr_conv_dot_f32_avx512(m, n, L, (const float *)A, lda, (const float *)B, ldb, NULL,
                               (float *)C, ldc);
        return;
    }
#endif
    (void)small;
    CONV_GEMM(0, 1, m, n, L, 1, A, lda, B, ldb, 1, C, ldc, NULL, NULL, CR_ACT_NONE);
}

/* When the unpacked float32 kernels beat the packed GEMM (measured on the LeNet and CIFAR
 * layers of the conv bench): forward up to K = 128 output channels; dx only for a short
 * reduction (K <= 32); dw always (no packing of the im2col matrix, 25% faster on 64->64). */
static int CONV_F(small_fwd)(const cr_conv2d_dims *d) { return d->K <= 128; }
static int CONV_F(small_dx)(const cr_conv2d_dims *d) { return d->K <= 32; }
static int CONV_F(small_dw)(const cr_conv2d_dims *d) { (void)d; return 1; }

/* db[k] += sum_n sum_pq dy[n, k, pq] for k in [k0, k1). 16 independent partial sums (lane
 * l takes pq = l mod 16) added up in a fixed order at the end: vectorisable, deterministic,
 * and 4x faster than one serial chain of additions. */
static void CONV_F(bias_grad_rows)(T_ *dbias, const T_ *dout, const cr_conv2d_dims *d,
                                   int64_t k0, int64_t k1) {
    const int64_t PQ = d->P * d->Q, KPQ = d->K * PQ;
    for (int64_t k = k0; k < k1; k++) {
        T_ lane[16] = {0};
        for (int64_t n = 0; n < d->N; n++) {
            const T_ *dy_nk = dout + n * KPQ + k * PQ;
            int64_t i = 0;
            for (; i + 16 <= PQ; i += 16)
                for (int l = 0; l < 16; l++) lane[l] += dy_nk[i + l];
            for (int l = 0; i + l < PQ; l++) lane[l] += dy_nk[i + l];
        }
        T_ acc = 0;
        for (int l = 0; l < 16; l++) acc += lane[l];
        dbias[k] += acc;
    }
}

/* Forward of images [n0, n0 + g): y_n (K, PQ) = w @ im2col(x_n) + b.
 * ws: (CRS + K) x b.cols scratch; nt > 1: threads to use inside (g == 1 only). */
static void CONV_F(forward_block)(T_ *out, const T_ *inp, const T_ *w, const T_ *bias,
                                  const cr_conv2d_dims *d, const conv_blocking *bl,
                                  int64_t n0, int64_t g, T_ *ws, int nt) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q, CHW = d->C * d->H * d->W;
    const int64_t K = d->K, KPQ = K * PQ;
    const int small = CONV_F(small_fwd)(d);
    if (is_pointwise(d)) {
        for (int64_t n = n0; n < n0 + g; n++)
            CONV_F(mm)(small, 0, K, PQ, CRS, w, CRS, inp + n * CHW, PQ, out + n * KPQ, PQ, 0, bias);
        return;
    }
    if (g == 1) {
        const T_ *x_n = inp + n0 * CHW;
        T_ *y_n = out + n0 * KPQ;
        for (int64_t p0 = 0; p0 < d->P; p0 += bl->rows) {
            const int64_t p1 = p0 + bl->rows < d->P ? p0 + bl->rows : d->P;
            const int64_t cols = (p1 - p0) * d->Q;
            CONV_F(im2col_par)(ws, cols, x_n, d, p0, p1, nt);
            CONV_F(mm)(small, 0, K, cols, CRS, w, CRS, ws, cols, y_n + p0 * d->Q, PQ, 0, bias);
        }
        return;
    }
    /* g whole images side by side: col (CRS, g*PQ), then y block (K, g*PQ) -> y_n */
    const int64_t ld = g * PQ;
    T_ *col = ws, *yb = ws + CRS * bl->cols;
    for (int64_t j = 0; j < g; j++)
        CONV_F(im2col_rows)(col + j * PQ, ld, inp + (n0 + j) * CHW, d, 0, CRS, 0, d->P);
    CONV_F(mm)(small, 0, K, ld, CRS, w, CRS, col, ld, yb, ld, 0, bias);
    for (int64_t j = 0; j < g; j++)
        for (int64_t k = 0; k < K; k++)
            memcpy(out + (n0 + j) * KPQ + k * PQ, yb + k * ld + j * PQ, (size_t)PQ * sizeof(T_));
}

#if CONV_IS_F32 && defined(CR_X86)
/* The implicit-im2col forward (see implicit_fwd_ok): per image, pad into xp (borders
 * zeroed once), y_wide (K, nw) = w @ [rows of xp at offs] + b, copy the Q valid columns
 * of each wide row out. Threads take whole images. */
static int forward_implicit_f32(float *out, const float *inp, const float *w, const float *bias,
                                const cr_conv2d_dims *d, int accumulate) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    const int64_t ws_elems = implicit_ws_elems(d);
    int nt = cr_threads_for((double)N * K * PQ * CRS, CONV_THREAD_MIN_WORK);
    if (nt > N) nt = (int)N;
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    float *ws = (float *)ws_alloc(nt * ws_elems * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        ws_free(ws);
        return -1;
    }
    if (padded) /* zero borders: only the interior of xp is written per image */
        for (int t = 0; t < nt; t++) memset(ws + t * ws_elems, 0, (size_t)(C * HWp) * sizeof(float));
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * d->dh * Wp + s * d->dw;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM();
        float *xp = ws + t * ws_elems, *yw = xp + C * HWp;
        #pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const float *x_n = inp + n * C * H * W;
            if (padded)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t h = 0; h < H; h++)
                        memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                               (size_t)W * sizeof(float));
            cr_conv_bcast_f32_avx512(K, nw, CRS, w, CRS, 1, padded ? xp : x_n, 0, offs, yw, nw,
                                     NULL, 0, bias);
            float *y_n = out + n * K * PQ;
            for (int64_t k = 0; k < K; k++)
                for (int64_t p = 0; p < P; p++) {
                    float *dst = y_n + k * PQ + p * Q;
                    const float *src = yw + k * nw + p * Wp;
                    if (accumulate)
                        for (int64_t q = 0; q < Q; q++) dst[q] += src[q];
                    else
                        memcpy(dst, src, (size_t)Q * sizeof(float));
                }
        }
    }
    free(offs);
    ws_free(ws);
    return 0;
}
#endif

#if CONV_IS_F32 && defined(CR_X86)
/* The implicit-im2col backward (same conditions as the forward, and a small dw), in the
 * forward's wide layout: dy_wide (K, nw) is dy with zero junk columns, xp the padded image.
 *   dw[k, crs] += sum_j dy_wide[k, j] * xp[offs[crs] + j]        (dot kernel, rows by offset)
 *   dxp[offs[crs] + j] += sum_k w[k, crs] * dy_wide[k, j]       (broadcast kernel writing
 *                         rows of dxp at the offsets, one after another), dx_n += interior
 * The junk columns of dy_wide are zero, so they add nothing to dw or dxp. dw: threads own
 * CRS slices (each builds xp and dy_wide itself); dx: threads take whole images. */
static int backward_implicit_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *w, const cr_conv2d_dims *d) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    int nt = cr_threads_for((double)N * K * PQ * CRS, CONV_THREAD_MIN_WORK);
    const int64_t per_t = implicit_bwd_elems(d, nt); /* xp, dxp, dy_wide, dw partial sums */
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    float *ws = (float *)ws_alloc(nt * per_t * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        ws_free(ws);
        return -1;
    }
    memset(ws, 0, (size_t)(nt * per_t) * sizeof(float)); /* borders, junk, partial sums */
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * d->dh * Wp + s * d->dw;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        float *xp = ws + t * per_t, *dxp = xp + C * HWp, *dyw = dxp + C * HWp;
        float *dw_acc = dyw + K * nw;
        /* dy_n (K, P, Q) -> dy_wide (K, nw); the junk columns stay zero */
#define FILL_DY_WIDE(n)                                                                    \
        for (int64_t k = 0; k < K; k++)                                                    \
            for (int64_t p = 0; p < P; p++)                                                \
                memcpy(dyw + k * nw + p * Wp, dout + (n) * K * PQ + k * PQ + p * Q,        \
                       (size_t)Q * sizeof(float))
        if (dbias) bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t r0 = CRS * t / T, r1 = CRS * (t + 1) / T;
        if (dweight && r1 > r0) {
            for (int64_t n = 0; n < N; n++) {
                const float *x_n = inp + n * C * H * W;
                if (padded)
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t h = 0; h < H; h++)
                            memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                                   (size_t)W * sizeof(float));
                FILL_DY_WIDE(n);
                cr_conv_dot_acc_f32_avx512(K, r1 - r0, nw, dyw, nw, padded ? xp : x_n, offs + r0,
                                           dw_acc);
            }
            cr_conv_dot_reduce_f32_avx512(K, r1 - r0, dw_acc, dweight + r0, CRS);
        }
        if (dinp) {
            #pragma omp for schedule(static)
            for (int64_t n = 0; n < N; n++) {
                memset(dxp, 0, (size_t)(C * HWp) * sizeof(float));
                FILL_DY_WIDE(n);
                cr_conv_bcast_f32_avx512(CRS, nw, K, w, 1, CRS, dyw, nw, NULL, dxp, 0, offs, 1,
                                         NULL);
                float *dx_n = dinp + n * C * H * W;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t h = 0; h < H; h++) {
                        const float *src = dxp + c * HWp + (h + d->ph) * Wp + d->pw;
                        float *dst = dx_n + (c * H + h) * W;
                        for (int64_t i = 0; i < W; i++) dst[i] += src[i];
                    }
            }
        }
#undef FILL_DY_WIDE
    }
    free(offs);
    ws_free(ws);
    return 0;
}
#endif

#if CONV_IS_F32 && defined(CR_X86)
/* dw and db of a large layer without im2col (see implicit_dw_ok), in the forward's wide
 * layout: per image n, in order,
 *   dw[k, crs] += sum_j dy_wide[k, j] * xp[offs[crs] + j]   (dot kernel, rows by offset)
 * Threads own CRS slices of dw (each builds xp and dy_wide itself) and rows of db, so each
 * element is summed in the same order whatever the thread count. */
static int backward_weight_implicit_f32(float *dweight, float *dbias, const float *dout,
                                        const float *inp, const cr_conv2d_dims *d) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    int nt = cr_threads_for((double)N * K * PQ * CRS, CONV_THREAD_MIN_WORK);
    const int64_t per_t = implicit_ws_elems(d); /* xp (C, Hp, Wp), dy_wide (K, nw) */
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    float *ws = (float *)ws_alloc(nt * per_t * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        ws_free(ws);
        return -1;
    }
    memset(ws, 0, (size_t)(nt * per_t) * sizeof(float)); /* borders and junk columns */
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * d->dh * Wp + s * d->dw;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        float *xp = ws + t * per_t, *dyw = xp + C * HWp;
        if (dbias) bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t r0 = CRS * t / T, r1 = CRS * (t + 1) / T;
        const int64_t c0 = r0 / (d->R * d->S), c1 = (r1 + d->R * d->S - 1) / (d->R * d->S);
        if (dweight && r1 > r0) {
            for (int64_t n = 0; n < N; n++) {
                const float *x_n = inp + n * C * H * W;
                if (padded) /* only the channels of this thread's slice are read */
                    for (int64_t c = c0; c < c1; c++)
                        for (int64_t h = 0; h < H; h++)
                            memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                                   (size_t)W * sizeof(float));
                for (int64_t k = 0; k < K; k++)
                    for (int64_t p = 0; p < P; p++)
                        memcpy(dyw + k * nw + p * Wp, dout + n * K * PQ + k * PQ + p * Q,
                               (size_t)Q * sizeof(float));
                cr_conv_dot_f32_avx512(K, r1 - r0, nw, dyw, nw, padded ? xp : x_n, 0, offs + r0,
                                       dweight + r0, CRS);
            }
        }
    }
    free(offs);
    ws_free(ws);
    return 0;
}
#endif

#if CONV_IS_F32 && defined(CR_X86)
static int backward_input_as_conv_f32(float *dinp, const float *dout, const float *w,
                                      const cr_conv2d_dims *d, const cr_conv2d_dims *dd) {
    const int64_t K = d->K, C = d->C, R = d->R, S = d->S;
    float *wf = (float *)malloc((size_t)(K * C * R * S) * sizeof(float));
    if (!wf) return -1;
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    wf[((c * K + k) * R + r) * S + s] = w[((k * C + c) * R + (R - 1 - r)) * S + (S - 1 - s)];
    const int rc = forward_implicit_f32(dinp, dout, wf, NULL, dd, 1);
    free(wf);
    return rc;
}
#endif

int CONV_F(cr_conv2d_forward)(T_ *out, const T_ *inp, const T_ *weight, const T_ *bias,
                              const cr_conv2d_dims *d) {
    const int64_t N = d->N, KPQ = d->K * d->P * d->Q, CRS = d->C * d->R * d->S;
    if (N == 0) return 0;
#if CONV_IS_F32 && defined(CR_X86)
    if (implicit_fwd_ok(d, sizeof(T_)))
        return forward_implicit_f32(out, inp, weight, bias, d, 0);
#endif
    const conv_blocking bl = blocking(d, sizeof(T_));
    const int64_t ws_elems = is_pointwise(d) ? 0 : (CRS + d->K) * bl.cols;
    const int64_t nblocks = (N + bl.G - 1) / bl.G;
    int nt = cr_threads_for((double)N * KPQ * CRS, CONV_THREAD_MIN_WORK);
    const int by_block = nt > 1 && nblocks >= nt; /* else: blocks in turn, threads inside */
    T_ *ws = (T_ *)ws_alloc((by_block ? nt : 1) * ws_elems * (int64_t)sizeof(T_));
    if (ws_elems > 0 && !ws) return -1;
    if (by_block) {
        #pragma omp parallel num_threads(nt)
        {
            const int t = CR_THREAD_NUM();
            T_ *ws_t = ws ? ws + t * ws_elems : NULL;
            #pragma omp for schedule(static)
            for (int64_t blk = 0; blk < nblocks; blk++) {
                const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                CONV_F(forward_block)(out, inp, weight, bias, d, &bl, n0, g, ws_t, 1);
            }
        }
    } else {
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
            CONV_F(forward_block)(out, inp, weight, bias, d, &bl, n0, g, ws, g == 1 ? nt : 1);
        }
    }
    ws_free(ws);
    return 0;
}

/* dx_n += col2im(w^T @ dy_n) for images [n0, n0 + g). */
static void CONV_F(backward_input_block)(T_ *dinp, const T_ *dout, const T_ *w,
                                         const cr_conv2d_dims *d, const conv_blocking *bl,
                                         int64_t n0, int64_t g, T_ *ws, int nt) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q, CHW = d->C * d->H * d->W;
    const int64_t K = d->K, KPQ = K * PQ;
    const int small = CONV_F(small_dx)(d);
    if (is_pointwise(d)) {
        for (int64_t n = n0; n < n0 + g; n++)
            CONV_F(mm)(small, 1, CRS, PQ, K, w, CRS, dout + n * KPQ, PQ, dinp + n * CHW, PQ, 1, NULL);
        return;
    }
    if (g == 1) {
        T_ *dx_n = dinp + n0 * CHW;
        const T_ *dy_n = dout + n0 * KPQ;
        for (int64_t p0 = 0; p0 < d->P; p0 += bl->rows) {
            const int64_t p1 = p0 + bl->rows < d->P ? p0 + bl->rows : d->P;
            const int64_t cols = (p1 - p0) * d->Q;
            CONV_F(mm)(small, 1, CRS, cols, K, w, CRS, dy_n + p0 * d->Q, PQ, ws, cols, 0, NULL);
            CONV_F(col2im_par)(dx_n, ws, cols, d, p0, p1, nt);
        }
        return;
    }
    /* g whole images: gather dy (K, g*PQ), dcol (CRS, g*PQ) = w^T @ dy, col2im per image */
    const int64_t ld = g * PQ;
    T_ *dcol = ws, *dyb = ws + CRS * bl->cols;
    for (int64_t j = 0; j < g; j++)
        for (int64_t k = 0; k < K; k++)
            memcpy(dyb + k * ld + j * PQ, dout + (n0 + j) * KPQ + k * PQ, (size_t)PQ * sizeof(T_));
    CONV_F(mm)(small, 1, CRS, ld, K, w, CRS, dyb, ld, dcol, ld, 0, NULL);
    for (int64_t j = 0; j < g; j++)
        CONV_F(col2im_rows)(dinp + (n0 + j) * CHW, dcol + j * PQ, ld, d, 0, CRS, 0, d->P);
}

/* dw[:, r0:r1] (or dw^T[r0:r1, :] when transposed) += dy_blk @ col_blk[r0:r1]^T over
 * images [n0, n0 + g); ws: (CRS + K) x cols scratch of this thread. */
static void CONV_F(backward_weight_block)(T_ *dw, const T_ *dout, const T_ *inp,
                                          const cr_conv2d_dims *d, const conv_blocking *bl,
                                          int64_t n0, int64_t g, int64_t r0, int64_t r1, T_ *ws) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q, CHW = d->C * d->H * d->W;
    const int64_t K = d->K, KPQ = K * PQ, nr = r1 - r0;
    const int small = CONV_F(small_dw)(d);
    /* one product: dy (K, L, row stride LDY) against col rows [r0, r1) (L, row stride LDC) */
#define DW_PRODUCT(DY, LDY, COL, LDC, L) \
    CONV_F(mm_nt)(small, K, nr, L, DY, LDY, COL, LDC, dw + r0, CRS)
    if (is_pointwise(d)) { /* col_n = x_n (C, HW) */
        for (int64_t n = n0; n < n0 + g; n++)
            DW_PRODUCT(dout + n * KPQ, PQ, inp + n * CHW + r0 * PQ, PQ, PQ);
        return;
    }
    if (g == 1) {
        const T_ *x_n = inp + n0 * CHW, *dy_n = dout + n0 * KPQ;
        for (int64_t p0 = 0; p0 < d->P; p0 += bl->rows) {
            const int64_t p1 = p0 + bl->rows < d->P ? p0 + bl->rows : d->P;
            const int64_t cols = (p1 - p0) * d->Q;
            CONV_F(im2col_rows)(ws, cols, x_n, d, r0, r1, p0, p1);
            DW_PRODUCT(dy_n + p0 * d->Q, PQ, ws, cols, cols);
        }
        return;
    }
    const int64_t ld = g * PQ;
    T_ *col = ws, *dyb = ws + CRS * bl->cols;
    for (int64_t j = 0; j < g; j++) {
        CONV_F(im2col_rows)(col + j * PQ, ld, inp + (n0 + j) * CHW, d, r0, r1, 0, d->P);
        for (int64_t k = 0; k < K; k++)
            memcpy(dyb + k * ld + j * PQ, dout + (n0 + j) * KPQ + k * PQ, (size_t)PQ * sizeof(T_));
    }
    DW_PRODUCT(dyb, ld, col, ld, ld);
#undef DW_PRODUCT
}

int CONV_F(cr_conv2d_backward)(T_ *dinp, T_ *dweight, T_ *dbias, const T_ *dout,
                               const T_ *inp, const T_ *weight, const cr_conv2d_dims *d) {
    const int64_t N = d->N, K = d->K;
    const int64_t PQ = d->P * d->Q, KPQ = K * PQ, CRS = d->C * d->R * d->S;
    if (N == 0) return 0;
#if CONV_IS_F32 && defined(CR_X86)
    if (implicit_bwd_ok(d, sizeof(T_)))
        return backward_implicit_f32(dinp, dweight, dbias, dout, inp, weight, d);
    cr_conv2d_dims dd;
    if (dinp && dx_as_conv_ok(d, &dd)) {
        if (backward_input_as_conv_f32(dinp, dout, weight, d, &dd) != 0) return -1;
        dinp = NULL; /* done: the rest computes dw and db */
    }
    if (implicit_dw_ok(d, sizeof(T_)))
        return backward_weight_implicit_f32(dweight, dbias, dout, inp, d);
#endif
    const conv_blocking bl = blocking(d, sizeof(T_));
    const int64_t ws_elems = is_pointwise(d) ? 0 : (CRS + K) * bl.cols;
    const int64_t nblocks = (N + bl.G - 1) / bl.G;
    int nt = cr_threads_for((double)N * KPQ * CRS, CONV_THREAD_MIN_WORK);
    T_ *ws = (T_ *)ws_alloc(nt * ws_elems * (int64_t)sizeof(T_));
    if (ws_elems > 0 && !ws) return -1;

    /* db[k] += sum_n sum_pq dy[n, k, pq]   and   dw[:, slice] += dy @ col[slice]^T.
     * Thread t owns rows [k0, k1) of db and CRS rows [r0, r1) of col (columns of dw). */
    if (dweight || dbias) {
        #pragma omp parallel num_threads(nt)
        {
            const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
            if (dbias) CONV_F(bias_grad_rows)(dbias, dout, d, K * t / T, K * (t + 1) / T);
            const int64_t r0 = CRS * t / T, r1 = CRS * (t + 1) / T;
            if (dweight && r1 > r0) {
                T_ *ws_t = ws ? ws + t * ws_elems : NULL;
                for (int64_t blk = 0; blk < nblocks; blk++) {
                    const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                    CONV_F(backward_weight_block)(dweight, dout, inp, d, &bl, n0, g, r0, r1,
                                                  ws_t);
                }
            }
        }
    }

    /* dx_n += col2im(w^T @ dy_n): whole blocks of images per thread, as in the forward. */
    if (dinp) {
        const int by_block = nt > 1 && nblocks >= nt;
        if (by_block) {
            #pragma omp parallel num_threads(nt)
            {
                const int t = CR_THREAD_NUM();
                T_ *ws_t = ws ? ws + t * ws_elems : NULL;
                #pragma omp for schedule(static)
                for (int64_t blk = 0; blk < nblocks; blk++) {
                    const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                    CONV_F(backward_input_block)(dinp, dout, weight, d, &bl, n0, g, ws_t, 1);
                }
            }
        } else {
            for (int64_t blk = 0; blk < nblocks; blk++) {
                const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                CONV_F(backward_input_block)(dinp, dout, weight, d, &bl, n0, g, ws,
                                             g == 1 ? nt : 1);
            }
        }
    }
    ws_free(ws);
    return 0;
}

#undef T_
#endif /* CONV_T */
