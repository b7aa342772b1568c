/* conv_pointwise.c — 1x1 convolutions without padding (any stride) as ONE matrix product
 * over the whole batch (plan path CONV_POINTWISE, chosen in conv_plan.c: pointwise_batch_ok).
 *
 * A 1x1 layer is a matrix product over pixels: with X (C, L) the input pixels of all N images
 * side by side (L = N*P*Q columns, column n*PQ + p*Q + q holding x[n, :, p*sh, q*sw]),
 *   forward   Y (K, L) = W (K, C) @ X + b          -> y[n, k, p, q]
 *   backward  dX (C, L) = W^T @ dY                 -> dx[n, c, p*sh, q*sw] +=
 *             dW (K, C) += dY (K, L) @ X^T         (fixed chunks of L, conv_pw_dw_tmpl.h)
 *             db[k] += sum_n sum_pq dy[n, k, pq]   (conv_bias_grad_rows)
 * X, dY and Y are never formed: the products run the GEMM's packed micro-kernel
 * (gemm_kit.h) on panels packed straight from the images (conv_pw_mm_tmpl.h for Y and dX,
 * conv_pw_dw_tmpl.h for dW), W packed once per call, and tiles whose columns are one run of
 * output pixels are written in place. Images of one pixel (H = W = 1) are plain matrices:
 * y (N, K) = x (N, C) @ W^T, etc., through cr_gemm.
 *
 * Determinism: every output element sums its products in an order fixed by the sizes (the
 * same Kd slices, the same dW chunks added in chunk order), whatever the thread count; db is
 * conv_bias_grad_rows' fixed-order sum.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "conv_pw_dot.h"
#include "gemm_kit.h"
#include "split.h"

/* ---- the direct product (conv_pw_mm_tmpl.h) for the forward and dx ------------------------
 * One side of the product: the pixel (p, q) of image n, channel c lies at
 * n*img + c*ch + p*sh*W + q*sw; flat when that is n*img + c*ch + p*Q + q (runs of pixels
 * then cross output rows), step = the distance of neighbouring pixels within a row. */
typedef struct { int64_t img, ch, W, sh, sw, step; int flat; } pw_side;

static pw_side pw_side_make(int64_t img, int64_t ch, int64_t W, int64_t sh, int64_t sw, int64_t Q) {
    pw_side s = {img, ch, W, sh, sw, sw, sw == 1 && sh * W == Q};
    if (s.flat) s.step = 1;
    return s;
}

/* A run of len columns of a panel from column j: its pixels at soff, doff (+ t*step). */
typedef struct { int64_t j, len, soff, doff; } pw_seg;
#define PW_MAX_NR 32
#define PW_MAX_GROUP 16
typedef struct { pw_seg seg[PW_MAX_NR]; int nseg, direct; int64_t nr; } pw_panel_t;

static void pw_segments(pw_panel_t *pn, int64_t g0, int64_t nr, int64_t PQ, int64_t Q,
                        const pw_side *s, const pw_side *d) {
    const int flat = s->flat && d->flat;
    for (int64_t j = 0; j < nr;) {
        const int64_t g = g0 + j, n = g / PQ, pix = g % PQ, p = pix / Q, q = pix % Q;
        int64_t len = flat ? PQ - pix : Q - q;
        if (len > nr - j) len = nr - j;
        pw_seg *e = &pn->seg[pn->nseg++];
        e->j = j;
        e->len = len;
        e->soff = n * s->img + (s->flat ? pix : p * s->sh * s->W + q * s->sw);
        e->doff = n * d->img + (d->flat ? pix : p * d->sh * d->W + q * d->sw);
        j += len;
    }
}

/* Blocking of one product: M rows, Kd deep, L = N*PQ columns in panels of NR columns, per
 * image (aligned: every panel one image's run, when that wastes at most 5% of the columns)
 * or over the concatenated columns. */
typedef struct {
    int64_t L, PQ, NR, Mr, kc, mc, gp, npanels, ppi;
    int64_t a_elems, b_elems, thread_elems;
    int aligned;
} pw_sizes;

#define PW_GROUP_BYTES ((int64_t)256 << 10) /* B panels of one group (L2) */
#define PW_A_INPLACE_MAX_L 256 /* up to this many columns, A is read in place (pw_mm) */
#define PW_ROUND16(x) (((x) + 15) / 16 * 16)

