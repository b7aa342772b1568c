/* conv_s2.c — stride-2 float32 convolutions (3x3 by default; plan path CONV_S2, see s2_ok
 * in conv_plan.c) without im2col and without zero taps: the implicit-im2col products of
 * conv_avx512.c run on the input split into its 4 stride phases. The geometry below is
 * written for any stride sh x sw; the copies (conv_s2_avx512.c) are stride 2's.
 *
 * Phase image (per image, zero outside x):
 *   xs[c, a, b, i, j] = x[c, i*sh + a - ph, j*sw + b - pw],  a < sh, b < sw, i < Hs, j < Ws,
 *   Hs = P + (R-1)/sh,  Ws = Q + (S-1)/sw.
 * Tap (r, s) of output (p, q) reads xp[c, p*sh + r, q*sw + s] = xs[c, r%sh, s%sw, p + r/sh,
 * q + s/sw]: with the output laid out "wide" (P rows of Ws, nw = (P-1)*Ws + Q columns) row
 * (c, r, s) of the im2col matrix is the contiguous run xs + offs[crs] + j,
 *   offs[c, r, s] = ((c*sh + r%sh)*sw + s%sw)*plane + (r/sh)*Ws + s/sw,
 * exactly the stride-1 implicit layout (conv_implicit.c), with every one of the C*R*S taps
 * used and an image copy of |x| values instead of an im2col of C*R*S*P*Q. G images are
 * stacked along the rows of each phase plane (plane = G*Hs*Ws; image m's output row p is
 * wide row m*Hs + p), so a block's products get ~S2_TARGET_COLS columns.
 *   forward  y_wide (K, nw) = w @ [rows of xs at offs] + b, copy the Q valid columns out
 *   dw       dw[k, crs] += sum_j dy_wide[k, j] * xs[offs[crs] + j]   (dot kernel), or when
 *            K % 16 == 0 (plan bl.cols = 1) by conv_s2b.c's direct tile (channels in lanes)
 *   dx       by phases, no scatter of taps: phase (a, b) of dx is a stride-1 correlation of
 *            dy with the sub-kernel w[:, :, a::sh, b::sw] flipped,
 *              dxs[c, a, b, i, j] = sum_{k,u,v} w[k, c, a + u*sh, b + v*sw] dy[k, i-u, j-v],
 *            read from dy zero-padded by U = (R-1)/sh rows on top and V = (S-1)/sw columns on
 *            the left, rows of Wd = Q + V = Ws (a row's padding on the right is the next
 *            row's on the left), images of Hd = P + U = Hs rows stacked (the next image's top
 *            padding is this one's bottom): tap (k, u, v) is the run dyp + k*plane +
 *            (U-u)*Wd + (V-v) + i*Wd + j, so every column computed is a pixel of a phase.
 *            Then dx += dxs at the positions that are input pixels (each pixel is one
 *            phase's, so no two sums meet).
 * Threads: forward and dx take even ranges of images, cut into blocks of G (N >= threads;
 * G does not change their sums), or share each block by runs of wide columns (whole
 * 48-column tiles); dw: threads own channel slices of dw (each builds
 * the phase image of its channels), db rows. Every output is the same sum, in the same
 * order, whatever the thread count.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

typedef struct {
    int64_t G;                /* images per block, stacked along the rows */
    int64_t Hs, Ws, plane;    /* phase rows per image, columns, one phase plane of a block */
    int64_t nph, U, V, Hd, Wd; /* phases; dx: dy's padding, rows per image, columns */
} s2_geom;

#define S2_TARGET_COLS 512 /* wide columns a block aims at (images stacked to get there) */

