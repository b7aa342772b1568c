/* conv_pointwise.c — 1x1 convolutions without padding (any stride) as ONE matrix product
 * over the whole batch (plan path CONV_POINTWISE, chosen in conv_plan.c: pointwise_batch_ok).
 *
 * A 1x1 layer is a matrix product over pixels: with X (C, L) the input pixels of images
 * [n0, n0 + G) side by side (L = G*P*Q columns, column (n - n0)*PQ + p*Q + q holding
 * x[n, :, p*sh, q*sw]),
 *   forward   Y (K, L) = W (K, C) @ X + b          -> y[n, k, p, q]
 *   backward  dW (K, C) += dY (K, L) @ X^T         (the reduction over all pixels of the
 *                                                   chunk, inside one product)
 *             dX (C, L) = W^T @ dY                 -> dx[n, c, p*sh, q*sw] +=
 *             db[k] += sum_n sum_pq dy[n, k, pq]   (conv_bias_grad_rows)
 * The old route (conv_gemm_tmpl.h) ran one product per image: K x PQ x C, with PQ = 4 or 16
 * in MobileNet's deep layers too narrow for the GEMM's tiles and its threads. Here the
 * columns of G images go through one product (G = as many images as the workspace limit
 * holds within ~1 MiB of scratch, (C + K) * G*PQ values, but 256 columns at least), so the
 * GEMM packs W once and threads over wide panels. Packing X and dY to (C, L) / (K, L) and
 * scattering Y / dX back are copies of (C + K) * L values against C*K*L multiply-adds.
 * Images of one pixel (H = W = 1) need no copies at all: y (N, K) = x (N, C) @ W^T, etc.
 *
 * Determinism: the copies split rows (channels) between threads; the products are cr_gemm's
 * (every C tile summed in a fixed order by one thread); chunks of images are summed into dW
 * one after another, in image order; db is conv_bias_grad_rows' fixed-order sum. Chunk sizes
 * depend on the sizes and the workspace limit only, never on threads.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm_kit.h"
#include "split.h"

#define POINTWISE_CACHE_BYTES ((int64_t)1 << 20)
#define POINTWISE_MIN_COLS 256

/* The plan: G images per product, the scratch for X and dY (or Y) of one chunk. */
void conv_pointwise_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize,
                         int64_t ws_limit) {
    const int64_t PQ = d->P * d->Q, per_image = (d->C + d->K) * PQ * elsize;
    /* as many images as keep the chunk's scratch in L2 (POINTWISE_CACHE_BYTES), but at
     * least POINTWISE_MIN_COLS columns (the product's width), and within the limit */
    int64_t G = POINTWISE_CACHE_BYTES / per_image, gmin = (POINTWISE_MIN_COLS + PQ - 1) / PQ;
    if (G < gmin) G = gmin;
    if (G > ws_limit / per_image) G = ws_limit / per_image;
    G = G < 1 ? 1 : G > d->N ? d->N : G;
    pl->path = CONV_POINTWISE;
    pl->bl.G = G;
    pl->bl.rows = d->P;
    pl->bl.cols = G * PQ;
    pl->nblocks = (d->N + G - 1) / G;
    pl->ws_elems = d->H * d->W == 1 ? 0 : (d->C + d->K) * pl->bl.cols;
    pl->ws_threads = 1;
    pl->ws_bytes = pl->ws_elems * elsize;
}


/* ---- the direct product (conv_pw_mm_tmpl.h) for the forward and dx ------------------------
 * One side of the product: the pixel (p, q) of image n, channel c lies at
 * n*img + c*ch + p*sh*W + q*sw; flat when that is n*img + c*ch + p*Q + q (runs of pixels
 * then cross output rows), step = the distance of neighbouring pixels within a row. */
typedef struct { int64_t img, ch, W, sh, sw, step; int flat; } pw_side;

