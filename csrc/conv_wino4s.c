/* conv_wino4s.c — Winograd F(4x4, 3x3) for small images (outputs below 28x28), float32 on
 * AVX-512 CPUs: G whole images per block (conv_wino4s_G), so that each of the 36 products
 *   M[e] (K x T) = U[e] (K x C) @ V[e] (C x T),  T = G * ceil(P/4) * ceil(Q/4) tiles,
 * gets enough columns even for 8x8 and 7x7 images. F(4x4) needs 36 / 16 = 2.25 products per
 * output and channel pair where F(2x2) (conv_wino_small.c, the path this one replaces for
 * the sizes the plan gives it) needs 4, and its transformed images are 2.25x the image where
 * F(2x2)'s are 4x. The transforms are conv_winograd4.c's (conv_winograd4_xf.h, AVX-512
 * build; the same bits as the one-image F(4x4) path), the weight transform too (flipped and
 * transposed in place for dx, which is the forward of dy: see dx_as_conv_ok in conv_plan.c).
 * With at least as many blocks as threads each thread takes whole blocks (its own V and M,
 * serial products); else the threads share each block (planes, the 36 products and output
 * channels split between them). Every value is computed by the same operations either way,
 * so results do not depend on the thread count. dw: conv_wino4s_dw.c. */
#include <string.h>
#include "conv_wino4s.h"
#include "split.h"
#include "gemm_kit.h"

/* columns per product the block aims at: 64 (1 and 2 threads, ResNet-20 b32: 16x16 and 8x8
 * forward 1.1-1.2x faster than with 256, the blocks' V and M staying in L2) */
#define WINO4S_TARGET_TILES 64

/* Images per block: enough for WINO4S_TARGET_TILES tiles, within the limit (U and one
 * block's V, M), at most N, evened out over the blocks; 1: not this path. */
int64_t conv_wino4s_G(const cr_conv2d_dims *d, int64_t limit) {
    const int64_t Ti = ((d->P + 3) / 4) * ((d->Q + 3) / 4);
    if (!conv_avx512() || d->Q > 16 || Ti >= WINO4S_TARGET_TILES) return 1; /* TQ <= 4 */
    int64_t g = (WINO4S_TARGET_TILES + Ti - 1) / Ti;
    const int64_t fit = (limit / 4 - 36 * wino4_ld(d->K * d->C)) / (36 * (d->C + d->K) * Ti + 36 * 64);
    if (g > fit) g = fit;
    if (g > d->N) g = d->N;
    if (g > 1) g = (d->N + (d->N + g - 1) / g - 1) / ((d->N + g - 1) / g); /* even blocks */
    return g > 1 ? g : 1;
}

/* scratch floats of one block's V and M (dw: V and Mg) */
static int64_t slot_floats(const cr_conv2d_dims *d, int64_t cols) {
    return 36 * (wino4_ld(d->C * cols) + wino4_ld(d->K * cols));
}

/* The forward's U in 12-row panels (the GEMM kit's packed A, MR = 12, rows past K zero):
 * matrix e at Up + e ldu, rows k0 .. k0 + 11 at + k0 C, (k0 + i, c) at + 12 c + i. Made
 * straight from w by the weight transform, so the 36 products read U[e] as one contiguous
 * stream (cr_gemm read it in place, 12 rows at a 4 C-byte stride: 512->512 7x7 at batch 8,
 * 32 columns, ran its products at half the speed of wide ones) and V[e] in place. */
#define WINO4S_MR CR_AVX512_MR_F32 /* 12 */
static int64_t upanel_ld(int64_t K, int64_t C) {
    return wino4_ld((K + WINO4S_MR - 1) / WINO4S_MR * WINO4S_MR * C);
}

/* Floats of U's space (forward: U in 12-row panels; dw: the dU of each group) for nb blocks of
 * np dw groups on nt threads: with one block, a 12-row panel of U (forward) or a round of
 * WINO4S_DW_KROUND rows of dU (dw) per thread when that is less (block_panels,
 * conv_wino4s_dw.c) */
int64_t conv_wino4s_u_floats(const cr_conv2d_dims *d, int dw, int64_t nb, int64_t np,
                             int nt) {
    const int64_t C = d->C, K = d->K, kr = K < WINO4S_DW_KROUND ? K : WINO4S_DW_KROUND;
    const int64_t all = dw ? np * 36 * wino4_ld(K * C) : 36 * upanel_ld(K, C);
    const int64_t per = nt * 36 * wino4_ld((dw ? kr : WINO4S_MR) * C);
    return nb == 1 && per < all ? per : all;
}

/* dw: the blocks fall in up to WINO4S_DW_PARTS groups of consecutive blocks, each summed
 * into its own dU (fewer groups when their sums would pass the limit; 2 at least of 2+,
 * unless one dU takes more than half the limit) */
