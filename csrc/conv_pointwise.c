/* conv_pointwise.c — 1x1 convolutions without padding (any stride) as ONE matrix product
 * over the whole batch (plan path CONV_POINTWISE, chosen in conv_plan.c: pointwise_batch_ok).
 *
 * A 1x1 layer is a matrix product over pixels: with X (C, L) the input pixels of images
 * [n0, n0 + G) side by side (L = G*P*Q columns, column (n - n0)*PQ + p*Q + q holding
 * x[n, :, p*sh, q*sw]),
 *   forward   Y (K, L) = W (K, C) @ X + b          -> y[n, k, p, q]
 *   backward  dW (K, C) += dY (K, L) @ X^T         (the reduction over all pixels of the
 *                                                   chunk, inside one product)
 *             dX (C, L) = W^T @ dY                 -> dx[n, c, p*sh, q*sw] +=
 *             db[k] += sum_n sum_pq dy[n, k, pq]   (conv_bias_grad_rows)
 * The old route (conv_gemm_tmpl.h) ran one product per image: K x PQ x C, with PQ = 4 or 16
 * in MobileNet's deep layers too narrow for the GEMM's tiles and its threads. Here the
 * columns of G images go through one product (G = as many images as the workspace limit
 * holds within ~1 MiB of scratch, (C + K) * G*PQ values, but 256 columns at least), so the
 * GEMM packs W once and threads over wide panels. Packing X and dY to (C, L) / (K, L) and
 * scattering Y / dX back are copies of (C + K) * L values against C*K*L multiply-adds.
 * Images of one pixel (H = W = 1) need no copies at all: y (N, K) = x (N, C) @ W^T, etc.
 *
 * Determinism: the copies split rows (channels) between threads; the products are cr_gemm's
 * (every C tile summed in a fixed order by one thread); chunks of images are summed into dW
 * one after another, in image order; db is conv_bias_grad_rows' fixed-order sum. Chunk sizes
 * depend on the sizes and the workspace limit only, never on threads.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

#define POINTWISE_CACHE_BYTES ((int64_t)1 << 20)
#define POINTWISE_MIN_COLS 256

/* The plan: G images per product, the scratch for X and dY (or Y) of one chunk. */
void conv_pointwise_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize,
                         int64_t ws_limit) {
    const int64_t PQ = d->P * d->Q, per_image = (d->C + d->K) * PQ * elsize;
    /* as many images as keep the chunk's scratch in L2 (POINTWISE_CACHE_BYTES), but at
     * least POINTWISE_MIN_COLS columns (the product's width), and within the limit */
    int64_t G = POINTWISE_CACHE_BYTES / per_image, gmin = (POINTWISE_MIN_COLS + PQ - 1) / PQ;
    if (G < gmin) G = gmin;
    if (G > ws_limit / per_image) G = ws_limit / per_image;
    G = G < 1 ? 1 : G > d->N ? d->N : G;
    pl->path = CONV_POINTWISE;
    pl->bl.G = G;
    pl->bl.rows = d->P;
    pl->bl.cols = G * PQ;
    pl->nblocks = (d->N + G - 1) / G;
    pl->ws_elems = d->H * d->W == 1 ? 0 : (d->C + d->K) * pl->bl.cols;
    pl->ws_threads = 1;
    pl->ws_bytes = pl->ws_elems * elsize;
}

#define T float
#define SUF f32
#include "conv_pointwise_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "conv_pointwise_tmpl.h"
#undef T
#undef SUF
