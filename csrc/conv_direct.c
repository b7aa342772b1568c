/* conv_direct.c — the direct float32 convolution for layers with few channels (plan path
 * CONV_DIRECT, see direct_ok in conv_plan.c: ResNet's 16->16 and 3->16 3x3 layers at 32x32,
 * MobileNet's 3->32 stem). Stride 1, no dilation, any padding; the image is read in place
 * (no padded copy, no im2col, no wide output), the output written once.
 *
 *   forward   per pair of output rows (image n, rows p, p + 1), blocks of <= 6 output
 *             channels by 32 columns: the register tile of conv_direct_avx512.c (pixels in
 *             the lanes, 24 accumulators)
 *   backward  dx: the same forward on dy with the kernel flipped in space and transposed in
 *             channels (pl->dd, see dx_as_conv_ok in conv_plan.c), accumulated into dx;
 *             dw, db: 16-wide partial sums per (block of <= 2 output channels, input
 *             channel) over the batch, pixels in the lanes (direct_dw)
 * Threads take pairs of output rows; each output is summed in one fixed order (c, r, s) by one
 * thread, so results do not depend on the thread count. The AVX-512 tile is the only
 * kernel: the plan never picks this path without it (the generic build returns -1).
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

#define DIRECT_COLS 32 /* output columns per tile (two vectors) */
#define DIRECT_MB 6    /* output channels per tile at most (x 2 rows x 2 vectors) */

/* first output channel of block i of nblk (balanced: 16 -> 5 + 5 + 6) */
static int64_t block_k0(int64_t K, int64_t nblk, int64_t i) { return i * K / nblk; }

int conv_direct_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
#ifdef CR_X86
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t CRS = C * d->R * d->S, PQ = P * Q, nblk = (K + DIRECT_MB - 1) / DIRECT_MB;
    /* the weights of each block of <= 6 channels, tap by tap: wt[(i*CRS + crs)*8 + j]; then
     * a zero row standing for input rows outside the image */
    float *wt = (float *)calloc((size_t)(nblk * CRS * 8 + W), sizeof(float));
    if (!wt) return -1;
    const float *zrow = wt + nblk * CRS * 8;
    for (int64_t i = 0; i < nblk; i++) {
        const int64_t k0 = block_k0(K, nblk, i), mb = block_k0(K, nblk, i + 1) - k0;
        for (int64_t crs = 0; crs < CRS; crs++)
            for (int64_t j = 0; j < mb; j++) wt[(i * CRS + crs) * 8 + j] = w[(k0 + j) * CRS + crs];
    }
    const int nt = pl->nt;
    const int64_t PT = (P + 1) / 2; /* tasks per image: pairs of output rows */
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t task = 0; task < N * PT; task++) {
        const int64_t n = task / PT, p = 2 * (task % PT), nr = P - p < 2 ? P - p : 2;
        for (int64_t i = 0; i < nblk; i++) {
            const int64_t k0 = block_k0(K, nblk, i), mb = block_k0(K, nblk, i + 1) - k0;
            for (int64_t q0 = 0; q0 < Q; q0 += DIRECT_COLS)
                conv_direct_tile_avx512(out + (n * K + k0) * PQ + p * Q + q0, PQ, Q,
                                        inp + n * C * H * W, wt + i * CRS * 8, mb, C, H, W,
                                        d->R, d->S, d->ph, d->pw, p, nr, q0,
                                        Q - q0 < DIRECT_COLS ? Q - q0 : DIRECT_COLS, zrow,
                                        bias ? bias + k0 : NULL, accumulate);
        }
    }
    free(wt);
    return 0;
#else
    (void)out; (void)inp; (void)w; (void)bias; (void)d; (void)pl; (void)accumulate;
    return -1; /* not planned without AVX-512 */
#endif
}

/* dw and db (3x3): tile j = (block j / C of <= 2 output channels, input channel j % C) keeps 16-wide
 * partial sums of its 27 weights (g, one slice per tile) over all images in order, then
 * sums the lanes; threads own whole tiles (and rows of db), so each weight is summed in one
 * order whatever the thread count. Tiles of one block follow each other: its dy planes stay
 * in L1 while the input planes pass. Scratch: the partial sums (pl->ws_bytes). */
#define DW_MB 2
#define DW_G (DW_MB * 9 * 16)
#ifdef CR_X86
static int direct_dw(float *dweight, float *dbias, const float *dout, const float *inp,
                     const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t PQ = P * Q, nkb = (K + DW_MB - 1) / DW_MB, tiles = nkb * C;
    float *g = (float *)conv_ws_alloc(conv_direct_dw_bytes(d));
    if (!g) return -1;
    memset(g, 0, (size_t)conv_direct_dw_bytes(d));
    #pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        if (dbias) conv_bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t j0 = tiles * t / T, j1 = tiles * (t + 1) / T;
        for (int64_t n = 0; dweight && n < N; n++)
            for (int64_t j = j0; j < j1; j++) {
                const int64_t c = j % C, k0 = block_k0(K, nkb, j / C);
                conv_direct_dw_avx512(g + j * DW_G, dout + (n * K + k0) * PQ, PQ,
                                      block_k0(K, nkb, j / C + 1) - k0,
                                      inp + (n * C + c) * H * W, H, W, P, Q, d->ph, d->pw);
            }
        for (int64_t j = j0; dweight && j < j1; j++) {
            const int64_t c = j % C, k0 = block_k0(K, nkb, j / C);
            conv_direct_dw_reduce_avx512(dweight + (k0 * C + c) * 9, C * 9, g + j * DW_G,
                                         block_k0(K, nkb, j / C + 1) - k0);
        }
    }
    conv_ws_free(g);
    return 0;
}
#endif

/* its scratch bytes (conv_plan.c) */
int64_t conv_direct_dw_bytes(const cr_conv2d_dims *d) {
    return (d->K + DW_MB - 1) / DW_MB * d->C * DW_G * (int64_t)sizeof(float);
}

int conv_direct_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                             const float *inp, const float *w, const cr_conv2d_dims *d,
                             const conv_plan *pl) {
#ifdef CR_X86
    if (dinp) {
        const int64_t K = d->K, C = d->C, R = d->R, S = d->S;
        float *wf = (float *)malloc((size_t)(K * C * R * S) * sizeof(float));
        if (!wf) return -1;
        for (int64_t c = 0; c < C; c++) /* wf[c, k, r, s] = w[k, c, R-1-r, S-1-s] */
            for (int64_t k = 0; k < K; k++)
                for (int64_t r = 0; r < R; r++)
                    for (int64_t s = 0; s < S; s++)
                        wf[((c * K + k) * R + r) * S + s] =
                            w[((k * C + c) * R + (R - 1 - r)) * S + (S - 1 - s)];
        const int rc = conv_direct_forward_f32(dinp, dout, wf, NULL, &pl->dd, pl, 1);
        free(wf);
        if (rc != 0) return rc;
    }
    if (!dweight && !dbias) return 0;
    return direct_dw(dweight, dbias, dout, inp, d, pl);
#else
    (void)dinp; (void)dweight; (void)dbias; (void)dout; (void)inp; (void)w; (void)d; (void)pl;
    return -1;
#endif
}