#define WINO4S_DW_PARTS 4
int conv_wino4s_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t limit, int dw,
                     int64_t dx_bytes) {
    const int64_t g = conv_wino4s_G(d, limit);
    if (g < 2) return 0;
    const int64_t du = 36 * (dw ? wino4_ld(d->K * d->C) : upanel_ld(d->K, d->C));
    const conv_plan before = *pl;
    pl->path = dw ? CONV_WINO4S_DW : CONV_WINO4S;
    pl->bl.G = g;
    pl->bl.cols = g * ((d->P + 3) / 4) * ((d->Q + 3) / 4);
    pl->nblocks = (d->N + g - 1) / g;
    pl->ws_elems = slot_floats(d, pl->bl.cols);
    if (dw) {
        pl->bl.rows = pl->nblocks < WINO4S_DW_PARTS ? pl->nblocks : WINO4S_DW_PARTS;
        /* 2 groups at least, but 1 when dU takes more than half the limit */
        const int64_t least = du * 4 > limit / 2 ? 1 : 2;
        while (pl->bl.rows > least && pl->bl.rows * du * 4 > limit) pl->bl.rows--;
        pl->ws_threads = pl->bl.rows > 1 ? pl->nt : 1;
        pl->ws_bytes = (conv_wino4s_u_floats(d, 1, pl->nblocks, pl->bl.rows, pl->nt) +
                        pl->ws_threads * pl->ws_elems) * 4;
        if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
    } else {
        pl->bl.rows = 0;
        pl->by_block = pl->nt > 1 && pl->nblocks >= pl->nt;
        pl->ws_threads = pl->by_block ? pl->nt : 1;
        pl->ws_bytes = (conv_wino4s_u_floats(d, 0, pl->nblocks, 1, pl->nt) +
                        pl->ws_threads * pl->ws_elems) * 4;
    }
    /* U (dU) beyond half the limit (conv_plan.c: wino4s_ok): only if all of it fits */
    if (du * 4 > limit / 2 && pl->ws_bytes > limit) {
        *pl = before;
        return 0;
    }
    return 1;
}

#ifdef CR_X86

/* V (36 x ldv) = B^T d B of every tile of images [n0, n0 + g): channel c, image j, tile row
 * tp at column c T + j Ti + tp TQ (T = g Ti); threads split (image, channel) */
void conv_wino4s_input_block(float *V, int64_t ldv, const float *inp, const cr_conv2d_dims *d,
                             int64_t n0, int64_t g, int nt) {
    const int64_t C = d->C, H = d->H, W = d->W;
    const int64_t TQ = (d->Q + 3) / 4, TP = (d->P + 3) / 4, Ti = TP * TQ, T = g * Ti;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < C; c++)
        conv_wino4s_input_planes_avx512(V + c * T, ldv, inp + (n0 * C + c) * H * W, C * H * W,
                                        g, H, W, d->ph, d->pw, TP, TQ);
}

/* rows [k0, k1) of U (k0 a multiple of WINO4S_MR), row k0 at Up */
static void weight_panels(float *Up, int64_t ldu, const float *w, int flip, int64_t K,
                          int64_t C, int64_t k0, int64_t k1, int nt) {
    const int64_t nkp = (k1 - k0 + WINO4S_MR - 1) / WINO4S_MR, ncq = (C + 15) / 16;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && (k1 - k0) * C >= 4096)
    for (int64_t b = 0; b < nkp * ncq; b++) {
        const int64_t kp = k0 + b / ncq * WINO4S_MR, cq = b % ncq;
        conv_wt4p_chunk_avx512(Up + (kp - k0) * C, ldu, w, flip, K, C, kp,
                               k1 - kp < WINO4S_MR ? k1 - kp : WINO4S_MR, cq * 16,
                               C - cq * 16 < 16 ? C - cq * 16 : 16);
    }
}

/* M[e] rows [k0, k1) = U[e] rows [k0, k1) @ V[e] (T columns), e < 36, row k of U[e] at
 * Up + e ldu + (k - k0) C: a panel of 12 rows of U[e] against the 32-column panels of V[e]
 * (which stays in L2); threads split e */
static void products(float *M, int64_t ldm, const float *Up, int64_t ldu, const float *V,
                     int64_t ldv, int64_t C, int64_t T, int64_t k0, int64_t k1, int nt) {
    cr_gemm_kit_f32 kit;
    cr_gemm_kit_get_f32(&kit);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int e = 0; e < 36; e++)
        for (int64_t k = k0; k < k1; k += WINO4S_MR)
            for (int64_t t0 = 0; t0 < T; t0 += kit.nr)
                kit.ukr_strided(C, Up + e * ldu + (k - k0) * C, 1, WINO4S_MR, V + e * ldv + t0,
                                T,
                                M + e * ldm + k * T + t0, T, 1,
                                k1 - k < WINO4S_MR ? k1 - k : WINO4S_MR,
                                T - t0 < kit.nr ? T - t0 : kit.nr, 1.0f, 0.0f, NULL, NULL);
}

