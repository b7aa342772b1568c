/* conv_s2b.c — the direct forward of strided 3x3 float32 layers (plan path CONV_S2B, see
 * s2b_ok in conv_plan.c; "direct_s2" in the plan report): output channels in the vector
 * lanes, input values broadcast from the zero-padded image (conv_s2b_avx512.c). Against
 * the phase-image path (conv_s2.c) it computes no junk columns (ResNet-20's 32->64 16x16:
 * 81 wide columns per 64 pixels there) and splits no phases; it packs the weights once per
 * call (by blocks of KB output channels, tap-major) and transposes its pixel-major tiles
 * into the output planes.
 *
 *   per image: xp = x zero-padded (C, Hp, Wp); per block kb of KB output channels, per
 *   block of CB input channels (its packed weights stay in L1): per tile of <= NP pixels
 *   (flattened p*Q + q, a tile may span output rows) T[pixel][KB] += the block's sums;
 *   then y[kb*KB + kk, j] = T[j][kk] + b.
 * Threads take even ranges of images (N >= threads; one xp and T each), else share one
 * padded image and split (blocks of channels) x (ranges of pixels). Each output is summed in
 * the order (channel block, c, r, s) whatever the split: results do not depend on threads.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

/* output channels per weight block: 64, 48, 32 or 16 (the plan needs K % 16 == 0) */
static int64_t s2b_kb(int64_t K) {
    return K % 64 == 0 ? 64 : K % 48 == 0 ? 48 : K % 32 == 0 ? 32 : 16;
}
/* most pixels per tile for KB/16 vectors: 24 accumulators at most (20 for 2 vectors) */
static int64_t s2b_np(int64_t KB) { return KB == 64 ? 6 : KB == 48 ? 8 : 10; }
/* input channels per block: its packed weights within ~24 KiB, blocks near-equal */
static int64_t s2b_cb(int64_t C, int64_t KB) {
    int64_t cb = 6144 / (9 * KB);
    if (cb < 1) cb = 1;
    const int64_t ncb = (C + cb - 1) / cb;
    return (C + ncb - 1) / ncb;
}
static int64_t pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* floats of one thread's slice: the padded image and T */
static int64_t s2b_slice(const cr_conv2d_dims *d) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    return pad16(d->C * Hp * Wp) + pad16(d->P * d->Q * s2b_kb(d->K));
}

int conv_s2b_fits(const cr_conv2d_dims *d, int64_t limit) { return s2b_slice(d) * 4 <= limit; }

void conv_s2b_plan(conv_plan *pl, const cr_conv2d_dims *d) {
    pl->path = CONV_S2B;
    pl->by_block = d->N >= pl->nt;
    pl->bl.G = s2b_kb(d->K);
    pl->bl.rows = s2b_cb(d->C, pl->bl.G);
    pl->ws_elems = s2b_slice(d);
    pl->ws_threads = pl->nt;
    pl->ws_bytes = (pad16(d->K * d->C * 9) + pl->nt * pl->ws_elems) * 4;
}

#ifdef CR_X86

/* xp (C, Hp, Wp) of channels [c0, c1) of one image: zero padding around x */
static void s2b_pad(float *xp, const float *x, const cr_conv2d_dims *d, int64_t c0, int64_t c1) {
    const int64_t H = d->H, W = d->W, Hp = H + 2 * d->ph, Wp = W + 2 * d->pw;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t i = 0; i < Hp; i++) {
            float *o = xp + (c * Hp + i) * Wp;
            const int64_t h = i - d->ph;
            if (h < 0 || h >= H) {
                memset(o, 0, (size_t)Wp * sizeof(float));
                continue;
            }
            memset(o, 0, (size_t)d->pw * sizeof(float));
            memcpy(o + d->pw, x + (c * H + h) * W, (size_t)W * sizeof(float));
            memset(o + d->pw + W, 0, (size_t)d->pw * sizeof(float));
        }
}

