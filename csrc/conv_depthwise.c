/* conv_depthwise.c — depthwise 2-D convolution (groups == C == K, one filter per channel):
 *     y[n, c, p, q] = b[c] + sum_{r,s} w[c, r, s] * x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]
 * A plane at a time: each (n, c) plane is copied zero-padded into a per-thread scratch
 * (Hp x Wp), then every output row is a sum of R*S scaled row slices -- plain loops over q
 * the compiler vectorises (contiguous for stride 1). No im2col, no GEMM.
 *
 * Threads: the forward splits the N*C planes statically; the backward splits the channels,
 * and one thread runs all of a channel's images in order (dw[c] and db[c] are summed in one
 * fixed order, dx planes are independent), so results are bitwise the same for any thread
 * count. Serial below CONV_DW_MIN_WORK multiply-adds (cr_threads_for).
 *
 * float32 layers with stride 1 or 2, dilation 1 and padding (R-1)/2, (S-1)/2 (odd R, S
 * <= 7; "same" at stride 1) run the AVX-512 planes of conv_depthwise_avx512.c when
 * cr_isa() allows: no padded copy; at stride 1, 16 outputs per step along the flattened
 * plane (small 14x14, 7x7, 4x4 planes fill the vectors too), at stride 2 along a row.
 * The backward splits the N*C planes statically in memory order; dw/db lanes are summed
 * per plane in float32, the lanes and then the images (in order) in double.
 *
 * float32 layers with small planes (H*W <= 256; <= 64 for the stride-1 forward; any
 * stride, dilation 1, padding below the kernel) take the channel-vector kernels of
 * conv_dw_small_avx512.c first: a
 * 4x4 or 2x2 plane fills a plane-wise vector badly (and a 2x2 stride-2 output uses 2 of
 * 16 lanes per row), 16 channels fill it always. Forward items (image, 16 channels)
 * split statically; the backward gives one thread a block of 16 channels over all images
 * in order (dw/db bitwise the same for any thread count); dx of 3x3 stride-2 planes at
 * least 16 wide comes from the plane-wise kernel instead (dwb_dx_planes).
 */
#include <stdlib.h>
#include <string.h>
#include "chainrule.h"
#include "split.h"

#define CONV_DW_MIN_WORK 65536.0

#ifdef CR_X86
void cr_dw_masks_avx512(uint16_t *mt, int64_t H, int64_t W, int R, int S);
void cr_dw_channel_fwd_f32_avx512(float *out, const float *in, int64_t step, int64_t n,
                                  const float *w, float bias, const uint16_t *mt, int64_t H,
                                  int64_t W, int R, int S);
void cr_dw_channel_bwd_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                                  int64_t step, int64_t n, const float *w, const uint16_t *mt,
                                  int64_t H, int64_t W, int R, int S, int set);
void cr_dw_plane_fwd_s2_f32_avx512(float *out, const float *x, const float *w, float bias,
                                   int64_t H, int64_t W, int64_t P, int64_t Q, int R, int S);
void cr_dw_plane_bwd_s2_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                                   const float *w, int64_t H, int64_t W, int64_t P, int64_t Q,
                                   int R, int S, int set);

/* 1 when the layer fits the AVX-512 planes (see the top comment) */
static int dw_fast_f32(const cr_conv2d_dims *d) {
    return cr_isa() >= CR_ISA_AVX512 && d->sh == d->sw && (d->sh == 1 || d->sh == 2) &&
           d->dh == 1 && d->dw == 1 && d->R % 2 == 1 && d->S % 2 == 1 && d->R <= 7 && d->S <= 7 &&
           2 * d->ph == d->R - 1 && 2 * d->pw == d->S - 1 &&
           (d->H + 8) * d->W < ((int64_t)1 << 30);
}

/* the plane's mask table (cr_dw_masks_avx512), or NULL if out of memory */
static uint16_t *dw_masks(const cr_conv2d_dims *d) {
    const int64_t nvec = (d->H * d->W + 15) / 16;
    uint16_t *mt = malloc((size_t)(nvec * (d->R + d->S)) * sizeof(uint16_t));
    if (mt) cr_dw_masks_avx512(mt, d->H, d->W, (int)d->R, (int)d->S);
    return mt;
}

