/* conv_implicit.c — the float32 convolution paths that skip im2col (x86 with AVX-512; the
 * plan in conv_plan.c picks them, their products are the kernels of conv_avx512.c):
 *   conv_forward_implicit_f32          forward (and dx as a convolution), CONV_IMPLICIT
 *   conv_backward_implicit_f32         dx, dw, db of a small layer, CONV_IMPLICIT
 *   conv_backward_weight_implicit_f32  dw, db of a larger one, CONV_IMPLICIT_DW
 *   conv_backward_input_as_conv_f32    dx as the forward of the flipped kernel
 * Layout: the image zero-padded to (C, Hp, Wp) and the output "wide", P rows of Wp (see
 * implicit_fwd_ok in conv_plan.c); rows of the im2col matrix are offsets into xp.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"
#ifdef CR_X86

/* Image n of the forward with nt threads sharing it: the padded copy made first (serial: a
 * few % of the product), then each thread takes a run of wide columns (whole tiles of 48 of
 * the kernel) and copies its own valid columns out, so the region has no barrier (a
 * descheduled thread stalls the others only at its end). Every output is the same sum as
 * with one thread. xp's borders are zero. */
static void forward_shared_image(float *y_n, const float *x_n, const float *w, const float *bias,
                                 const cr_conv2d_dims *d, const int64_t *offs, float *xp,
                                 float *yw, int nt, int accumulate) {
    const int64_t C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    const int64_t nchunks = (nw + 47) / 48;
    if (padded)
        for (int64_t c = 0; c < C; c++)
            for (int64_t h = 0; h < H; h++)
                memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                       (size_t)W * sizeof(float));
    #pragma omp parallel num_threads(nt)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        const int64_t j0 = 48 * (nchunks * t / T);
        const int64_t j1 = 48 * (nchunks * (t + 1) / T) < nw ? 48 * (nchunks * (t + 1) / T) : nw;
        if (j1 > j0) {
            cr_conv_bcast_f32_avx512(K, j1 - j0, CRS, w, CRS, 1, (padded ? xp : x_n) + j0, 0,
                                     offs, yw + j0, nw, NULL, 0, bias);
            for (int64_t k = 0; k < K; k++)
                for (int64_t p = j0 / Wp; p <= (j1 - 1) / Wp; p++) {
                    const int64_t lo = p * Wp > j0 ? p * Wp : j0;
                    const int64_t hi = p * Wp + Q < j1 ? p * Wp + Q : j1;
                    float *dst = y_n + k * PQ + lo - p * (Wp - Q);
                    const float *src = yw + k * nw + lo;
                    if (accumulate)
                        for (int64_t q = 0; q < hi - lo; q++) dst[q] += src[q];
                    else if (hi > lo)
                        memcpy(dst, src, (size_t)(hi - lo) * sizeof(float));
                }
        }
    }
}

/* The implicit-im2col forward (see implicit_fwd_ok): per image, pad into xp (borders
 * zeroed once), y_wide (K, nw) = w @ [rows of xp at offs] + b, copy the Q valid columns
 * of each wide row out. Threads take whole images (pl->by_block), or all work on each
 * image in turn when there are fewer images than threads (forward_shared_image). */
int conv_forward_implicit_f32(float *out, const float *inp, const float *w, const float *bias,
                              const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    const int64_t ws_elems = pl->ws_elems;
    const int nt = pl->nt;
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    const int nslices = (int)pl->ws_threads;
    float *ws = (float *)conv_ws_alloc(nslices * ws_elems * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    if (padded) /* zero borders: only the interior of xp is written per image */
        for (int t = 0; t < nslices; t++)
            memset(ws + t * ws_elems, 0, (size_t)(C * HWp) * sizeof(float));
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * d->dh * Wp + s * d->dw;
    if (!pl->by_block) {
        for (int64_t n = 0; n < N; n++)
            forward_shared_image(out + n * K * PQ, inp + n * C * H * W, w, bias, d, offs, ws,
                                 ws + C * HWp, nt, accumulate);
        free(offs);
        conv_ws_free(ws);
        return 0;
    }
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM();
        float *xp = ws + t * ws_elems, *yw = xp + C * HWp;
        #pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const float *x_n = inp + n * C * H * W;
            if (padded)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t h = 0; h < H; h++)
                        memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                               (size_t)W * sizeof(float));
            cr_conv_bcast_f32_avx512(K, nw, CRS, w, CRS, 1, padded ? xp : x_n, 0, offs, yw, nw,
                                     NULL, 0, bias);
            float *y_n = out + n * K * PQ;
            for (int64_t k = 0; k < K; k++)
                for (int64_t p = 0; p < P; p++) {
                    float *dst = y_n + k * PQ + p * Q;
                    const float *src = yw + k * nw + p * Wp;
                    if (accumulate)
                        for (int64_t q = 0; q < Q; q++) dst[q] += src[q];
                    else
                        memcpy(dst, src, (size_t)Q * sizeof(float));
                }
        }
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}

