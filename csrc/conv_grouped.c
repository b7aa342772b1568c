/* conv_grouped.c — grouped convolution (1 < groups, not depthwise; see conv_grouped.h) in
 * one parallel region over work items, instead of one call of the ungrouped kernels per
 * group: with ResNeXt's 4 or 8 channels per group each group alone is too small to keep
 * the threads and the matrix kernels busy, and slicing the groups out costs copies.
 *
 * Work items are (image n, group j): x_nj = x[n, j*Cg:(j+1)*Cg] and y_nj are contiguous.
 *   forward, dx  items split statically over the threads (each writes its own y_nj / dx_nj)
 *   dw, db       threads own whole groups of dw, summing the images in order, and rows of
 *                db, so every element is summed in the same order for any thread count.
 * Paths (grp_path):
 *   implicit  float32 on AVX-512, stride 1 or 2, not 1x1 (CR_CONV_GROUPED_IMPLICIT): the
 *             group's Cg channels copied zero-padded per item (at stride 2 split into 4
 *             phase planes, see grp_lay) and read in place through a table of row offsets
 *             by the unpacked kernels of conv_avx512.c (conv_implicit.c's layout: the output
 *             "wide"); dx (stride 1) is the same forward of dy with the weights flipped in
 *             space and transposed in channels (needs padding <= dilation*(kernel-1)); dw
 *             the dot kernel with 16-wide partial sums over images.
 *   im2col    everything else (conv_grouped_tmpl.h): im2col of one group of one image,
 *             blocked by output rows under the workspace limit, and a small product.
 * Layers with many channels per group (groups = 2 of wide layers) keep the ungrouped
 * kernels once per group (path NONE): their Winograd / implicit / packed-GEMM plans win.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "conv_grouped.h"
#include "gemm.h"
#include "split.h"

#define CONV_GRP_MIN_WORK 32768.0

/* One group of one image. */
static cr_conv2d_dims grp_dims(const cr_conv2d_dims *d, int64_t G) {
    cr_conv2d_dims g = *d;
    g.N = 1;
    g.C = d->C / G;
    g.K = d->K / G;
    return g;
}

/* im2col path: output rows per block, so that col (CgRS x rows*Q) stays under the limit */
static int64_t grp_rows(const cr_conv2d_dims *g, int64_t elsize) {
    const int64_t per_row = g->C * g->R * g->S * g->Q * elsize;
    int64_t rows = cr_conv_get_workspace_limit() / (per_row > 0 ? per_row : 1);
    return rows < 1 ? 1 : rows > g->P ? g->P : rows;
}
static int64_t grp_col_elems(const cr_conv2d_dims *g, int64_t rows) {
    return conv_is_pointwise(g) ? 0 : g->C * g->R * g->S * rows * g->Q;
}

/* dx as a convolution of dy: sizes of one group (C = Kg, K = Cg, pad dil*(k-1) - pad) */
static int grp_dx_dims(const cr_conv2d_dims *g, cr_conv2d_dims *dd) {
    *dd = *g;
    dd->C = g->K; dd->K = g->C; dd->H = g->P; dd->W = g->Q;
    dd->ph = g->dh * (g->R - 1) - g->ph;
    dd->pw = g->dw * (g->S - 1) - g->pw;
    if (g->sh != 1 || g->sw != 1 || dd->ph < 0 || dd->pw < 0 || cr_conv2d_dims_init(dd) != 0)
        return -1;
    return dd->P == g->H && dd->Q == g->W ? 0 : -1;
}

/* The implicit layout of g: the zero-padded group split into sh x sw phase planes of
 * Hs x Ws values per channel (plane (a, b) of channel c holds the padded rows a, a + sh, ...
 * and columns b, b + sw, ...), so that every tap (r, s) of a strided layer reads a
 * contiguous run of one plane, as at stride 1; the output "wide": P rows of Ws values (the
 * last Ws - Q of each are junk). Stride 1: one plane, the padded image itself. copy: 0 when
 * the image can be read in place (stride 1, no padding). */
typedef struct { int64_t Hs, Ws, plane, xp, nw; int copy; } grp_layout;
static grp_layout grp_lay(const cr_conv2d_dims *g) {
    grp_layout l;
    const int64_t Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw;
    l.Hs = (Hp + g->sh - 1) / g->sh;
    l.Ws = (Wp + g->sw - 1) / g->sw;
    l.plane = l.Hs * l.Ws;
    l.xp = g->sh * g->sw * g->C * l.plane;
    l.nw = (g->P - 1) * l.Ws + g->Q;
    l.copy = g->ph > 0 || g->pw > 0 || g->sh > 1 || g->sw > 1;
    return l;
}

