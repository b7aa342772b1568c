/* conv_winograd4.c — Winograd F(4x4, 3x3), one image at a time, for float32 stride-1 undilated
 * 3x3 layers with large images: the plan's CONV_WINOGRAD path when wino4_plan accepts the
 * sizes (see winograd_auto in conv_plan.c; the forward, and dx as the forward of dy with the
 * flipped kernel).
 *
 * Each 4x4 output tile is  Y = A^T [ (G g G^T) .* (B^T d B) ] A  for the 6x6 input patch d
 * around it: 36 matrix products M[e] (K x T) = U[e] (K x C) @ V[e] (C x T) per block of T
 * tiles, 2.25 multiplications per output and channel pair instead of 4 for F(2x2, 3x3) and
 * 9 for the direct sum (interpolation points 0, +-1, +-2, infinity):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1],
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 * The transforms round more than F(2x2)'s (tests/test_conv_winograd4.py bounds the error
 * against the float64 reference).
 *
 * Blocks: pl->bl.rows tile rows of one image (T = rows * TQ tiles), and output channels in
 * blocks of pl->wino_kb (the transformed weights of a block, 36 kb C floats, are made again
 * for every tile block when kb < K: a small cost next to the products, and it lets 512->512
 * run within the workspace limit). Threads split channels in the transforms and run the
 * products (cr_gemm), so results do not depend on the thread count. */
#include <string.h>
#include "conv_internal.h"

/* U[e * ldu + (k - k0)*C + c] = (G g G^T)[e] for the filters g = w[k, c], k in [k0, k1),
 * or with flip, g = w'[k, c] = w[c, k] turned by 180 degrees (w of shape (C, K, 3, 3): dx as
 * the forward of dy, see conv_wino4_backward_input_f32), in chunks of 64 filters
 * (conv_wino_wt.h: AVX-512 or portable build, the same bits) */
static void weight_transform(float *U, const float *w, int flip, int64_t ldu, int64_t K,
                             int64_t C, int64_t k0, int64_t k1, int nt) {
    const int64_t n = (k1 - k0) * C, nch = (n + CR_WT_CHUNK - 1) / CR_WT_CHUNK;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && n >= 4096)
    for (int64_t ch = 0; ch < nch; ch++)
        CR_WT_PICK(conv_wt4_chunk, U, ldu, w, flip, K, C, k0, ch * CR_WT_CHUNK,
                   n - ch * CR_WT_CHUNK < CR_WT_CHUNK ? n - ch * CR_WT_CHUNK : CR_WT_CHUNK);
}

/* the same, for conv_wino4s.c (batched small images) */
void conv_wino4_weight_transform(float *U, const float *w, int flip, int64_t ldu, int64_t K,
                                 int64_t C, int64_t k0, int64_t k1, int nt) {
    weight_transform(U, w, flip, ldu, K, C, k0, k1, nt);
}

#define WINO4_FN(name) name
#include "conv_winograd4_xf.h"
#undef WINO4_FN

static void input_row(float *V, int64_t lde, const float *x_c, int64_t H, int64_t W,
                      int64_t h0, int64_t pw, int64_t TQ, float *buf) {
#ifdef CR_X86
    if (conv_avx512()) {
        conv_wino4_input_row_avx512(V, lde, x_c, H, W, h0, pw, TQ, buf);
        return;
    }
#endif
    wino4_input_row(V, lde, x_c, H, W, h0, pw, TQ, buf);
}

static void output_row(float *const y[4], const float *M, int64_t lde, int64_t TQ, int64_t Q,
                       float b, int accumulate, float *buf) {
#ifdef CR_X86
    if (conv_avx512()) {
        conv_wino4_output_row_avx512(y, M, lde, TQ, Q, b, accumulate, buf);
        return;
    }
#endif
    wino4_output_row(y, M, lde, TQ, Q, b, accumulate, buf);
}

/* V (36 x ldv) = B^T d B of the tiles of tile rows [tp0, tp1) of image x_n: channel c, tile
 * row tp at column c T + (tp - tp0) TQ (T tiles); threads split channels */
void conv_wino4_input_tiles(float *V, int64_t ldv, const float *x_n, const cr_conv2d_dims *d,
                            int64_t tp0, int64_t tp1, int nt) {
    const int64_t C = d->C, H = d->H, W = d->W, TQ = (d->Q + 3) / 4, T = (tp1 - tp0) * TQ;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < C; c++) {
        float buf[48 * (TQ + 1)];
        for (int64_t tp = tp0; tp < tp1; tp++)
            input_row(V + c * T + (tp - tp0) * TQ, ldv, x_n + c * H * W, H, W, 4 * tp - d->ph,
                      d->pw, TQ, buf);
    }
}

/* Scratch floats of a plan with kb output channels and `rows` tile rows per block. */
static int64_t ws_floats(const cr_conv2d_dims *d, int64_t kb, int64_t rows) {
    const int64_t T = rows * ((d->Q + 3) / 4);
    return 36 * (wino4_ld(kb * d->C) + wino4_ld(d->C * T) + wino4_ld(kb * T));
}