static pw_sizes pw_sizes_make(int mr, int nr, int64_t kcmax, int64_t mcmax, int64_t elsize,
                              int64_t M, int64_t Kd, int64_t N, int64_t PQ, int d_flat) {
    pw_sizes z;
    z.L = N * PQ;
    z.PQ = PQ;
    z.NR = nr;
    z.Mr = (M + mr - 1) / mr * mr;
    const int64_t ns = (Kd + kcmax - 1) / kcmax;
    z.kc = (Kd + ns - 1) / ns;
    z.mc = mcmax / mr * mr;
    if (z.mc < mr) z.mc = mr;
    z.gp = PW_GROUP_BYTES / (nr * z.kc * elsize);
    z.gp = z.gp < 1 ? 1 : z.gp > PW_MAX_GROUP ? PW_MAX_GROUP : z.gp;
    z.ppi = (PQ + nr - 1) / nr;
    z.aligned = d_flat && z.ppi * nr * 20 <= PQ * 21;
    z.npanels = z.aligned ? N * z.ppi : (z.L + nr - 1) / nr;
    z.a_elems = PW_ROUND16(z.Mr * Kd);
    z.b_elems = PW_ROUND16(z.gp * nr * z.kc);
    z.thread_elems = z.b_elems + PW_ROUND16(z.gp * z.Mr * nr);
    return z;
}

static void pw_panel_cols(const pw_sizes *z, int64_t t, int64_t *g0, int64_t *nr) {
    if (z->aligned) {
        const int64_t n = t / z->ppi, k = t % z->ppi;
        *g0 = n * z->PQ + k * z->NR;
        *nr = z->PQ - k * z->NR < z->NR ? z->PQ - k * z->NR : z->NR;
    } else {
        *g0 = t * z->NR;
        *nr = z->L - *g0 < z->NR ? z->L - *g0 : z->NR;
    }
}

/* ---- dw (conv_pw_dw_tmpl.h) ----------------------------------------------------------------
 * nch chunks of the L pixels: 4 from 8192 pixels, 2 from 1024, else 1; fewer when the
 * partials (nch - 1 copies of dw) would pass PW_DW_PARTIAL_BYTES. */
#define PW_DW_PARTIAL_BYTES ((int64_t)4 << 20)
#define PW_DW_B_BYTES ((int64_t)1 << 20) /* the packed B slice: kc x C */
typedef struct { int64_t L, nch, kc, mc, part_elems, a_elems, b_elems, thread_elems; } pw_dw_sizes;

static pw_dw_sizes pw_dw_sizes_make(int mr, int nr, int64_t kcmax, int64_t mcmax, int64_t elsize,
                                    int64_t K, int64_t C, int64_t L) {
    pw_dw_sizes z;
    z.L = L;
    z.nch = L >= 8192 ? 4 : L >= 1024 ? 2 : 1;
    while (z.nch > 1 && (z.nch - 1) * K * C * elsize > PW_DW_PARTIAL_BYTES) z.nch /= 2;
    const int64_t Cr = (C + nr - 1) / nr * nr;
    z.kc = PW_DW_B_BYTES / (Cr * elsize);
    z.kc = z.kc > kcmax ? kcmax : z.kc < 64 ? 64 : z.kc;
    z.mc = mcmax / mr * mr;
    if (z.mc < mr) z.mc = mr;
    z.part_elems = PW_ROUND16((z.nch - 1) * K * C);
    z.a_elems = PW_ROUND16(z.mc * z.kc);
    z.b_elems = PW_ROUND16(Cr * z.kc);
    z.thread_elems = z.a_elems + z.b_elems + PW_ROUND16((z.kc + 1) * (int64_t)sizeof(pw_seg) / elsize + 1);
    return z;
}

/* dw by dot products along the pixels (conv_pw_dot_avx512.c) instead of the GEMM: float32
 * on AVX-512, stride 1, few weights (their lane sums, 16 per weight, stay in L2 beside the
 * slab) and at least PW_DOT_MIN_PIX pixels in all (the GEMM packs both operands, which
 * costs as much as the product here). 1 thread, ms, GEMM -> dot: (32,64->128,16x16)
 * 1.75 -> 1.38, (8,64->64,56x56) 3.15 -> 2.37, (32,32->64,32x32) 2.12 -> 1.94; with 16384
 * weights (64->256, 256->64 at 56x56, 128->128 at 16x16) even, so those stay on the GEMM. */