/* images [n0, n0 + g): input transform, the 36 products (Up: all of U), output transform */
static void block(float *out, const float *inp, const float *Up, int64_t ldu,
                  const float *bias, const cr_conv2d_dims *d, int64_t n0, int64_t g,
                  float *V, int nt, int accumulate) {
    const int64_t C = d->C, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 3) / 4, TP = (P + 3) / 4, Ti = TP * TQ, T = g * Ti;
    const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(K * T);
    float *M = V + 36 * ldv;
    conv_wino4s_input_block(V, ldv, inp, d, n0, g, nt);
    products(M, ldm, Up, ldu, V, ldv, C, T, 0, K, nt);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < K; k++)
        conv_wino4s_output_planes_avx512(out + (n0 * K + k) * P * Q, K * P * Q, M + k * T, ldm,
                                         g, P, Q, TP, TQ, bias ? bias[k] : 0.0f, accumulate);
}

/* One block of the whole batch, a panel of U per thread at U (36 x 12 C floats, 0.9 MiB at
 * C = 512): each thread makes the panels of U it takes and runs their products at once, the
 * panel still in L2, instead of all of U going out to memory and back (512->512: 38 MiB); no
 * thread waits on another's panel */
static void block_panels(float *out, const float *inp, const float *w, int flip,
                        const float *bias, const cr_conv2d_dims *d, float *U, float *V, int nt,
                        int accumulate) {
    const int64_t N = d->N, C = d->C, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 3) / 4, TP = (P + 3) / 4, Ti = TP * TQ, T = N * Ti;
    const int64_t ldv = wino4_ld(C * T), ldm = wino4_ld(K * T), ldp = wino4_ld(WINO4S_MR * C);
    const int64_t nkp = (K + WINO4S_MR - 1) / WINO4S_MR;
    float *M = V + 36 * ldv;
    conv_wino4s_input_block(V, ldv, inp, d, 0, N, nt);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *Up = U + CR_THREAD_NUM() * 36 * ldp;
        #pragma omp for schedule(static)
        for (int64_t kp = 0; kp < nkp; kp++) {
            const int64_t k0 = kp * WINO4S_MR, mk = K - k0 < WINO4S_MR ? K - k0 : WINO4S_MR;
            weight_panels(Up, ldp, w, flip, K, C, k0, k0 + mk, 1);
            products(M, ldm, Up, ldp, V, ldv, C, T, k0, k0 + mk, 1);
        }
    }
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < K; k++)
        conv_wino4s_output_planes_avx512(out + k * P * Q, K * P * Q, M + k * T, ldm, N, P, Q,
                                         TP, TQ, bias ? bias[k] : 0.0f, accumulate);
}

static int forward(float *out, const float *inp, const float *w, int flip, const float *bias,
                   const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    const int64_t N = d->N, C = d->C, K = d->K, G = pl->bl.G, ldu = upanel_ld(K, C);
    const int nt = pl->nt;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    const int64_t uf = conv_wino4s_u_floats(d, 0, pl->nblocks, 1, nt);
    float *U = ws, *slots = U + uf;
    if (uf < 36 * ldu) { /* one block: U made panel by panel */
        block_panels(out, inp, w, flip, bias, d, U, slots, nt, accumulate);
    } else if (pl->by_block) { /* threads take whole blocks */
        weight_panels(U, ldu, w, flip, K, C, 0, K, nt);
        #pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t blk = 0; blk < pl->nblocks; blk++) {
            const int64_t n0 = blk * G, g = N - n0 < G ? N - n0 : G;
            block(out, inp, U, ldu, bias, d, n0, g, slots + CR_THREAD_NUM() * pl->ws_elems, 1,
                  accumulate);
        }
    } else {
        weight_panels(U, ldu, w, flip, K, C, 0, K, nt);
        for (int64_t n0 = 0; n0 < N; n0 += G)
            block(out, inp, U, ldu, bias, d, n0, N - n0 < G ? N - n0 : G, slots, nt, accumulate);
    }
    conv_ws_free(ws);
    return 0;
}

int conv_forward_wino4s_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    return forward(out, inp, w, 0, bias, d, pl, accumulate);
}

int conv_wino4s_backward_input_f32(float *dinp, const float *dout, const float *w,
                                   const conv_plan *pl) {
    conv_plan dx_plan;
    conv_plan_make(&dx_plan, &pl->dd, 0, 4);
    if (dx_plan.path != CONV_WINO4S) return 0;
    return forward(dinp, dout, w, 1, NULL, &pl->dd, &dx_plan, 1) == 0 ? 1 : -1;
}

#else

int conv_forward_wino4s_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    (void)out; (void)inp; (void)w; (void)bias; (void)d; (void)pl; (void)accumulate;
    return -1; /* never planned: conv_wino4s_G needs AVX-512 */
}

int conv_wino4s_backward_input_f32(float *dinp, const float *dout, const float *w,
                                   const conv_plan *pl) {
    (void)dinp; (void)dout; (void)w; (void)pl;
    return 0;
}

#endif /* CR_X86 */