static pw_side pw_side_make(int64_t img, int64_t ch, int64_t W, int64_t sh, int64_t sw, int64_t Q) {
    pw_side s = {img, ch, W, sh, sw, sw, sw == 1 && sh * W == Q};
    if (s.flat) s.step = 1;
    return s;
}

/* A run of len columns of a panel from column j: its pixels at soff, doff (+ t*step). */
typedef struct { int64_t j, len, soff, doff; } pw_seg;
#define PW_MAX_NR 32
#define PW_MAX_GROUP 16
typedef struct { pw_seg seg[PW_MAX_NR]; int nseg, direct; int64_t nr; } pw_panel_t;

static void pw_segments(pw_panel_t *pn, int64_t g0, int64_t nr, int64_t PQ, int64_t Q,
                        const pw_side *s, const pw_side *d) {
    const int flat = s->flat && d->flat;
    for (int64_t j = 0; j < nr;) {
        const int64_t g = g0 + j, n = g / PQ, pix = g % PQ, p = pix / Q, q = pix % Q;
        int64_t len = flat ? PQ - pix : Q - q;
        if (len > nr - j) len = nr - j;
        pw_seg *e = &pn->seg[pn->nseg++];
        e->j = j;
        e->len = len;
        e->soff = n * s->img + (s->flat ? pix : p * s->sh * s->W + q * s->sw);
        e->doff = n * d->img + (d->flat ? pix : p * d->sh * d->W + q * d->sw);
        j += len;
    }
}

/* Blocking of one product: M rows, Kd deep, L = N*PQ columns in panels of NR columns, per
 * image (aligned: every panel one image's run, when that wastes at most 5% of the columns)
 * or over the concatenated columns. */
typedef struct {
    int64_t L, PQ, NR, Mr, kc, mc, gp, npanels, ppi;
    int64_t a_elems, b_elems, thread_elems;
    int aligned;
} pw_sizes;

#define PW_GROUP_BYTES ((int64_t)256 << 10) /* B panels of one group (L2) */
#define PW_ROUND16(x) (((x) + 15) / 16 * 16)

static pw_sizes pw_sizes_make(int mr, int nr, int64_t kcmax, int64_t mcmax, int64_t elsize,
                              int64_t M, int64_t Kd, int64_t N, int64_t PQ, int d_flat) {
    pw_sizes z;
    z.L = N * PQ;
    z.PQ = PQ;
    z.NR = nr;
    z.Mr = (M + mr - 1) / mr * mr;
    const int64_t ns = (Kd + kcmax - 1) / kcmax;
    z.kc = (Kd + ns - 1) / ns;
    z.mc = mcmax / mr * mr;
    if (z.mc < mr) z.mc = mr;
    z.gp = PW_GROUP_BYTES / (nr * z.kc * elsize);
    z.gp = z.gp < 1 ? 1 : z.gp > PW_MAX_GROUP ? PW_MAX_GROUP : z.gp;
    z.ppi = (PQ + nr - 1) / nr;
    z.aligned = d_flat && z.ppi * nr * 20 <= PQ * 21;
    z.npanels = z.aligned ? N * z.ppi : (z.L + nr - 1) / nr;
    z.a_elems = PW_ROUND16(z.Mr * Kd);
    z.b_elems = PW_ROUND16(z.gp * nr * z.kc);
    z.thread_elems = z.b_elems + PW_ROUND16(z.gp * z.Mr * nr);
    return z;
}

static void pw_panel_cols(const pw_sizes *z, int64_t t, int64_t *g0, int64_t *nr) {
    if (z->aligned) {
        const int64_t n = t / z->ppi, k = t % z->ppi;
        *g0 = n * z->PQ + k * z->NR;
        *nr = z->PQ - k * z->NR < z->NR ? z->PQ - k * z->NR : z->NR;
    } else {
        *g0 = t * z->NR;
        *nr = z->L - *g0 < z->NR ? z->L - *g0 : z->NR;
    }
}

#define T float
#define SUF f32
#include "conv_pointwise_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "conv_pointwise_tmpl.h"
#undef T
#undef SUF
