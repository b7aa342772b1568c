/* conv_s2.c — strided float32 convolutions (stride 2, 3x3 by default; plan path CONV_S2, see
 * s2_ok in conv_plan.c) without im2col and without zero taps: the implicit-im2col products
 * of conv_avx512.c run on the input split into its sh*sw stride phases.
 *
 * Phase image (per image, zero outside x):
 *   xs[c, a, b, i, j] = x[c, i*sh + a - ph, j*sw + b - pw],  a < sh, b < sw, i < Hs, j < Ws,
 *   Hs = P + (R-1)/sh,  Ws = Q + (S-1)/sw.
 * Tap (r, s) of output (p, q) reads xp[c, p*sh + r, q*sw + s] = xs[c, r%sh, s%sw, p + r/sh,
 * q + s/sw]: with the output laid out "wide" (P rows of Ws, nw = (P-1)*Ws + Q columns) row
 * (c, r, s) of the im2col matrix is the contiguous run xs + offs[crs] + j,
 *   offs[c, r, s] = ((c*sh + r%sh)*sw + s%sw)*Hs*Ws + (r/sh)*Ws + s/sw,
 * exactly the stride-1 implicit layout (conv_implicit.c), with every one of the C*R*S taps
 * used and an image copy of |x| values instead of an im2col of C*R*S*P*Q.
 *   forward  y_wide (K, nw) = w @ [rows of xs at offs] + b, copy the Q valid columns out
 *   dw       dw[k, crs] += sum_j dy_wide[k, j] * xs[offs[crs] + j]   (dot kernel)
 *   dx       by phases, no scatter of taps: phase (a, b) of dx is a stride-1 correlation of
 *            dy with the sub-kernel w[:, :, a::sh, b::sw] flipped,
 *              dxs[c, a, b, i, j] = sum_{k,u,v} w[k, c, a + u*sh, b + v*sw] dy[k, i-u, j-v],
 *            read from dy zero-padded by U = (R-1)/sh rows on top and V = (S-1)/sw columns on
 *            the left, (K, Hd = Hs + U, Wd = Ws + V): tap (k, u, v) is the run
 *            dyp + k*Hd*Wd + (U-u)*Wd + (V-v) + i*Wd + j. Then dx += dxs at the positions
 *            that are input pixels (each pixel is one phase's, so no two sums meet).
 * Threads: forward and dx take whole images (N >= threads) or share each image by runs of
 * wide columns (whole 48-column tiles); dw: threads own channel slices of dw (each builds
 * the phase image of its channels), db rows. Every output is the same sum, in the same
 * order, whatever the thread count.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

typedef struct {
    int64_t Hs, Ws, plane, nph, nw, U, V, Hd, Wd, nwd;
} s2_geom;

static void s2_geom_init(s2_geom *g, const cr_conv2d_dims *d) {
    g->Hs = d->P + (d->R - 1) / d->sh;
    g->Ws = d->Q + (d->S - 1) / d->sw;
    g->plane = g->Hs * g->Ws;
    g->nph = d->sh * d->sw;
    g->nw = (d->P - 1) * g->Ws + d->Q;
    g->U = (d->R - 1) / d->sh;
    g->V = (d->S - 1) / d->sw;
    g->Hd = g->Hs + g->U;
    g->Wd = g->Ws + g->V;
    g->nwd = (g->Hs - 1) * g->Wd + g->Ws;
}

static int64_t s2_xs_elems(const cr_conv2d_dims *d, const s2_geom *g) {
    return d->C * g->nph * g->plane;
}

/* The plan (pl->nt set): threads take whole images when there are as many as threads.
 * Scratch: per slice the larger of xs + y_wide (forward, dw) and dyp + dxs (dx); in front
 * of the slices the offsets (forward, dw: CRS) or dx's tap offsets (K*R*S) and sub-kernels
 * (C*K*R*S floats). dw always takes one slice per thread. */
