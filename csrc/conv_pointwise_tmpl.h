/* conv_pointwise_tmpl.h — the batched 1x1 convolution for one dtype (see conv_pointwise.c);
 * included with T and SUF defined. */

/* One product O [+]= A @ B of conv_pw_mm_tmpl.h: A(i, p) = a[i*a_rs + p*a_cs] (M x Kd),
 * B(p, (n, pixel)) on side s of src, O(i, (n, pixel)) on side d of dst, + bias[i]. */
typedef struct {
    int64_t M, Kd, P, Q;
    const T *a;
    int64_t a_rs, a_cs;
    const T *src;
    pw_side s;
    T *dst;
    pw_side d;
    const T *bias;
    int acc;
} CR_FN(pw_prob);

#include "conv_pw_mm_tmpl.h"

static int CR_FN(pw_run)(const CR_FN(pw_prob) *pb, int64_t N, int nt) {
    CR_FN(cr_gemm_kit) kit;
    CR_FN(cr_gemm_kit_get)(&kit);
    const pw_sizes z = pw_sizes_make(kit.mr, kit.nr, kit.kc, kit.mc, (int64_t)sizeof(T), pb->M,
                                     pb->Kd, N, pb->P * pb->Q, pb->d.flat);
    T *ws = (T *)conv_ws_alloc((z.a_elems + nt * z.thread_elems) * (int64_t)sizeof(T));
    if (!ws) return -1;
    CR_FN(pw_mm)(pb, &kit, &z, ws, nt);
    conv_ws_free(ws);
    return 0;
}

/* xt (C, L) <- the pixels of images [n0, n0 + g) of x (N, C, H, W), strided by (sh, sw). */
static void CR_FN(pw_gather)(T *xt, const T *x, const cr_conv2d_dims *d, int64_t C, int64_t n0,
                             int64_t g, int nt) {
    const int64_t P = d->P, Q = d->Q, PQ = P * Q, HW = d->H * d->W, L = g * PQ;
    const int plain = d->sh == 1 && d->sw == 1;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < C; c++) {
        T *row = xt + c * L;
        for (int64_t j = 0; j < g; j++) {
            const T *src = x + ((n0 + j) * C + c) * HW;
            T *dst = row + j * PQ;
            if (plain) {
                memcpy(dst, src, (size_t)PQ * sizeof(T));
                continue;
            }
            for (int64_t p = 0; p < P; p++)
                for (int64_t q = 0; q < Q; q++)
                    dst[p * Q + q] = src[p * d->sh * d->W + q * d->sw];
        }
    }
}

int CR_FN(conv_pointwise_forward)(T *out, const T *inp, const T *w, const T *bias,
                                  const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K;
    if (d->H * d->W == 1) { /* y (N, K) = x (N, C) @ w^T + b */
        CR_FN(cr_gemm)(0, 1, N, K, C, 1, inp, C, w, C, 0, out, K, bias, NULL, CR_ACT_NONE);
        return 0;
    }
    const int64_t PQ = d->P * d->Q;
    const CR_FN(pw_prob) pb = {K, C, d->P, d->Q, w, C, 1,
                               inp, pw_side_make(C * d->H * d->W, d->H * d->W, d->W, d->sh, d->sw, d->Q),
                               out, pw_side_make(K * PQ, PQ, d->Q, 1, 1, d->Q), bias, 0};
    return CR_FN(pw_run)(&pb, N, pl->nt);
}

int CR_FN(conv_pointwise_backward)(T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,
                                   const T *w, const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, K = d->K, PQ = d->P * d->Q, G = pl->bl.G;
    const int nt = pl->nt;
    if (dbias) {
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            const int t = CR_THREAD_NUM(), nth = CR_TEAM_SIZE();
            CR_FN(conv_bias_grad_rows)(dbias, dout, d, K * t / nth, K * (t + 1) / nth);
        }
    }
    if (!dinp && !dweight) return 0;
    if (d->H * d->W == 1) { /* dw (K, C) += dy^T @ x;  dx (N, C) += dy (N, K) @ w */
        if (dweight)
            CR_FN(cr_gemm)(1, 0, K, C, N, 1, dout, K, inp, C, 1, dweight, C, NULL, NULL,
                           CR_ACT_NONE);
        if (dinp)
            CR_FN(cr_gemm)(0, 0, N, C, K, 1, dout, K, w, C, 1, dinp, C, NULL, NULL, CR_ACT_NONE);
        return 0;
    }
    if (dinp) {
        const CR_FN(pw_prob) pb = {C, K, d->P, d->Q, w, 1, C,
                                   dout, pw_side_make(K * PQ, PQ, d->Q, 1, 1, d->Q),
                                   dinp, pw_side_make(C * d->H * d->W, d->H * d->W, d->W, d->sh, d->sw, d->Q),
                                   NULL, 1};
        if (CR_FN(pw_run)(&pb, N, nt) != 0) return -1;
    }
    if (!dweight) return 0;
    T *ws = (T *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    const cr_conv2d_dims dyd = {.N = N, .C = K, .H = d->P, .W = d->Q, .K = K, .R = 1, .S = 1,
                                .sh = 1, .sw = 1, .dh = 1, .dw = 1, .P = d->P, .Q = d->Q};
    for (int64_t n0 = 0; n0 < N; n0 += G) {
        const int64_t g = N - n0 < G ? N - n0 : G, L = g * PQ;
        T *xt = ws, *dyt = ws + C * L;
        CR_FN(pw_gather)(dyt, dout, &dyd, K, n0, g, nt);
        CR_FN(pw_gather)(xt, inp, d, C, n0, g, nt);
        CR_FN(cr_gemm)(0, 1, K, C, L, 1, dyt, L, xt, L, 1, dweight, C, NULL, NULL, CR_ACT_NONE);
    }
    conv_ws_free(ws);
    return 0;
}
