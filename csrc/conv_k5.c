/* conv_k5.c — the pixel-panel forward of CONV_ROWS (conv_rows.c): float32 stride-1 layers
 * with a large kernel and a small output (PQ <= 128, GoogLeNet's 5x5 at 7x7), and dx of such
 * layers as the convolution of dy with the flipped kernel. x86 with AVX-512 only.
 *
 * The output pixels of G images go side by side in the columns of one panel (7x7 at batch
 * 8: 392 of 400 lanes; 49 of 64 at batch 1), built per reduction block of kc im2col rows from
 * the zero-padded images (one gather per output row of each image); the weights are read
 * in place (conv_k5_avx512.c), so no packed copy is written and read: a layer whose weights
 * pass L2 (832->128: 10.6 MB) reads them once per G images. An output is the sum over block
 * 0, then += block 1, ... (each block summed in order), kc and G fixed by the sizes, so
 * results do not depend on threads. Threads take runs of the panel's vectors (2+ tiles
 * each), else runs of 8-row blocks of the weights; each builds the panel columns it reads.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

#define K5_W_BLOCK_BYTES (192 * 1024) /* K x kc of w per reduction block (L2) */
#define K5_PANEL_BYTES (1024 * 1024)  /* kc x npx of the panel */
#define K5_KC_MAX 128 /* a tile's kc x 48 of the panel stays in L1 (24 KiB) */

static int64_t k5_kc(const cr_conv2d_dims *d, int64_t elsize) {
    const int64_t CRS = d->C * d->R * d->S;
    int64_t kc = K5_W_BLOCK_BYTES / (elsize * d->K);
    kc = kc > K5_KC_MAX ? K5_KC_MAX : kc;
    return kc < 64 ? 64 : kc > CRS ? CRS : kc;
}

/* the plan of the panel path: kc in bl.rows, G images per chunk in bl.G (even chunks), the
 * panel width in bl.cols; scratch: the padded images of a chunk and a panel per thread */
void conv_k5_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize) {
    const int64_t PQ = d->P * d->Q, kc = k5_kc(d, elsize);
    const int padded = d->ph > 0 || d->pw > 0;
    int64_t g = K5_PANEL_BYTES / (elsize * kc) / PQ;
    g = g < 1 ? 1 : g > d->N ? d->N : g;
    const int64_t chunks = (d->N + g - 1) / g;
    g = (d->N + chunks - 1) / chunks;
    pl->path = CONV_ROWS;
    pl->bl.G = g;
    pl->bl.rows = kc;
    pl->bl.cols = (g * PQ + 15) / 16 * 16;
    pl->by_block = 0;
    pl->ws_elems = kc * pl->bl.cols;
    pl->ws_threads = pl->nt;
    pl->ws_bytes = ((padded ? g * d->C * (d->H + 2 * d->ph) * (d->W + 2 * d->pw) : 0) +
                    pl->ws_threads * pl->ws_elems) * elsize +
                   d->C * d->R * d->S * (int64_t)sizeof(int64_t);
}

/* dw and db by the panel (CONV_ROWS_DW with bl.cols > 0, conv_rows_dw_plan): small outputs,
 * all N images at once: with dy^T (N*PQ x K) and the padded images, threads take runs of
 * 8-row blocks of the im2col rows crs; per block, the panel of its 8 rows over the N*PQ
 * pixels (a gather, as the forward), then
 *   t[i, k] = sum over the pixels, in order, of pan[i, col] * dy^T[col, k]
 * (conv_rows_avx512.c's dw product, one pass per 48 columns k) and dw[k, crs] += t[i, k].
 * Each dw value is summed by one thread in one fixed order: no dependence on threads.
 * Scratch: xp (N*C*HWp when padded), dy^T, and per thread the panel and t. */
int64_t conv_k5_dw_elems(const cr_conv2d_dims *d, int nt) {
    const int64_t NPQ = d->N * d->P * d->Q;
    const int padded = d->ph > 0 || d->pw > 0;
    return (padded ? d->N * d->C * (d->H + 2 * d->ph) * (d->W + 2 * d->pw) : 0) + NPQ * d->K +
           nt * 8 * (NPQ + d->K);
}


#ifdef CR_X86

/* the runs of one chunk of g images clipped to panel columns [c0, c1): (src, dst, mask) of
 * at most 16 pixels of one output row each */