/* planes j = c*N + n in channel-major order, a contiguous run of them per thread */
static int dw_fast_forward_f32(float *y, const float *x, const float *w, const float *b,
                               const cr_conv2d_dims *d) {
    const int64_t N = d->N, C = d->C, HW = d->H * d->W, RS = d->R * d->S, CN = C * N;
    const int nt = cr_threads_for((double)CN * HW * RS, CONV_DW_MIN_WORK);
    if (d->sh == 2) {
        const int64_t PQ = d->P * d->Q;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < N * C; i++)
            cr_dw_plane_fwd_s2_f32_avx512(y + i * PQ, x + i * HW, w + (i % C) * RS,
                                          b ? b[i % C] : 0.0f, d->H, d->W, d->P, d->Q,
                                          (int)d->R, (int)d->S);
        return 0;
    }
    uint16_t *mt = dw_masks(d);
    if (!mt) return -1;
#pragma omp parallel num_threads(nt)
    {
        const int64_t T = CR_TEAM_SIZE(), per = (CN + T - 1) / T;
        const int64_t lo = CR_THREAD_NUM() * per, hi = lo + per < CN ? lo + per : CN;
        for (int64_t j = lo; j < hi;) {
            const int64_t c = j / N, n0 = j % N, cnt = N - n0 < hi - j ? N - n0 : hi - j;
            const int64_t off = (n0 * C + c) * HW;
            cr_dw_channel_fwd_f32_avx512(y + off, x + off, C * HW, cnt, w + c * RS,
                                         b ? b[c] : 0.0f, mt, d->H, d->W, (int)d->R,
                                         (int)d->S);
            j += cnt;
        }
    }
    free(mt);
    return 0;
}

/* planes i = n*C + c in memory order, a contiguous run per thread (a channel over all
 * images, C planes apart, ran dx + dw of MobileNet's 64@32x32 stride 2 at batch 32 at
 * 1.7x the time); dw/db: each plane's lane sums go to part[i], then per channel the images'
 * are added in order, so bitwise the same for any thread count */
static int dw_fast_backward_f32(float *dx, float *dw, float *db, const float *dy,
                                const float *x, const float *w, const cr_conv2d_dims *d,
                                int set) {
    const int64_t N = d->N, C = d->C, HW = d->H * d->W, PQ = d->P * d->Q, RS = d->R * d->S;
    const int64_t NC = N * C, nacc = RS + 1;
    const int nt = cr_threads_for((double)NC * HW * RS, CONV_DW_MIN_WORK);
    const int want = dw || db;
    uint16_t *mt = d->sh == 1 ? dw_masks(d) : NULL;
    double *part = want ? malloc((size_t)(NC * nacc) * sizeof(double)) : NULL;
    if ((d->sh == 1 && !mt) || (want && !part)) {
        free(mt);
        free(part);
        return -1;
    }
    int fail = 0;
#pragma omp parallel num_threads(nt) reduction(| : fail)
    {
        double *acc = want ? calloc((size_t)(nacc * 16), sizeof(double)) : NULL;
        if (want && !acc) fail = 1;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < NC; i++) {
            if (want && !acc) continue;
            const int64_t c = i % C;
            if (mt)
                cr_dw_channel_bwd_f32_avx512(dx ? dx + i * HW : NULL, acc, dy + i * HW,
                                             x + i * HW, 0, 1, w + c * RS, mt, d->H, d->W,
                                             (int)d->R, (int)d->S, set);
            else
                cr_dw_plane_bwd_s2_f32_avx512(dx ? dx + i * HW : NULL, acc, dy + i * PQ,
                                              x + i * HW, w + c * RS, d->H, d->W, d->P, d->Q,
                                              (int)d->R, (int)d->S, set);
            if (acc) cr_dw_lane_sums_avx512(part + i * nacc, acc, nacc);
        }
        free(acc);
    }
    if (part && !fail) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t c = 0; c < C; c++)
            for (int64_t t = 0; t < nacc; t++) {
                double s = 0;
                for (int64_t n = 0; n < N; n++) s += part[(n * C + c) * nacc + t];
                if (t < RS && dw) dw[c * RS + t] = (set ? 0.0f : dw[c * RS + t]) + (float)s;
                if (t == RS && db) db[c] += (float)s;
            }
    }
    free(mt);
    free(part);
    return fail ? -1 : 0;
}

