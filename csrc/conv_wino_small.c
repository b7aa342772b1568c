/* conv_wino_small.c — the Winograd F(2x2, 3x3) forward (CONV_WINOGRAD, see conv_winograd.c
 * for the algorithm) for small images, float32 on AVX-512 CPUs: the plan (conv_plan.c:
 * wino_images_per_block) puts G > 1 whole images in a block, so that each of the 16 products
 * M[e] (K x T) = U[e] (K x C) @ V[e] (C x T) has T = G * ceil(P/2) * ceil(Q/2) columns, wide
 * enough to run fast even for 8x8 images (ResNet-20's 64-channel stage: T = 256 with G = 16).
 * Per block: each (image, channel) plane is zero-padded into a small buffer and transformed
 * tile row by tile row (conv_wino_small_avx512.c, same bits as conv_winograd_xf.h), the 16
 * products run, then the output transform. With at least as many blocks as threads each
 * thread takes whole blocks (its own V and M, serial products); else the threads share each
 * block (planes, products and output channels split between them). Either way every value
 * is computed by the same operations, so results do not depend on the thread count.
 * Also dw of such layers (CONV_WINO_DW, conv_backward_weight_wino_small_f32 below).
 * The 16 matrices of U, V and M are WINO_PAD floats apart beyond their size: with sizes that
 * are multiples of 4 KiB, the 16 values of one tile would otherwise share one L1 set. */
#include <string.h>
#include "conv_internal.h"
#include "split.h"

#ifdef CR_X86

/* xp (rows x ldx, +32 readable floats) = plane x_c (H x W) placed at row ph, column pw, zeros around */
static void pad_plane(float *xp, const float *x_c, const cr_conv2d_dims *d, int64_t rows,
                      int64_t ldx) {
    memset(xp, 0, (size_t)(rows * ldx + 32) * sizeof(float));
    const int64_t w = d->W < ldx - d->pw ? d->W : ldx - d->pw;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t h = r - d->ph;
        if (h >= 0 && h < d->H && w > 0)
            memcpy(xp + r * ldx + d->pw, x_c + h * d->W, (size_t)w * sizeof(float));
    }
}

#define WINO_PAD 16
#define WINO_GEMM_DIRECT (96 * 96 * 96) /* gemm.c: DIRECT_MAX_WORK */

/* The permute table of the kernels that take m = 16 / TQ tile rows at once (TQ <= 8) */
static void wino_pairs(wino_pair_tab *t, int64_t TQ) {
    const int64_t m = 16 / TQ;
    t->TQ = TQ;
    t->np = (int)((m + 1) / 2);
    for (int p = 0; p < t->np; p++) {
        t->mk[p] = 0;
        for (int L = 0; L < 16; L++) {
            const int64_t u = L / TQ, tq = L % TQ, second = u == 2 * p + 1;
            const int in = u == 2 * p || second;
            t->ev[p][L] = in ? (int32_t)(2 * tq + (second ? 16 : 0)) : 0;
            t->od[p][L] = t->ev[p][L] + (in ? 1 : 0);
            if (in) t->mk[p] |= 1u << L;
        }
    }
}

/* V (16 x ldv) = B^T d B of every input tile of images [n0, n0 + g): channel c, image j,
 * tile row tp at column c T + j Ti + tp TQ (T = g Ti tiles); threads split (image, channel).
 * Up to 8 tiles a row: 16 / TQ tile rows at once, read from the plane in place; else tile
 * row by tile row from a zero-padded copy. */
static void wino_input_block(float *V, int64_t ldv, const float *inp, const cr_conv2d_dims *d,
                             int64_t n0, int64_t g, int nt) {
    const int64_t C = d->C, H = d->H, W = d->W;
    const int64_t TQ = (d->Q + 1) / 2, TP = (d->P + 1) / 2, Ti = TP * TQ, T = g * Ti;
    const int64_t ldx = 2 * TQ + 2, rows = 2 * TP + 2, m = 16 / TQ;
    wino_pair_tab tab;
    if (TQ <= 8) wino_pairs(&tab, TQ);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t jc = 0; jc < g * C; jc++) {
        const int64_t j = jc / C, c = jc % C;
        const float *x_c = inp + ((n0 + j) * C + c) * H * W;
        float *v = V + c * T + j * Ti;
        if (TQ <= 8) {
            for (int64_t tp = 0; tp < TP; tp += m)
                conv_wino_small_input_rows_avx512(v + tp * TQ, ldv, x_c, H, W, d->ph, d->pw, tp,
                                                  &tab, TP - tp < m ? TP - tp : m);
            continue;
        }
        float xp[rows * ldx + 32];
        pad_plane(xp, x_c, d, rows, ldx);
        for (int64_t tp = 0; tp < TP; tp++)
            conv_wino_small_input_row_avx512(v + tp * TQ, ldv, xp + 2 * tp * ldx, ldx, TQ);
    }
}