/* output channels [kb*KB, kb*KB + KB) at pixels [j0, j1) of one image */
static void s2b_block(float *y, const float *xp, const float *wp, const float *bias, float *T,
                      const cr_conv2d_dims *d, int64_t KB, int64_t CB, int64_t kb, int64_t j0,
                      int64_t j1) {
    const int64_t C = d->C, Q = d->Q, Wp = d->W + 2 * d->pw, cst = (d->H + 2 * d->ph) * Wp;
    const int64_t NP = s2b_np(KB), n = j1 - j0, ntile = (n + NP - 1) / NP;
    const float *wk = wp + kb * KB * C * 9;
    for (int64_t c0 = 0; c0 < C; c0 += CB) {
        const int64_t cn = C - c0 < CB ? C - c0 : CB;
        for (int64_t t = 0, j = j0; t < ntile; t++) {
            const int64_t np = (j1 - j) / (ntile - t) + ((j1 - j) % (ntile - t) != 0);
            const float *px[10];
            for (int64_t i = 0; i < np; i++) {
                const int64_t p = (j + i) / Q, q = (j + i) % Q;
                px[i] = xp + c0 * cst + p * d->sh * Wp + q * d->sw;
            }
            cr_s2b_tile_f32_avx512(KB / 16, np, wk + c0 * 9 * KB, cn, cst, Wp, px,
                                   T + (j - j0) * KB, c0 > 0);
            j += np;
        }
    }
    cr_s2b_store_f32_avx512(y + kb * KB * d->P * Q + j0, d->P * Q, T, KB, n,
                            bias ? bias + kb * KB : NULL);
}

int conv_s2b_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                         const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, KB = pl->bl.G, CB = pl->bl.rows;
    const int64_t CHW = C * d->H * d->W, PQ = d->P * d->Q, nkb = K / KB;
    if (d->R != 3 || d->S != 3 || K % KB != 0) return -1;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    float *wp = ws, *slices = ws + pad16(K * C * 9);
    const int nt = pl->nt;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        for (int64_t kb = nkb * t / T; kb < nkb * (t + 1) / T; kb++)
            cr_s2b_pack_f32_avx512(wp + kb * KB * C * 9, w + kb * KB * C * 9, C, KB);
        float *xp = slices + t * pl->ws_elems, *Tb = xp + pad16(C * (d->H + 2 * d->ph) *
                                                                 (d->W + 2 * d->pw));
        #pragma omp barrier
        if (pl->by_block) {
            for (int64_t n = N * t / T; n < N * (t + 1) / T; n++) {
                s2b_pad(xp, inp + n * CHW, d, 0, C);
                for (int64_t kb = 0; kb < nkb; kb++)
                    s2b_block(out + n * K * PQ, xp, wp, bias, Tb, d, KB, CB, kb, 0, PQ);
            }
        } else {
            /* one padded image shared (slice 0's); a grid of gk channel-block ranges by
             * T / gk pixel ranges */
            float *xs = slices;
            const int64_t gk = nkb < T ? nkb : T, gp = T / gk;
            const int64_t tk = t % gk, tp = t / gk;
            for (int64_t n = 0; n < N; n++) {
                s2b_pad(xs, inp + n * CHW, d, C * t / T, C * (t + 1) / T);
                #pragma omp barrier
                if (tp < gp) {
                    const int64_t j0 = PQ * tp / gp, j1 = PQ * (tp + 1) / gp;
                    for (int64_t kb = nkb * tk / gk; kb < nkb * (tk + 1) / gk; kb++)
                        if (j1 > j0)
                            s2b_block(out + n * K * PQ, xs, wp, bias, Tb, d, KB, CB, kb, j0, j1);
                }
                #pragma omp barrier
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}

#else
int conv_s2b_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                         const cr_conv2d_dims *d, const conv_plan *pl) {
    (void)out; (void)inp; (void)w; (void)bias; (void)d; (void)pl;
    return -1;
}
#endif /* CR_X86 */
