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
#include "conv_pw_dw_tmpl.h"

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

/* set: dx and dw are written (=), not accumulated (db still +=); only for stride 1 (every
 * pixel of dx written) */
static int CR_FN(pw_backward)(T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,
                              const T *w, const cr_conv2d_dims *d, const conv_plan *pl, int set) {
    const int64_t N = d->N, C = d->C, K = d->K, PQ = d->P * d->Q;
    const int nt = pl->nt;
    if (dbias) CR_FN(conv_bias_grad)(dbias, dout, d, nt);
    if (!dinp && !dweight) return 0;
    if (d->H * d->W == 1) { /* dw (K, C) += dy^T @ x;  dx (N, C) += dy (N, K) @ w */
        if (dweight)
            CR_FN(cr_gemm)(1, 0, K, C, N, 1, dout, K, inp, C, set ? 0 : 1, dweight, C, NULL,
                           NULL, CR_ACT_NONE);
        if (dinp)
            CR_FN(cr_gemm)(0, 0, N, C, K, 1, dout, K, w, C, set ? 0 : 1, dinp, C, NULL, NULL,
                           CR_ACT_NONE);
        return 0;
    }
    if (dinp) {
        const CR_FN(pw_prob) pb = {C, K, d->P, d->Q, w, 1, C,
                                   dout, pw_side_make(K * PQ, PQ, d->Q, 1, 1, d->Q),
                                   dinp, pw_side_make(C * d->H * d->W, d->H * d->W, d->W, d->sh, d->sw, d->Q),
                                   NULL, !set};
        if (CR_FN(pw_run)(&pb, N, nt) != 0) return -1;
    }
    if (!dweight) return 0;
#ifdef CR_X86
    if (sizeof(T) == 4 && pw_dot_ok(d, 4)) {
        float *buf = (float *)conv_ws_alloc(pw_dot_buf(d) * 4);
        if (!buf) return -1;
        #pragma omp parallel num_threads(nt) if (nt > 1)
        {
            int64_t k0, k1, off;
            pw_dot_rows(K, C, CR_THREAD_NUM(), CR_TEAM_SIZE(), &k0, &k1, &off);
            cr_pw_dw_dot_f32_avx512((float *)dweight, (const float *)dout, (const float *)inp,
                                    N, K, C, PQ, k0, k1, !set, buf + off);
        }
        conv_ws_free(buf);
        return 0;
    }
#endif
    CR_FN(cr_gemm_kit) kit;
    CR_FN(cr_gemm_kit_get)(&kit);
    const pw_dw_sizes z = pw_dw_sizes_make(kit.mr, kit.nr, kit.kc, kit.mc, (int64_t)sizeof(T), K, C,
                                           N * PQ);
    T *ws = (T *)conv_ws_alloc((z.part_elems + nt * z.thread_elems) * (int64_t)sizeof(T));
    if (!ws) return -1;
    const CR_FN(pw_dw_prob) pb = {dout, inp, K, C, PQ, d->Q, K * PQ,
                                  pw_side_make(C * d->H * d->W, d->H * d->W, d->W, d->sh, d->sw, d->Q)};
    CR_FN(pw_dw)(dweight, &pb, &kit, &z, ws, nt, set ? (T)0 : (T)1);
    conv_ws_free(ws);
    return 0;
}

int CR_FN(conv_pointwise_backward)(T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,
                                   const T *w, const cr_conv2d_dims *d, const conv_plan *pl) {
    return CR_FN(pw_backward)(dinp, dweight, dbias, dout, inp, w, d, pl, 0);
}

/* cr_conv2d_backward with dx and dw (when given) written, not accumulated (db still +=): the
 * pointwise path at stride 1 writes every pixel of dx and all of dw straight from its
 * products (no zeroing pass, no read: 0 + s == s, so the values are those of the
 * accumulating call into zeros); any other layer zeroes them and accumulates. */
int CR_FN(cr_conv2d_backward_set)(T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,
                                  const T *weight, const cr_conv2d_dims *d) {
    if (d->N == 0) return 0;
    if ((dinp || dweight) && d->sh == 1 && d->sw == 1) {
        conv_plan pl;
        conv_plan_make(&pl, d, 1, sizeof(T));
        if (pl.path == CONV_POINTWISE)
            return CR_FN(pw_backward)(dinp, dweight, dbias, dout, inp, weight, d, &pl, 1);
    }
    if (dinp) memset(dinp, 0, (size_t)(d->N * d->C * d->H * d->W) * sizeof(T));
    if (dweight)
        memset(dweight, 0, (size_t)(d->K * d->C * d->R * d->S) * sizeof(T));
    return CR_FN(cr_conv2d_backward)(dinp, dweight, dbias, dout, inp, weight, d);
}
