/* conv_g5.c — stride-1 float32 layers with a large kernel on small images (plan path
 * CONV_G5, conv_plan.c: g5_auto; GoogLeNet's 5x5 at 7x7, 14x14 and 28x28): forward, dx (the
 * convolution of dy with the flipped kernel) and dw, x86 with AVX-512 only.
 *
 * Output channels go in the vector lanes (blocks of 32; a last 16 joins the block before as
 * 48; zero-padded) and a tile is qb <= 7 neighbouring pixels of one output row
 * (conv_g5_avx512.c), so every tap (r, s) that falls in the zero padding is skipped per pixel
 * instead of being multiplied by zero: on 7x7 with a 5x5 kernel and pad 2 that is 31% of the
 * padded products. Work items are (channel block, tile) pairs, channel-block major; each
 * thread takes a run of about equal cost (lanes x tiles). Per channel block of its run, for
 * each (even) block of cb input channels it packs that block's weights [c][r][s][lane] into
 * an L2-sized buffer (just in time: a packed copy of all the weights, 10.6 MB for 832->128,
 * cost a write and a read from memory) and adds every tile's sum into the tile's slot of its
 * accumulator buffer, which goes out to NCHW after the last block (+ bias, = or +=). The
 * image is read in place. Each output is summed in a fixed order (cb blocks, runs of s, r,
 * c, s), whatever the split: results do not depend on threads. dw: see
 * conv_g5_backward_weight_f32.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"
#include "gemm_ukr.h"

#define G5_QMAX 7 /* pixels per tile: 14 (28 accumulators) spilled, 7 ran 1.2x faster */
#define G5_KB 32 /* output channels per block (two vectors; a last 16 joins the block before) */
#define G5_W_BLOCK_BYTES (128 * 1024)   /* cb x R x S x 32 of packed weights (L2) */

typedef struct {
    int64_t Kp, nkb, nseg, qb, ntiles, cb, wbuf_elems, acc_elems;
} g5_sizes;

static g5_sizes g5_sizes_make(const cr_conv2d_dims *d) {
    g5_sizes z;
    z.Kp = (d->K + 15) / 16 * 16;
    z.nkb = z.Kp / G5_KB > 0 ? z.Kp / G5_KB : 1;
    z.nseg = (d->Q + G5_QMAX - 1) / G5_QMAX;
    z.qb = (d->Q + z.nseg - 1) / z.nseg;
    z.ntiles = d->N * d->P * z.nseg;
    z.cb = G5_W_BLOCK_BYTES / (d->R * d->S * G5_KB * 4);
    z.cb = z.cb < 1 ? 1 : z.cb > d->C ? d->C : z.cb;
    const int64_t ncb = (d->C + z.cb - 1) / z.cb; /* even blocks (48 = 24 + 24, not 40 + 8) */
    z.cb = (d->C + ncb - 1) / ncb;
    z.wbuf_elems = (z.cb * d->R * d->S * 48 + 15) / 16 * 16;
    z.acc_elems = (z.ntiles * z.qb * 48 + 15) / 16 * 16; /* a run's tiles of one block */
    return z;
}

/* lanes of channel block b: 32, the last one Kp - 32 b (16, 32 or 48) */
static int64_t g5_kw(const g5_sizes *z, int64_t b) {
    return b < z->nkb - 1 ? G5_KB : z->Kp - b * G5_KB;
}

/* The path: float32, AVX-512, auto, stride 1, no dilation, and the sizes where it
 * measured faster (see conv_plan.c: conv_g5_auto). */
int conv_g5_ok(const cr_conv2d_dims *d, int64_t elsize) {
    return elsize == 4 && conv_avx512() && cr_conv_algo() == CR_CONV_ALGO_AUTO && d->sh == 1 &&
           d->sw == 1 && d->dh == 1 && d->dw == 1 && d->pw < d->S && d->ph < d->R &&
           d->N * d->C * d->H * d->W < ((int64_t)1 << 31) &&
           d->N * d->K * d->P * d->Q < ((int64_t)1 << 31);
}

int64_t conv_g5_ws_bytes(const cr_conv2d_dims *d, int nt) {
    const g5_sizes z = g5_sizes_make(d);
    return nt * (z.wbuf_elems + z.acc_elems) * 4;
}