/* ---- small planes, vectors along 16 channels (conv_dw_small_avx512.c) */
/* largest planes (H*W) it takes: the plane-wise kernels win at stride 1 above these */
#define DWB_MAX_HW_FWD_S1 64
#define DWB_MAX_HW 256
void cr_dwb_weights(float *wt, const float *w, int64_t C, int64_t RS);
int64_t cr_dwb_gs_size(const cr_conv2d_dims *d, int64_t *cols);
void cr_dwb_fwd_f32_avx512(float *y, const float *x, const float *w, const float *b,
                           int64_t nc, const cr_conv2d_dims *d, float *xs, float *ys);
void cr_dwb_bwd_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                           const float *w, int64_t nc, const cr_conv2d_dims *d, float *xs,
                           float *gs, float *dxs, int set);

/* 1 when the forward (bwd = 0) or backward (1) runs the channel-vector kernels: small
 * planes, undilated, R, S <= 7, padding below the kernel */
static int dw_small_f32(const cr_conv2d_dims *d, int bwd) {
    const int64_t mx = bwd || d->sh != 1 || d->sw != 1 ? DWB_MAX_HW : DWB_MAX_HW_FWD_S1;
    return cr_isa() >= CR_ISA_AVX512 && d->H * d->W <= mx && d->dh == 1 &&
           d->dw == 1 && d->R <= 7 && d->S <= 7 && d->ph < d->R && d->pw < d->S;
}

/* items (image, block of 16 channels) in memory order, split statically */
static int dwb_forward_f32(float *y, const float *x, const float *w, const float *b,
                           const cr_conv2d_dims *d) {
    const int64_t C = d->C, HW = d->H * d->W, PQ = d->P * d->Q, RS = d->R * d->S;
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw, nb = (C + 15) / 16;
    float *wt = malloc((size_t)(nb * RS * 16) * sizeof(float));
    if (!wt) return -1;
    cr_dwb_weights(wt, w, C, RS);
    const int nt = cr_threads_for((double)d->N * C * PQ * RS, CONV_DW_MIN_WORK);
    int fail = 0;
#pragma omp parallel num_threads(nt) reduction(| : fail)
    {
        float *xs = calloc((size_t)((Hp * Wp + PQ) * 16), sizeof(float));
        if (!xs) fail = 1;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < d->N * nb; i++) {
            if (!xs) continue;
            const int64_t n = i / nb, c0 = (i % nb) * 16, nc = C - c0 < 16 ? C - c0 : 16;
            cr_dwb_fwd_f32_avx512(y + (n * C + c0) * PQ, x + (n * C + c0) * HW, wt + c0 * RS,
                                  b ? b + c0 : NULL, nc, d, xs, xs + Hp * Wp * 16);
        }
        free(xs);
    }
    free(wt);
    return fail ? -1 : 0;
}

/* 1 when dx of a 3x3 stride-2 "same" layer with planes at least 16 wide runs the plane-wise
 * kernel (bwd_s2_33: reads dy and writes dx in place) beside the channel-vector dw: its
 * four transposes per 16 positions cost more than the plane kernel's half-empty vectors
 * (MobileNet's 128@16x16 stride 2: dx 0.33 -> 0.18 ms, 8x8 planes would be slower) */
static int dwb_dx_planes(const cr_conv2d_dims *d) {
    return d->R == 3 && d->S == 3 && d->sh == 2 && d->sw == 2 && d->ph == 1 && d->pw == 1 &&
           d->W >= 16 && dw_fast_f32(d);
}

/* nx values of x and ny of dy into the cache ahead of their gathers: one thread's blocks
 * are C planes apart, a jump the hardware prefetchers do not follow (MobileNet's 512@4x4
 * and 1024@2x2 backward in the training step: -20%, -35%) */
static void dwb_prefetch(const float *x, const float *dy, int64_t nx, int64_t ny) {
    for (int64_t i = 0; i < nx; i += 16) __builtin_prefetch(x + i);
    for (int64_t i = 0; i < ny; i += 16) __builtin_prefetch(dy + i);
}