static void s2_geom_init(s2_geom *g, const cr_conv2d_dims *d, int64_t G) {
    g->G = G;
    g->Hs = d->P + (d->R - 1) / d->sh;
    g->Ws = d->Q + (d->S - 1) / d->sw;
    g->plane = G * g->Hs * g->Ws;
    g->nph = d->sh * d->sw;
    g->U = (d->R - 1) / d->sh;
    g->V = (d->S - 1) / d->sw;
    g->Hd = d->P + g->U; /* = Hs */
    g->Wd = d->Q + g->V; /* = Ws */
}
/* wide columns of a block of gc images: forward / dw, and dx */
static int64_t s2_nw(const cr_conv2d_dims *d, const s2_geom *g, int64_t gc) {
    return ((gc - 1) * g->Hs + d->P - 1) * g->Ws + d->Q;
}
static int64_t s2_nwd(const s2_geom *g, int64_t gc) { return gc * g->Hd * g->Wd; }
/* floats of one plane k of dyp: G images of Hd rows, U + 1 zero rows after them */
static int64_t s2_dyp_plane(const s2_geom *g) { return (g->G * g->Hd + g->U + 1) * g->Wd; }
static int64_t s2_xs_elems(const cr_conv2d_dims *d, const s2_geom *g) {
    return d->C * g->nph * g->plane;
}
/* floats of one thread's slice: the larger of xs + y_wide (forward, dw) and dyp + dxs (dx) */
static int64_t s2_slice(const cr_conv2d_dims *d, const s2_geom *g, int which) {
    const int64_t a = s2_xs_elems(d, g) + d->K * s2_nw(d, g, g->G);
    const int64_t b = d->K * s2_dyp_plane(g) + d->C * g->nph * s2_nwd(g, g->G);
    return which == 0 || a > b ? a : b;
}
/* images per block: enough for S2_TARGET_COLS wide columns, at most N, the slice within the
 * workspace limit (0: not even one image fits). From the sizes only. */
static int64_t s2_images(const cr_conv2d_dims *d, int which, int64_t limit) {
    const int64_t per = (d->P + (d->R - 1) / d->sh) * (d->Q + (d->S - 1) / d->sw);
    int64_t G = (S2_TARGET_COLS + per - 1) / per;
    if (G > d->N) G = d->N;
    for (; G > 0; G--) {
        s2_geom g;
        s2_geom_init(&g, d, G);
        if (s2_slice(d, &g, which) * 4 <= limit) break;
    }
    return G;
}

/* The plan (pl->nt set): blocks of bl.G images; threads take even ranges of images when
 * there are as many as threads, else share each block. Scratch: the slices, and in front of them the
 * offsets (forward, dw: CRS) or dx's tap offsets (K*R*S) and sub-kernels (C*K*R*S floats).
 * dw always takes one slice per thread. */
void conv_s2_plan(conv_plan *pl, const cr_conv2d_dims *d, int which, int64_t limit) {
    const int64_t CRS = d->C * d->R * d->S, KRS = d->K * d->R * d->S;
    s2_geom g;
    s2_geom_init(&g, d, s2_images(d, which, limit));
    pl->path = CONV_S2;
    pl->bl.G = g.G;
    pl->nblocks = g.G > 0 ? (d->N + g.G - 1) / g.G : 0;
    pl->by_block = d->N >= pl->nt; /* forward, dx: even image ranges, blocks of G in each */
    pl->ws_elems = g.G > 0 ? s2_slice(d, &g, which) : 0;
    pl->ws_threads = which == 1 || pl->by_block ? pl->nt : 1;
    const int64_t fwd = 8 * CRS + pl->ws_threads * pl->ws_elems * 4;
    const int64_t dx = 8 * KRS + 4 * d->C * KRS + (pl->by_block ? pl->nt : 1) * pl->ws_elems * 4;
    pl->ws_bytes = which == 0 || fwd > dx ? fwd : dx;
    /* dw by the direct tile (conv_s2b.c) when K is a multiple of 16 and its slice for one
     * thread (the largest) fits the limit: bl.cols = 1 */
    if (which == 1 && d->K % 16 == 0 && conv_s2b_dw_bytes(d, 1) <= limit) {
        pl->bl.cols = 1;
        if (conv_s2b_dw_bytes(d, pl->nt) > pl->ws_bytes) pl->ws_bytes = conv_s2b_dw_bytes(d, pl->nt);
    }
}

/* whether one image's slice of the forward (which 0) or backward (1) fits the limit */
int conv_s2_fits(const cr_conv2d_dims *d, int which, int64_t limit) {
    return d->N > 0 && s2_images(d, which, limit) > 0;
}