/* scratch elements per thread of the implicit forward of g: padded group + wide output */
static int64_t grp_implicit_elems(const cr_conv2d_dims *g) {
    const grp_layout l = grp_lay(g);
    return l.xp + g->K * l.nw;
}

/* The implicit path's limits: float32 on AVX-512, stride 1, not 1x1, few channels per
 * group (the broadcast kernel's register tile is <= 8 rows; from 64 on the packed GEMM and
 * the ungrouped plans win), the per-thread scratch under the workspace limit. */
static int grp_implicit_ok(const cr_conv2d_dims *d, int64_t G, int which, int64_t elsize) {
    const cr_conv2d_dims g = grp_dims(d, G);
    if (elsize != 4 || !conv_avx512() || cr_conv_algo() == CR_CONV_ALGO_IM2COL ||
        d->sh > 2 || d->sw > 2 || conv_is_pointwise(d) || g.C > 64 || g.K > 64)
        return 0;
    const int64_t lim = cr_conv_get_workspace_limit();
    if (which == 1) { /* stride 1 only: dx as a convolution */
        cr_conv2d_dims dd;
        return grp_dx_dims(&g, &dd) == 0 && grp_implicit_elems(&dd) * elsize <= lim;
    }
    const int64_t acc = which == 2 ? g.K * g.C * g.R * g.S * 16 : 0;
    return (grp_implicit_elems(&g) + acc) * elsize <= lim;
}

/* im2col path: while a group is small (the ungrouped kernels win beyond, see the top).
 * CHAINRULE_CONV_ALGO=winograd keeps the ungrouped plans, so the forced Winograd runs. */
static int grp_path(const cr_conv2d_dims *d, int64_t G, int which, int64_t elsize) {
    if (G < 2 || d->C % G || d->K % G || (G == d->C && G == d->K) ||
        cr_conv_algo() == CR_CONV_ALGO_WINOGRAD)
        return CR_CONV_GROUPED_NONE;
    if (grp_implicit_ok(d, G, which, elsize)) return CR_CONV_GROUPED_IMPLICIT;
    if (d->C / G <= 64 && d->K / G <= 64) return CR_CONV_GROUPED_IM2COL;
    return CR_CONV_GROUPED_NONE;
}

int cr_conv2d_grouped_path(const cr_conv2d_dims *d, int64_t groups, int which, int64_t elsize) {
    return grp_path(d, groups, which, elsize);
}

int cr_conv2d_grouped_threads(const cr_conv2d_dims *d, int64_t groups) {
    return cr_threads_for((double)d->N * d->K * d->P * d->Q * (d->C / groups) * d->R * d->S,
                          CONV_GRP_MIN_WORK);
}

int64_t cr_conv2d_grouped_workspace_bytes(const cr_conv2d_dims *d, int64_t groups, int which,
                                          int64_t elsize) {
    if (d->N == 0) return 0;
    const cr_conv2d_dims g = grp_dims(d, groups);
    const int64_t nt = cr_conv2d_grouped_threads(d, groups);
    int64_t best = 0;
    for (int ph = which == 0 ? 0 : 1; ph <= (which == 0 ? 0 : 2); ph++) {
        const int path = grp_path(d, groups, ph, elsize);
        int64_t e = grp_col_elems(&g, grp_rows(&g, elsize));
        if (path == CR_CONV_GROUPED_IMPLICIT && ph == 1) {
            cr_conv2d_dims dd;
            grp_dx_dims(&g, &dd);
            e = grp_implicit_elems(&dd);
        } else if (path == CR_CONV_GROUPED_IMPLICIT) {
            e = grp_implicit_elems(&g) + (ph == 2 ? g.K * g.C * g.R * g.S * 16 : 0);
        }
        if (nt * e * elsize > best) best = nt * e * elsize;
    }
    return best;
}

#ifdef CR_X86
/* Copies of short rows (Q, W ~ 7..56 values): inline loops, not a libc memcpy per row,
 * which cost as much as the product itself on ResNeXt's 28x28 groups (GCC would turn the
 * loop back into memcpy without the attribute). dst[i*ldd + q] (+)= src[i*lds + q]. */