/* The implicit-im2col backward (same conditions as the forward, and a small dw), in the
 * forward's wide layout: dy_wide (K, nw) is dy with zero junk columns, xp the padded image.
 *   dw[k, crs] += sum_j dy_wide[k, j] * xp[offs[crs] + j]        (dot kernel, rows by offset)
 *   dxp[offs[crs] + j] += sum_k w[k, crs] * dy_wide[k, j]       (broadcast kernel writing
 *                         rows of dxp at the offsets, one after another), dx_n += interior
 * The junk columns of dy_wide are zero, so they add nothing to dw or dxp. dw: threads own
 * CRS slices (each builds xp and dy_wide itself); dx: threads take whole images. */
int conv_backward_implicit_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *w, const cr_conv2d_dims *d,
                               const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    const int nt = pl->nt;
    const int64_t per_t = pl->ws_elems; /* xp, dxp, dy_wide, dw partial sums */
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    float *ws = (float *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    memset(ws, 0, (size_t)(nt * per_t) * sizeof(float)); /* borders, junk, partial sums */
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * d->dh * Wp + s * d->dw;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        float *xp = ws + t * per_t, *dxp = xp + C * HWp, *dyw = dxp + C * HWp;
        float *dw_acc = dyw + K * nw;
        /* dy_n (K, P, Q) -> dy_wide (K, nw); the junk columns stay zero */
#define FILL_DY_WIDE(n)                                                                    \
        for (int64_t k = 0; k < K; k++)                                                    \
            for (int64_t p = 0; p < P; p++)                                                \
                memcpy(dyw + k * nw + p * Wp, dout + (n) * K * PQ + k * PQ + p * Q,        \
                       (size_t)Q * sizeof(float))
        if (dbias) conv_bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t r0 = CRS * t / T, r1 = CRS * (t + 1) / T;
        if (dweight && r1 > r0) {
            for (int64_t n = 0; n < N; n++) {
                const float *x_n = inp + n * C * H * W;
                if (padded)
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t h = 0; h < H; h++)
                            memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                                   (size_t)W * sizeof(float));
                FILL_DY_WIDE(n);
                cr_conv_dot_acc_f32_avx512(K, r1 - r0, nw, dyw, nw, padded ? xp : x_n, offs + r0,
                                           dw_acc);
            }
            cr_conv_dot_reduce_f32_avx512(K, r1 - r0, dw_acc, dweight + r0, CRS);
        }
        if (dinp) {
            #pragma omp for schedule(static)
            for (int64_t n = 0; n < N; n++) {
                memset(dxp, 0, (size_t)(C * HWp) * sizeof(float));
                FILL_DY_WIDE(n);
                cr_conv_bcast_f32_avx512(CRS, nw, K, w, 1, CRS, dyw, nw, NULL, dxp, 0, offs, 1,
                                         NULL);
                float *dx_n = dinp + n * C * H * W;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t h = 0; h < H; h++) {
                        const float *src = dxp + c * HWp + (h + d->ph) * Wp + d->pw;
                        float *dst = dx_n + (c * H + h) * W;
                        for (int64_t i = 0; i < W; i++) dst[i] += src[i];
                    }
            }
        }
#undef FILL_DY_WIDE
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}

/* dw and db of a large layer without im2col (see implicit_dw_ok), in the forward's wide
 * layout: per image n, in order,
 *   dw[k, crs] += sum_j dy_wide[k, j] * xp[offs[crs] + j]   (dot kernel, rows by offset)
 * Threads own CRS slices of dw (each builds xp and dy_wide itself) and rows of db, so each
 * element is summed in the same order whatever the thread count. */
