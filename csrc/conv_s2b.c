/* conv_s2b.c — the direct forward of strided float32 layers (plan path CONV_S2B, see
 * s2b_ok in conv_plan.c; "direct_s2" in the plan report; any R x S up to S2B_MAX_TAPS taps,
 * any strides): output channels in the vector lanes, input values broadcast from the
 * zero-padded image (conv_s2b_avx512.c). Against the phase-image paths (conv_s2.c,
 * conv_phase.c) it computes no junk columns (ResNet-20's 32->64 16x16: 81 wide columns per
 * 64 pixels there), builds no phase images and sums no phases; it packs the weights once per
 * call (by blocks of KB output channels, tap-major) and transposes its pixel-major tiles
 * into the output planes. Its dw (below, inside the implicit_s2 backward) is 3x3 only.
 *
 *   per image: xp = x zero-padded (C, Hp, Wp); per block kb of KB output channels, per
 *   block of CB input channels (its packed weights stay in L2): per tile of <= NP pixels
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
/* input channels per block: its packed weights within ~384 KiB (L2), blocks near-equal.
 * Fewer, longer blocks reload T less often: 1 thread, 256->512 14x14 (batch 8) 8.93 ->
 * 8.40 ms against ~24 KiB blocks (in L1), 512->512 17.3 -> 16.9, 64->128 56x56 8.7 -> 8.5 */
static int64_t s2b_cb(int64_t C, int64_t RS, int64_t KB) {
    int64_t cb = 98304 / (RS * KB);
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

/* one thread's slice and the packed weights (K*C*R*S: 67 MB for an 8x8 512->512 layer)
 * within the limit */
int conv_s2b_fits(const cr_conv2d_dims *d, int64_t limit) {
    return (pad16(d->K * d->C * d->R * d->S) + s2b_slice(d)) * 4 <= limit;
}

void conv_s2b_plan(conv_plan *pl, const cr_conv2d_dims *d) {
    pl->path = CONV_S2B;
    pl->by_block = d->N >= pl->nt;
    pl->bl.G = s2b_kb(d->K);
    pl->bl.rows = s2b_cb(d->C, d->R * d->S, pl->bl.G);
    pl->ws_elems = s2b_slice(d);
    pl->ws_threads = pl->nt;
    pl->ws_bytes = (pad16(d->K * d->C * d->R * d->S) + pl->nt * pl->ws_elems) * 4;
}

#ifdef CR_X86

/* xp (C, Hp, Wp) of channels [c0, c1) of one image: x inside the zero padding, which
 * stays from the first call on the slice (zero: the whole slice's channels zeroed first) */
static void s2b_pad(float *xp, const float *x, const cr_conv2d_dims *d, int64_t c0, int64_t c1,
                    int first) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    if (first) memset(xp + c0 * Hp * Wp, 0, (size_t)((c1 - c0) * Hp * Wp) * sizeof(float));
    cr_s2b_copy_rows_f32_avx512(xp + d->ph * Wp + d->pw, Hp * Wp, Wp, x, d->H, d->W, c0, c1);
}

/* output channels [kb*KB, kb*KB + KB) at pixels [j0, j1) of one image */
static void s2b_block(float *y, const float *xp, const float *wp, const float *bias, float *T,
                      const cr_conv2d_dims *d, int64_t KB, int64_t CB, int64_t kb, int64_t j0,
                      int64_t j1) {
    const int64_t C = d->C, Q = d->Q, Wp = d->W + 2 * d->pw, cst = (d->H + 2 * d->ph) * Wp;
    const int64_t NP = s2b_np(KB), n = j1 - j0, ntile = (n + NP - 1) / NP, RS = d->R * d->S;
    const float *wk = wp + kb * KB * C * RS;
    int64_t tof[S2B_MAX_TAPS];
    for (int64_t t = 0; t < RS; t++) tof[t] = (t / d->S) * Wp + t % d->S;
    for (int64_t c0 = 0; c0 < C; c0 += CB) {
        const int64_t cn = C - c0 < CB ? C - c0 : CB;
        for (int64_t t = 0, j = j0; t < ntile; t++) {
            const int64_t np = (j1 - j) / (ntile - t) + ((j1 - j) % (ntile - t) != 0);
            const float *px[10];
            for (int64_t i = 0; i < np; i++) {
                const int64_t p = (j + i) / Q, q = (j + i) % Q;
                px[i] = xp + c0 * cst + p * d->sh * Wp + q * d->sw;
            }
            cr_s2b_tile_f32_avx512(KB / 16, np, wk + c0 * RS * KB, cn, cst, tof, RS, px,
                                   T + (j - j0) * KB, c0 > 0);
            j += np;
        }
    }
    cr_s2dx_store_f32_avx512(y + kb * KB * d->P * Q + j0, d->P * Q, T, KB, n, 0,
                             bias ? bias + kb * KB : NULL);
}