static int64_t k5_runs(int64_t *runs, const cr_conv2d_dims *d, int64_t g, int64_t img,
                       int64_t c0, int64_t c1) {
    const int64_t P = d->P, Q = d->Q, Wp = d->W + 2 * d->pw;
    int64_t nr = 0;
    for (int64_t n = 0; n < g; n++)
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q += 16) {
                int64_t dst = (n * P + p) * Q + q, src = n * img + p * Wp + q;
                int64_t end = dst + (Q - q < 16 ? Q - q : 16);
                if (end > c1) end = c1;
                if (dst < c0) { src += c0 - dst; dst = c0; }
                if (end <= dst) continue;
                runs[3 * nr] = src;
                runs[3 * nr + 1] = dst;
                runs[3 * nr + 2] = end - dst == 16 ? 0xFFFF : ((int64_t)1 << (end - dst)) - 1;
                nr++;
            }
    return nr;
}

/* out[n, k, pq] (+)= the layer; flipped: w holds the weights of the layer whose dx this is,
 * wf[o, k, rs] = w[k, o, RS-1-rs] (row o of A at w + o*RS, step (k, rs) at k*K*RS + RS-1-rs) */
int conv_k5_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                        int flipped) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, PQ = d->P * d->Q;
    const int64_t Wp = W + 2 * d->pw, HWp = (H + 2 * d->ph) * Wp, RS = d->R * d->S;
    const int64_t CRS = C * RS, G = pl->bl.G, kc = pl->bl.rows, npx = pl->bl.cols;
    const int64_t nvec = npx / 16, nblk = (K + 7) / 8, ai = flipped ? RS : CRS;
    const int padded = d->ph > 0 || d->pw > 0;
    const int nt = pl->nt;
    const int64_t nrun = G * d->P * ((d->Q + 15) / 16);
    int64_t *offs = (int64_t *)malloc((size_t)(2 * CRS + kc + 2 * nvec + 3 * nrun * nt) *
                                      sizeof(int64_t));
    uint16_t *sm = (uint16_t *)malloc((size_t)(2 * nvec) * sizeof(uint16_t));
    const int64_t xp_elems = padded ? G * C * HWp : 0;
    float *ws = (float *)conv_ws_alloc((xp_elems + nt * pl->ws_elems) * (int64_t)sizeof(float));
    if (!offs || !sm || !ws) {
        free(offs);
        free(sm);
        conv_ws_free(ws);
        return -1;
    }
    int64_t *aoff = offs + CRS, *poff = aoff + CRS, *so = poff + kc, *runs = so + 2 * nvec;
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) {
                offs[i] = c * HWp + r * Wp + s;
                aoff[i] = flipped ? c * K * RS + RS - 1 - (r * d->S + s) : i;
            }
    for (int64_t j = 0; j < kc; j++) poff[j] = j * npx;
    /* zero borders (only interiors are written per chunk) and panel lanes past the pixels */
    memset(ws, 0, (size_t)(xp_elems + nt * pl->ws_elems) * sizeof(float));
    for (int64_t n0 = 0; n0 < N; n0 += G) {
        const int64_t g = N - n0 < G ? N - n0 : G, cols = g * PQ, nv = (cols + 15) / 16;
        for (int64_t v = 0; v < nv; v++) { /* lanes of image n, then of image n + 1 */
            const int64_t c0 = 16 * v, n = c0 / PQ, a0 = (n + 1) * PQ - c0;
            const int64_t len = cols - c0 < 16 ? cols - c0 : 16, a = a0 < len ? a0 : len;
            so[2 * v] = n * K * PQ + c0 - n * PQ;
            sm[2 * v] = (uint16_t)(a == 16 ? 0xFFFFu : (1u << a) - 1);
            so[2 * v + 1] = (n + 1) * K * PQ - a;
            sm[2 * v + 1] = (uint16_t)(((len == 16 ? 0xFFFFu : (1u << len) - 1)) & ~(unsigned)sm[2 * v]);
        }
        const float *x0 = inp + n0 * C * H * W;
        const float *xp = padded ? ws : x0;
        float *y0 = out + n0 * K * PQ;
        const int by_vec = nv >= 6 * nt;
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
            if (padded) {
                #pragma omp for schedule(static)
                for (int64_t nc = 0; nc < g * C; nc++) {
                    const float *src = x0 + nc * H * W;
                    float *dst = ws + nc * HWp + d->ph * Wp + d->pw;
                    for (int64_t h = 0; h < H; h++)
                        memcpy(dst + h * Wp, src + h * W, (size_t)W * sizeof(float));
                }
            }
            const int64_t v0 = by_vec ? nv * t / T : 0, v1 = by_vec ? nv * (t + 1) / T : nv;
            const int64_t b0 = by_vec ? 0 : nblk * t / T, b1 = by_vec ? nblk : nblk * (t + 1) / T;
            float *pan = ws + xp_elems + t * pl->ws_elems;
            int64_t *rt = runs + 3 * nrun * t;
            const int64_t nr = k5_runs(rt, d, g, C * HWp, 16 * v0, 16 * v1);
            for (int64_t k0 = 0; v1 > v0 && b1 > b0 && k0 < CRS; k0 += kc) {
                const int64_t kd = CRS - k0 < kc ? CRS - k0 : kc;
                const int acc = accumulate || k0 > 0;
                cr_conv_k5_gather_f32_avx512(pan, npx, xp, offs + k0, kd, rt, nr);
                for (int64_t v = v0; v < v1; v += 3) {
                    const int64_t m = v1 - v < 3 ? v1 - v : 3;
                    for (int64_t blk = b0; blk < b1; blk++) {
                        const int64_t i0 = K * blk / nblk, mb = K * (blk + 1) / nblk - i0;
                        cr_conv_k5_f32_avx512(mb, m, kd, w + i0 * ai, ai, aoff + k0,
                                              pan + 16 * v, poff, so + 2 * v, sm + 2 * v,
                                              y0 + i0 * PQ, PQ, acc,
                                              k0 == 0 && bias ? bias + i0 : NULL);
                    }
                }
            }
        }
    }
    free(offs);
    free(sm);
    conv_ws_free(ws);
    return 0;
}

