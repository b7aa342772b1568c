/* conv_phase.c — a strided float32 layer (stride 2 along one or both axes, no dilation) run
 * as stride-1 convolutions of its "phase" images (space-to-depth), plan path CONV_PHASE.
 *
 * With xp the zero-padded input, y[k, p, q] = sum_{c,r,s} w[k,c,r,s] xp[c, p*sh + r, q*sw + s].
 * Writing r = i*sh + a, s = j*sw + b (0 <= a < sh, 0 <= b < sw) splits the sum into phases,
 * each a stride-1 correlation of the subsampled image xp[c, a::sh, b::sw] with the
 * subsampled kernel w[k, c, a::sh, b::sw]. Per column phase b, the row phases are stacked
 * as channels:
 *   x'_b[n, c*sh + a, i, j] = xp[n, c, i*sh + a, j*sw + b]        (0 outside x)
 *   w'_b[k, c*sh + a, i, j] = w[k, c, i*sh + a, j*sw + b]         (0 past R)
 * and y = sum_b conv(x'_b, w'_b), stride 1, no padding, kernel ceil(R/sh) x S_b with
 * S_b = ceil((S - b)/sw), x'_b of (P + R' - 1) x (Q + S_b - 1). The stride-1 paths
 * (implicit forward, dx as a convolution, implicit dw) run each, where the strided layer
 * built im2col. Column phases are separate calls, so an odd S adds no zero taps; an odd R
 * adds a zero row to the kernel (conv_plan.c: phase_ok takes the path where that costs at
 * most 25%). The forward adds the phases' outputs in the order b = 0, 1. Backward: dx'_b,
 * dw'_b of each stride-1 layer, then
 *   dx[n, c, h, w] += dx'_b[n, c', i, j]   (the one (b, c', i, j) each input position maps to)
 *   dw[k, c, r, s] += dw'_b[k, c', i, j]   (the taps of w that exist)
 * db is the phase-0 layer's, summed straight into db.
 *
 * Memory: x'_b (and dx'_b) for G images at a time, G from the sizes and the workspace limit
 * only (conv_phase_images), so results never depend on the thread count; the stride-1 calls
 * take their own scratch. Copies split (image, channel) planes over the plan's threads;
 * every output element is written by one thread, from one source value.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"

int conv_phase_dims(const cr_conv2d_dims *d, int64_t b, cr_conv2d_dims *e) {
    if (d->dh != 1 || d->dw != 1 || d->sh < 1 || d->sw < 1 || b < 0 || b >= d->sw) return -1;
    *e = *d;
    e->C = d->C * d->sh;
    e->R = (d->R + d->sh - 1) / d->sh;
    e->S = (d->S - b + d->sw - 1) / d->sw;
    if (e->S < 1) return 1; /* no taps in this column phase */
    e->H = d->P + e->R - 1;
    e->W = d->Q + e->S - 1;
    e->sh = e->sw = 1;
    e->ph = e->pw = 0;
    if (cr_conv2d_dims_init(e) != 0 || e->P != d->P || e->Q != d->Q) return -1;
    return 0;
}

/* values of x'_b per image, summed over the column phases */
static int64_t phase_image_elems(const cr_conv2d_dims *d) {
    int64_t n = 0;
    cr_conv2d_dims e;
    for (int64_t b = 0; b < d->sw; b++)
        if (conv_phase_dims(d, b, &e) == 0) n += e.C * e.H * e.W;
    return n;
}

/* images per chunk: the phase images (and their gradients for the backward) of a chunk fit
 * the workspace limit, one image at least */
int64_t conv_phase_images(const cr_conv2d_dims *d, int which, int64_t elsize, int64_t limit) {
    const int64_t per = phase_image_elems(d) * elsize * (which ? 2 : 1);
    int64_t g = limit / per;
    return g < 1 ? 1 : g > d->N ? d->N : g;
}

