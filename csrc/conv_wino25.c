/* conv_wino25.c — Winograd F(2x2, 5x5) for 5x5 stride-1 layers on small images (outputs
 * up to 28 columns), float32 on AVX-512 CPUs: 36 products per 2x2 output tile and channel
 * pair instead of 100 (2.78x fewer multiplications), as
 *   M[e] (K x T) = U[e] (K x C) @ V[e] (C x T),  e < 36,  T = G * ceil(P/2) * ceil(Q/2),
 * with G whole images per block (enough tiles for wide products) and the transforms of
 * conv_wino25_avx512.c (6x6 input tiles at a stride of 2). U is made once per call, in the
 * GEMM kit's 12-row panels, straight from w (flipped and transposed for dx, which is the
 * forward of dy: dx_as_conv_ok in conv_plan.c). With at least as many blocks as threads each
 * thread takes whole blocks (its own V and M); else the threads share each block (channels,
 * the 36 products, output channels). Every value is computed by the same operations either
 * way, so results do not depend on the thread count. */
#include <string.h>
#include "conv_internal.h"
#include "gemm_kit.h"
#include "split.h"

/* columns per product a block aims at (as conv_wino4s.c): 28x28 one image a block,
 * 14x14 two, 7x7 four */
#define WINO25_TARGET_TILES 64
#define WINO25_MR CR_AVX512_MR_F32 /* 12 */

static int64_t tiles_of(const cr_conv2d_dims *d) { return ((d->P + 1) / 2) * ((d->Q + 1) / 2); }

static int64_t upanel_ld(int64_t K, int64_t C) {
    return wino4_ld((K + WINO25_MR - 1) / WINO25_MR * WINO25_MR * C);
}

/* the sizes the transforms take: 5x5, stride 1, no dilation, at most 14 tiles a row */
int conv_wino25_applies(const cr_conv2d_dims *d) {
    return d->R == 5 && d->S == 5 && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 &&
           d->Q <= 28 && d->N >= 1;
}

/* Images per block: enough for `target` tiles, at most N, evened out */
static int64_t wino25_G(const cr_conv2d_dims *d, int64_t target) {
    const int64_t Ti = tiles_of(d);
    int64_t g = Ti >= target ? 1 : (target + Ti - 1) / Ti;
    if (g > d->N) g = d->N;
    if (g > 1) { /* blocks of even sizes, an even number of them when there are several
                  * (two threads take whole blocks: 256->64 10x10 batch 8 ran 3 blocks) */
        int64_t nb = (d->N + g - 1) / g;
        if (nb > 1 && nb % 2) nb++;
        if (nb > d->N) nb = d->N;
        g = (d->N + nb - 1) / nb;
    }
    return g;
}

/* floats of one block's V and M */
static int64_t slot_floats(const cr_conv2d_dims *d, int64_t cols) {
    return 36 * (wino4_ld(d->C * cols) + wino4_ld(d->K * cols));
}

/* The plan (pl->nt set); 0 (pl untouched) when its scratch would pass the limit */
int conv_wino25_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t limit) {
    if (!conv_avx512() || !conv_wino25_applies(d)) return 0;
    const int64_t g = wino25_G(d, WINO25_TARGET_TILES), cols = g * tiles_of(d), nb = (d->N + g - 1) / g;
    const int by_block = pl->nt > 1 && nb >= pl->nt;
    const int64_t wt = by_block ? pl->nt : 1;
    const int64_t bytes = (36 * upanel_ld(d->K, d->C) + wt * slot_floats(d, cols)) * 4;
    if (bytes > limit) return 0;
    pl->path = CONV_WINO25;
    pl->bl.G = g;
    pl->bl.rows = 0;
    pl->bl.cols = cols;
    pl->nblocks = nb;
    pl->by_block = by_block;
    pl->ws_elems = slot_floats(d, cols);
    pl->ws_threads = (int)wt;
    pl->ws_bytes = bytes;
    return 1;
}

/* dw (pl->path CONV_WINO25 of a backward plan): the blocks (of about WINO25_DW_TARGET_TILES
 * tiles, the products' depth) fall in bl.rows = min(blocks, WINO25_DW_PARTS) groups of
 * consecutive blocks, each summed into its own dU^T (36 x C K) with its own V and M^T, which
 * threads take whole (at 2 threads, sharing each block's V between the threads ran 192->32
 * 28x28 dw 1.4x slower than 1 thread); the groups are then added in order, so the sums do
 * not depend on the threads. At least dx_bytes; 0 (pl untouched) with a single group or
 * beyond the limit. */
