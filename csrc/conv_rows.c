/* conv_rows.c — the row-segment forward of a float32 stride-1 layer with a large kernel
 * (plan path CONV_ROWS; also dx of such layers as the convolution of dy with the flipped
 * kernel, see conv_backward_input_as_conv_f32). x86 with AVX-512 only.
 *
 * Like the implicit forward (conv_implicit.c), row (c, r, s) of the im2col matrix is read in
 * place from the zero-padded image xp (C, Hp, Wp) at offset offs[crs] = c*Hp*Wp + r*Wp + s,
 * but the output columns are not the "wide" rows of Wp: each output row p is cut into
 * segments of at most 16 columns, segment (p, q0) reading xp at p*Wp + q0 + offs[crs] and
 * writing y at p*Q + q0, one masked vector each (conv_rows_avx512.c). No junk columns and
 * no copy-out: 14x14 outputs use 196 of 224 vector lanes instead of 196 of the 288 columns
 * of the implicit forward's 48-wide tiles (its wide rows are 248 long).
 * The reduction is cut into blocks of kc rows of w (K x kc stays in L2, 16 KiB per 8 rows in
 * L1); an output is the sum over block 0, then += block 1, ... (each block summed in order),
 * so with kc fixed by the sizes results do not depend on threads. Tiles are (8-row block of
 * K, group of 3 segments); threads take whole images, or, with fewer images than threads,
 * runs of row blocks of every image (each padding its own image copy); the weights are
 * read in place (a packed copy cost ~20% of dx of 480->48, conv_rows_avx512.c).
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

#define ROWS_W_BLOCK_BYTES (192 * 1024) /* K x kc of w per reduction block */
#define ROWS_KC_MAX 256 /* a tile's 8 rows of w (8 KiB) and its image rows stay in L1 */

/* Small outputs (PQ <= ROWS_PANEL_PQ) go as one panel of the pixels of G images, gathered
 * per reduction block (conv_k5.c; 7x7 fills 49 of 64 lanes at batch 1); larger ones as row
 * segments. Taken where that fills 10% more of the vectors than
 * the implicit forward's 48-wide tiles fill with valid columns (14x14: 88% vs 68%; 7x7: 77%
 * vs 51%; 28x28: 88% vs 86% stays implicit), for 5x5 and larger kernels (the layers it was
 * measured on: GoogLeNet's 5x5), float32, AVX-512, stride 1, no dilation, the padded image
 * within the workspace limit; K <= 128 unless any_k (dx as a convolution). Auto only. */
#define ROWS_PANEL_PQ 128
/* with many output channels (dx as a convolution: 480->48's dd has 480) the panel's gather
 * is shared by enough rows of w to pay back up to larger outputs */
#define ROWS_PANEL_K 128
#define ROWS_PANEL_PQ_K 256 /* 28x28 (192->32's dx) measured mixed: stays implicit */
#define ROWS_MIN_PQ 48 /* smaller outputs stay on the implicit paths */
/* Row segments with larger weights stay implicit (measured when the weights were packed;
 * they are read in place now, so the limit may be worth re-measuring). The panel takes any
 * weight size (GoogLeNet's 832->128 7x7: 10.6 MB, read once per G images). */
#define ROWS_MAX_W_BYTES ((int64_t)4 << 20)
static int64_t rows_panel(const cr_conv2d_dims *d) { /* panel width, 0: row segments */
    const int64_t PQ = d->P * d->Q;
    return PQ <= ROWS_PANEL_PQ || (d->K >= ROWS_PANEL_K && PQ <= ROWS_PANEL_PQ_K)
               ? (PQ + 15) / 16 * 16 : 0;
}

int conv_rows_ok(const cr_conv2d_dims *d, int64_t elsize, int any_k) {
    if (elsize != 4 || !conv_avx512() || cr_conv_algo() != CR_CONV_ALGO_AUTO || d->sh != 1 ||
        d->sw != 1 || d->dh != 1 || d->dw != 1 || d->R * d->S < 25 || (d->K > 128 && !any_k) ||
        d->P * d->Q < ROWS_MIN_PQ ||
        (!rows_panel(d) && d->K * d->C * d->R * d->S * elsize > ROWS_MAX_W_BYTES))
        return 0;
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    const int64_t nw = (d->P - 1) * Wp + d->Q;
    const int64_t npx = rows_panel(d);
    const double rows_fill = npx ? (double)(d->P * d->Q) / (double)npx
                                 : (double)d->Q / (16.0 * (double)((d->Q + 15) / 16));
    const double wide_fill = (double)(d->P * d->Q) / (48.0 * (double)((nw + 47) / 48));
    return rows_fill > 1.1 * wide_fill &&
           d->C * Hp * Wp * elsize <= cr_conv_get_workspace_limit();
}

