/* conv_s2dx.c — dx of strided 3x3 float32 layers without im2col or col2im (dx_as_conv 5,
 * "direct_s2_dx" in the plan report; see s2dx_ok in conv_plan.c): input channels in the
 * vector lanes, dy values broadcast from the zero-padded dy read in place
 * (conv_s2dx_avx512.c).
 *
 * With stride 2, dx pixel (h, w) meets only the taps r = (h + ph) mod 2 (+ 2) and
 * s = (w + pw) mod 2 (+ 2): the 4 stride phases of dx are stride-1 correlations of dy with
 * the 1x1, 1x2, 2x1 and 2x2 sub-kernels (9 taps in all, no zero taps):
 *   dx[c, h, w] = sum_{k, r, s} w[k, c, r, s] dy[k, (h + ph - r)/2, (w + pw - s)/2]
 * over the r, s of the pixel's phase; with ph, pw <= 1 every row (h + ph - r)/2 lies in
 * [-1, P] (columns [-1, Q]), so dy padded by one zero row / column on each side
 * (dyp: K planes of (P + 2) x (Q + 2)) serves every tap. Each dx value is written once, so
 * there is no scatter-add of taps and no column buffer.
 *
 *   weights packed once per call: per block of CB input channels, per phase (ra, sa) of the
 *   taps, wp[k][tap][CB] (the phase's taps in the order (r, s));
 *   work items (image, channel block, band of BR dx rows), threads take even ranges of them
 *   (each refills its dyp when the image changes): per phase of the band, per chunk of
 *   output channels k (the chunk's packed weights within ~64 KiB, in L2 while every tile
 *   runs them), per tile of <= NP pixels of the phase (flattened, a tile may span
 *   rows) T[pixel][CB] += the chunk's sums; then dx[c, band] += T transposed.
 * Each dx value is one sum in the order (k, r, s) whatever the blocking, chunking and thread
 * count (chunks only store and reload it), then one add into dx: results do not depend on
 * threads.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

/* input channels per block: 64, 48, 32 or 16 (the plan needs C % 16 == 0) */
static int64_t sdx_cb(int64_t C) {
    return C % 64 == 0 ? 64 : C % 48 == 0 ? 48 : C % 32 == 0 ? 32 : 16;
}
/* most pixels per tile for CB/16 vectors: 24 accumulators at most (20 for 1-2 vectors) */
static int64_t sdx_np(int64_t CB) { return CB == 64 ? 6 : CB == 48 ? 8 : 10; }
/* dx rows per band: even, T of the band (rows x W x CB floats) within ~96 KiB (in L2) */
static int64_t sdx_band(const cr_conv2d_dims *d, int64_t CB) {
    int64_t br = ((96 * 1024 / 4) / (d->W * CB)) & ~(int64_t)1;
    if (br < 2) br = 2;
    return br;
}
static int64_t pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }
static int64_t sdx_slice(const cr_conv2d_dims *d) {
    const int64_t CB = sdx_cb(d->C);
    return pad16(d->K * (d->P + 2) * (d->Q + 2)) + pad16(sdx_band(d, CB) * d->W * CB);
}

int conv_s2dx_applies(const cr_conv2d_dims *d) {
    return d->sh == 2 && d->sw == 2 && d->R == 3 && d->S == 3 && d->dh == 1 && d->dw == 1 &&
           d->ph <= 1 && d->pw <= 1 && d->C % 16 == 0 && d->N > 0;
}

int64_t conv_s2dx_bytes(const cr_conv2d_dims *d, int nt) {
    return (pad16(d->K * d->C * 9) + nt * sdx_slice(d)) * 4;
}

#ifdef CR_X86

/* taps (r, s) of phase (ra, sa) in the order (r, s): r in {ra, ra + 2} < 3, s likewise */
static int sdx_taps(int ra, int sa, int *rs) {
    int n = 0;
    for (int r = ra; r < 3; r += 2)
        for (int s = sa; s < 3; s += 2) rs[n++] = r * 3 + s;
    return n;
}

/* dy of one image into the interior of dyp (K planes of (P+2) x (Q+2)); borders stay zero */
static void sdx_fill(float *dyp, const float *dy, const cr_conv2d_dims *d) {
    const int64_t P = d->P, Q = d->Q, Wq = Q + 2, plane = (P + 2) * Wq;
    for (int64_t k = 0; k < d->K; k++)
        for (int64_t p = 0; p < P; p++)
            memcpy(dyp + k * plane + (p + 1) * Wq + 1, dy + (k * P + p) * Q,
                   (size_t)Q * sizeof(float));
}