#define WINO25_DW_TARGET_TILES 196
#define WINO25_DW_PARTS 2
int conv_wino25_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t limit,
                        int64_t dx_bytes) {
    if (!conv_avx512() || !conv_wino25_applies(d)) return 0;
    const int64_t g = wino25_G(d, WINO25_DW_TARGET_TILES), cols = g * tiles_of(d);
    const int64_t nb = (d->N + g - 1) / g, np = nb < WINO25_DW_PARTS ? nb : WINO25_DW_PARTS;
    if (np < 2) return 0; /* one group shared by 2 threads: batch 1 192->32 28x28 1.04 -> 1.32 ms */
    int64_t bytes = np * (36 * wino4_ld(d->C * d->K) + slot_floats(d, cols)) * 4;
    if (bytes > limit) return 0;
    if (dx_bytes > bytes) bytes = dx_bytes;
    pl->path = CONV_WINO25;
    pl->bl.G = g;
    pl->bl.rows = np;
    pl->bl.cols = cols;
    pl->nblocks = nb;
    pl->by_block = 0;
    pl->ws_elems = slot_floats(d, cols);
    pl->ws_threads = (int)np;
    pl->ws_bytes = bytes;
    return 1;
}

#ifdef CR_X86

/* all of U: panels of 12 rows (k0 a multiple of 12) by 16 channels */
static void weight_panels(float *Up, int64_t ldu, const float *w, int flip, int64_t K,
                          int64_t C, int nt) {
    const int64_t nkp = (K + WINO25_MR - 1) / WINO25_MR, ncq = (C + 15) / 16;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t b = 0; b < nkp * ncq; b++) {
        const int64_t kp = b / ncq * WINO25_MR, cq = b % ncq;
        conv_wt25p_chunk_avx512(Up + kp * C, ldu, w, flip, K, C, kp,
                                K - kp < WINO25_MR ? K - kp : WINO25_MR, cq * 16,
                                C - cq * 16 < 16 ? C - cq * 16 : 16);
    }
}

/* images [n0, n0 + g): input transform (channel c of image j at column j Ti of row c of
 * V[e]), the 36 products, output transform */
static void block(float *out, const float *inp, const float *Up, int64_t ldu,
                  const float *bias, const cr_conv2d_dims *d, int64_t n0, int64_t g,
                  float *V, int nt, int accumulate) {
    const int64_t C = d->C, K = d->K, P = d->P, Q = d->Q, H = d->H, W = d->W;
    const int64_t TQ = (Q + 1) / 2, TP = (P + 1) / 2, Ti = TP * TQ, T = g * Ti;
    const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(K * T);
    float *M = V + 36 * ldv;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = 0; j < g; j++)
            conv_wino25_input_plane_avx512(V + c * T + j * Ti, ldv,
                                           inp + ((n0 + j) * C + c) * H * W, H, W, d->ph, d->pw,
                                           TP, TQ);
    cr_gemm_kit_f32 kit;
    cr_gemm_kit_get_f32(&kit);
    /* M[e] = U[e] @ V[e]: a 12-row panel of U[e] against nr-column panels of V[e] */
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int e = 0; e < 36; e++)
        for (int64_t k = 0; k < K; k += WINO25_MR)
            for (int64_t t0 = 0; t0 < T; t0 += kit.nr)
                kit.ukr_strided(C, Up + e * ldu + k * C, 1, WINO25_MR, V + e * ldv + t0, T,
                                M + e * ldm + k * T + t0, T, 1,
                                K - k < WINO25_MR ? K - k : WINO25_MR,
                                T - t0 < kit.nr ? T - t0 : kit.nr, 1.0f, 0.0f, NULL, NULL);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < g; j++)
            conv_wino25_output_plane_avx512(out + ((n0 + j) * K + k) * P * Q, M + k * T + j * Ti,
                                            ldm, P, Q, TP, TQ, bias ? bias[k] : 0.0f,
                                            accumulate);
}

/* flip: d is dx's layer (C = the forward's K) and w the forward's weights */
int conv_wino25_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                            int flip) {
    const int64_t N = d->N, G = pl->bl.G, ldu = upanel_ld(d->K, d->C);
    const int nt = pl->nt;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    float *U = ws, *slots = U + 36 * ldu;
    weight_panels(U, ldu, w, flip, d->K, d->C, nt);
    if (pl->by_block) { /* threads take whole blocks */
        #pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t blk = 0; blk < pl->nblocks; blk++) {
            const int64_t n0 = blk * G, g = N - n0 < G ? N - n0 : G;
            block(out, inp, U, ldu, bias, d, n0, g, slots + CR_THREAD_NUM() * pl->ws_elems, 1,
                  accumulate);
        }
    } else {
        for (int64_t n0 = 0; n0 < N; n0 += G)
            block(out, inp, U, ldu, bias, d, n0, N - n0 < G ? N - n0 : G, slots, nt, accumulate);
    }
    conv_ws_free(ws);
    return 0;
}