/* dw: dy transposed to dyT (blocks of kw channels, [pixel][lane]), per tap its list of
 * (input, output) pixel pairs inside the image (int32: conv_g5_ok bounds the sizes), and
 * per thread the sums of one unit */
int64_t conv_g5_dw_ws_bytes(const cr_conv2d_dims *d, int nt) {
    const int64_t NPQ = d->N * d->P * d->Q, RS = d->R * d->S, Kp = g5_sizes_make(d).Kp;
    return ((Kp * NPQ + 15) / 16 * 16 + (2 * RS * NPQ + 15) / 16 * 16 + nt * 6 * 48) * 4 +
           RS * (int64_t)sizeof(int64_t);
}

void conv_g5_plan(conv_plan *pl, const cr_conv2d_dims *d) {
    pl->path = CONV_G5;
    pl->ws_threads = pl->nt;
    pl->ws_bytes = conv_g5_ws_bytes(d, pl->nt);
}

#ifdef CR_X86
/* Whether an item of cost `cost` after `cum` of the `total` is thread t's of team: the
 * items whose cost midpoint lies in its equal share (fixed for given sizes and team) */
static int g5_mine(int64_t cum, int64_t cost, int64_t total, int t, int team) {
    const int64_t mid2 = 2 * cum + cost;
    return mid2 * team >= 2 * total * t && mid2 * team < 2 * total * (t + 1);
}

/* wb[((c - c0)*R + r)*S + s][l] = the weight of output channel k0 + l (0 past K), input
 * channel c, tap (r, s), for c in [c0, c1). flipped: d is dx's layer (C = the forward's K,
 * K = its C) and w the forward's weights, read flipped and transposed. */
static void g5_pack(float *wb, const float *w, const cr_conv2d_dims *d, int flipped,
                    int64_t k0, int64_t kw, int64_t c0, int64_t c1) {
    const int64_t C = d->C, K = d->K, RS = d->R * d->S;
    const int64_t le = K - k0 < kw ? K - k0 : kw;
    if (!flipped) { /* a transpose: lane l's weights of channels [c0, c1) are one run */
        cr_pack_t_f32_avx512(wb, kw, w + (k0 * C + c0) * RS, C * RS, le, (c1 - c0) * RS);
        return;
    }
    for (int64_t c = c0; c < c1; c++) {
        float *dst = wb + (c - c0) * RS * kw;
        for (int64_t t = 0; t < RS; t++) /* lanes past K */
            for (int64_t l = le; l < kw; l++) dst[t * kw + l] = 0;
        /* w'[k, c, r, s] = w[c, k, R-1-r, S-1-s] (w: (C, K, R, S) here): the lanes of c are
         * one run of le*RS values, written across (L1) */
        for (int64_t l = 0; l < le; l++) {
            const float *src = w + (c * K + k0 + l) * RS + RS - 1;
            for (int64_t t = 0; t < RS; t++) dst[t * kw + l] = src[-t];
        }
    }
}

/* the pixels j < qb of a tile at q0 whose input column q0 + j + s - pw is inside the image:
 * [g5_lo, g5_hi) */
static int64_t g5_lo(int64_t q0, int64_t s, int64_t pw, int64_t qb) {
    const int64_t l = pw - s - q0;
    return l < 0 ? 0 : l > qb ? qb : l;
}
static int64_t g5_hi(int64_t q0, int64_t s, int64_t pw, int64_t qb, int64_t W) {
    const int64_t h = W + pw - s - q0;
    return h < 0 ? 0 : h > qb ? qb : h;
}

/* The tile at acc (qb x kw) into the output: transposed (pack_t), + bias, = or +=. */
static void g5_out(float *out, const float *bt, const float *bias, const cr_conv2d_dims *d,
                   int64_t n, int64_t p, int64_t q0, int64_t qb, int64_t k0, int64_t kw,
                   int accumulate) {
    const int64_t K = d->K, P = d->P, Q = d->Q;
    float tr[48 * 8]; /* tr[l*8 + j] */
    cr_pack_t_f32_avx512(tr, 8, bt, kw, qb, kw);
    for (int64_t l = 0; l < kw && k0 + l < K; l++) {
        float *o = out + ((n * K + k0 + l) * P + p) * Q + q0;
        const float *tl = tr + l * 8, bv = bias ? bias[k0 + l] : 0.0f;
        if (accumulate)
            for (int64_t j = 0; j < qb; j++) o[j] += tl[j] + bv;
        else
            for (int64_t j = 0; j < qb; j++) o[j] = tl[j] + bv;
    }
}

