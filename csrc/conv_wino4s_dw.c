/* conv_wino4s_dw.c — dw of the layers whose forward runs conv_wino4s.c (CONV_WINO4S_DW):
 * the adjoint in the filter of the batched F(4x4, 3x3) forward. Per tile y = A^T [U .* V] A,
 * U = G g G^T, so dg = G^T [(A dY A^T) .* V] G; summed over the tiles of a block,
 *   dU[e] (K x C) += Mg[e] (K x T) @ V[e]^T (T x C),   dw[k, c] += G^T dU[e][k, c] G
 * (conv_winograd4_dw.c's transforms: conv_winograd4_xf.h's wino4_grad_row, filter_adjoint).
 * The blocks of G images fall in pl->bl.rows groups of consecutive blocks (from the sizes
 * only); each group sums its blocks into its own dU_p, block after block, and the groups are
 * added in order at the end, so results do not depend on the thread count. Threads take
 * whole groups (their own V, Mg); with one group they share each block (planes, then the 36
 * products). db by conv_bias_grad_rows. */
#include <string.h>
#include "conv_wino4s.h"
#include "split.h"

#ifdef CR_X86

/* V (36 x ldv) and Mg (36 x ldm, after V) of images [n0, n0 + g) */
static void dw_transforms(const float *dout, const float *inp, const cr_conv2d_dims *d,
                          int64_t n0, int64_t g, float *V, int nt) {
    const int64_t C = d->C, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 3) / 4, TP = (P + 3) / 4, Ti = TP * TQ, T = g * Ti;
    const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(K * T);
    float *Mg = V + 36 * ldv;
    conv_wino4s_input_block(V, ldv, inp, d, n0, g, nt);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < K; k++)
        conv_wino4s_grad_planes_avx512(Mg + k * T, ldm, dout + (n0 * K + k) * P * Q, K * P * Q,
                                       g, P, Q, TP, TQ);
}

/* rows [k0, k1) of dU[e] (row k0 at dU + e ldu) (+)= Mg[e] @ V[e]^T of a block of g images */
static void dw_products(float *dU, int64_t ldu, const cr_conv2d_dims *d, int64_t g,
                        const float *V, int64_t k0, int64_t k1, int first, int nt) {
    const int64_t C = d->C, K = d->K, T = g * ((d->P + 3) / 4) * ((d->Q + 3) / 4);
    const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(K * T);
    const float *Mg = V + 36 * ldv;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int e = 0; e < 36; e++)
        cr_gemm_f32(0, 1, k1 - k0, C, T, 1.0f, Mg + e * ldm + k0 * T, T, V + e * ldv, T,
                    first ? 0.0f : 1.0f, dU + e * ldu, C, NULL, NULL, CR_ACT_NONE);
}

/* dU (36 x ldu) (+)= the products of images [n0, n0 + g); V: the block's V then Mg */
static void dw_block(float *dU, int64_t ldu, const float *dout, const float *inp,
                     const cr_conv2d_dims *d, int64_t n0, int64_t g, float *V, int first,
                     int nt) {
    dw_transforms(dout, inp, d, n0, g, V, nt);
    dw_products(dU, ldu, d, g, V, 0, d->K, first, nt);
}

int conv_backward_weight_wino4s_f32(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const cr_conv2d_dims *d,
                                    const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, G = pl->bl.G, KC = K * C;
    const int64_t nb = pl->nblocks, np = pl->bl.rows, ldu = wino4_ld(KC);
    const int nt = pl->nt;
    if (dbias) conv_bias_grad_f32(dbias, dout, d, nt);
    if (!dweight) return 0;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    /* dU_0 .. dU_{np-1}, then a V, Mg slot per thread (one when threads share blocks) */
    const int64_t uf = conv_wino4s_u_floats(d, 1, nb, np, nt);
    float *dU = ws, *slots = dU + uf;
    const int64_t kr = K < WINO4S_DW_KROUND ? K : WINO4S_DW_KROUND, ldr = wino4_ld(kr * C);
    if (uf < np * 36 * ldu) {
        /* one block of the whole batch: dU made and turned into dw in rounds of
         * WINO4S_DW_KROUND rows, each thread taking whole rounds into its own dU (36 x 64 x C
         * floats, 4.7 MiB at C = 512), which stays in L3 between the products and the
         * adjoint instead of all of dU (38 MiB at 512->512) going out to memory and back; no
         * thread waits on another's round */
        const int64_t nr = (K + kr - 1) / kr;
        dw_transforms(dout, inp, d, 0, N, slots, nt);
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float *dUr = dU + CR_THREAD_NUM() * 36 * ldr;
            #pragma omp for schedule(static)
            for (int64_t r = 0; r < nr; r++) {
                const int64_t k0 = r * kr, k1 = K - k0 < kr ? K : k0 + kr;
                dw_products(dUr, ldr, d, N, slots, k0, k1, 1, 1);
                conv_wino4_filter_adjoint(dweight + k0 * C * 9, dUr, ldr, (k1 - k0) * C, 1);
            }
        }
        conv_ws_free(ws);
        return 0;
    }
    if (np > 1 || nt == 1) {
        #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t p = 0; p < np; p++)
            for (int64_t b = nb * p / np; b < nb * (p + 1) / np; b++) {
                const int64_t n0 = b * G, g = N - n0 < G ? N - n0 : G;
                dw_block(dU + p * 36 * ldu, ldu, dout, inp, d, n0, g,
                         slots + CR_THREAD_NUM() * pl->ws_elems, b == nb * p / np, 1);
            }
    } else {
        for (int64_t b = 0; b < nb; b++) {
            const int64_t n0 = b * G, g = N - n0 < G ? N - n0 : G;
            dw_block(dU, ldu, dout, inp, d, n0, g, slots, b == 0, nt);
        }
    }
    /* dU_0 += dU_1 + ... in order, then dw += G^T dU G */
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && KC >= 1024)
    for (int e = 0; e < 36; e++)
        for (int64_t p = 1; p < np; p++) {
            float *u = dU + e * ldu;
            const float *v = dU + (p * 36 + e) * ldu;
            for (int64_t j = 0; j < KC; j++) u[j] += v[j];
        }
    conv_wino4_filter_adjoint(dweight, dU, ldu, KC, nt);
    conv_ws_free(ws);
    return 0;
}

#else

int conv_backward_weight_wino4s_f32(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const cr_conv2d_dims *d,
                                    const conv_plan *pl) {
    (void)dweight; (void)dbias; (void)dout; (void)inp; (void)d; (void)pl;
    return -1; /* never planned: conv_wino4s_G needs AVX-512 */
}

#endif /* CR_X86 */