/* The F(4x4) plan within `limit` bytes (dw: for conv_winograd4_dw.c). Output channels per
 * block kb: all K when U (or dU) takes at most half the limit or fits beside the V and M of
 * a whole image; else the multiple of 16 nearest to what fills a quarter of the limit with U
 * (the forward transforms the weights again for every block of tiles; 512->512 28x28 ran
 * fastest with 32, 256->256 56x56 with 48-64); for dw, which makes V again for every
 * block of kb (but once for a single image of one block of tiles), as many as fit beside a
 * whole image's V and Mg if that is 32 or more, else half of it (best measured: 112-128 for
 * 256->256 56x56); 16 at least. Then as many
 * tile rows as fit (one at least). Returns 0 (pl untouched) for fewer than 16 output
 * channels or fewer than 4 tile rows. */
int conv_wino4_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t limit,
                    int dw) {
    const int64_t C = d->C, K = d->K, TQ = (d->Q + 3) / 4, TP = (d->P + 3) / 4;
    const int64_t lim = limit / elsize, fixed = 3 * 36 * 32, Ti = TP * TQ; /* 32: wino4_ld */
    if (K < 16 || TP < 4) return 0;
    const int64_t kb_img = (lim - fixed - 36 * C * Ti) / (36 * (C + Ti));
    int64_t kb = K;
    if (kb_img < K && 36 * K * C > lim / 2) {
        kb = (lim / (dw ? 2 : 4) / (36 * C) + 8) / 16 * 16;
        if (dw && kb_img >= 32) kb = kb_img / 16 * 16;
        if (kb < 16) kb = 16;
        if (kb > K) kb = K;
    }
    int64_t rows = (lim - 36 * kb * C - fixed) / (36 * (C + kb) * TQ);
    rows = rows < 1 ? 1 : rows > TP ? TP : rows;
    while (rows > 1 && ws_floats(d, kb, rows) * elsize > limit) rows--;
    pl->path = CONV_WINOGRAD;
    pl->wino_kb = kb;
    pl->bl.G = 1;
    pl->bl.rows = rows;
    pl->bl.cols = rows * TQ;
    pl->nblocks = d->N * ((TP + rows - 1) / rows);
    pl->ws_elems = ws_floats(d, kb, rows);
    pl->ws_threads = 1;
    pl->ws_bytes = pl->ws_elems * elsize;
    return 1;
}

static int forward4(float *out, const float *inp, const float *w, int flip, const float *bias,
                    const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 3) / 4, TP = (P + 3) / 4, rows_b = pl->bl.rows, Tmax = rows_b * TQ;
    const int64_t KB = pl->wino_kb;
    const int nt = pl->nt;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    /* the 36 matrices of U, V and M lie wino4_ld(their size) apart (L1 sets) */
    const int64_t ldu = wino4_ld(KB * C);
    float *U = ws, *V = U + 36 * ldu, *M = V + 36 * wino4_ld(C * Tmax);
    if (KB == K) weight_transform(U, w, flip, ldu, K, C, 0, K, nt);
    for (int64_t n = 0; n < N; n++) {
        const float *x_n = inp + n * C * H * W;
        float *y_n = out + n * K * P * Q;
        for (int64_t tp0 = 0; tp0 < TP; tp0 += rows_b) {
            const int64_t tp1 = tp0 + rows_b < TP ? tp0 + rows_b : TP, T = (tp1 - tp0) * TQ;
            const int64_t ldv = wino4_ld(C * T);
            conv_wino4_input_tiles(V, ldv, x_n, d, tp0, tp1, nt);
            for (int64_t k0 = 0; k0 < K; k0 += KB) {
                const int64_t kb = K - k0 < KB ? K - k0 : KB, ldm = wino4_ld(kb * T);
                if (KB < K) weight_transform(U, w, flip, ldu, K, C, k0, k0 + kb, nt);
                /* threads take whole products (each runs serially inside the region) */
                #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
                for (int e = 0; e < 36; e++)
                    cr_gemm_f32(0, 0, kb, T, C, 1.0f, U + e * ldu, C, V + e * ldv, T, 0.0f,
                                M + e * ldm, T, NULL, NULL, CR_ACT_NONE);
                #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
                for (int64_t k = 0; k < kb; k++) {
                    float buf[40 * TQ];
                    const float b = bias ? bias[k0 + k] : 0.0f;
                    for (int64_t tp = tp0; tp < tp1; tp++) {
                        float *y0 = y_n + ((k0 + k) * P + 4 * tp) * Q, *y[4];
                        for (int i = 0; i < 4; i++) y[i] = 4 * tp + i < P ? y0 + i * Q : NULL;
                        output_row(y, M + k * T + (tp - tp0) * TQ, ldm, TQ, Q, b, accumulate,
                                   buf);
                    }
                }
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}

int conv_forward_wino4_f32(float *out, const float *inp, const float *w, const float *bias,
                           const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    return forward4(out, inp, w, 0, bias, d, pl, accumulate);
}

/* dx += the forward of dy by the flipped kernel (pl->dd, see dx_as_conv_ok in conv_plan.c)
 * when that forward runs F(4x4): its weight transform reads w flipped and transposed in
 * place, so no flipped copy of w is made. Returns 1 done, 0 not F(4x4) (nothing done), -1
 * out of memory. */
int conv_wino4_backward_input_f32(float *dinp, const float *dout, const float *w,
                                  const conv_plan *pl) {
    conv_plan dx_plan;
    conv_plan_make(&dx_plan, &pl->dd, 0, 4);
    if (dx_plan.path != CONV_WINOGRAD || dx_plan.wino_kb == 0) return 0;
    return forward4(dinp, dout, w, 1, NULL, &pl->dd, &dx_plan, 1) == 0 ? 1 : -1;
}