/* the plan: kc in bl.rows, bl.cols 0 (row segments; a panel: conv_k5.c), threads take whole
 * images when by_block, else runs of row blocks of each; scratch: xp per thread (the
 * weights are read in place) */
void conv_rows_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize) {
    if (rows_panel(d)) { conv_k5_plan(pl, d, elsize); return; } /* conv_k5.c */
    const int64_t CRS = d->C * d->R * d->S;
    const int padded = d->ph > 0 || d->pw > 0;
    int64_t kc = ROWS_W_BLOCK_BYTES / (elsize * d->K);
    kc = kc > ROWS_KC_MAX ? ROWS_KC_MAX : kc;
    kc = kc < 64 ? 64 : kc > CRS ? CRS : kc;
    pl->path = CONV_ROWS;
    pl->bl.G = 1;
    pl->bl.rows = kc;
    pl->bl.cols = 0;
    pl->by_block = d->N >= pl->nt;
    pl->ws_elems = padded ? d->C * (d->H + 2 * d->ph) * (d->W + 2 * d->pw) : 0;
    pl->ws_threads = pl->nt; /* xp per thread */
    pl->ws_bytes = pl->ws_threads * pl->ws_elems * elsize + CRS * (int64_t)sizeof(int64_t);
}

/* dw in place (CONV_ROWS_DW): float32, AVX-512, stride 1, no dilation, 5x2 and larger kernels
 * (GoogLeNet's 5x5; the speech front-end's stride-1 phase layers 5x3, 5x2), 48+ output
 * pixels (each tile's reduction; smaller ones stay implicit_dw), after dx ran as a
 * convolution; scratch: the padded image, dy^T of one image and dw^T, within the limit. */
static int64_t rows_dw_elems(const cr_conv2d_dims *d) {
    const int64_t HWp = (d->H + 2 * d->ph) * (d->W + 2 * d->pw);
    return d->C * HWp + d->K * (d->P * d->Q + d->C * d->R * d->S);
}

/* dw by the panel of all N images (conv_k5.c) for the outputs the forward's panel takes,
 * when its scratch (for one thread) fits: no dw^T of K*CRS values (832->128: 10.6 MB, past
 * the limit, ran im2col) */
static int rows_dw_panel(const cr_conv2d_dims *d, int64_t elsize) {
    return rows_panel(d) > 0 && conv_k5_dw_elems(d, 1) * elsize <= cr_conv_get_workspace_limit();
}

int conv_rows_dw_ok(const cr_conv2d_dims *d, int64_t elsize) {
    if (elsize != 4 || !conv_avx512() || cr_conv_algo() != CR_CONV_ALGO_AUTO || d->sh != 1 ||
        d->sw != 1 || d->dh != 1 || d->dw != 1 || d->R * d->S < 10 || d->P * d->Q < ROWS_MIN_PQ)
        return 0;
    return rows_dw_panel(d, elsize) || rows_dw_elems(d) * elsize <= cr_conv_get_workspace_limit();
}

void conv_rows_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t dx_bytes) {
    pl->path = CONV_ROWS_DW;
    pl->bl.cols = rows_dw_panel(d, elsize); /* 1: conv_k5.c */
    pl->ws_elems = pl->bl.cols ? conv_k5_dw_elems(d, pl->nt) : rows_dw_elems(d);
    pl->ws_threads = 1;
    pl->ws_bytes = pl->ws_elems * elsize + d->C * d->R * d->S * (int64_t)sizeof(int64_t);
    if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
}

#ifdef CR_X86

typedef struct {
    const int64_t *offs, *aoff, *sb, *sc; /* aoff: step p's offset in a row of w */
    const uint16_t *sm;
    int64_t nseg, ngrp, nblk, kc, ai;     /* ai: row stride of w */
} rows_geom;

/* the tiles of row blocks [b0, b1) of one image (tile: segment group, row block), block by
 * block of the reduction, groups outer: a group's reads of xp stay in L1 while the weights
 * of the block (K x kc, in L2, read in place) stream past them once per group. */