int conv_k5_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                const float *inp, const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, PQ = d->P * d->Q;
    const int64_t Wp = W + 2 * d->pw, HWp = (H + 2 * d->ph) * Wp, CRS = C * d->R * d->S;
    const int64_t NPQ = N * PQ, nb = (CRS + 7) / 8;
    const int padded = d->ph > 0 || d->pw > 0;
    const int nt = pl->nt;
    const int64_t xp_elems = padded ? N * C * HWp : 0;
    const int64_t nrun = N * d->P * ((d->Q + 15) / 16);
    int64_t *offs = (int64_t *)malloc((size_t)(CRS + 8 + 3 * nrun) * sizeof(int64_t));
    float *ws = (float *)conv_ws_alloc(conv_k5_dw_elems(d, nt) * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    int64_t *poff = offs + CRS, *runs = poff + 8;
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * Wp + s;
    for (int64_t i = 0; i < 8; i++) poff[i] = i * NPQ;
    const int64_t nr = k5_runs(runs, d, N, C * HWp, 0, NPQ);
    float *xp = padded ? ws : (float *)inp, *dyT = ws + xp_elems;
    if (padded) memset(ws, 0, (size_t)xp_elems * sizeof(float));
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        if (dbias) conv_bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        if (dweight) {
            if (padded) {
                #pragma omp for schedule(static) nowait
                for (int64_t nc = 0; nc < N * C; nc++)
                    for (int64_t h = 0; h < H; h++)
                        memcpy(xp + nc * HWp + (h + d->ph) * Wp + d->pw, inp + (nc * H + h) * W,
                               (size_t)W * sizeof(float));
            }
            #pragma omp for schedule(static)
            for (int64_t col = 0; col < NPQ; col++) {
                const float *src = dout + (col / PQ) * K * PQ + col % PQ;
                for (int64_t k = 0; k < K; k++) dyT[col * K + k] = src[k * PQ];
            }
            float *pan = dyT + NPQ * K + t * 8 * (NPQ + K), *tk = pan + 8 * NPQ;
            for (int64_t blk = nb * t / T; blk < nb * (t + 1) / T; blk++) {
                const int64_t i0 = CRS * blk / nb, mb = CRS * (blk + 1) / nb - i0;
                cr_conv_k5_gather_f32_avx512(pan, NPQ, xp, offs + i0, mb, runs, nr);
                memset(tk, 0, (size_t)(8 * K) * sizeof(float));
                for (int64_t k0 = 0; k0 < K; k0 += 48)
                    cr_conv_rows_dw_f32_avx512(mb, K - k0 < 48 ? K - k0 : 48, pan, poff, 1, NPQ,
                                               0, dyT + k0, K, tk + k0, K);
                for (int64_t k = 0; k < K; k++)
                    for (int64_t i = 0; i < mb; i++) dweight[k * CRS + i0 + i] += tk[i * K + k];
            }
        }
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}

#endif /* CR_X86 */
