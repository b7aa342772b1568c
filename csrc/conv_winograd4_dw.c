/* conv_winograd4_dw.c — dw of a float32 stride-1 3x3 layer by Winograd F(4x4, 3x3) (the plan's
 * CONV_WINO_DW with wino_kb > 0: images with >= 28x28 outputs whose dx runs Winograd; see
 * conv_wino4_dw_ok in conv_plan.c): the adjoint in the filter of conv_winograd4.c's forward.
 *
 * The forward is y_tile = A^T [U .* V] A with U = G g G^T and V = B^T d B, so
 *   dg = sum over tiles of G^T [ (A dY A^T) .* V ] G,
 * and over channels, for each of the 36 positions e, one product per block of T tiles:
 *   dU[e] (kb x C) += Mg[e] (kb x T) @ V[e]^T (T x C),   Mg = A dY A^T of the dy tiles,
 * then dw[k, c] += G^T dU[., k, c] G. Output channels go in blocks of kb (dU of a block stays
 * in the scratch over all images; V is made again for every block when kb < K). The products
 * and their sum over blocks of tiles run in a fixed order that depends on the sizes and the
 * workspace limit only; threads take whole products, so results do not depend on them. */
#include <string.h>
#include "conv_internal.h"
#include "split.h"

#define WINO4_FN(name) name
#include "conv_winograd4_xf.h"
#undef WINO4_FN

static void grad_row(float *Mg, int64_t lde, const float *yr, int64_t ldy, int64_t TQ,
                     float *buf) {
#ifdef CR_X86
    if (conv_avx512()) {
        conv_wino4_grad_row_avx512(Mg, lde, yr, ldy, TQ, buf);
        return;
    }
#endif
    wino4_grad_row(Mg, lde, yr, ldy, TQ, buf);
}

/* dw[k0 + j / C, j % C] += G^T dU[., j] G for j < n (dU[e * ldu + j]), 64 at a time
 * (conv_wino_wt.h: AVX-512 or portable build, the same bits) */
static void filter_adjoint(float *dw, const float *dU, int64_t ldu, int64_t n, int nt) {
    const int64_t nch = (n + CR_WT_CHUNK - 1) / CR_WT_CHUNK;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && n >= 4096)
    for (int64_t ch = 0; ch < nch; ch++)
        CR_WT_PICK(conv_adj4_chunk, dw, dU, ldu, ch * CR_WT_CHUNK,
                   n - ch * CR_WT_CHUNK < CR_WT_CHUNK ? n - ch * CR_WT_CHUNK : CR_WT_CHUNK);
}

/* the same, for conv_wino4s_dw.c (batched small images) */
void conv_wino4_filter_adjoint(float *dw, const float *dU, int64_t ldu, int64_t n, int nt) {
    filter_adjoint(dw, dU, ldu, n, nt);
}

int conv_wino4_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t limit,
                       int64_t dx_bytes) {
    if (!conv_wino4_plan(pl, d, elsize, limit, 1)) return 0; /* dU, V, Mg: as U, V, M */
    pl->path = CONV_WINO_DW;
    if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
    return 1;
}

int conv_backward_weight_wino4_f32(float *dweight, float *dbias, const float *dout,
                                   const float *inp, const cr_conv2d_dims *d,
                                   const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 3) / 4, TP = (P + 3) / 4, rows_b = pl->bl.rows, Tmax = rows_b * TQ;
    const int64_t KB = pl->wino_kb, ldy = 4 * TQ;
    const int nt = pl->nt;
    if (dbias) conv_bias_grad_f32(dbias, dout, d, nt);
    if (!dweight) return 0;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    const int64_t ldu = wino4_ld(KB * C);
    float *dU = ws, *V = dU + 36 * ldu, *Mg = V + 36 * wino4_ld(C * Tmax);
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
        const int64_t kb = K - k0 < KB ? K - k0 : KB;
        int first = 1;
        for (int64_t n = 0; n < N; n++) {
            const float *x_n = inp + n * C * d->H * d->W, *dy_n = dout + n * K * P * Q;
            for (int64_t tp0 = 0; tp0 < TP; tp0 += rows_b) {
                const int64_t tp1 = tp0 + rows_b < TP ? tp0 + rows_b : TP, T = (tp1 - tp0) * TQ;
                const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(kb * T);
                if (k0 == 0 || N > 1 || rows_b < TP) /* else V holds this image already */
                    conv_wino4_input_tiles(V, ldv, x_n, d, tp0, tp1, nt);
                #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
                for (int64_t k = 0; k < kb; k++) {
                    float yr[4 * ldy], buf[24 * TQ];
                    const float *y = dy_n + (k0 + k) * P * Q;
                    for (int64_t tp = tp0; tp < tp1; tp++) {
                        for (int i = 0; i < 4; i++) {
                            float *ri = yr + i * ldy;
                            const int64_t p = 4 * tp + i;
                            if (p < P) {
                                memcpy(ri, y + p * Q, (size_t)Q * sizeof(float));
                                memset(ri + Q, 0, (size_t)(ldy - Q) * sizeof(float));
                            } else {
                                memset(ri, 0, (size_t)ldy * sizeof(float));
                            }
                        }
                        grad_row(Mg + k * T + (tp - tp0) * TQ, ldm, yr, ldy, TQ, buf);
                    }
                }
                /* inside the parallel region each product runs serially */
                #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
                for (int e = 0; e < 36; e++)
                    cr_gemm_f32(0, 1, kb, C, T, 1.0f, Mg + e * ldm, T, V + e * ldv, T,
                                first ? 0.0f : 1.0f, dU + e * ldu, C, NULL, NULL, CR_ACT_NONE);
                first = 0;
            }
        }
        filter_adjoint(dweight + k0 * C * 9, dU, ldu, kb * C, nt);
    }
    conv_ws_free(ws);
    return 0;
}
