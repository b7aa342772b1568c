/* conv_s2dx.c — dx of strided float32 layers without im2col or col2im (dx_as_conv 5,
 * "direct_s2_dx" in the plan report; see s2dx_ok in conv_plan.c): input channels in the
 * vector lanes, dy values broadcast from the zero-padded dy read in place
 * (conv_s2dx_avx512.c).
 *
 * With strides (sh, sw), dx pixel (h, w) meets only the taps r = ra + sh*u, s = sa + sw*v
 * with ra = (h + ph) mod sh, sa = (w + pw) mod sw: the sh*sw stride phases of dx are
 * stride-1 correlations of dy with sub-kernels (3x3 stride 2: the 1x1, 1x2, 2x1 and 2x2 ones;
 * R*S taps in all, no zero taps):
 *   dx[c, h, w] = sum_{k, r, s} w[k, c, r, s] dy[k, (h + ph - r)/sh, (w + pw - s)/sw]
 * over the r, s of the pixel's phase. dy padded by PT rows above and PB below (QL, QR
 * columns: sdx_geom) serves every tap: a tap that falls off dy reads a zero. Each dx value
 * is written once, so there is no scatter-add of taps and no column buffer.
 *
 *   weights packed once per call: per block of CB input channels, per phase (ra, sa) of the
 *   taps, wp[k][tap][CB] (the phase's taps in the order (r, s));
 *   work items (image, channel block, band of BR dx rows, BR a multiple of sh), threads take
 *   even ranges of them (each refills its dyp when the image changes): per phase of the band,
 *   per chunk of output channels k (the chunk's packed weights within ~64 KiB, in L2 while
 *   every tile runs them), per tile of <= NP pixels of the phase (flattened, a tile may span
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
/* the zero padding of dy and the stride phases' taps */
typedef struct {
    int64_t PT, PB, QL, QR, Pp, Qp; /* dy rows above / below, columns left / right; plane */
    int64_t nph, RS;                /* sh*sw phases, R*S taps */
    int64_t first[S2B_MAX_TAPS + 1]; /* phase q = ra*sw + sa: its taps tap[first[q] ...] */
    int64_t tap[S2B_MAX_TAPS];       /* r*S + s, phase by phase, each in the order (r, s) */
} sdx_geom;

static int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

static void sdx_geom_make(sdx_geom *g, const cr_conv2d_dims *d) {
    /* dy rows read: (h + ph - r)/sh for h < H, r < R of the same phase */
    g->PT = ceil_div(d->R - 1 - d->ph, d->sh);
    g->PB = (d->H - 1 + d->ph) / d->sh - (d->P - 1);
    g->PB = g->PB > 0 ? g->PB : 0;
    g->QL = ceil_div(d->S - 1 - d->pw, d->sw);
    g->QR = (d->W - 1 + d->pw) / d->sw - (d->Q - 1);
    g->QR = g->QR > 0 ? g->QR : 0;
    g->Pp = d->P + g->PT + g->PB;
    g->Qp = d->Q + g->QL + g->QR;
    g->nph = d->sh * d->sw;
    g->RS = d->R * d->S;
    int64_t n = 0;
    for (int64_t ra = 0; ra < d->sh; ra++)
        for (int64_t sa = 0; sa < d->sw; sa++) {
            g->first[ra * d->sw + sa] = n;
            for (int64_t r = ra; r < d->R; r += d->sh)
                for (int64_t s = sa; s < d->S; s += d->sw) g->tap[n++] = r * d->S + s;
        }
    g->first[g->nph] = n;
}

/* dx rows per band: a multiple of sh, T of the band (rows x W x CB floats) within ~96 KiB
 * (in L2) */
static int64_t sdx_band(const cr_conv2d_dims *d, int64_t CB) {
    int64_t br = (96 * 1024 / 4) / (d->W * CB);
    br -= br % d->sh;
    return br < d->sh ? d->sh : br;
}
static int64_t pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }
static int64_t sdx_slice(const cr_conv2d_dims *d) {
    const int64_t CB = sdx_cb(d->C);
    sdx_geom g;
    sdx_geom_make(&g, d);
    return pad16(d->K * g.Pp * g.Qp) + pad16(sdx_band(d, CB) * d->W * CB);
}

int conv_s2dx_applies(const cr_conv2d_dims *d) {
    return (d->sh > 1 || d->sw > 1) && d->R * d->S <= S2B_MAX_TAPS && d->R >= d->sh &&
           d->S >= d->sw && d->ph < d->R && d->pw < d->S && d->dh == 1 && d->dw == 1 &&
           d->C % 16 == 0 && d->N > 0;
}

