/* conv_phase.c — a strided float32 layer (stride 2 along one or both axes, no dilation) run
 * as ONE stride-1 convolution of its "phase" image (space-to-depth), plan path CONV_PHASE.
 *
 * With xp the zero-padded input, y[k, p, q] = sum_{c,r,s} w[k,c,r,s] xp[c, p*sh + r, q*sw + s].
 * Writing r = i*sh + a, s = j*sw + b (0 <= a < sh, 0 <= b < sw) splits the sum into sh*sw
 * phases, each a stride-1 correlation of the subsampled image xp[c, a::sh, b::sw] with the
 * subsampled kernel w[k, c, a::sh, b::sw]. Stacking the phases as channels,
 *   x'[n, c*sh*sw + a*sw + b, i, j] = xp[n, c, i*sh + a, j*sw + b]          (0 outside x)
 *   w'[k, c*sh*sw + a*sw + b, i, j] = w[k, c, i*sh + a, j*sw + b]           (0 past R, S)
 * gives y = conv(x', w') with stride 1, no padding, kernel ceil(R/sh) x ceil(S/sw) and
 * x' of (P + R' - 1) x (Q + S' - 1): the stride-1 paths (implicit forward, dx as a
 * convolution, implicit dw) then run it, where the strided layer would build im2col. The
 * zero taps of w' (R' sh S' sw >= R S) cost extra products, so conv_plan.c takes this path
 * only where they are few (10x5 and 20x5 kernels: 1.2x) and the stride-1 plan of x' is
 * implicit. Backward: dx' and dw' of the stride-1 layer, then
 *   dx[n, c, h, w] += dx'[n, c', i, j]   (the one (c', i, j) each input position maps to)
 *   dw[k, c, r, s] += dw'[k, c', i, j]   (the taps of w that exist)
 * db is the stride-1 layer's, summed straight into db.
 *
 * Memory: x' (and dx') for G images at a time, G from the sizes and the workspace limit
 * only (conv_phase_images), so results never depend on the thread count; the stride-1 calls
 * take their own scratch. Copies split (image, channel) planes over the plan's threads;
 * every output element is written by one thread, from one source value.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"

int conv_phase_dims(const cr_conv2d_dims *d, cr_conv2d_dims *e) {
    if (d->dh != 1 || d->dw != 1 || d->sh < 1 || d->sw < 1) return -1;
    *e = *d;
    e->C = d->C * d->sh * d->sw;
    e->R = (d->R + d->sh - 1) / d->sh;
    e->S = (d->S + d->sw - 1) / d->sw;
    e->H = d->P + e->R - 1;
    e->W = d->Q + e->S - 1;
    e->sh = e->sw = 1;
    e->ph = e->pw = 0;
    if (cr_conv2d_dims_init(e) != 0 || e->P != d->P || e->Q != d->Q) return -1;
    return 0;
}

/* images per chunk: x' (and dx' for the backward) of a chunk fit the workspace limit,
 * one image at least */
int64_t conv_phase_images(const cr_conv2d_dims *e, int which, int64_t elsize, int64_t limit) {
    const int64_t per = e->C * e->H * e->W * elsize * (which ? 2 : 1);
    int64_t g = limit / per;
    return g < 1 ? 1 : g > e->N ? e->N : g;
}

/* x' of images [n0, n0 + g) (layout above) */
static void phase_input(float *xs, const float *x, const cr_conv2d_dims *d,
                        const cr_conv2d_dims *e, int64_t n0, int64_t g, int nt) {
    const int64_t C = d->C, H = d->H, W = d->W, sh = d->sh, sw = d->sw, ss = sh * sw;
    const int64_t Hs = e->H, Ws = e->W;
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t nc = 0; nc < g * C; nc++) {
        const float *src = x + (n0 * C + nc) * H * W;
        for (int64_t a = 0; a < sh; a++)
            for (int64_t b = 0; b < sw; b++) {
                float *dst = xs + (nc * ss + a * sw + b) * Hs * Ws;
                /* columns j with 0 <= j*sw + b - pw < W: [j0, j1) */
                const int64_t off = b - d->pw;
                int64_t j0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t j1 = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
                if (j1 > Ws) j1 = Ws;
                if (j0 > j1) j0 = j1;
                for (int64_t i = 0; i < Hs; i++) {
                    float *row = dst + i * Ws;
                    const int64_t h = i * sh + a - d->ph;
                    if (h < 0 || h >= H) {
                        memset(row, 0, (size_t)Ws * sizeof(float));
                        continue;
                    }
                    const float *s = src + h * W;
                    for (int64_t j = 0; j < j0; j++) row[j] = 0.0f;
                    if (sw == 1)
                        memcpy(row + j0, s + j0 + off, (size_t)(j1 - j0) * sizeof(float));
                    else
                        for (int64_t j = j0; j < j1; j++) row[j] = s[j * sw + off];
                    for (int64_t j = j1; j < Ws; j++) row[j] = 0.0f;
                }
            }
    }
}