int conv_s2b_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                         const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, KB = pl->bl.G, CB = pl->bl.rows;
    const int64_t CHW = C * d->H * d->W, PQ = d->P * d->Q, nkb = K / KB, RS = d->R * d->S;
    if (RS > S2B_MAX_TAPS || K % KB != 0) return -1;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    float *wp = ws, *slices = ws + pad16(K * C * RS);
    const int nt = pl->nt;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        for (int64_t kb = nkb * t / T; kb < nkb * (t + 1) / T; kb++)
            cr_s2b_pack_f32_avx512(wp + kb * KB * C * RS, w + kb * KB * C * RS, C, RS, KB);
        float *xp = slices + t * pl->ws_elems, *Tb = xp + pad16(C * (d->H + 2 * d->ph) *
                                                                 (d->W + 2 * d->pw));
        #pragma omp barrier
        if (pl->by_block) {
            for (int64_t n = N * t / T; n < N * (t + 1) / T; n++) {
                s2b_pad(xp, inp + n * CHW, d, 0, C, n == N * t / T);
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
                s2b_pad(xs, inp + n * CHW, d, C * t / T, C * (t + 1) / T, n == 0);
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

/* dw (accumulated into dweight) of the implicit_s2 backward and of CONV_S2B_DW (any R x S
 * up to S2B_MAX_TAPS, any strides): output channels in the lanes, NT taps (c, r, s) per tile,
 * summed over the pixels of each image, images in order; thread t owns input channels
 * [C*t/T, C*(t+1)/T) of dw (pads them, transposes all of dy into dyT[kb][j][KB]), so every
 * value is one thread's, in one order. */
static int64_t s2b_dw_slice(const cr_conv2d_dims *d, int nt) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw, PQ = d->P * d->Q;
    const int64_t cpt = (d->C + nt - 1) / nt, RS = d->R * d->S;
    return pad16(d->C * Hp * Wp) + pad16(PQ * d->K) + pad16(cpt * RS * d->K) + pad16(2 * PQ);
}
int64_t conv_s2b_dw_bytes(const cr_conv2d_dims *d, int nt) { return nt * s2b_dw_slice(d, nt) * 4; }

void conv_s2b_backward_weight_f32(float *dweight, const float *dout, const float *inp,
                                  const cr_conv2d_dims *d, int nt, char *ws) {
    const int64_t C = d->C, K = d->K, KB = s2b_kb(K), nkb = K / KB, NT = s2b_np(KB);
    const int64_t RS = d->R * d->S, S = d->S;
    const int64_t PQ = d->P * d->Q, CRS = C * RS, CHW = C * d->H * d->W;
    const int64_t Wp = d->W + 2 * d->pw, cst = (d->H + 2 * d->ph) * Wp;
    const int64_t slice = s2b_dw_slice(d, nt);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        const int64_t c0 = C * t / T, c1 = C * (t + 1) / T, taps = (c1 - c0) * RS;
        float *xp = (float *)ws + t * slice, *dyT = xp + pad16(C * cst);
        float *D = dyT + pad16(PQ * K);
        int64_t *pof = (int64_t *)(D + pad16((C + nt - 1) / nt * RS * K));
        for (int64_t j = 0; j < PQ; j++) pof[j] = (j / d->Q) * d->sh * Wp + (j % d->Q) * d->sw;
        const int64_t ntile = (taps + NT - 1) / NT;
        for (int64_t n = 0; n < d->N && taps > 0; n++) {
            s2b_pad(xp, inp + n * CHW, d, c0, c1, n == 0);
            for (int64_t kb = 0; kb < nkb; kb++)
                cr_s2b_transpose_f32_avx512(dyT + kb * PQ * KB, dout + (n * K + kb * KB) * PQ, PQ,
                                            KB, PQ);
            for (int64_t kb = 0; kb < nkb; kb++)
                for (int64_t u = 0, i0 = 0; u < ntile; u++) {
                    const int64_t nt_u = (taps - i0) / (ntile - u) + ((taps - i0) % (ntile - u) != 0);
                    int64_t off[10];
                    for (int64_t i = 0; i < nt_u; i++) {
                        const int64_t tap = i0 + i, rs = tap % RS;
                        off[i] = (c0 + tap / RS) * cst + (rs / S) * Wp + rs % S;
                    }
                    cr_s2b_dw_tile_f32_avx512(KB / 16, nt_u, dyT + kb * PQ * KB, PQ, xp, pof, off,
                                              D + (kb * taps + i0) * KB, n > 0);
                    i0 += nt_u;
                }
        }
        for (int64_t kb = 0; kb < nkb && taps > 0; kb++)
            for (int64_t kk = 0; kk < KB; kk++)
                for (int64_t i = 0; i < taps; i++)
                    dweight[(kb * KB + kk) * CRS + c0 * RS + i] += D[(kb * taps + i) * KB + kk];
    }
}

/* CONV_S2B_DW: dw and db (into dweight, dbias; either may be NULL), the plan's scratch */
int conv_s2b_dw_backward_f32(float *dweight, float *dbias, const float *dout, const float *inp,
                             const cr_conv2d_dims *d, const conv_plan *pl) {
    if (dbias) conv_bias_grad_f32(dbias, dout, d, pl->nt);
    if (!dweight) return 0;
    char *ws = (char *)conv_ws_alloc(conv_s2b_dw_bytes(d, pl->nt));
    if (!ws) return -1;
    conv_s2b_backward_weight_f32(dweight, dout, inp, d, pl->nt, ws);
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