#define PW_DOT_MAX_WEIGHTS 8192
#define PW_DOT_MIN_PIX 1024
static int pw_dot_ok(const cr_conv2d_dims *d, int64_t elsize) {
#ifdef CR_X86
    return elsize == 4 && cr_isa() >= CR_ISA_AVX512 && d->sh == 1 && d->sw == 1 &&
           d->K * d->C <= PW_DOT_MAX_WEIGHTS && d->N * d->P * d->Q >= PW_DOT_MIN_PIX;
#else
    (void)d;
    (void)elsize;
    return 0;
#endif
}

int conv_pointwise_dw_dot(const cr_conv2d_dims *d, int64_t elsize) {
    return d->H * d->W > 1 && pw_dot_ok(d, elsize);
}

/* Floats of the dot dw's lane buffers, all threads together (their row ranges partition
 * the tiles, pw_dot_rows). */
static int64_t pw_dot_buf(const cr_conv2d_dims *d) {
    return cr_pw_dw_dot_buf(0, d->K, d->C);
}

/* Thread t's rows [k0, k1) of dw (whole tiles of 4) and its lane buffer's offset. */
static void pw_dot_rows(int64_t K, int64_t C, int t, int team, int64_t *k0, int64_t *k1,
                        int64_t *off) {
    const int64_t tiles = (K + 3) / 4, a = tiles * t / team, b = tiles * (t + 1) / team;
    *k0 = 4 * a;
    *k1 = 4 * b < K ? 4 * b : K;
    *off = cr_pw_dw_dot_buf(0, 4 * a, C);
}

/* The plan: one product over the whole batch (G = N images, blocks = 1); the scratch is the
 * packed weights plus per-thread panel buffers (the most of forward, dx and dw), none for
 * one-pixel images. */
static int64_t pw_ws_bytes(int mr, int nr, int64_t kc, int64_t mc, int64_t es,
                           const cr_conv2d_dims *d, int nt) {
    const int64_t PQ = d->P * d->Q, flat_dx = d->sh == 1 && d->sw == 1;
    const pw_sizes f = pw_sizes_make(mr, nr, kc, mc, es, d->K, d->C, d->N, PQ, 1);
    const pw_sizes x = pw_sizes_make(mr, nr, kc, mc, es, d->C, d->K, d->N, PQ, (int)flat_dx);
    const pw_dw_sizes w = pw_dw_sizes_make(mr, nr, kc, mc, es, d->K, d->C, d->N * PQ);
    int64_t e = f.a_elems + nt * f.thread_elems;
    if (x.a_elems + nt * x.thread_elems > e) e = x.a_elems + nt * x.thread_elems;
    if (w.part_elems + nt * w.thread_elems > e) e = w.part_elems + nt * w.thread_elems;
    if (pw_dot_ok(d, es) && pw_dot_buf(d) > e) e = pw_dot_buf(d);
    return e * es;
}

void conv_pointwise_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize,
                         int64_t ws_limit) {
    (void)ws_limit;
    pl->path = CONV_POINTWISE;
    pl->bl.G = d->N;
    pl->bl.rows = d->P;
    pl->bl.cols = d->N * d->P * d->Q;
    pl->nblocks = 1;
    pl->ws_threads = pl->nt;
    pl->ws_elems = 0;
    pl->ws_bytes = 0;
    if (d->H * d->W == 1) return;
    if (elsize == 4) {
        cr_gemm_kit_f32 k;
        cr_gemm_kit_get_f32(&k);
        pl->ws_bytes = pw_ws_bytes(k.mr, k.nr, k.kc, k.mc, 4, d, pl->nt);
    } else {
        cr_gemm_kit_f64 k;
        cr_gemm_kit_get_f64(&k);
        pl->ws_bytes = pw_ws_bytes(k.mr, k.nr, k.kc, k.mc, 8, d, pl->nt);
    }
}

#define T float
#define SUF f32
#include "conv_pointwise_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "conv_pointwise_tmpl.h"
#undef T
#undef SUF