#if defined(__GNUC__) && !defined(__clang__)
#define GRP_NO_MEMCPY __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define GRP_NO_MEMCPY
#endif
GRP_NO_MEMCPY CR_CLONES static void grp_copy_rows(float *restrict dst, int64_t ldd,
                                                  const float *restrict src, int64_t lds,
                                                  int64_t rows, int64_t n, int accumulate) {
    for (int64_t i = 0; i < rows; i++) {
        float *restrict d = dst + i * ldd;
        const float *restrict s = src + i * lds;
        if (accumulate)
            for (int64_t q = 0; q < n; q++) d[q] += s[q];
        else
            for (int64_t q = 0; q < n; q++) d[q] = s[q];
    }
}

/* xp (grp_lay) = the padded group x (C, H, W); borders stay as they are (zero) */
static void grp_pad(float *xp, const float *x, const cr_conv2d_dims *g, const grp_layout *l) {
    const int64_t C = g->C, H = g->H, W = g->W, sh = g->sh, sw = g->sw;
    if (sh == 1 && sw == 1) {
        for (int64_t c = 0; c < C; c++)
            grp_copy_rows(xp + c * l->plane + g->ph * l->Ws + g->pw, l->Ws, x + c * H * W, W, H,
                          W, 0);
        return;
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t hp = h + g->ph;
            const float *src = x + (c * H + h) * W;
            for (int64_t b = 0; b < sw; b++) {
                const int64_t w0 = ((b - g->pw) % sw + sw) % sw; /* (w0 + pw) % sw == b */
                float *dst = xp + (((hp % sh) * sw + b) * C + c) * l->plane + (hp / sh) * l->Ws +
                             (w0 + g->pw) / sw;
                for (int64_t w = w0, j = 0; w < W; w += sw, j++) dst[j] = src[w];
            }
        }
}

/* y_nj (K, P, Q) [+]= implicit conv of x_nj (C, H, W) by w_j (g: one group), through the
 * padded copy xp (borders zero) and the wide output yw (K, nw). */
static void grp_implicit_item(float *y, const float *x, const float *w, const float *b,
                              const cr_conv2d_dims *g, const int64_t *offs, float *xp,
                              float *yw, int accumulate) {
    const int64_t K = g->K, P = g->P, Q = g->Q, PQ = P * Q, CRS = g->C * g->R * g->S;
    const grp_layout l = grp_lay(g);
    if (l.copy) grp_pad(xp, x, g, &l);
    cr_conv_bcast_f32_avx512(K, l.nw, CRS, w, CRS, 1, l.copy ? xp : x, 0, offs, yw, l.nw, NULL, 0,
                             b);
    for (int64_t k = 0; k < K; k++)
        grp_copy_rows(y + k * PQ, Q, yw + k * l.nw, l.Ws, P, Q, accumulate);
}

/* offsets of the rows (c, r, s) of im2col in the padded group's planes (grp_lay) */
static int64_t *grp_offsets(const cr_conv2d_dims *g) {
    const grp_layout l = grp_lay(g);
    const int64_t sh = g->sh, sw = g->sw;
    int64_t *offs = (int64_t *)malloc((size_t)(g->C * g->R * g->S) * sizeof(int64_t));
    if (offs)
        for (int64_t c = 0, i = 0; c < g->C; c++)
            for (int64_t r = 0; r < g->R; r++)
                for (int64_t s = 0; s < g->S; s++, i++) {
                    const int64_t a = r * g->dh % sh, bb = s * g->dw % sw;
                    offs[i] = ((a * sw + bb) * g->C + c) * l.plane + (r * g->dh / sh) * l.Ws +
                              s * g->dw / sw;
                }
    return offs;
}

/* The implicit forward of N images x G groups of g (x (N, G*g.C, H, W), w (G*g.K, g.C, R,
 * S), y (N, G*g.K, P, Q)); accumulate: y += instead of =. */