/* dx of one image, channel block cb (CB lanes), rows [h0, h1) */
static void sdx_band_run(float *dx, const float *dyp, const float *wp, float *T,
                         const cr_conv2d_dims *d, int64_t CB, int64_t cb, int64_t h0,
                         int64_t h1) {
    const int64_t K = d->K, W = d->W, Wq = d->Q + 2, plane = (d->P + 2) * Wq;
    const int64_t NP = sdx_np(CB), KV = CB / 16;
    const float *wc = wp + cb * K * 9 * CB;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            const int ra = (int)((a + d->ph) & 1), sa = (int)((b + d->pw) & 1);
            int rs[4];
            const int ntap = sdx_taps(ra, sa, rs);
            /* weights of phase (ra, sa): after the phases before it */
            const float *wph = wc;
            for (int q = 0; q < ra * 2 + sa; q++) {
                int tmp[4];
                wph += K * sdx_taps(q >> 1, q & 1, tmp) * CB;
            }
            /* tap offsets from a pixel's corner: tap (r, s) reads dy row (h + ph - r)/2, i.e.
             * the corner's row minus (r - ra)/2 (likewise columns) */
            int64_t toff[4];
            for (int t = 0; t < ntap; t++)
                toff[t] = -((rs[t] / 3 - ra) / 2) * Wq - (rs[t] % 3 - sa) / 2;
            const int64_t ha = h0 + a, wb = b;
            const int64_t nh = ha < h1 ? (h1 - ha + 1) / 2 : 0;
            const int64_t nw = wb < W ? (W - wb + 1) / 2 : 0;
            const int64_t n = nh * nw;
            if (n == 0) continue;
            /* chunks of k: the chunk's weights within 64 KiB (L2), near-equal, so T is reloaded
             * rarely (1 thread, ResNet-18 128->256 28x28 b8: 16 KiB 9.1 ms, 64 KiB 8.6) */
            int64_t kc = (64 * 1024 / 4) / (ntap * CB);
            if (kc < 1) kc = 1;
            const int64_t nkc = (K + kc - 1) / kc;
            kc = (K + nkc - 1) / nkc;
            const int64_t ntile = (n + NP - 1) / NP;
            for (int64_t k0 = 0; k0 < K; k0 += kc) {
                const int64_t kn = K - k0 < kc ? K - k0 : kc;
                for (int64_t u = 0, j = 0; u < ntile; u++) {
                    const int64_t np = (n - j) / (ntile - u) + ((n - j) % (ntile - u) != 0);
                    const float *px[10];
                    float *tp[10];
                    for (int64_t i = 0; i < np; i++) {
                        const int64_t h = ha + 2 * ((j + i) / nw), w = wb + 2 * ((j + i) % nw);
                        px[i] = dyp + k0 * plane + ((h + d->ph) / 2 + 1) * Wq + (w + d->pw) / 2 + 1;
                        tp[i] = T + ((h - h0) * W + w) * CB;
                    }
                    cr_s2dx_tile_f32_avx512(KV, np, ntap, wph + k0 * ntap * CB, kn, plane, toff,
                                            px, tp, k0 > 0);
                    j += np;
                }
            }
        }
    cr_s2dx_store_f32_avx512(dx + cb * CB * d->H * W + h0 * W, d->H * W, T, CB, (h1 - h0) * W, 1,
                             NULL);
}

int conv_s2dx_backward_input_f32(float *dinp, const float *dout, const float *w,
                                 const cr_conv2d_dims *d, int nt) {
    const int64_t N = d->N, C = d->C, K = d->K, H = d->H, CB = sdx_cb(C), ncb = C / CB;
    const int64_t BR = sdx_band(d, CB), nband = (H + BR - 1) / BR, items = N * ncb * nband;
    const int64_t CHW = C * H * d->W, KPQ = K * d->P * d->Q, slice = sdx_slice(d);
    const int64_t dyp_elems = K * (d->P + 2) * (d->Q + 2);
    if (!conv_s2dx_applies(d)) return -1;
    float *ws = (float *)conv_ws_alloc(conv_s2dx_bytes(d, nt));
    if (!ws) return -1;
    float *wp = ws, *slices = ws + pad16(K * C * 9);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        cr_s2dx_pack_f32_avx512(wp, w, C, K, CB, K * t / T, K * (t + 1) / T);
        float *dyp = slices + t * slice, *Tb = dyp + pad16(dyp_elems);
        memset(dyp, 0, (size_t)dyp_elems * sizeof(float));
        #pragma omp barrier
        int64_t cur = -1;
        for (int64_t it = items * t / T; it < items * (t + 1) / T; it++) {
            const int64_t n = it / (ncb * nband), cb = (it / nband) % ncb, band = it % nband;
            if (n != cur) {
                sdx_fill(dyp, dout + n * KPQ, d);
                cur = n;
            }
            const int64_t h0 = band * BR, h1 = h0 + BR < H ? h0 + BR : H;
            sdx_band_run(dinp + n * CHW, dyp, wp, Tb, d, CB, cb, h0, h1);
        }
    }
    conv_ws_free(ws);
    return 0;
}

#else
int conv_s2dx_backward_input_f32(float *dinp, const float *dout, const float *w,
                                 const cr_conv2d_dims *d, int nt) {
    (void)dinp; (void)dout; (void)w; (void)d; (void)nt;
    return -1;
}
#endif /* CR_X86 */
