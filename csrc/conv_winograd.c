/* conv_winograd.c — the Winograd F(2x2, 3x3) forward for float32 stride-1, undilated 3x3
 * layers (CONV_WINOGRAD): picked by the plan for large images with 32+ channels (see
 * winograd_auto in conv_plan.c), or everywhere it applies with CHAINRULE_CONV_ALGO=winograd;
 * also dx of such layers, as the forward of dy with the flipped kernel (accumulating).
 * Outputs of >= 28x28 run F(4x4, 3x3) instead (conv_winograd4.c, plan wino_kb > 0).
 *
 * Each 2x2 output tile is  Y = A^T [ (G g G^T) .* (B^T d B) ] A  for the 4x4 input patch d
 * around it, so the products over channels become 16 matrix products, one per position e
 * of the 4x4 transformed tile:  M[e] (K x T) = U[e] (K x C) @ V[e] (C x T), T tiles.
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * 2.25x fewer multiplications than the direct sum; the transforms add rounding (the float32
 * error bound is tested against the float64 reference in tests/test_conv_plan.py).
 * Tiles of one image are taken in blocks of tile rows so the scratch (U, V and M of a block)
 * stays under the workspace limit; threads split channels in the transforms (no shared
 * sums) and run the products (cr_gemm), so results do not depend on the thread count. */
#include <string.h>
#include "conv_internal.h"

/* U[e * ldu + kc] = (G g G^T)[e] for the 3x3 filters g = w[k, c], kc = k*C + c in
 * [kc0, kc1), or with flip g = w'[k, c] = w[c, k] turned by 180 degrees (w of shape (C, K,
 * 3, 3): dx as the forward of dy, read in place instead of from a flipped copy of w). In
 * chunks of 64 filters, their 9 taps first gathered into planes g[t][j], so the transform
 * runs over contiguous filters (vectorised) and writes 16 contiguous runs instead of 16
 * scattered floats per filter; each value takes the same operations as filter by filter.
 * Also conv_wino_small.c's. */
#define WT_FN(name) name
#include "conv_wino_wt.h"
#undef WT_FN

void conv_wino_weight_transform(float *U, const float *w, int flip, int64_t ldu, int64_t K,
                                int64_t C, int64_t kc0, int64_t kc1) {
    for (int64_t j0 = kc0; j0 < kc1; j0 += CR_WT_CHUNK)
        CR_WT_PICK(conv_wt2_chunk, U, ldu, w, flip, K, C, j0,
                   kc1 - j0 < CR_WT_CHUNK ? kc1 - j0 : CR_WT_CHUNK);
}

#define WINO_FN(name) name
#include "conv_winograd_xf.h"
#undef WINO_FN

/* The transforms of one tile row: the AVX-512 build of conv_winograd_xf.h when the CPU
 * runs it (the same bits, vectorised 16-wide), else the portable one. */
static void input_row(float *V, int64_t lde, const float *x_c, int64_t H, int64_t W,
                      int64_t h0, int64_t pw, int64_t TQ, float *buf) {
#ifdef CR_X86
    if (conv_avx512()) {
        conv_wino_input_row_avx512(V, lde, x_c, H, W, h0, pw, TQ, buf);
        return;
    }
#endif
    wino_input_row(V, lde, x_c, H, W, h0, pw, TQ, buf);
}

static void output_row(float *y0, float *y1, const float *M, int64_t lde, int64_t TQ,
                       int64_t Q, float b, int accumulate, float *buf) {
#ifdef CR_X86
    if (conv_avx512()) {
        conv_wino_output_row_avx512(y0, y1, M, lde, TQ, Q, b, accumulate, buf);
        return;
    }
#endif
    wino_output_row(y0, y1, M, lde, TQ, Q, b, accumulate, buf);
}

static int forward2(float *out, const float *inp, const float *w, int flip, const float *bias,
                    const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 1) / 2, TP = (P + 1) / 2, rows_b = pl->bl.rows, Tmax = rows_b * TQ;
    const int nt = pl->nt;
    if (pl->wino_kb > 0) /* large images by F(4x4, 3x3) (conv_winograd4.c) */
        return flip ? -1 : conv_forward_wino4_f32(out, inp, w, bias, d, pl, accumulate);
#ifdef CR_X86
    if (pl->bl.G > 1) /* small images, whole ones per block (conv_wino_small.c) */
        return conv_forward_wino_small_f32(out, inp, w, flip, bias, d, pl, accumulate);
#endif
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    /* the 16 matrices of U, V and M lie WINO_LD_PAD floats beyond their size apart: at
     * sizes that are multiples of 1 KiB floats the 16 values of one tile would otherwise map
     * to one L1 set (the small-image path found the transforms ~3x faster padded) */
    const int64_t ldu = K * C + WINO_LD_PAD;
    float *U = ws, *V = U + 16 * ldu, *M = V + 16 * (C * Tmax + WINO_LD_PAD);
    conv_wino_weight_transform(U, w, flip, ldu, K, C, 0, K * C);
    for (int64_t n = 0; n < N; n++) {
        const float *x_n = inp + n * C * H * W;
        float *y_n = out + n * K * P * Q;
        for (int64_t tp0 = 0; tp0 < TP; tp0 += rows_b) {
            const int64_t tp1 = tp0 + rows_b < TP ? tp0 + rows_b : TP, T = (tp1 - tp0) * TQ;
            const int64_t ldv = C * T + WINO_LD_PAD, ldm = K * T + WINO_LD_PAD;
            #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (int64_t c = 0; c < C; c++) {
                float buf[4 * (2 * TQ + 2)];
                for (int64_t tp = tp0; tp < tp1; tp++)
                    input_row(V + c * T + (tp - tp0) * TQ, ldv, x_n + c * H * W, H, W,
                              2 * tp - d->ph, d->pw, TQ, buf);
            }
            for (int e = 0; e < 16; e++)
                cr_gemm_f32(0, 0, K, T, C, 1.0f, U + e * ldu, C, V + e * ldv, T, 0.0f,
                            M + e * ldm, T, NULL, NULL, CR_ACT_NONE);
            #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (int64_t k = 0; k < K; k++) {
                float buf[4 * TQ];
                const float b = bias ? bias[k] : 0.0f;
                for (int64_t tp = tp0; tp < tp1; tp++) {
                    float *y0 = y_n + (k * P + 2 * tp) * Q;
                    output_row(y0, 2 * tp + 1 < P ? y0 + Q : NULL, M + k * T + (tp - tp0) * TQ,
                               ldm, TQ, Q, b, accumulate, buf);
                }
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}

int conv_forward_winograd_f32(float *out, const float *inp, const float *w, const float *bias,
                              const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    return forward2(out, inp, w, 0, bias, d, pl, accumulate);
}

/* dx += the forward of dy (sizes dd) by the flipped kernel, plan dx_plan, reading w flipped
 * and transposed in place (F(2x2): dx_plan->wino_kb == 0; F(4x4) is conv_winograd4.c's) */
int conv_winograd_backward_input_f32(float *dinp, const float *dout, const float *w,
                                     const cr_conv2d_dims *dd, const conv_plan *dx_plan) {
    return forward2(dinp, dout, w, 1, NULL, dd, dx_plan, 1);
}