/* x'_b of images [n0, n0 + g) (layout above) */
static void phase_input(float *xs, const float *x, const cr_conv2d_dims *d,
                        const cr_conv2d_dims *e, int64_t b, int64_t n0, int64_t g, int nt) {
    const int64_t C = d->C, H = d->H, W = d->W, sh = d->sh, sw = d->sw;
    const int64_t Hs = e->H, Ws = e->W;
    /* columns j with 0 <= j*sw + b - pw < W: [j0, j1) */
    const int64_t off = b - d->pw;
    int64_t j0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t j1 = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
    if (j1 > Ws) j1 = Ws;
    if (j0 > j1) j0 = j1;
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t nc = 0; nc < g * C; nc++) {
        const float *src = x + (n0 * C + nc) * H * W;
        for (int64_t a = 0; a < sh; a++) {
            float *dst = xs + (nc * sh + a) * Hs * Ws;
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
#ifdef CR_X86
                else if (sw == 2 && conv_avx512())
                    cr_phase_gather2_f32_avx512(row + j0, s + j0 * 2 + off, j1 - j0);
#endif
                else
                    for (int64_t j = j0; j < j1; j++) row[j] = s[j * sw + off];
                for (int64_t j = j1; j < Ws; j++) row[j] = 0.0f;
            }
        }
    }
}

/* dx[images n0..n0+g) += the entries of dx'_b that are input positions */
static void phase_input_grad(float *dx, const float *dxs, const cr_conv2d_dims *d,
                             const cr_conv2d_dims *e, int64_t b, int64_t n0, int64_t g,
                             int nt) {
    const int64_t C = d->C, H = d->H, W = d->W, sh = d->sh, sw = d->sw;
    const int64_t Hs = e->H, Ws = e->W;
    /* w = j*sw + b - pw for j in [j0, j1) */
    const int64_t off = b - d->pw;
    int64_t j0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t j1 = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
    if (j1 > Ws) j1 = Ws;
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t nc = 0; nc < g * C; nc++) {
        float *dst = dx + (n0 * C + nc) * H * W;
        for (int64_t h = 0; h < H; h++) {
            const int64_t hp = h + d->ph, i = hp / sh, a = hp % sh;
            if (i >= Hs) continue; /* rows no output reads */
            const float *s = dxs + (nc * sh + a) * Hs * Ws + i * Ws;
            float *row = dst + h * W;
#ifdef CR_X86
            if (sw == 2 && conv_avx512() && j1 > j0) {
                cr_phase_scatter2_add_f32_avx512(row + j0 * 2 + off, s + j0, j1 - j0);
                continue;
            }
#endif
            for (int64_t j = j0; j < j1; j++) row[j * sw + off] += s[j];
        }
    }
}

/* w'_b from w (zero past R) */
static void phase_weight(float *ws, const float *w, const cr_conv2d_dims *d,
                         const cr_conv2d_dims *e, int64_t b) {
    const int64_t R = d->R, S = d->S, sh = d->sh, sw = d->sw, Rs = e->R, Ss = e->S;
    for (int64_t kc = 0; kc < d->K * d->C; kc++)
        for (int64_t a = 0; a < sh; a++)
            for (int64_t i = 0; i < Rs; i++)
                for (int64_t j = 0; j < Ss; j++) {
                    const int64_t r = i * sh + a;
                    ws[((kc * sh + a) * Rs + i) * Ss + j] =
                        r < R ? w[(kc * R + r) * S + j * sw + b] : 0.0f;
                }
}

static void phase_weight_grad(float *dw, const float *dws, const cr_conv2d_dims *d,
                              const cr_conv2d_dims *e, int64_t b) {
    const int64_t R = d->R, S = d->S, sh = d->sh, sw = d->sw, Rs = e->R, Ss = e->S;
    for (int64_t kc = 0; kc < d->K * d->C; kc++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < Ss; j++)
                dw[(kc * R + r) * S + j * sw + b] +=
                    dws[((kc * sh + r % sh) * Rs + r / sh) * Ss + j];
}