#ifdef CR_X86

static void s2_offsets(int64_t *offs, const cr_conv2d_dims *d, const s2_geom *g) {
    for (int64_t c = 0, i = 0; c < d->C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++)
                offs[i] = ((c * d->sh + r % d->sh) * d->sw + s % d->sw) * g->plane +
                          (r / d->sh) * g->Ws + s / d->sw;
}

/* xs of channels [c0, c1) of the block's images x_0 .. x_{gc-1} (image m at rows m*Hs) */
static void s2_split(float *xs, const float *x0, int64_t gc, const cr_conv2d_dims *d,
                     const s2_geom *g, int64_t c0, int64_t c1) {
    const int64_t H = d->H, W = d->W, Hs = g->Hs, Ws = g->Ws, CHW = d->C * H * W;
    for (int64_t m = 0; m < gc; m++)
        for (int64_t c = c0; c < c1; c++)
            for (int64_t i = 0; i < Hs; i++)
                for (int64_t a = 0; a < 2; a++) {
                    float *r0 = xs + (c * 4 + a * 2) * g->plane + (m * Hs + i) * Ws;
                    const int64_t h = 2 * i + a - d->ph;
                    if (h < 0 || h >= H) {
                        memset(r0, 0, (size_t)Ws * sizeof(float));
                        memset(r0 + g->plane, 0, (size_t)Ws * sizeof(float));
                    } else {
                        cr_s2_split_row_f32_avx512(r0, r0 + g->plane,
                                                   x0 + m * CHW + (c * H + h) * W, W,
                                                   d->pw, Ws);
                    }
                }
}

/* rows [k0, k1) of the block's outputs = the valid columns of y_wide (row stride nw) */
static void s2_copy_out(float *y0, const float *yw, int64_t nw, int64_t gc,
                        const cr_conv2d_dims *d, const s2_geom *g, int64_t k0, int64_t k1) {
    const int64_t P = d->P, Q = d->Q, KPQ = d->K * P * Q;
    for (int64_t m = 0; m < gc; m++)
        for (int64_t k = k0; k < k1; k++)
            for (int64_t p = 0; p < P; p++)
                memcpy(y0 + m * KPQ + (k * P + p) * Q, yw + k * nw + (m * g->Hs + p) * g->Ws,
                       (size_t)Q * sizeof(float));
}

/* dy of the block into y_wide's layout (rows [k0, k1); the junk stays zero) */
static void s2_fill_dyw(float *dyw, const float *dy0, int64_t nw, int64_t gc,
                        const cr_conv2d_dims *d, const s2_geom *g) {
    const int64_t P = d->P, Q = d->Q, KPQ = d->K * P * Q;
    for (int64_t m = 0; m < gc; m++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t p = 0; p < P; p++)
                memcpy(dyw + k * nw + (m * g->Hs + p) * g->Ws, dy0 + m * KPQ + (k * P + p) * Q,
                       (size_t)Q * sizeof(float));
}

/* [j0, j1): thread t's run of n wide columns, whole tiles of 48 */
static void s2_chunk(int64_t n, int t, int T, int64_t *j0, int64_t *j1) {
    const int64_t nch = (n + 47) / 48;
    *j0 = 48 * (nch * t / T);
    *j1 = 48 * (nch * (t + 1) / T) < n ? 48 * (nch * (t + 1) / T) : n;
}

/* y_wide columns [j0, j1) = w @ [rows of xs at offs] + b: per tile of 48 columns, the
 * reduction in near-equal chunks of at most S2_KC rows, added one after another into the
 * tile (bias with the last), so a chunk's rows of the tile stay in L1 while every row block
 * of w passes over them: 64->128 56x56 at batch 8, 1 thread, 19.1 -> 17.3 ms (576 rows in
 * one pass; chunks of 72 took 23). The chunks depend on the sizes only. */