/* Tiles [t0, t1) of channel block b: each tile's sums in acc, zeroed before its first block
 * of input channels and written out after its last (while in L1). */
static void g5_run(float *out, const float *inp, const float *w, const float *bias,
                   const cr_conv2d_dims *d, const g5_sizes *z, int64_t b, int64_t t0, int64_t t1,
                   float *wb, float *acc, int accumulate, int flipped) {
    const int64_t C = d->C, H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R, S = d->S,
                  HW = H * W;
    const int64_t k0 = b * G5_KB, kw = g5_kw(z, b);
    const int kv = (int)(kw / 16);
    for (int64_t c0 = 0; c0 < C; c0 += z->cb) {
        const int64_t cn = C - c0 < z->cb ? C - c0 : z->cb;
        g5_pack(wb, w, d, flipped, k0, kw, c0, c0 + cn);
        for (int64_t t = t0; t < t1; t++) {
            const int64_t row = t / z->nseg, seg = t % z->nseg, n = row / P, p = row % P;
            const int64_t q0 = seg * z->qb, qb = Q - q0 < z->qb ? Q - q0 : z->qb;
            const int64_t ih0 = p - d->ph;
            const int64_t r0 = ih0 < 0 ? -ih0 : 0, r1 = H - ih0 < R ? H - ih0 : R;
            float *bt = acc + (t - t0) * z->qb * kw;
            if (c0 == 0) memset(bt, 0, (size_t)(qb * kw) * sizeof(float));
            /* runs of s with the same pixels [lo, hi) inside the image: one call each (none
             * when every tap of the row is in the padding) */
            for (int64_t s0 = 0; s0 < S && r0 < r1;) {
                const int64_t lo = g5_lo(q0, s0, d->pw, qb), hi = g5_hi(q0, s0, d->pw, qb, W);
                int64_t s1 = s0 + 1;
                while (s1 < S && g5_lo(q0, s1, d->pw, qb) == lo && g5_hi(q0, s1, d->pw, qb, W) == hi)
                    s1++;
                if (lo < hi) /* input pixel of tap (r0, s0) for pixel lo: inside the image */
                    cr_conv_g5_tile_f32_avx512(
                        bt + lo * kw,
                        inp + (n * C + c0) * HW + (ih0 + r0) * W + (q0 + lo + s0 - d->pw), cn,
                        HW, W, wb + (r0 * S + s0) * kw, R, S, r1 - r0, s1 - s0, (int)(hi - lo),
                        kv);
                s0 = s1;
            }
            if (c0 + cn == C) g5_out(out, bt, bias, d, n, p, q0, qb, k0, kw, accumulate);
        }
    }
}

int conv_g5_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                        int flipped) {
    const int nt = pl->nt;
    const g5_sizes z = g5_sizes_make(d);
    float *ws = (float *)conv_ws_alloc(nt * (z.wbuf_elems + z.acc_elems) * 4);
    if (!ws) return -1;
    /* item (b, t) costs kw(b); thread t takes the items whose cost midpoint is in its share */
    int64_t total = 0;
    for (int64_t b = 0; b < z.nkb; b++)
        total += g5_kw(&z, b) * z.ntiles;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), team = CR_TEAM_SIZE();
        float *wb = ws + (int64_t)t * (z.wbuf_elems + z.acc_elems), *acc = wb + z.wbuf_elems;
        int64_t cum = 0;
        for (int64_t b = 0; b < z.nkb; b++) {
            const int64_t kw = g5_kw(&z, b);
            int64_t ta = -1, tb = -1;
            for (int64_t i = 0; i < z.ntiles; i++, cum += kw)
                if (g5_mine(cum, kw, total, t, team)) {
                    if (ta < 0) ta = i;
                    tb = i + 1;
                }
            if (ta >= 0)
                g5_run(out, inp, w, bias, d, &z, b, ta, tb, wb, acc, accumulate, flipped);
        }
    }
    conv_ws_free(ws);
    return 0;
}
/* dw and db: dw[k, c, r, s] += sum over the tap's pixel pairs, in order, of
 * x[n, c, ih, iw] * dy[n, k, p, q]; units (channel block, group of <= 6 input channels),
 * block-major, split between threads by cost, each dw value summed by one thread in one
 * order: results do not depend on threads. */