static int grp_forward_implicit(float *out, const float *inp, const float *w, const float *b,
                                const cr_conv2d_dims *g, int64_t G, int64_t N, int accumulate) {
    const int64_t CHWg = g->C * g->H * g->W, KPQg = g->K * g->P * g->Q;
    const int64_t wsz = g->K * g->C * g->R * g->S, per_t = grp_implicit_elems(g);
    const int64_t xp_elems = grp_lay(g).xp;
    const int nt = cr_threads_for((double)N * G * KPQg * g->C * g->R * g->S, CONV_GRP_MIN_WORK);
    int64_t *offs = grp_offsets(g);
    float *ws = (float *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *xp = ws + CR_THREAD_NUM() * per_t;
        memset(xp, 0, (size_t)xp_elems * sizeof(float)); /* borders */
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < N * G; i++) {
            const int64_t j = i % G;
            grp_implicit_item(out + i * KPQg, inp + i * CHWg, w + j * wsz, b ? b + j * g->K : NULL,
                              g, offs, xp, xp + xp_elems, accumulate);
        }
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}

/* dx += the implicit forward of dy by the flipped, channel-transposed weights, per group */
static int grp_dx_implicit(float *dx, const float *dy, const float *w, const cr_conv2d_dims *g,
                           int64_t G, int64_t N) {
    const int64_t C = g->C, K = g->K, R = g->R, S = g->S, wsz = K * C * R * S;
    cr_conv2d_dims dd;
    if (grp_dx_dims(g, &dd) != 0) return -1; /* not planned */
    float *wf = (float *)malloc((size_t)(G * wsz) * sizeof(float));
    if (!wf) return -1;
    for (int64_t j = 0; j < G; j++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < K; k++)
                for (int64_t r = 0; r < R; r++)
                    for (int64_t s = 0; s < S; s++)
                        wf[j * wsz + ((c * K + k) * R + r) * S + s] =
                            w[j * wsz + ((k * C + c) * R + (R - 1 - r)) * S + (S - 1 - s)];
    const int rc = grp_forward_implicit(dx, dy, wf, NULL, &dd, G, N, 1);
    free(wf);
    return rc;
}

/* dw and db: threads own whole groups of dw; per group, per image in order, the padded
 * group xp and dy_wide (K, nw; junk columns zero), dw's 16-wide partial sums kept across
 * images and reduced once per group (a fixed order). db: rows of K per thread. */
static int grp_dw_implicit(float *dw, float *db, const float *dy, const float *x,
                           const cr_conv2d_dims *d, const cr_conv2d_dims *g, int64_t G,
                           int64_t N) {
    const int64_t C = g->C, K = g->K, P = g->P, Q = g->Q, PQ = P * Q;
    const grp_layout l = grp_lay(g);
    const int64_t nw = l.nw, CRS = C * g->R * g->S;
    const int64_t CHWg = C * g->H * g->W, KPQg = K * PQ, wsz = K * CRS;
    const int64_t per_t = grp_implicit_elems(g) + wsz * 16;
    const int nt = cr_conv2d_grouped_threads(d, G);
    int64_t *offs = grp_offsets(g);
    float *ws = (float *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), TT = CR_TEAM_SIZE();
        float *xp = ws + t * per_t, *dyw = xp + l.xp, *acc = dyw + K * nw;
        memset(xp, 0, (size_t)(l.xp + K * nw) * sizeof(float)); /* borders, junk */
        if (db) conv_bias_grad_rows_f32(db, dy, d, d->K * t / TT, d->K * (t + 1) / TT);
        if (dw)
            for (int64_t j = G * t / TT; j < G * (t + 1) / TT; j++) {
                memset(acc, 0, (size_t)(wsz * 16) * sizeof(float));
                for (int64_t n = 0; n < N; n++) {
                    const float *x_n = x + (n * G + j) * CHWg, *dy_n = dy + (n * G + j) * KPQg;
                    if (l.copy) grp_pad(xp, x_n, g, &l);
                    for (int64_t k = 0; k < K; k++)
                        grp_copy_rows(dyw + k * nw, l.Ws, dy_n + k * PQ, Q, P, Q, 0);
                    cr_conv_dot_acc_f32_avx512(K, CRS, nw, dyw, nw, l.copy ? xp : x_n, offs, acc);
                }
                cr_conv_dot_reduce_f32_avx512(K, CRS, acc, dw + j * wsz, CRS);
            }
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}
#endif /* CR_X86 */

/* the im2col path and the entry points, both dtypes */

#define T float
#define SUF f32
#define CONV_F32 1
#include "conv_grouped_tmpl.h"
#undef T
#undef SUF
#undef CONV_F32

#define T double
#define SUF f64
#define CONV_F32 0
#include "conv_grouped_tmpl.h"
#undef T
#undef SUF
#undef CONV_F32