/* images [n0, n0 + g), all tile rows; V (16 x (C T + pad)) and M (16 x (K T + pad)) this
 * block's scratch */
static void wino_block(float *out, const float *inp, const float *U, const float *bias,
                       const cr_conv2d_dims *d, int64_t n0, int64_t g, float *V, float *M,
                       int nt, int accumulate) {
    const int64_t C = d->C, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 1) / 2, TP = (P + 1) / 2, Ti = TP * TQ, T = g * Ti;
    const int64_t ldu = K * C + WINO_PAD, ldv = C * T + WINO_PAD, ldm = K * T + WINO_PAD;
    /* columns per product: 128 where that keeps a product just above WINO_GEMM_DIRECT under
     * it (64->64 8x8: T = 256), so cr_gemm multiplies in place without packing V (7-10%
     * faster there; each column is the same sum either way) */
    const int64_t tc = K * C * T > WINO_GEMM_DIRECT && K * C * 128 <= WINO_GEMM_DIRECT ? 128 : T;
    wino_input_block(V, ldv, inp, d, n0, g, nt);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int e = 0; e < 16; e++) /* inside a parallel region each product runs serially */
        for (int64_t t0 = 0; t0 < T; t0 += tc)
            cr_gemm_f32(0, 0, K, T - t0 < tc ? T - t0 : tc, C, 1.0f, U + e * ldu, C,
                        V + e * ldv + t0, T, 0.0f, M + e * ldm + t0, T, NULL, NULL, CR_ACT_NONE);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t jk = 0; jk < g * K; jk++) {
        const int64_t j = jk / K, k = jk % K;
        float *y = out + ((n0 + j) * K + k) * P * Q;
        const float b = bias ? bias[k] : 0.0f;
        const float *mk = M + k * T + j * Ti;
        if (TQ <= 8) {
            for (int64_t tp = 0; tp < TP; tp += 16 / TQ)
                conv_wino_small_output_rows_avx512(y, mk + tp * TQ, ldm, TQ, tp,
                                                   TP - tp < 16 / TQ ? TP - tp : 16 / TQ, P, Q,
                                                   b, accumulate);
            continue;
        }
        for (int64_t tp = 0; tp < TP; tp++) {
            float *y0 = y + 2 * tp * Q;
            conv_wino_small_output_row_avx512(y0, 2 * tp + 1 < P ? y0 + Q : NULL, mk + tp * TQ,
                                              ldm, TQ, Q, b, accumulate);
        }
    }
}

int conv_forward_wino_small_f32(float *out, const float *inp, const float *w, int flip,
                                const float *bias, const cr_conv2d_dims *d, const conv_plan *pl,
                                int accumulate) {
    const int64_t N = d->N, C = d->C, K = d->K, G = pl->bl.G, KC = K * C;
    const int nt = pl->nt;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    float *U = ws, *slots = U + 16 * (KC + WINO_PAD);
    const int64_t nu = (KC + 255) / 256; /* U in chunks of 256 filters */
#define WEIGHTS(b) conv_wino_weight_transform(U, w, flip, KC + WINO_PAD, K, C, (b) * 256, \
                                              (b) * 256 + 256 < KC ? (b) * 256 + 256 : KC)
    /* V, then M, per slot */
    const int64_t slot = pl->ws_elems, vm = 16 * (C * pl->bl.cols + WINO_PAD);
    if (pl->by_block) { /* one team: U split, then whole blocks */
        #pragma omp parallel num_threads(nt)
        {
            float *V = slots + CR_THREAD_NUM() * slot;
            #pragma omp for schedule(static)
            for (int64_t b = 0; b < nu; b++) WEIGHTS(b);
            #pragma omp for schedule(static)
            for (int64_t blk = 0; blk < pl->nblocks; blk++) {
                const int64_t n0 = blk * G, g = N - n0 < G ? N - n0 : G;
                wino_block(out, inp, U, bias, d, n0, g, V, V + vm, 1, accumulate);
            }
        }
    } else {
        #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && KC >= 4096)
        for (int64_t b = 0; b < nu; b++) WEIGHTS(b);
        for (int64_t n0 = 0; n0 < N; n0 += G)
            wino_block(out, inp, U, bias, d, n0, N - n0 < G ? N - n0 : G, slots, slots + vm, nt,
                       accumulate);
    }
#undef WEIGHTS
    conv_ws_free(ws);
    return 0;
}