static void rows_tiles(float *y, const float *xp, const float *w, const float *bias,
                       const cr_conv2d_dims *d, const rows_geom *g, int64_t b0, int64_t b1,
                       int accumulate) {
    const int64_t K = d->K, CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    for (int64_t k0 = 0; k0 < CRS; k0 += g->kc) {
        const int64_t kd = CRS - k0 < g->kc ? CRS - k0 : g->kc;
        const int acc = accumulate || k0 > 0;
        for (int64_t u = 0; u < g->ngrp * (b1 - b0); u++) {
            const int64_t blk = b0 + u % (b1 - b0), v0 = 3 * (u / (b1 - b0));
            /* near-equal row blocks of <= 8 (as conv_avx512.c) */
            const int64_t i0 = K * blk / g->nblk, mb = K * (blk + 1) / g->nblk - i0;
            const int64_t nv = g->nseg - v0 < 3 ? g->nseg - v0 : 3;
            cr_conv_rows_f32_avx512(mb, nv, kd, w + i0 * g->ai, g->ai, g->aoff + k0,
                                    xp, g->offs + k0,
                                    g->sb + v0, g->sc + v0, g->sm + v0, y + i0 * PQ, PQ, acc,
                                    k0 == 0 && bias ? bias + i0 : NULL);
        }
    }
}

static void pad_channels(float *xp, const float *x_n, const cr_conv2d_dims *d, int64_t c0,
                         int64_t c1) {
    const int64_t H = d->H, W = d->W, Wp = W + 2 * d->pw, HWp = (H + 2 * d->ph) * Wp;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t h = 0; h < H; h++)
            memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                   (size_t)W * sizeof(float));
}

static int rows_forward(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                        int flipped) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t CRS = C * d->R * d->S, PQ = P * Q, spr = (Q + 15) / 16;
    const int padded = d->ph > 0 || d->pw > 0;
    if (pl->bl.cols) return conv_k5_forward_f32(out, inp, w, bias, d, pl, accumulate, flipped);
    rows_geom g;
    g.nseg = P * spr;
    g.ngrp = (g.nseg + 2) / 3;
    g.nblk = (K + 7) / 8;
    g.kc = pl->bl.rows;
    int64_t *offs = (int64_t *)malloc((size_t)(2 * CRS + 2 * g.nseg) * sizeof(int64_t));
    uint16_t *sm = (uint16_t *)malloc((size_t)g.nseg * sizeof(uint16_t));
    const int nslices = (int)pl->ws_threads;
    float *ws = padded ? (float *)conv_ws_alloc(nslices * pl->ws_elems * (int64_t)sizeof(float))
                       : NULL;
    if (!offs || !sm || (padded && !ws)) {
        free(offs);
        free(sm);
        conv_ws_free(ws);
        return -1;
    }
    int64_t *aoff = offs + CRS, *sb = aoff + CRS, *sc = sb + g.nseg;
    const int64_t RS = d->R * d->S;
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) {
                offs[i] = c * HWp + r * Wp + s;
                /* flipped: w holds the weights of the layer whose dx this is,
                 * wf[o, c, rs] = w[c, o, RS-1-rs]: row o at o*RS, step (c, rs) below */
                aoff[i] = flipped ? c * K * RS + RS - 1 - (r * d->S + s) : i;
            }
    g.ai = flipped ? RS : CRS;
    g.aoff = aoff;
    for (int64_t p = 0, v = 0; p < P; p++)
        for (int64_t q0 = 0; q0 < Q; q0 += 16, v++) {
            const int64_t len = Q - q0 < 16 ? Q - q0 : 16;
            sb[v] = p * Wp + q0;
            sc[v] = p * Q + q0;
            sm[v] = (uint16_t)(len == 16 ? 0xFFFFu : (1u << len) - 1);
        }
    g.offs = offs; g.sb = sb; g.sc = sc; g.sm = sm;
    if (padded) /* zero borders: only the interior is written per image */
        memset(ws, 0, (size_t)(nslices * pl->ws_elems) * sizeof(float));
    const int nt = pl->nt;
    if (pl->by_block) { /* threads take whole images */
        #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t n = 0; n < N; n++) {
            const float *x_n = inp + n * C * H * W;
            float *slice = padded ? ws + CR_THREAD_NUM() * pl->ws_elems : NULL;
            float *xp = padded ? slice : (float *)x_n;
            if (padded) pad_channels(xp, x_n, d, 0, C);
            rows_tiles(out + n * K * PQ, xp, w, bias, d, &g, 0, g.nblk, accumulate);
        }
    } else { /* threads own runs of row blocks: each pads its own copy of the image, so
              * the region has no barrier */
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
            const int64_t b0 = g.nblk * t / T, b1 = g.nblk * (t + 1) / T;
            float *slice = padded ? ws + t * pl->ws_elems : NULL;
            if (b1 > b0) {
                for (int64_t n = 0; n < N; n++) {
                    const float *x_n = inp + n * C * H * W;
                    const float *xp = padded ? slice : x_n;
                    if (padded) pad_channels(slice, x_n, d, 0, C);
                    rows_tiles(out + n * K * PQ, xp, w, bias, d, &g, b0, b1, accumulate);
                }
            }
        }
    }
    free(offs);
    free(sm);
    conv_ws_free(ws);
    return 0;
}