#define S2_KC 144
static void s2_product(float *yw, int64_t ldc, const float *xs, const int64_t *offs,
                       const float *w, const float *bias, int64_t K, int64_t CRS, int64_t j0,
                       int64_t j1) {
    const int64_t nch = (CRS + S2_KC - 1) / S2_KC, kc = (CRS + nch - 1) / nch;
    for (int64_t j = j0; j < j1; j += 48) {
        const int64_t n = j1 - j < 48 ? j1 - j : 48;
        for (int64_t p0 = 0; p0 < CRS; p0 += kc) {
            const int64_t np = CRS - p0 < kc ? CRS - p0 : kc;
            cr_conv_bcast_f32_avx512(K, n, np, w + p0, CRS, 1, xs + j, 0, offs + p0, yw + j, ldc,
                                     NULL, p0 > 0, p0 + np >= CRS ? bias : NULL);
        }
    }
}

int conv_s2_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, CRS = C * d->R * d->S;
    const int64_t CHW = C * d->H * d->W, KPQ = K * d->P * d->Q;
    if (d->sh != 2 || d->sw != 2) return -1; /* the copies are stride 2's */
    s2_geom g;
    s2_geom_init(&g, d, pl->bl.G);
    const int64_t G = g.G, xs_elems = s2_xs_elems(d, &g), per = pl->ws_elems;
    char *ws = (char *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    int64_t *offs = (int64_t *)ws;
    float *slices = (float *)(offs + CRS);
    s2_offsets(offs, d, &g);
    const int nt = pl->nt;
    if (pl->by_block) {
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
            float *xs = slices + t * per, *yw = xs + xs_elems;
            const int64_t n1 = N * (t + 1) / T;
            for (int64_t n0 = N * t / T; n0 < n1; n0 += G) {
                const int64_t gc = n1 - n0 < G ? n1 - n0 : G, nw = s2_nw(d, &g, gc);
                s2_split(xs, inp + n0 * CHW, gc, d, &g, 0, C);
                s2_product(yw, nw, xs, offs, w, bias, K, CRS, 0, nw);
                s2_copy_out(out + n0 * KPQ, yw, nw, gc, d, &g, 0, K);
            }
        }
    } else {
        float *xs = slices, *yw = xs + xs_elems;
        for (int64_t blk = 0; blk < pl->nblocks; blk++) {
            const int64_t n0 = blk * G, gc = N - n0 < G ? N - n0 : G, nw = s2_nw(d, &g, gc);
            #pragma omp parallel num_threads(nt) if (nt > 1)
            {
                const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
                s2_split(xs, inp + n0 * CHW, gc, d, &g, C * t / T, C * (t + 1) / T);
                #pragma omp barrier
                int64_t j0, j1;
                s2_chunk(nw, t, T, &j0, &j1);
                if (j1 > j0)
                    s2_product(yw, nw, xs, offs, w, bias, K, CRS, j0, j1);
                #pragma omp barrier
                s2_copy_out(out + n0 * KPQ, yw, nw, gc, d, &g, K * t / T, K * (t + 1) / T);
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}

/* dw and db: thread t owns channels [c0, c1) of dw (columns [c0*RS, c1*RS)) and rows of db;
 * per block, dw += dy_wide @ xs rows^T (one dot product per output over the block) */
static void s2_backward_weight(float *dweight, float *dbias, const float *dout, const float *inp,
                               const cr_conv2d_dims *d, const conv_plan *pl, char *ws) {
    const int64_t N = d->N, C = d->C, K = d->K, RS = d->R * d->S;
    const int64_t CRS = C * RS, CHW = C * d->H * d->W, KPQ = K * d->P * d->Q;
    s2_geom g;
    s2_geom_init(&g, d, pl->bl.G);
    const int64_t G = g.G, xs_elems = s2_xs_elems(d, &g), per = pl->ws_elems;
    int64_t *offs = (int64_t *)ws;
    float *slices = (float *)(offs + CRS);
    s2_offsets(offs, d, &g);
    #pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        float *xs = slices + t * per, *dyw = xs + xs_elems;
        if (dbias) conv_bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t c0 = C * t / T, c1 = C * (t + 1) / T;
        if (dweight && c1 > c0) {
            for (int64_t blk = 0; blk < pl->nblocks; blk++) {
                const int64_t n0 = blk * G, gc = N - n0 < G ? N - n0 : G, nw = s2_nw(d, &g, gc);
                if (blk == 0 || gc < G) /* junk of this layout */
                    memset(dyw, 0, (size_t)(K * nw) * sizeof(float));
                s2_split(xs, inp + n0 * CHW, gc, d, &g, c0, c1);
                s2_fill_dyw(dyw, dout + n0 * KPQ, nw, gc, d, &g);
                cr_conv_dot_f32_avx512(K, (c1 - c0) * RS, nw, dyw, nw, xs, 0, offs + c0 * RS,
                                       dweight + c0 * RS, CRS);
            }
        }
    }
}

/* dx of a block's columns [j0, j1) of every phase: dxs = sub-kernels @ taps of dyp */
static void s2_dx_cols(float *dxs, int64_t ldx, const float *dyp, const float *wt,
                       const int64_t *toff, const int64_t *ntap, const cr_conv2d_dims *d,
                       const s2_geom *g, int64_t j0, int64_t j1) {
    int64_t tap0 = 0;
    for (int64_t ab = 0; ab < g->nph; ab++) {
        float *o = dxs + ab * d->C * ldx;
        if (ntap[ab] == 0) {
            for (int64_t c = 0; c < d->C; c++)
                memset(o + c * ldx + j0, 0, (size_t)(j1 - j0) * sizeof(float));
        } else {
            cr_conv_bcast_f32_avx512(d->C, j1 - j0, ntap[ab], wt + d->C * tap0, ntap[ab], 1,
                                     dyp + j0, 0, toff + tap0, o + j0, ldx, NULL, 0, NULL);
        }
        tap0 += ntap[ab];
    }
}

/* dx of the block's images, channels [c0, c1), += dxs at the input pixels */
static void s2_dx_scatter(float *dx0, const float *dxs, int64_t ldx, int64_t gc,
                          const cr_conv2d_dims *d, const s2_geom *g, int64_t c0, int64_t c1) {
    const int64_t H = d->H, W = d->W, CHW = d->C * H * W;
    for (int64_t m = 0; m < gc; m++)
        for (int64_t c = c0; c < c1; c++)
            for (int64_t i = 0; i < g->Hs; i++)
                for (int64_t a = 0; a < 2; a++) {
                    const int64_t h = 2 * i + a - d->ph;
                    if (h < 0 || h >= H) continue;
                    const float *s0 = dxs + (a * 2 * d->C + c) * ldx + m * g->Hd * g->Wd + i * g->Wd;
                    cr_s2_merge_row_add_f32_avx512(dx0 + m * CHW + (c * H + h) * W, s0,
                                                   s0 + d->C * ldx, W, d->pw, g->Ws);
                }
}

/* dy of the block into the interiors of dyp (K, G*Hd, Wd), rows [k0, k1) */
static void s2_fill_dyp(float *dyp, const float *dy0, int64_t gc, const cr_conv2d_dims *d,
                        const s2_geom *g, int64_t k0, int64_t k1) {
    const int64_t P = d->P, Q = d->Q, KPQ = d->K * P * Q;
    for (int64_t m = 0; m < gc; m++)
        for (int64_t k = k0; k < k1; k++)
            for (int64_t p = 0; p < P; p++)
                memcpy(dyp + k * s2_dyp_plane(g) + (m * g->Hd + g->U + p) * g->Wd + g->V,
                       dy0 + m * KPQ + (k * P + p) * Q, (size_t)Q * sizeof(float));
}

static void s2_backward_input(float *dinp, const float *dout, const float *w,
                              const cr_conv2d_dims *d, const conv_plan *pl, char *ws) {
    const int64_t N = d->N, C = d->C, K = d->K, R = d->R, S = d->S, sh = d->sh, sw = d->sw;
    const int64_t CHW = C * d->H * d->W, KPQ = K * d->P * d->Q, KRS = K * R * S;
    s2_geom g;
    s2_geom_init(&g, d, pl->bl.G);
    const int64_t G = g.G, per = pl->ws_elems, dyp_elems = K * s2_dyp_plane(&g);
    const int64_t ldx = s2_nwd(&g, G), kstride = s2_dyp_plane(&g);
    int64_t *toff = (int64_t *)ws, ntap[16] = {0};
    float *wt = (float *)(toff + KRS), *slices = wt + C * KRS;
    /* taps of phase (a, b) in the order (k, u, v): offsets into dyp and the sub-kernel
     * (C, taps) of the phase, phases one after another */
    for (int64_t a = 0, t = 0; a < sh; a++)
        for (int64_t b = 0; b < sw; b++) {
            const int64_t t0 = t;
            for (int64_t k = 0; k < K; k++)
                for (int64_t u = 0; a + u * sh < R; u++)
                    for (int64_t v = 0; b + v * sw < S; v++, t++)
                        toff[t] = k * kstride + (g.U - u) * g.Wd + (g.V - v);
            const int64_t nt_ab = t - t0;
            ntap[a * sw + b] = nt_ab;
            for (int64_t c = 0; c < C; c++) {
                int64_t i = 0;
                for (int64_t k = 0; k < K; k++)
                    for (int64_t u = 0; a + u * sh < R; u++)
                        for (int64_t v = 0; b + v * sw < S; v++, i++)
                            wt[C * t0 + c * nt_ab + i] =
                                w[((k * C + c) * R + a + u * sh) * S + b + v * sw];
            }
        }
    const int nt = pl->nt;
    const int64_t slices_used = pl->by_block ? nt : 1;
    for (int64_t s = 0; s < slices_used; s++) /* dyp borders */
        memset(slices + s * per, 0, (size_t)dyp_elems * sizeof(float));
    if (pl->by_block) {
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
            float *dyp = slices + t * per, *dxs = dyp + dyp_elems;
            const int64_t n1 = N * (t + 1) / T;
            for (int64_t n0 = N * t / T; n0 < n1; n0 += G) {
                const int64_t gc = n1 - n0 < G ? n1 - n0 : G;
                s2_fill_dyp(dyp, dout + n0 * KPQ, gc, d, &g, 0, K);
                s2_dx_cols(dxs, ldx, dyp, wt, toff, ntap, d, &g, 0, s2_nwd(&g, gc));
                s2_dx_scatter(dinp + n0 * CHW, dxs, ldx, gc, d, &g, 0, C);
            }
        }
    } else {
        float *dyp = slices, *dxs = dyp + dyp_elems;
        for (int64_t blk = 0; blk < pl->nblocks; blk++) {
            const int64_t n0 = blk * G, gc = N - n0 < G ? N - n0 : G;
            #pragma omp parallel num_threads(nt) if (nt > 1)
            {
                const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
                s2_fill_dyp(dyp, dout + n0 * KPQ, gc, d, &g, K * t / T, K * (t + 1) / T);
                #pragma omp barrier
                int64_t j0, j1;
                s2_chunk(s2_nwd(&g, gc), t, T, &j0, &j1);
                if (j1 > j0) s2_dx_cols(dxs, ldx, dyp, wt, toff, ntap, d, &g, j0, j1);
                #pragma omp barrier
                s2_dx_scatter(dinp + n0 * CHW, dxs, ldx, gc, d, &g, C * t / T, C * (t + 1) / T);
            }
        }
    }
}

int conv_s2_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *w, const cr_conv2d_dims *d,
                         const conv_plan *pl) {
    if (d->sh != 2 || d->sw != 2) return -1; /* the copies are stride 2's */
    if (dinp && pl->dx_as_conv == 5) { /* dx by conv_s2dx.c (its own scratch, first) */
        if (conv_s2dx_backward_input_f32(dinp, dout, w, d, pl->nt) != 0) return -1;
        dinp = NULL;
    }
    char *ws = (char *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    const int direct_dw = pl->bl.cols == 1;
    if ((dweight && !direct_dw) || dbias)
        s2_backward_weight(direct_dw ? NULL : dweight, dbias, dout, inp, d, pl, ws);
    if (dweight && direct_dw) conv_s2b_backward_weight_f32(dweight, dout, inp, d, pl->nt, ws);
    if (dinp) s2_backward_input(dinp, dout, w, d, pl, ws);
    conv_ws_free(ws);
    return 0;
}

#endif /* CR_X86 */