int conv_g5_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                const float *inp, const cr_conv2d_dims *d, const conv_plan *pl) {
    const int nt = pl->nt;
    if (dbias) conv_bias_grad_f32(dbias, dout, d, nt);
    if (!dweight) return 0;
    const int64_t C = d->C, K = d->K, H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R,
                  S = d->S, HW = H * W, PQ = P * Q, NPQ = d->N * PQ, RS = R * S;
    const g5_sizes z = g5_sizes_make(d);
    char *ws = (char *)conv_ws_alloc(conv_g5_dw_ws_bytes(d, nt));
    if (!ws) return -1;
    float *dyT = (float *)ws;
    int32_t *xo = (int32_t *)(dyT + (z.Kp * NPQ + 15) / 16 * 16), *yo = xo + RS * NPQ;
    float *outs = (float *)(xo + (2 * RS * NPQ + 15) / 16 * 16);
    int64_t *np = (int64_t *)(outs + nt * 6 * 48);
    const int64_t ncg = (C + 5) / 6;
    int64_t total = 0;
    for (int64_t b = 0; b < z.nkb; b++) total += g5_kw(&z, b) * C;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), team = CR_TEAM_SIZE();
        /* one loop (one barrier): dyT of block b, image n; then the list of each tap */
        #pragma omp for schedule(static)
        for (int64_t u = 0; u < z.nkb * d->N + RS; u++) {
            if (u < z.nkb * d->N) {
                const int64_t b = u / d->N, n = u % d->N, k0 = b * G5_KB, kw = g5_kw(&z, b);
                cr_pack_t_f32_avx512(dyT + k0 * NPQ + n * PQ * kw, kw, dout + (n * K + k0) * PQ,
                                     PQ, K - k0 < kw ? K - k0 : kw, PQ);
                continue;
            }
            const int64_t tap = u - z.nkb * d->N, r = tap / S, s = tap % S;
            int32_t *xt = xo + tap * NPQ, *yt = yo + tap * NPQ;
            int64_t m = 0;
            for (int64_t n = 0; n < d->N; n++)
                for (int64_t p = 0; p < P; p++) {
                    const int64_t ih = p + r - d->ph;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t q = 0; q < Q; q++) {
                        const int64_t iw = q + s - d->pw;
                        if (iw < 0 || iw >= W) continue;
                        xt[m] = (int32_t)(n * C * HW + ih * W + iw);
                        yt[m] = (int32_t)(n * PQ + p * Q + q);
                        m++;
                    }
                }
            np[tap] = m;
        }
        float *out = outs + (int64_t)t * 6 * 48;
        int64_t cum = 0;
        for (int64_t b = 0; b < z.nkb; b++) {
            const int64_t k0 = b * G5_KB, kw = g5_kw(&z, b), le = K - k0 < kw ? K - k0 : kw;
            for (int64_t g = 0; g < ncg; g++) {
                const int64_t c0 = g * 6, cg = C - c0 < 6 ? C - c0 : 6, cost = kw * cg;
                const int mine = g5_mine(cum, cost, total, t, team);
                cum += cost;
                if (!mine) continue;
                for (int64_t tap = 0; tap < RS; tap++) {
                    cr_conv_g5_dw_f32_avx512(out, inp + c0 * HW, HW, xo + tap * NPQ,
                                             yo + tap * NPQ, np[tap], dyT + k0 * NPQ, (int)cg,
                                             (int)(kw / 16));
                    for (int64_t l = 0; l < le; l++)
                        for (int64_t i = 0; i < cg; i++)
                            dweight[((k0 + l) * C + c0 + i) * RS + tap] += out[i * kw + l];
                }
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}
#endif /* CR_X86 */