int conv_rows_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                          const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    return rows_forward(out, inp, w, bias, d, pl, accumulate, 0);
}

/* dx += the forward of dd (dy with the flipped kernel, see dx_as_conv_ok in conv_plan.c),
 * reading the flipped weights straight from w (nt threads) */
int conv_rows_backward_input_f32(float *dinp, const float *dout, const float *w,
                                 const cr_conv2d_dims *dd, int nt) {
    conv_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.nt = nt;
    conv_rows_plan(&pl, dd, 4);
    return rows_forward(dinp, dout, w, NULL, dd, &pl, 1, 1);
}

/* dw and db (CONV_ROWS_DW): per image, in order, with xp the padded image and dy^T (PQ x K),
 *   dw^T[crs, k] += sum over the valid pixels (p, q) of xp[offs[crs] + p*Wp + q] dy^T[pq, k]
 * (conv_rows_avx512.c), tiles of 8 rows crs x 48 columns k; at the end dw += dw^T
 * transposed. Threads pad channels and transpose pixels of each image together, then take
 * runs of crs rows (each element summed by one thread, in the same order for any count). */
int conv_rows_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                  const float *inp, const cr_conv2d_dims *d,
                                  const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t CRS = C * d->R * d->S, PQ = P * Q, nb = (CRS + 7) / 8;
    const int padded = d->ph > 0 || d->pw > 0;
    if (pl->bl.cols) return conv_k5_backward_weight_f32(dweight, dbias, dout, inp, d, pl);
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    float *ws = (float *)conv_ws_alloc(pl->ws_elems * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    float *xp = ws, *dyT = xp + C * HWp, *dwT = dyT + PQ * K;
    if (padded) memset(xp, 0, (size_t)(C * HWp) * sizeof(float));
    if (dweight) memset(dwT, 0, (size_t)(CRS * K) * sizeof(float));
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * Wp + s;
    const int nt = pl->nt;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        if (dbias) conv_bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t r0 = CRS * (nb * t / T) / nb, r1 = CRS * (nb * (t + 1) / T) / nb;
        for (int64_t n = 0; dweight && n < N; n++) {
            const float *x_n = inp + n * C * H * W, *dy_n = dout + n * K * PQ;
            if (padded) pad_channels(xp, x_n, d, C * t / T, C * (t + 1) / T);
            for (int64_t j = PQ * t / T; j < PQ * (t + 1) / T; j++)
                for (int64_t k = 0; k < K; k++) dyT[j * K + k] = dy_n[k * PQ + j];
            #pragma omp barrier
            for (int64_t blk = nb * t / T; blk < nb * (t + 1) / T; blk++) {
                const int64_t i0 = CRS * blk / nb, mb = CRS * (blk + 1) / nb - i0;
                for (int64_t k0 = 0; k0 < K; k0 += 48)
                    cr_conv_rows_dw_f32_avx512(mb, K - k0 < 48 ? K - k0 : 48, padded ? xp : x_n,
                                               offs + i0, P, Q, Wp, dyT + k0, K,
                                               dwT + i0 * K + k0, K);
            }
            #pragma omp barrier
        }
        if (dweight)
            for (int64_t k = 0; k < K; k++)
                for (int64_t i = r0; i < r1; i++) dweight[k * CRS + i] += dwT[i * K + k];
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}

#endif /* CR_X86 */