void conv_s2_plan(conv_plan *pl, const cr_conv2d_dims *d, int which) {
    s2_geom g;
    s2_geom_init(&g, d);
    const int64_t CRS = d->C * d->R * d->S, KRS = d->K * d->R * d->S;
    const int64_t a = s2_xs_elems(d, &g) + d->K * g.nw;
    const int64_t b = d->K * g.Hd * g.Wd + d->C * g.nph * g.nwd;
    pl->path = CONV_S2;
    pl->by_block = d->N >= pl->nt;
    pl->ws_elems = which == 0 || a > b ? a : b;
    pl->ws_threads = which == 1 || pl->by_block ? pl->nt : 1;
    const int64_t fwd = 8 * CRS + pl->ws_threads * pl->ws_elems * 4;
    const int64_t dx = 8 * KRS + 4 * d->C * KRS + (pl->by_block ? pl->nt : 1) * pl->ws_elems * 4;
    pl->ws_bytes = which == 0 || fwd > dx ? fwd : dx;
}

/* all scratch bytes of the path with one thread (the plan's predicate) */
int64_t conv_s2_slice_bytes(const cr_conv2d_dims *d, int which) {
    conv_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.nt = 1;
    conv_s2_plan(&pl, d, which);
    return pl.ws_bytes;
}

#ifdef CR_X86

static void s2_offsets(int64_t *offs, const cr_conv2d_dims *d, const s2_geom *g) {
    for (int64_t c = 0, i = 0; c < d->C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++)
                offs[i] = ((c * d->sh + r % d->sh) * d->sw + s % d->sw) * g->plane +
                          (r / d->sh) * g->Ws + s / d->sw;
}

/* columns j of a phase with 0 <= j*sw + b - pw < W: [j0, j1) */
static void s2_cols(const cr_conv2d_dims *d, const s2_geom *g, int64_t b, int64_t *j0,
                    int64_t *j1) {
    const int64_t off = b - d->pw, sw = d->sw;
    int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t hi = d->W - off <= 0 ? 0 : (d->W - off + sw - 1) / sw;
    if (hi > g->Ws) hi = g->Ws;
    if (lo > hi) lo = hi;
    *j0 = lo;
    *j1 = hi;
}

/* xs of channels [c0, c1) of one image */
static void s2_split(float *xs, const float *x_n, const cr_conv2d_dims *d, const s2_geom *g,
                     int64_t c0, int64_t c1) {
    const int64_t H = d->H, W = d->W, sh = d->sh, sw = d->sw, Hs = g->Hs, Ws = g->Ws;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t a = 0; a < sh; a++)
            for (int64_t b = 0; b < sw; b++) {
                float *dst = xs + ((c * sh + a) * sw + b) * g->plane;
                int64_t j0, j1;
                s2_cols(d, g, b, &j0, &j1);
                const int64_t off = b - d->pw;
                for (int64_t i = 0; i < Hs; i++) {
                    float *row = dst + i * Ws;
                    const int64_t h = i * sh + a - d->ph;
                    if (h < 0 || h >= H) {
                        memset(row, 0, (size_t)Ws * sizeof(float));
                        continue;
                    }
                    const float *src = x_n + (c * H + h) * W + off;
                    for (int64_t j = 0; j < j0; j++) row[j] = 0.0f;
                    for (int64_t j = j0; j < j1; j++) row[j] = src[j * sw];
                    for (int64_t j = j1; j < Ws; j++) row[j] = 0.0f;
                }
            }
}

/* y_n rows [k0, k1) = the valid columns of y_wide */
static void s2_copy_out(float *y_n, const float *yw, const cr_conv2d_dims *d, const s2_geom *g,
                        int64_t k0, int64_t k1) {
    const int64_t P = d->P, Q = d->Q;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t p = 0; p < P; p++)
            memcpy(y_n + (k * P + p) * Q, yw + k * g->nw + p * g->Ws, (size_t)Q * sizeof(float));
}

/* [j0, j1): thread t's run of n wide columns, whole tiles of 48 */
static void s2_chunk(int64_t n, int t, int T, int64_t *j0, int64_t *j1) {
    const int64_t nch = (n + 47) / 48;
    *j0 = 48 * (nch * t / T);
    *j1 = 48 * (nch * (t + 1) / T) < n ? 48 * (nch * (t + 1) / T) : n;
}