/* dw (CONV_WINO_DW): the adjoint of the forward in the filter. Per tile, y = A^T [U .* V] A
 * with U = G g G^T, so dg = G^T [(A dy A^T) .* V] G; summed over tiles,
 *   dU[e] (K x C) = sum_t Mg[e] (K x T) @ V[e]^T (T x C),  dw[k, c] += G^T dU[e][k, c] G.
 * The blocks of G images fall in pl->bl.rows groups of consecutive blocks (the plan's
 * choice, from the sizes only); each group sums its blocks into its own dU_p, block after
 * block (beta = 1 after its first), and the groups are added in order at the end, so
 * results do not depend on the thread count. Threads take whole groups (their own V, Mg:
 * nothing crosses between cores); with one group they share each block instead (planes,
 * then the 16 products, split between them). db by conv_bias_grad_rows. */

/* dU (16 x ldu) (+)= the products of images [n0, n0 + g); V, Mg: the block's scratch */
static void wino_dw_block(float *dU, int64_t ldu, const float *dout, const float *inp,
                          const cr_conv2d_dims *d, int64_t n0, int64_t g, float *V, float *Mg,
                          int first, int nt) {
    const int64_t C = d->C, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 1) / 2, TP = (P + 1) / 2, Ti = TP * TQ, T = g * Ti, ldy = 2 * TQ;
    const int64_t ldv = C * T + WINO_PAD, ldm = K * T + WINO_PAD;
    const int64_t m = 16 / TQ;
    wino_pair_tab tab;
    if (TQ <= 8) wino_pairs(&tab, TQ);
    wino_input_block(V, ldv, inp, d, n0, g, nt);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t jk = 0; jk < g * K; jk++) {
        const int64_t j = jk / K, k = jk % K;
        const float *y = dout + ((n0 + j) * K + k) * P * Q;
        float *mg = Mg + k * T + j * Ti;
        if (TQ <= 8) {
            for (int64_t tp = 0; tp < TP; tp += m)
                conv_wino_small_grad_rows_avx512(mg + tp * TQ, ldm, y, P, Q, tp, &tab,
                                                 TP - tp < m ? TP - tp : m);
            continue;
        }
        float yp[2 * TP * ldy + 32];
        memset(yp, 0, sizeof yp);
        for (int64_t p = 0; p < P; p++)
            memcpy(yp + p * ldy, y + p * Q, (size_t)Q * sizeof(float));
        for (int64_t tp = 0; tp < TP; tp++)
            conv_wino_small_grad_row_avx512(mg + tp * TQ, ldm, yp + 2 * tp * ldy, ldy, TQ);
    }
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int e = 0; e < 16; e++)
        cr_gemm_f32(0, 1, K, C, T, 1.0f, Mg + e * ldm, T, V + e * ldv, T, first ? 0.0f : 1.0f,
                    dU + e * ldu, C, NULL, NULL, CR_ACT_NONE);
}

int conv_backward_weight_wino_small_f32(float *dweight, float *dbias, const float *dout,
                                        const float *inp, const cr_conv2d_dims *d,
                                        const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, G = pl->bl.G, KC = K * C;
    const int64_t nb = pl->nblocks, np = pl->bl.rows, ldu = KC + WINO_PAD;
    const int nt = pl->nt;
    if (dbias) conv_bias_grad_f32(dbias, dout, d, nt);
    if (!dweight) return 0;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    /* dU_0 .. dU_{np-1}, then a V, Mg slot per thread (one when threads share blocks) */
    float *dU = ws, *slots = dU + np * 16 * ldu;
    const int64_t vm = 16 * (C * pl->bl.cols + WINO_PAD);
    if (np > 1 || nt == 1) {
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float *V = slots + CR_THREAD_NUM() * pl->ws_elems;
            #pragma omp for schedule(static)
            for (int64_t p = 0; p < np; p++)
                for (int64_t b = nb * p / np; b < nb * (p + 1) / np; b++) {
                    const int64_t n0 = b * G, g = N - n0 < G ? N - n0 : G;
                    wino_dw_block(dU + p * 16 * ldu, ldu, dout, inp, d, n0, g, V, V + vm,
                                  b == nb * p / np, 1);
                }
        }
    } else {
        for (int64_t b = 0; b < nb; b++) {
            const int64_t n0 = b * G, g = N - n0 < G ? N - n0 : G;
            wino_dw_block(dU, ldu, dout, inp, d, n0, g, slots, slots + vm, b == 0, nt);
        }
    }
    /* dw[k, c] += G^T (sum_p dU_p) G, 64 filters at a time (conv_wino_wt.h) */
    const int64_t nch = (KC + CR_WT_CHUNK - 1) / CR_WT_CHUNK;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && KC >= 1024)
    for (int64_t ch = 0; ch < nch; ch++)
        CR_WT_PICK(conv_adj2_chunk, dweight, dU, ldu, np, ch * CR_WT_CHUNK,
                   KC - ch * CR_WT_CHUNK < CR_WT_CHUNK ? KC - ch * CR_WT_CHUNK : CR_WT_CHUNK);
    conv_ws_free(ws);
    return 0;
}

#endif /* CR_X86 */