/* Forward: column phase 0 writes y (with the bias), the others add theirs, in order. */
int conv_phase_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                           const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t G = pl->bl.G, KPQ = d->K * d->P * d->Q;
    const int64_t wsz = d->K * d->C * d->R * d->S * d->sh; /* >= any w'_b */
    float *ws = (float *)malloc((size_t)wsz * sizeof(float));
    float *xs = (float *)malloc((size_t)(G * phase_image_elems(d)) * sizeof(float));
    float *tmp = d->sw > 1 ? (float *)malloc((size_t)(G * KPQ) * sizeof(float)) : NULL;
    int rc = -1;
    if (!ws || !xs || (d->sw > 1 && !tmp)) goto done;
    for (int64_t n0 = 0; n0 < d->N; n0 += G) {
        const int64_t g = d->N - n0 < G ? d->N - n0 : G;
        for (int64_t b = 0; b < d->sw; b++) {
            cr_conv2d_dims e;
            if (conv_phase_dims(d, b, &e) != 0) continue;
            e.N = g;
            phase_weight(ws, w, d, &e, b);
            phase_input(xs, inp, d, &e, b, n0, g, pl->nt);
            float *y = b == 0 ? out + n0 * KPQ : tmp;
            if (cr_conv2d_forward_f32(y, xs, ws, b == 0 ? bias : NULL, &e) != 0) goto done;
            if (b > 0) {
                float *o = out + n0 * KPQ;
                #pragma omp parallel for num_threads(pl->nt) schedule(static)
                for (int64_t i = 0; i < g * KPQ; i++) o[i] += tmp[i];
            }
        }
    }
    rc = 0;
done:
    free(ws);
    free(xs);
    free(tmp);
    return rc;
}

/* Backward: per chunk and column phase, dx'_b, dw'_b (summed over chunks) and, with phase
 * 0, db; then dx += dx'_b and dw += dw'_b. */
int conv_phase_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *w, const cr_conv2d_dims *d,
                            const conv_plan *pl) {
    const int64_t G = pl->bl.G, KPQ = d->K * d->P * d->Q;
    const int64_t wsz = d->K * d->C * d->R * d->S * d->sh; /* >= any w'_b */
    const int64_t img = phase_image_elems(d);
    float *ws = (float *)malloc((size_t)wsz * sizeof(float));
    float *dws = dweight ? (float *)malloc((size_t)(d->sw * wsz) * sizeof(float)) : NULL;
    float *xs = (float *)malloc((size_t)(G * img) * sizeof(float));
    float *dxs = dinp ? (float *)malloc((size_t)(G * img) * sizeof(float)) : NULL;
    int rc = -1;
    if (!ws || !xs || (dweight && !dws) || (dinp && !dxs)) goto done;
    if (dws) memset(dws, 0, (size_t)(d->sw * wsz) * sizeof(float));
    for (int64_t n0 = 0; n0 < d->N; n0 += G) {
        const int64_t g = d->N - n0 < G ? d->N - n0 : G;
        for (int64_t b = 0; b < d->sw; b++) {
            cr_conv2d_dims e;
            if (conv_phase_dims(d, b, &e) != 0) continue;
            e.N = g;
            phase_weight(ws, w, d, &e, b);
            phase_input(xs, inp, d, &e, b, n0, g, pl->nt);
            if (dxs) memset(dxs, 0, (size_t)(g * e.C * e.H * e.W) * sizeof(float));
            if (cr_conv2d_backward_f32(dxs, dws ? dws + b * wsz : NULL, b == 0 ? dbias : NULL,
                                       dout + n0 * KPQ, xs, ws, &e) != 0)
                goto done;
            if (dxs) phase_input_grad(dinp, dxs, d, &e, b, n0, g, pl->nt);
        }
    }
    if (dweight)
        for (int64_t b = 0; b < d->sw; b++) {
            cr_conv2d_dims e;
            if (conv_phase_dims(d, b, &e) == 0) phase_weight_grad(dweight, dws + b * wsz, d, &e, b);
        }
    rc = 0;
done:
    free(ws);
    free(dws);
    free(xs);
    free(dxs);
    return rc;
}