int conv_s2_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, CRS = C * d->R * d->S;
    const int64_t CHW = C * d->H * d->W, KPQ = K * d->P * d->Q;
    s2_geom g;
    s2_geom_init(&g, d);
    const int64_t xs_elems = s2_xs_elems(d, &g), per = pl->ws_elems, nw = g.nw;
    char *ws = (char *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    int64_t *offs = (int64_t *)ws;
    float *slices = (float *)(offs + CRS);
    s2_offsets(offs, d, &g);
    const int nt = pl->nt;
    if (pl->by_block) {
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float *xs = slices + CR_THREAD_NUM() * per, *yw = xs + xs_elems;
            #pragma omp for schedule(static)
            for (int64_t n = 0; n < N; n++) {
                s2_split(xs, inp + n * CHW, d, &g, 0, C);
                cr_conv_bcast_f32_avx512(K, nw, CRS, w, CRS, 1, xs, 0, offs, yw, nw, NULL, 0,
                                         bias);
                s2_copy_out(out + n * KPQ, yw, d, &g, 0, K);
            }
        }
    } else {
        float *xs = slices, *yw = xs + xs_elems;
        for (int64_t n = 0; n < N; n++) {
            #pragma omp parallel num_threads(nt) if (nt > 1)
            {
                const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
                s2_split(xs, inp + n * CHW, d, &g, C * t / T, C * (t + 1) / T);
                #pragma omp barrier
                int64_t j0, j1;
                s2_chunk(nw, t, T, &j0, &j1);
                if (j1 > j0)
                    cr_conv_bcast_f32_avx512(K, j1 - j0, CRS, w, CRS, 1, xs + j0, 0, offs,
                                             yw + j0, nw, NULL, 0, bias);
                #pragma omp barrier
                s2_copy_out(out + n * KPQ, yw, d, &g, K * t / T, K * (t + 1) / T);
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}

/* dw and db: thread t owns channels [c0, c1) of dw (columns [c0*RS, c1*RS)) and rows of db */
static void s2_backward_weight(float *dweight, float *dbias, const float *dout, const float *inp,
                               const cr_conv2d_dims *d, const conv_plan *pl, char *ws) {
    const int64_t N = d->N, C = d->C, K = d->K, P = d->P, Q = d->Q, RS = d->R * d->S;
    const int64_t CRS = C * RS, CHW = C * d->H * d->W, PQ = P * Q;
    s2_geom g;
    s2_geom_init(&g, d);
    const int64_t xs_elems = s2_xs_elems(d, &g), per = pl->ws_elems, nw = g.nw;
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
            memset(dyw, 0, (size_t)(K * nw) * sizeof(float)); /* junk columns */
            for (int64_t n = 0; n < N; n++) {
                s2_split(xs, inp + n * CHW, d, &g, c0, c1);
                for (int64_t k = 0; k < K; k++)
                    for (int64_t p = 0; p < P; p++)
                        memcpy(dyw + k * nw + p * g.Ws, dout + n * K * PQ + k * PQ + p * Q,
                               (size_t)Q * sizeof(float));
                cr_conv_dot_f32_avx512(K, (c1 - c0) * RS, nw, dyw, nw, xs, 0, offs + c0 * RS,
                                       dweight + c0 * RS, CRS);
            }
        }
    }
}

/* dx of one image's columns [j0, j1) of every phase: dxs = sub-kernels @ taps of dyp */
static void s2_dx_cols(float *dxs, const float *dyp, const float *wt, const int64_t *toff,
                       const int64_t *ntap, const cr_conv2d_dims *d, const s2_geom *g,
                       int64_t j0, int64_t j1) {
    int64_t tap0 = 0;
    for (int64_t ab = 0; ab < g->nph; ab++) {
        float *o = dxs + ab * d->C * g->nwd;
        if (ntap[ab] == 0) {
            for (int64_t c = 0; c < d->C; c++)
                memset(o + c * g->nwd + j0, 0, (size_t)(j1 - j0) * sizeof(float));
        } else {
            cr_conv_bcast_f32_avx512(d->C, j1 - j0, ntap[ab], wt + d->C * tap0, ntap[ab], 1,
                                     dyp + j0, 0, toff + tap0, o + j0, g->nwd, NULL, 0, NULL);
        }
        tap0 += ntap[ab];
    }
}