/* one thread per block of 16 channels, all images in order (dw, db in a fixed order) */
static int dwb_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const cr_conv2d_dims *d, int set) {
    const int64_t C = d->C, H = d->H, W = d->W, HW = H * W, PQ = d->P * d->Q, RS = d->R * d->S;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, nb = (C + 15) / 16;
    int64_t gcols;
    const int64_t nxs = Hp * Wp * 16, ngs = cr_dwb_gs_size(d, &gcols) * gcols * 16;
    const int64_t ndx = HW * 16;
    float *wt = malloc((size_t)(nb * RS * 16) * sizeof(float));
    if (!wt) return -1;
    cr_dwb_weights(wt, w, C, RS);
    const int nt = cr_threads_for((double)d->N * C * HW * RS, CONV_DW_MIN_WORK);
    const int planes = dwb_dx_planes(d);
    int fail = 0;
#pragma omp parallel num_threads(nt) reduction(| : fail)
    {
        float *xs = calloc((size_t)(nxs + ngs + ndx), sizeof(float));
        double *acc = malloc((size_t)((RS + 1) * 16) * sizeof(double));
        if (!xs || !acc) fail = 1;
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < nb; blk++) {
            if (!xs || !acc) continue;
            const int64_t c0 = blk * 16, nc = C - c0 < 16 ? C - c0 : 16;
            for (int64_t j = 0; j < (RS + 1) * 16; j++) acc[j] = 0;
            for (int64_t n = 0; n < d->N; n++) {
                const int64_t o = (n * C + c0) * HW;
                if (n + 1 < d->N) /* the next image's block */
                    dwb_prefetch(x + o + C * HW, dy + (n * C + C + c0) * PQ,
                                 (dw || db) ? nc * HW : 0, nc * PQ);
                if (dw || db || (dx && !planes))
                    cr_dwb_bwd_f32_avx512(dx && !planes ? dx + o : NULL,
                                          (dw || db) ? acc : NULL, dy + (n * C + c0) * PQ,
                                          x + o, wt + c0 * RS, nc, d, xs, xs + nxs,
                                          xs + nxs + ngs, set);
                for (int64_t l = 0; dx && planes && l < nc; l++)
                    cr_dw_plane_bwd_s2_f32_avx512(dx + o + l * HW, NULL,
                                                  dy + (n * C + c0 + l) * PQ, x + o + l * HW,
                                                  w + (c0 + l) * RS, H, W, d->P, d->Q, 3, 3, set);
            }
            for (int64_t l = 0; l < nc; l++) {
                for (int64_t t = 0; dw && t < RS; t++)
                    dw[(c0 + l) * RS + t] = (set ? 0.0f : dw[(c0 + l) * RS + t]) +
                                            (float)acc[t * 16 + l];
                if (db) db[c0 + l] += (float)acc[RS * 16 + l];
            }
        }
        free(xs);
        free(acc);
    }
    free(wt);
    return fail ? -1 : 0;
}

static int dw_fwd_pick_f32(const cr_conv2d_dims *d) {
    return dw_small_f32(d, 0) || dw_fast_f32(d);
}
static int dw_bwd_pick_f32(const cr_conv2d_dims *d) {
    return dw_small_f32(d, 1) || dw_fast_f32(d);
}
static int dw_fwd_any_f32(float *y, const float *x, const float *w, const float *b,
                          const cr_conv2d_dims *d) {
    return dw_small_f32(d, 0) ? dwb_forward_f32(y, x, w, b, d)
                              : dw_fast_forward_f32(y, x, w, b, d);
}
static int dw_bwd_any_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, const cr_conv2d_dims *d, int set) {
    return dw_small_f32(d, 1) ? dwb_backward_f32(dx, dw, db, dy, x, w, d, set)
                              : dw_fast_backward_f32(dx, dw, db, dy, x, w, d, set);
}
#define DW_FAST_FWD dw_fwd_pick_f32
#define DW_FAST_BWD dw_bwd_pick_f32
#define DW_FAST_FORWARD dw_fwd_any_f32
#define DW_FAST_BACKWARD dw_bwd_any_f32
#endif

#define T float
#define SUF f32
#include "conv_depthwise_tmpl.h"
#undef T
#undef SUF
#undef DW_FAST_FWD
#undef DW_FAST_BWD

#define T double
#define SUF f64
#include "conv_depthwise_tmpl.h"
#undef T
#undef SUF