int conv_backward_weight_implicit_f32(float *dweight, float *dbias, const float *dout,
                                      const float *inp, const cr_conv2d_dims *d,
                                      const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t Hp = H + 2 * d->ph, Wp = W + 2 * d->pw, HWp = Hp * Wp;
    const int64_t nw = (P - 1) * Wp + Q, CRS = C * d->R * d->S, PQ = P * Q;
    const int padded = d->ph > 0 || d->pw > 0;
    const int nt = pl->nt;
    const int64_t per_t = pl->ws_elems; /* xp (C, Hp, Wp), dy_wide (K, nw) */
    int64_t *offs = (int64_t *)malloc((size_t)CRS * sizeof(int64_t));
    float *ws = (float *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(float));
    if (!offs || !ws) {
        free(offs);
        conv_ws_free(ws);
        return -1;
    }
    memset(ws, 0, (size_t)(nt * per_t) * sizeof(float)); /* borders and junk columns */
    for (int64_t c = 0, i = 0; c < C; c++)
        for (int64_t r = 0; r < d->R; r++)
            for (int64_t s = 0; s < d->S; s++, i++) offs[i] = c * HWp + r * d->dh * Wp + s * d->dw;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        float *xp = ws + t * per_t, *dyw = xp + C * HWp;
        if (dbias) conv_bias_grad_rows_f32(dbias, dout, d, K * t / T, K * (t + 1) / T);
        const int64_t r0 = CRS * t / T, r1 = CRS * (t + 1) / T;
        const int64_t c0 = r0 / (d->R * d->S), c1 = (r1 + d->R * d->S - 1) / (d->R * d->S);
        if (dweight && r1 > r0) {
            for (int64_t n = 0; n < N; n++) {
                const float *x_n = inp + n * C * H * W;
                if (padded) /* only the channels of this thread's slice are read */
                    for (int64_t c = c0; c < c1; c++)
                        for (int64_t h = 0; h < H; h++)
                            memcpy(xp + c * HWp + (h + d->ph) * Wp + d->pw, x_n + (c * H + h) * W,
                                   (size_t)W * sizeof(float));
                for (int64_t k = 0; k < K; k++)
                    for (int64_t p = 0; p < P; p++)
                        memcpy(dyw + k * nw + p * Wp, dout + n * K * PQ + k * PQ + p * Q,
                               (size_t)Q * sizeof(float));
                cr_conv_dot_f32_avx512(K, r1 - r0, nw, dyw, nw, padded ? xp : x_n, 0, offs + r0,
                                       dweight + r0, CRS);
            }
        }
    }
    free(offs);
    conv_ws_free(ws);
    return 0;
}

#endif /* CR_X86 */

/* dx as the forward of pl->dd (see dx_as_conv_ok in conv_plan.c), accumulating: dy convolved
 * with the weights flipped in space and transposed in channels. conv_g5.c (dx_as_conv 4),
 * conv_rows.c (3) and Winograd F(2x2) (2; F(4x4) and the batched F(4x4) ran before this
 * call, conv_gemm_tmpl.h) read w flipped in place; the implicit forward (1) takes a flipped
 * copy. */
int conv_backward_input_as_conv_f32(float *dinp, const float *dout, const float *w,
                                    const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t K = d->K, C = d->C, R = d->R, S = d->S;
    conv_plan dx_plan;
    conv_plan_make(&dx_plan, &pl->dd, 0, 4);
#ifdef CR_X86
    if (pl->dx_as_conv == 6 && dx_plan.path == CONV_WINO25) /* w read flipped in place */
        return conv_wino25_forward_f32(dinp, dout, w, NULL, &pl->dd, &dx_plan, 1, 1);
    if (pl->dx_as_conv == 6) { /* dd's plan changed (threads): conv_g5.c, as dx_as_conv 4 */
        conv_g5_plan(&dx_plan, &pl->dd);
        return conv_g5_forward_f32(dinp, dout, w, NULL, &pl->dd, &dx_plan, 1, 1);
    }
    if (pl->dx_as_conv == 4) /* conv_g5.c, flipped weights packed from w */
        return conv_g5_forward_f32(dinp, dout, w, NULL, &pl->dd, &dx_plan, 1, 1);
    if (pl->dx_as_conv == 3) /* conv_rows.c, flipped weights packed from w */
        return conv_rows_backward_input_f32(dinp, dout, w, &pl->dd, dx_plan.nt);
#endif
    if (dx_plan.path == CONV_WINOGRAD) /* w read flipped in place */
        return conv_winograd_backward_input_f32(dinp, dout, w, &pl->dd, &dx_plan);
#ifdef CR_X86
    float *wf = (float *)malloc((size_t)(K * C * R * S) * sizeof(float));
    if (!wf) return -1;
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    wf[((c * K + k) * R + r) * S + s] = w[((k * C + c) * R + (R - 1 - r)) * S + (S - 1 - s)];
    const int rc = conv_forward_implicit_f32(dinp, dout, wf, NULL, &pl->dd, &dx_plan, 1);
    free(wf);
    return rc;
#else
    (void)K, (void)C, (void)R, (void)S;
    return -1; /* not planned: the implicit paths need AVX-512 */
#endif
}