/* dx_n channels [c0, c1) += dxs at the input pixels */
static void s2_dx_scatter(float *dx_n, const float *dxs, const cr_conv2d_dims *d,
                          const s2_geom *g, int64_t c0, int64_t c1) {
    const int64_t H = d->H, W = d->W, sh = d->sh, sw = d->sw;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t a = 0; a < sh; a++)
            for (int64_t b = 0; b < sw; b++) {
                const float *src = dxs + ((a * sw + b) * d->C + c) * g->nwd;
                int64_t j0, j1;
                s2_cols(d, g, b, &j0, &j1);
                const int64_t off = b - d->pw;
                for (int64_t i = 0; i < g->Hs; i++) {
                    const int64_t h = i * sh + a - d->ph;
                    if (h < 0 || h >= H) continue;
                    float *dst = dx_n + (c * H + h) * W + off;
                    const float *s = src + i * g->Wd;
                    for (int64_t j = j0; j < j1; j++) dst[j * sw] += s[j];
                }
            }
}

/* dy_n into the interior of dyp (borders stay zero) */
static void s2_fill_dyp(float *dyp, const float *dy_n, const cr_conv2d_dims *d, const s2_geom *g,
                        int64_t k0, int64_t k1) {
    const int64_t P = d->P, Q = d->Q;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t p = 0; p < P; p++)
            memcpy(dyp + (k * g->Hd + g->U + p) * g->Wd + g->V, dy_n + (k * P + p) * Q,
                   (size_t)Q * sizeof(float));
}

static void s2_backward_input(float *dinp, const float *dout, const float *w,
                              const cr_conv2d_dims *d, const conv_plan *pl, char *ws) {
    const int64_t N = d->N, C = d->C, K = d->K, R = d->R, S = d->S, sh = d->sh, sw = d->sw;
    const int64_t CHW = C * d->H * d->W, KPQ = K * d->P * d->Q, KRS = K * R * S;
    s2_geom g;
    s2_geom_init(&g, d);
    const int64_t per = pl->ws_elems, dyp_elems = K * g.Hd * g.Wd;
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
                        toff[t] = k * g.Hd * g.Wd + (g.U - u) * g.Wd + (g.V - v);
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
            float *dyp = slices + CR_THREAD_NUM() * per, *dxs = dyp + dyp_elems;
            #pragma omp for schedule(static)
            for (int64_t n = 0; n < N; n++) {
                s2_fill_dyp(dyp, dout + n * KPQ, d, &g, 0, K);
                s2_dx_cols(dxs, dyp, wt, toff, ntap, d, &g, 0, g.nwd);
                s2_dx_scatter(dinp + n * CHW, dxs, d, &g, 0, C);
            }
        }
    } else {
        float *dyp = slices, *dxs = dyp + dyp_elems;
        for (int64_t n = 0; n < N; n++) {
            #pragma omp parallel num_threads(nt) if (nt > 1)
            {
                const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
                s2_fill_dyp(dyp, dout + n * KPQ, d, &g, K * t / T, K * (t + 1) / T);
                #pragma omp barrier
                int64_t j0, j1;
                s2_chunk(g.nwd, t, T, &j0, &j1);
                if (j1 > j0) s2_dx_cols(dxs, dyp, wt, toff, ntap, d, &g, j0, j1);
                #pragma omp barrier
                s2_dx_scatter(dinp + n * CHW, dxs, d, &g, C * t / T, C * (t + 1) / T);
            }
        }
    }
}

int conv_s2_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *w, const cr_conv2d_dims *d,
                         const conv_plan *pl) {
    if (d->sh * d->sw > 16) return -1;
    char *ws = (char *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    if (dweight || dbias) s2_backward_weight(dweight, dbias, dout, inp, d, pl, ws);
    if (dinp) s2_backward_input(dinp, dout, w, d, pl, ws);
    conv_ws_free(ws);
    return 0;
}

#endif /* CR_X86 */
