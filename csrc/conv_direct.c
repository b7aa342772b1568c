/* conv_direct.c — the direct float32 convolution for layers with few channels (plan path
 * CONV_DIRECT, see direct_ok in conv_plan.c: ResNet's 16->16 and 3->16 3x3 layers at 32x32,
 * MobileNet's 3->32 stem). Stride 1, no dilation, any padding; the image is read in place
 * (no padded copy, no im2col, no wide output), the output written once.
 *
 *   forward   per output row (image n, row p), blocks of <= 8 output channels by 32 columns:
 *             the register tile of conv_direct_avx512.c (pixels in the lanes)
 *   backward  dx: the same forward on dy with the kernel flipped in space and transposed in
 *             channels (pl->dd, see dx_as_conv_ok in conv_plan.c), accumulated into dx;
 *             dw, db: the implicit backward (conv_implicit.c) without its dx
 * Threads take whole output rows; each output is summed in one fixed order (c, r, s) by one
 * thread, so results do not depend on the thread count. The AVX-512 tile is the only
 * kernel: the plan never picks this path without it (the generic build returns -1).
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"

#define DIRECT_COLS 32 /* output columns per tile (two vectors) */

/* first output channel of block i of nblk (balanced: 17 -> 6 + 6 + 5) */
static int64_t block_k0(int64_t K, int64_t nblk, int64_t i) { return i * K / nblk; }

int conv_direct_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
#ifdef CR_X86
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t CRS = C * d->R * d->S, PQ = P * Q, nblk = (K + 7) / 8;
    /* the weights of each block of <= 8 channels, tap by tap: wt[(i*CRS + crs)*8 + j] */
    float *wt = (float *)calloc((size_t)(nblk * CRS * 8), sizeof(float));
    if (!wt) return -1;
    for (int64_t i = 0; i < nblk; i++) {
        const int64_t k0 = block_k0(K, nblk, i), mb = block_k0(K, nblk, i + 1) - k0;
        for (int64_t crs = 0; crs < CRS; crs++)
            for (int64_t j = 0; j < mb; j++) wt[(i * CRS + crs) * 8 + j] = w[(k0 + j) * CRS + crs];
    }
    const int nt = pl->nt;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t task = 0; task < N * P; task++) {
        const int64_t n = task / P, p = task % P;
        for (int64_t i = 0; i < nblk; i++) {
            const int64_t k0 = block_k0(K, nblk, i), mb = block_k0(K, nblk, i + 1) - k0;
            for (int64_t q0 = 0; q0 < Q; q0 += DIRECT_COLS)
                conv_direct_row_avx512(out + (n * K + k0) * PQ + p * Q + q0, PQ,
                                       inp + n * C * H * W, wt + i * CRS * 8, mb, C, H, W, d->R,
                                       d->S, d->ph, d->pw, p, q0,
                                       Q - q0 < DIRECT_COLS ? Q - q0 : DIRECT_COLS,
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
    return conv_backward_implicit_f32(NULL, dweight, dbias, dout, inp, w, d, pl);
#else
    (void)dinp; (void)dweight; (void)dbias; (void)dout; (void)inp; (void)w; (void)d; (void)pl;
    return -1;
#endif
}
