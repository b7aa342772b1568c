/* conv_c16.c — Winograd F(4x4, 3x3) with 16 images in the vector lanes, for float32 3x3
 * stride-1 pad-1 layers with 16 channels in and out (plan path CONV_C16, see c16_ok in
 * conv_plan.c: ResNet-20's 16->16 stage at 32x32; batches of 16+ images; a last group of
 * fewer than C16_MIN_LANES images runs the direct path).
 *
 * With 16 channels the one-image Winograd paths spend as much time moving tiles as
 * multiplying; here every transform is plain vector arithmetic over 16 images (lane j =
 * image n0 + j), the images are moved into and out of the lanes by 16 x 16 transposes, and
 * one tile row of a group of 16 images goes through input transform, the 36 products
 * (K = C = 16) and output transform while it is in L1/L2 (conv_c16_avx512.c). 2.25
 * multiplications per output and channel pair instead of 9 for the direct sum.
 *
 *   forward   tasks = (group of 16 images, tile row), split statically between threads; each
 *             output is computed by one task in one fixed order, so results do not depend on
 *             the thread count
 *   backward  dx: the same forward on dy with the kernel flipped in space and transposed in
 *             channels (pl->dd), added to dx; dw, db: the direct path's (conv_direct.c)
 * U = G g G^T is computed in double and rounded once. The transforms round more than the
 * direct sum: tests/test_conv_c16.py bounds the error against the float64 reference. */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "split.h"

/* A last group of fewer images than this runs the direct path instead (one group costs
 * about as much as 13 images of the direct forward; 1 thread, 16->16 32x32) */
#define C16_MIN_LANES 13

/* columns of the transposed input rows (col + 1, whole 16-column chunks, pairs of tiles)
 * and of the output rows (in lane vectors) */
static int64_t wx_of(int64_t W) {
    const int64_t TQe = ((W + 3) / 4 + 1) / 2 * 2, a = 4 * TQe + 2, b = 1 + (W + 15) / 16 * 16;
    return a > b ? a : b;
}
static int64_t wy_of(int64_t W) {
    const int64_t TQe = ((W + 3) / 4 + 1) / 2 * 2, a = 4 * TQe, b = (W + 15) / 16 * 16;
    return a > b ? a : b;
}
static int64_t thread_floats(const cr_conv2d_dims *d) {
    return (d->C * 8 * wx_of(d->W) + 2 * 36 * d->C + 2 * 36 * 16 + 16 * 4 * wy_of(d->W) +
            6 * 16 * ((d->W + 15) / 16)) * 16;
}

int64_t conv_c16_ws_bytes(const cr_conv2d_dims *d, int nt) {
    return (36 * d->C * 16 + nt * thread_floats(d)) * (int64_t)sizeof(float);
}

/* U[(e*C + c)*16 + k] = (G g G^T)[e], g = w[k, c] */
static void weight_transform(float *U, const float *w, int64_t C) {
    static const double G[6][3] = {{0.25, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    for (int64_t k = 0; k < 16; k++)
        for (int64_t c = 0; c < C; c++) {
            const float *g = w + (k * C + c) * 9;
            double t[6][3];
            for (int a = 0; a < 6; a++)
                for (int s = 0; s < 3; s++)
                    t[a][s] = G[a][0] * g[s] + G[a][1] * g[3 + s] + G[a][2] * g[6 + s];
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++)
                    U[((a * 6 + b) * C + c) * 16 + k] =
                        (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
        }
}

int conv_c16_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                         const cr_conv2d_dims *d, const conv_plan *pl, int accumulate) {
#ifdef CR_X86
    const int64_t C = d->C, H = d->H, W = d->W, TP = (H + 3) / 4;
    int64_t N = d->N;
    if (N % 16 && N % 16 < C16_MIN_LANES) { /* the last few images: the direct path */
        cr_conv2d_dims r = *d;
        r.N = N % 16;
        N -= r.N;
        if (conv_direct_forward_f32(out + N * 16 * H * W, inp + N * C * H * W, w, bias, &r, pl,
                                    accumulate) != 0)
            return -1;
    }
    const int64_t ngroups = (N + 15) / 16, tasks = ngroups * TP, per = thread_floats(d);
    const int64_t wx = wx_of(W), wy = wy_of(W);
    const int nt = (int)(pl->nt < tasks ? pl->nt : tasks);
    float *U = (float *)conv_ws_alloc(conv_c16_ws_bytes(d, pl->nt));
    if (!U) return -1;
    weight_transform(U, w, C);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), T = CR_TEAM_SIZE();
        float *ws = U + 36 * C * 16 + t * per;
        const int64_t t0 = tasks * t / T;
        for (int64_t task = t0; task < tasks * (t + 1) / T; task++) {
            const int64_t g = task / TP, tp = task % TP, n0 = 16 * g;
            /* after tile row tp - 1 of the same images, 2 of the 6 input rows are in place */
            conv_c16_tilerow_avx512(out + n0 * 16 * H * W, inp + n0 * C * H * W, U, bias,
                                    N - n0 < 16 ? N - n0 : 16, C, H, W, tp, wx, wy, ws,
                                    accumulate, task > t0 && tp > 0);
        }
    }
    conv_ws_free(U);
    return 0;
#else
    (void)out; (void)inp; (void)w; (void)bias; (void)d; (void)pl; (void)accumulate;
    return -1; /* not planned without AVX-512 */
#endif
}

int conv_c16_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *w, const cr_conv2d_dims *d,
                          const conv_plan *pl) {
    if (dinp) {
        const int64_t K = d->K, C = d->C;
        float *wf = (float *)malloc((size_t)(K * C * 9) * sizeof(float));
        if (!wf) return -1;
        for (int64_t c = 0; c < C; c++) /* wf[c, k, r, s] = w[k, c, 2-r, 2-s] */
            for (int64_t k = 0; k < K; k++)
                for (int64_t rs = 0; rs < 9; rs++)
                    wf[(c * K + k) * 9 + rs] = w[(k * C + c) * 9 + 8 - rs];
        const int rc = conv_c16_forward_f32(dinp, dout, wf, NULL, &pl->dd, pl, 1);
        free(wf);
        if (rc != 0) return rc;
    }
    if (!dweight && !dbias) return 0;
    return conv_direct_backward_f32(NULL, dweight, dbias, dout, inp, w, d, pl);
}