int64_t conv_s2dx_bytes(const cr_conv2d_dims *d, int nt) {
    return (pad16(d->K * d->C * d->R * d->S) + nt * sdx_slice(d)) * 4;
}

#ifdef CR_X86

/* dy of one image into the interior of dyp (K planes of Pp x Qp); the padding stays zero */
static void sdx_fill(float *dyp, const float *dy, const cr_conv2d_dims *d, const sdx_geom *g) {
    const int64_t P = d->P, Q = d->Q, plane = g->Pp * g->Qp;
    for (int64_t k = 0; k < d->K; k++)
        for (int64_t p = 0; p < P; p++)
            memcpy(dyp + k * plane + (p + g->PT) * g->Qp + g->QL, dy + (k * P + p) * Q,
                   (size_t)Q * sizeof(float));
}

/* dx of one image, channel block cb (CB lanes), rows [h0, h1) (h0 a multiple of sh) */
static void sdx_band_run(float *dx, const float *dyp, const float *wp, float *T,
                         const cr_conv2d_dims *d, const sdx_geom *g, int64_t CB, int64_t cb,
                         int64_t h0, int64_t h1) {
    const int64_t K = d->K, W = d->W, Qp = g->Qp, plane = g->Pp * Qp, sh = d->sh, sw = d->sw;
    const int64_t NP = sdx_np(CB), KV = CB / 16;
    const float *wc = wp + cb * K * g->RS * CB;
    for (int64_t a = 0; a < sh; a++)
        for (int64_t b = 0; b < sw; b++) {
            const int64_t ra = (a + d->ph) % sh, sa = (b + d->pw) % sw, q = ra * sw + sa;
            const int64_t t0 = g->first[q], ntap = g->first[q + 1] - t0;
            const float *wph = wc + K * t0 * CB; /* after the phases before it */
            /* tap offsets from a pixel's corner: tap r = ra + sh*u reads dy row
             * (h + ph - ra)/sh - u (likewise columns) */
            int64_t toff[S2B_MAX_TAPS];
            for (int64_t t = 0; t < ntap; t++) {
                const int64_t r = g->tap[t0 + t] / d->S, s = g->tap[t0 + t] % d->S;
                toff[t] = -((r - ra) / sh) * Qp - (s - sa) / sw;
            }
            const int64_t ha = h0 + a, wb = b;
            const int64_t nh = ha < h1 ? (h1 - ha + sh - 1) / sh : 0;
            const int64_t nw = wb < W ? (W - wb + sw - 1) / sw : 0;
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
                        const int64_t h = ha + sh * ((j + i) / nw), w = wb + sw * ((j + i) % nw);
                        px[i] = dyp + k0 * plane + ((h + d->ph) / sh + g->PT) * Qp +
                                (w + d->pw) / sw + g->QL;
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
    if (!conv_s2dx_applies(d)) return -1;
    sdx_geom g;
    sdx_geom_make(&g, d);
    const int64_t dyp_elems = K * g.Pp * g.Qp, RS = g.RS;
    /* where each tap of w goes in a channel block's packed weights */
    int64_t dst[S2B_MAX_TAPS], ntp[S2B_MAX_TAPS];
    for (int64_t q = 0; q < g.nph; q++)
        for (int64_t t = g.first[q]; t < g.first[q + 1]; t++) {
            dst[g.tap[t]] = (K * g.first[q] + (t - g.first[q])) * CB;
            ntp[g.tap[t]] = g.first[q + 1] - g.first[q];
        }
    float *ws = (float *)conv_ws_alloc(conv_s2dx_bytes(d, nt));
    if (!ws) return -1;
    float *wp = ws, *slices = ws + pad16(K * C * RS);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        cr_s2dx_pack_f32_avx512(wp, w, C, K, CB, RS, dst, ntp, K * t / T, K * (t + 1) / T);
        float *dyp = slices + t * slice, *Tb = dyp + pad16(dyp_elems);
        memset(dyp, 0, (size_t)dyp_elems * sizeof(float));
        #pragma omp barrier
        int64_t cur = -1;
        for (int64_t it = items * t / T; it < items * (t + 1) / T; it++) {
            const int64_t n = it / (ncb * nband), cb = (it / nband) % ncb, band = it % nband;
            if (n != cur) {
                sdx_fill(dyp, dout + n * KPQ, d, &g);
                cur = n;
            }
            const int64_t h0 = band * BR, h1 = h0 + BR < H ? h0 + BR : H;
            sdx_band_run(dinp + n * CHW, dyp, wp, Tb, d, &g, CB, cb, h0, h1);
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