/* dx[images n0..n0+g) += the entries of dx' that are input positions */
static void phase_input_grad(float *dx, const float *dxs, const cr_conv2d_dims *d,
                             const cr_conv2d_dims *e, int64_t n0, int64_t g, int nt) {
    const int64_t C = d->C, H = d->H, W = d->W, sh = d->sh, sw = d->sw, ss = sh * sw;
    const int64_t Hs = e->H, Ws = e->W;
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t nc = 0; nc < g * C; nc++) {
        float *dst = dx + (n0 * C + nc) * H * W;
        for (int64_t h = 0; h < H; h++) {
            const int64_t hp = h + d->ph, i = hp / sh, a = hp % sh;
            if (i >= Hs) continue; /* rows no output reads */
            for (int64_t b = 0; b < sw; b++) {
                const float *s = dxs + (nc * ss + a * sw + b) * Hs * Ws + i * Ws;
                /* w = j*sw + b - pw for j in [j0, j1) */
                const int64_t off = b - d->pw;
                int64_t j0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t j1 = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
                if (j1 > Ws) j1 = Ws;
                float *row = dst + h * W;
                for (int64_t j = j0; j < j1; j++) row[j * sw + off] += s[j];
            }
        }
    }
}

/* w' from w (zero past R, S) */
static void phase_weight(float *ws, const float *w, const cr_conv2d_dims *d,
                         const cr_conv2d_dims *e) {
    const int64_t C = d->C, R = d->R, S = d->S, sh = d->sh, sw = d->sw;
    const int64_t Rs = e->R, Ss = e->S;
    for (int64_t k = 0; k < d->K; k++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t a = 0; a < sh; a++)
                for (int64_t b = 0; b < sw; b++)
                    for (int64_t i = 0; i < Rs; i++)
                        for (int64_t j = 0; j < Ss; j++) {
                            const int64_t r = i * sh + a, s = j * sw + b;
                            ws[(((k * C + c) * sh + a) * sw + b) * Rs * Ss + i * Ss + j] =
                                r < R && s < S ? w[((k * C + c) * R + r) * S + s] : 0.0f;
                        }
}

static void phase_weight_grad(float *dw, const float *dws, const cr_conv2d_dims *d,
                              const cr_conv2d_dims *e) {
    const int64_t C = d->C, R = d->R, S = d->S, sh = d->sh, sw = d->sw;
    const int64_t Rs = e->R, Ss = e->S;
    for (int64_t k = 0; k < d->K; k++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++) {
                    const int64_t a = r % sh, i = r / sh, b = s % sw, j = s / sw;
                    dw[((k * C + c) * R + r) * S + s] +=
                        dws[(((k * C + c) * sh + a) * sw + b) * Rs * Ss + i * Ss + j];
                }
}

int conv_phase_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                           const cr_conv2d_dims *d, const conv_plan *pl) {
    cr_conv2d_dims e;
    if (conv_phase_dims(d, &e) != 0) return -1;
    const int64_t G = pl->bl.G, img = e.C * e.H * e.W, KPQ = d->K * d->P * d->Q;
    float *ws = (float *)malloc((size_t)(d->K * e.C * e.R * e.S) * sizeof(float));
    float *xs = (float *)malloc((size_t)(G * img) * sizeof(float));
    int rc = -1;
    if (!ws || !xs) goto done;
    phase_weight(ws, w, d, &e);
    for (int64_t n0 = 0; n0 < d->N; n0 += G) {
        const int64_t g = d->N - n0 < G ? d->N - n0 : G;
        cr_conv2d_dims eg = e;
        eg.N = g;
        phase_input(xs, inp, d, &e, n0, g, pl->nt);
        if (cr_conv2d_forward_f32(out + n0 * KPQ, xs, ws, bias, &eg) != 0) goto done;
    }
    rc = 0;
done:
    free(ws);
    free(xs);
    return rc;
}

int conv_phase_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *w, const cr_conv2d_dims *d,
                            const conv_plan *pl) {
    cr_conv2d_dims e;
    if (conv_phase_dims(d, &e) != 0) return -1;
    const int64_t G = pl->bl.G, img = e.C * e.H * e.W, KPQ = d->K * d->P * d->Q;
    const int64_t wsz = d->K * e.C * e.R * e.S;
    float *ws = (float *)malloc((size_t)wsz * sizeof(float));
    float *dws = dweight ? (float *)calloc((size_t)wsz, sizeof(float)) : NULL;
    float *xs = (float *)malloc((size_t)(G * img) * sizeof(float));
    float *dxs = dinp ? (float *)malloc((size_t)(G * img) * sizeof(float)) : NULL;
    int rc = -1;
    if (!ws || !xs || (dweight && !dws) || (dinp && !dxs)) goto done;
    phase_weight(ws, w, d, &e);
    for (int64_t n0 = 0; n0 < d->N; n0 += G) {
        const int64_t g = d->N - n0 < G ? d->N - n0 : G;
        cr_conv2d_dims eg = e;
        eg.N = g;
        if (dweight) phase_input(xs, inp, d, &e, n0, g, pl->nt);
        if (dxs) memset(dxs, 0, (size_t)(g * img) * sizeof(float));
        if (cr_conv2d_backward_f32(dxs, dws, dbias, dout + n0 * KPQ, xs, ws, &eg) != 0)
            goto done;
        if (dxs) phase_input_grad(dinp, dxs, d, &e, n0, g, pl->nt);
    }
    if (dweight) phase_weight_grad(dweight, dws, d, &e);
    rc = 0;
done:
    free(ws);
    free(dws);
    free(xs);
    free(dxs);
    return rc;
}