/* dU^T[e] (C x K) += V[e] (C x T) @ M^T[e] (T x K) over images [n0, n0 + g), V and M^T
 * at V (threads split channels, output channels, then e) */
static void dw_block(float *dUT, int64_t ldd, float *V, const float *dout, const float *inp,
                     const cr_conv2d_dims *d, int64_t n0, int64_t g, int nt) {
    const int64_t C = d->C, K = d->K, P = d->P, Q = d->Q, H = d->H, W = d->W;
    const int64_t TQ = (Q + 1) / 2, TP = (P + 1) / 2, Ti = TP * TQ, T = g * Ti;
    const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(K * T);
    float *MgT = V + 36 * ldv;
    cr_gemm_kit_f32 kit;
    cr_gemm_kit_get_f32(&kit);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        #pragma omp for schedule(static) nowait
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < g; j++)
                conv_wino25_input_plane_avx512(V + c * T + j * Ti, ldv,
                                               inp + ((n0 + j) * C + c) * H * W, H, W, d->ph,
                                               d->pw, TP, TQ);
        #pragma omp for schedule(static)
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < g; j++)
                conv_wino25_grad_plane_avx512(MgT + (j * Ti) * K + k, ldm, K,
                                              dout + ((n0 + j) * K + k) * P * Q, P, Q, TP, TQ);
        /* rows c .. c + 11 of dU^T[e]: V[e] read in place (its rows T apart, 1 along t) */
        #pragma omp for schedule(static)
        for (int e = 0; e < 36; e++)
            for (int64_t c = 0; c < C; c += WINO25_MR)
                for (int64_t k0 = 0; k0 < K; k0 += kit.nr)
                    kit.ukr_strided(T, V + e * ldv + c * T, T, 1, MgT + e * ldm + k0, K,
                                    dUT + e * ldd + c * K + k0, K, 1,
                                    C - c < WINO25_MR ? C - c : WINO25_MR,
                                    K - k0 < kit.nr ? K - k0 : kit.nr, 1.0f, 1.0f, NULL, NULL);
    }
}

/* dw += G^T dU G, dU[e] = sum over the tiles of (A dY A^T)[e] (B^T x B)[e]^T (the groups of
 * conv_wino25_dw_plan); db as conv_g5.c's */
int conv_wino25_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const cr_conv2d_dims *d,
                                    const conv_plan *pl) {
    const int nt = pl->nt;
    if (dbias) conv_bias_grad_f32(dbias, dout, d, nt);
    if (!dweight) return 0;
    const int64_t N = d->N, C = d->C, K = d->K, G = pl->bl.G, nb = pl->nblocks;
    const int64_t np = pl->bl.rows, ldd = wino4_ld(C * K), CK = C * K;
    const int64_t part = 36 * ldd + pl->ws_elems; /* a group's dU^T, V and M^T */
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    const int whole = nt > 1 && np > 1; /* threads take whole groups */
    #pragma omp parallel for num_threads(nt) schedule(static) if (whole)
    for (int64_t p = 0; p < np; p++) {
        float *dUT = ws + p * part;
        memset(dUT, 0, (size_t)(36 * ldd) * sizeof(float));
        for (int64_t b = nb * p / np; b < nb * (p + 1) / np; b++)
            dw_block(dUT, ldd, dUT + 36 * ldd, dout, inp, d, b * G,
                     N - b * G < G ? N - b * G : G, whole ? 1 : nt);
    }
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < 36 * ldd; i++) /* the groups in order */
        for (int64_t p = 1; p < np; p++) ws[i] += ws[p * part + i];
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t j0 = 0; j0 < CK; j0 += 64)
        conv_adj25_chunk_avx512(dweight, ws, ldd, K, C, j0, CK - j0 < 64 ? CK - j0 : 64);
    conv_ws_free(ws);
    return 0;
}

#else

int conv_wino25_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const cr_conv2d_dims *d,
                                    const conv_plan *pl) {
    (void)dweight; (void)dbias; (void)dout; (void)inp; (void)d; (void)pl;
    return -1; /* never planned: conv_wino25_dw_plan needs AVX-512 */
}

int conv_wino25_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                            int flip) {
    (void)out; (void)inp; (void)w; (void)bias; (void)d; (void)pl; (void)accumulate; (void)flip;
    return -1; /* never planned: conv_wino25_plan needs AVX-512 */
}

#endif /* CR_X86 */
