/* conv_plan.c — what a convolution call will do, decided once from its sizes (see
 * conv_internal.h: conv_plan), and the scratch memory it runs in.
 *
 * Paths (float32 on AVX-512 CPUs may skip im2col; everything else is im2col + products):
 *   forward   CONV_WINOGRAD when winograd_ok (3x3 stride 1, large images: winograd_auto;
 *             small ones with 32+ channels, G images per block: wino_small_auto; F(4x4)
 *             from 28x28 outputs: wino4_ok, wino4_auto),
 *             else CONV_IMPLICIT when implicit_fwd_ok (stride 1, K <= 128, the padded image
 *             fits the limit), else CONV_GEMM;
 *   backward  CONV_IMPLICIT when implicit_bwd_ok (and a small dw); else dx may run as a
 *             convolution (dx_as_conv_ok: Winograd or implicit), then dw and db run
 *             CONV_WINO_DW when the forward batches small images in Winograd (wino_dw_plan),
 *             CONV_IMPLICIT_DW when dx and the forward would be implicit, else CONV_GEMM.
 * Blocking (CONV_GEMM): a block of output rows [p0, p1) of one image (cols = (p1-p0)*Q
 * columns) or, when images are small (PQ < 512), a group of G whole images side by side
 * (cols = G*PQ), so the matrix products stay wide enough to run fast (at most N/8 images
 * per block, so threads can take whole blocks, except in deep layers). Each thread owns one
 * scratch slice of (CRS + K) x cols values, cols chosen so that it stays under the
 * per-thread workspace limit (one output row at least). Block sizes depend only on the
 * sizes and the limit, never on threads, so results do not depend on the thread count.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "conv_wino4s.h"

static volatile int64_t g_ws_limit = CR_CONV_DEFAULT_WORKSPACE;

static void *g_ws_cache; /* the scratch buffer kept between calls (see ws_alloc) */

/* Setting the limit also frees the cached scratch buffer, so memory drops at once. */
void cr_conv_set_workspace_limit(int64_t bytes) {
    g_ws_limit = bytes < 1 ? 1 : bytes;
    free(__atomic_exchange_n(&g_ws_cache, NULL, __ATOMIC_ACQ_REL));
}
int64_t cr_conv_get_workspace_limit(void) { return g_ws_limit; }

int cr_conv2d_dims_init(cr_conv2d_dims *d) {
    if (d->N < 0 || d->C < 1 || d->H < 1 || d->W < 1 || d->K < 1 || d->R < 1 || d->S < 1 ||
        d->sh < 1 || d->sw < 1 || d->ph < 0 || d->pw < 0 || d->dh < 1 || d->dw < 1)
        return -1;
    int64_t eh = d->H + 2 * d->ph - d->dh * (d->R - 1) - 1;
    int64_t ew = d->W + 2 * d->pw - d->dw * (d->S - 1) - 1;
    if (eh < 0 || ew < 0) return -1;
    d->P = eh / d->sh + 1;
    d->Q = ew / d->sw + 1;
    return 0;
}


/* ---- algorithm override (conv.h) ---- */
static const char *const algo_names[] = {"auto", "im2col", "implicit", "winograd", "pointwise"};
static volatile int g_algo = -1; /* -1: not yet read from the environment */

const char *cr_conv_algo_name(int algo) {
    return algo >= CR_CONV_ALGO_AUTO && algo <= CR_CONV_ALGO_POINTWISE ? algo_names[algo] : "unknown";
}

int cr_conv_algo_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int a = CR_CONV_ALGO_AUTO; a <= CR_CONV_ALGO_POINTWISE; a++)
        if (strcmp(name, algo_names[a]) == 0) return a;
    return -1;
}

int cr_conv_set_algo(int algo) {
    if (algo < 0 || algo > CR_CONV_ALGO_POINTWISE) { /* the default: environment, else auto */
        algo = cr_conv_algo_from_name(getenv("CHAINRULE_CONV_ALGO"));
        if (algo < 0) algo = CR_CONV_ALGO_AUTO;
    }
    g_algo = algo;
    return algo;
}

int cr_conv_algo(void) {
    int a = g_algo;
    return a >= 0 ? a : cr_conv_set_algo(-1);
}

#define CONV_TARGET_COLS 512 /* below this many columns the products lose speed */

static conv_blocking blocking(const cr_conv2d_dims *d, int64_t elsize) {
    conv_blocking b;
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q;
    const int64_t per_col = (CRS + d->K) * elsize; /* col (or dcol) + a K-row block */
    int64_t max_cols = g_ws_limit / per_col;
    b.G = 1;
    if (PQ < CONV_TARGET_COLS && PQ <= max_cols) {
        int64_t g = (CONV_TARGET_COLS + PQ - 1) / PQ;
        if (g * PQ > max_cols) g = max_cols / PQ;
        /* keep >= 8 blocks for the threads, unless the layer is deep (K*CRS >= 2^19): its
         * products then thread inside the block, and their width matters more (512->512
         * 7x7 at batch 8: one block of 392 columns instead of 8 of 49) */
        if (g > d->N / 8 && d->K * CRS < ((int64_t)1 << 19)) g = d->N / 8;
        if (g > 1) b.G = g;
    }
    if (b.G > 1) {
        b.rows = d->P;
        b.cols = b.G * PQ;
    } else {
        b.rows = max_cols / d->Q;
        if (b.rows < 1) b.rows = 1;
        if (b.rows > d->P) b.rows = d->P;
        b.cols = b.rows * d->Q;
    }
    return b;
}

/* A small dw (<= 8192 values) lets the implicit backward keep 16-wide partial sums of it. */
static int dw_small(const cr_conv2d_dims *d) { return d->K * d->C * d->R * d->S <= 8192; }

/* Implicit im2col (float32, AVX-512, stride 1, few output channels): with the image
 * zero-padded to (C, Hp, Wp), row (c, r, s) of im2col is the contiguous run
 *   xp[c*Hp*Wp + r*dh*Wp + s*dw + j],  j = p*Wp + q,
 * if the output is laid out "wide", P rows of Wp (the last Wp - Q columns of each row are
 * junk, dropped when copying out). The forward then reads the image in place through a
 * table of row offsets instead of building im2col, which for small images cost more than
 * the product itself. Wide columns: nw = (P-1)*Wp + Q; the last row ends at xp's end. */
/* The implicit paths' scratch stays within 8 MiB whatever the limit: beyond it the padded
 * image and the wide output leave the caches and im2col's row blocks win (VGG-16 conv1_1
 * 3->64 224x224: 1.5x) */
static int64_t implicit_cap(void) {
    const int64_t max = (int64_t)8 << 20;
    return g_ws_limit < max ? g_ws_limit : max;
}
static int implicit_fwd_ok_k(const cr_conv2d_dims *d, int64_t elsize, int any_k) {
    /* any_k: also beyond 128 output channels (dx as a convolution, see dx_as_conv_ok) */
#ifdef CR_X86
    const int algo = cr_conv_algo();
    if (algo == CR_CONV_ALGO_IM2COL || elsize != 4 || !conv_avx512() || d->sh != 1 ||
        d->sw != 1 || (d->K > 128 && algo != CR_CONV_ALGO_IMPLICIT && !any_k) || conv_is_pointwise(d))
        return 0;
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    const int64_t nw = (d->P - 1) * Wp + d->Q;
    return (d->C * Hp * Wp + d->K * nw) * elsize <= implicit_cap();
#else
    (void)d; (void)elsize; (void)any_k;
    return 0;
#endif
}
static int implicit_fwd_ok(const cr_conv2d_dims *d, int64_t elsize) {
    return implicit_fwd_ok_k(d, elsize, 0);
}

static int64_t implicit_ws_elems(const cr_conv2d_dims *d) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    return d->C * Hp * Wp + d->K * ((d->P - 1) * Wp + d->Q);
}

/* Per-thread scratch of the implicit backward: xp, dxp, dy_wide and the 16-wide partial
 * sums of the thread's slice of dw (at most ceil(CRS/nt) + 1 columns). */
static int64_t implicit_bwd_elems(const cr_conv2d_dims *d, int64_t nt) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw, CRS = d->C * d->R * d->S;
    return 2 * d->C * Hp * Wp + d->K * ((d->P - 1) * Wp + d->Q) + d->K * ((CRS + nt - 1) / nt + 1) * 16;
}

/* The implicit backward keeps 16-wide partial sums of a small dw across images; its scratch
 * must fit the limit (checked for one thread, the largest case, so the choice never
 * depends on threads). A larger dw is summed image by image instead (implicit_dw_ok). */
static int implicit_bwd_ok(const cr_conv2d_dims *d, int64_t elsize) {
    return implicit_fwd_ok(d, elsize) && dw_small(d) &&
           implicit_bwd_elems(d, 1) * elsize <= implicit_cap();
}

/* Winograd F(2x2, 3x3) forward (conv_winograd.c): float32, 3x3, stride 1, no dilation;
 * everywhere when asked for, and by default (AVX-512) where it measured faster than the
 * other paths: large images (>= 56x56 outputs) with 32+ channels in and out, whose
 * transformed weights take at most half the workspace limit, and which would otherwise
 * run the im2col path (K > 128) or the implicit one with a padded image beyond L2
 * (> 2 MiB). On VGG-16's conv1_2 ... conv3_2 (1 thread) it runs the forward 1.4-2x
 * faster than those; with smaller images (ResNet's 56x56 64->64, 28x28 and below) its
 * short products lose. Its rounding is bounded in tests/test_conv_plan.py. */
static int winograd_auto(const cr_conv2d_dims *d) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    return conv_avx512() && d->C >= 32 && d->K >= 32 && d->P * d->Q >= 56 * 56 &&
           16 * d->K * d->C * 4 <= g_ws_limit / 2 &&
           (d->K > 128 || d->C * Hp * Wp * 4 > ((int64_t)2 << 20));
}

/* Winograd with small images (conv_wino_small.c, AVX-512): fewer than WINO_TARGET_TILES
 * tiles per image, so G > 1 whole images go in a block and the 16 products get at least
 * that many columns (U, and V, M of a block, within the workspace limit); threads take whole
 * blocks when there are enough of them. G depends on the sizes only (1: not this path). */
#define WINO_TARGET_TILES 256
static int64_t wino_small_G(const cr_conv2d_dims *d, int64_t elsize) {
    const int64_t Ti = ((d->P + 1) / 2) * ((d->Q + 1) / 2);
    if (!conv_avx512() || Ti >= WINO_TARGET_TILES) return 1;
    int64_t g = (WINO_TARGET_TILES + Ti - 1) / Ti;
    const int64_t fit = (g_ws_limit / elsize - 16 * (d->K * d->C + 16)) / (16 * (d->C + d->K) * Ti + 512);
    if (g > fit) g = fit;
    if (g > d->N) g = d->N;
    if (g > 1) g = (d->N + (d->N + g - 1) / g - 1) / ((d->N + g - 1) / g); /* even blocks */
    return g > 1 ? g : 1;
}

/* By default (AVX-512) Winograd runs small images with 32+ channels in and out whose
 * transformed weights take at most half the workspace limit (up to 256->256), where it
 * measured faster than the implicit and im2col paths (1 thread, batch 32: ResNet-20's 64->64
 * 8x8 forward 1.4x, dx 1.5x; batch 8: 128->128 28x28 and 256->256 14x14 1.5x). */
static int wino_small_auto(const cr_conv2d_dims *d) {
    return d->C >= 32 && d->K >= 32 && 16 * d->K * d->C * 4 <= g_ws_limit / 2 &&
           wino_small_G(d, 4) > 1;
}

/* pl: the Winograd plan of one image per block, all tile rows; G > 1 images instead */
static void wino_small_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize) {
    const int64_t g = wino_small_G(d, elsize);
    if (g < 2) return;
    pl->bl.G = g;
    pl->bl.cols = g * ((d->P + 1) / 2) * ((d->Q + 1) / 2);
    pl->nblocks = (d->N + g - 1) / g;
    pl->by_block = pl->nt > 1 && pl->nblocks >= pl->nt;
    pl->ws_elems = 16 * (d->C + d->K) * pl->bl.cols + 2 * 16 * 16; /* V, M, padded */
    pl->ws_threads = pl->by_block ? pl->nt : 1;
    pl->ws_bytes = (16 * (d->K * d->C + 16) + pl->ws_threads * pl->ws_elems) * elsize;
}

/* Winograd F(4x4, 3x3), one image at a time (conv_winograd4.c): the Winograd path of
 * images with >= 28x28 outputs, any ISA level (forced or by default: wino4_auto, AVX-512,
 * 32+ channels in and out, any weight size: the transformed weights go in blocks of output
 * channels). 1 thread, VGG-16's conv1_2 ... conv4_2 and ResNet's 64->64 56x56 and 128->128
 * 28x28 (batch 1 and 4): forward 1.1-1.6x faster than the F(2x2), implicit or im2col path it
 * replaces, 1.3-1.6x faster than PyTorch's. Its rounding is bounded in
 * tests/test_conv_winograd4.py. */
static int wino4_ok(const cr_conv2d_dims *d) { return d->P * d->Q >= 28 * 28; }
static int wino4_auto(const cr_conv2d_dims *d) {
    return conv_avx512() && d->C >= 32 && d->K >= 32 && wino4_ok(d);
}

static int winograd_ok(const cr_conv2d_dims *d, int64_t elsize);
/* dw by F(4x4, 3x3) too (conv_winograd4_dw.c) when dx ran Winograd and the forward would
 * run F(4x4) (before the batched F(2x2) dw: 1.1-1.25x faster at 28x28-56x56, batch 2-8);
 * 1 thread, batch 1: 1.3-2x faster than PyTorch's dw on VGG's and ResNet's 3x3 layers,
 * 512->512 28x28 about even (its dU goes in blocks of 64 output channels) */
static int wino4_dw_ok(const conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize) {
    return pl->dx_as_conv == 2 && wino4_ok(d) && winograd_ok(d, elsize);
}

/* Winograd F(4x4, 3x3) with small images batched (conv_wino4s.c, AVX-512, auto only):
 * outputs below 28x28 with 32+ channels in and out, several whole images per block, where
 * it measured faster than the batched F(2x2) path (which keeps the rest). Transformed
 * weights beyond half the limit (512->512: 38 MiB) only with 16+ tiles per block to run
 * each 12-row panel of U against (1 thread, 512->512 7x7, forward / dx / dw against F(2x2):
 * batch 8 14.5 / 15.0 / 15.4 -> 8.0 / 8.0 / 11.1 ms; batch 4 8.2 / 9.1 / 9.5 -> 7.9 / 7.7 / 7.7;
 * batch 2, 8 tiles, forward 6.7 -> 7.8: F(2x2) keeps it; 14x14 batch 8 forward 45 -> 31). */
static int wino4s_ok(const cr_conv2d_dims *d, int64_t elsize) {
    if (cr_conv_algo() != CR_CONV_ALGO_AUTO || elsize != 4 || d->R != 3 || d->S != 3 ||
        d->sh != 1 || d->sw != 1 || d->dh != 1 || d->dw != 1 || d->C < 32 || d->K < 32 ||
        wino4_ok(d))
        return 0;
    const int64_t g = conv_wino4s_G(d, g_ws_limit);
    return g > 1 && (36 * d->K * d->C * 4 <= g_ws_limit / 2 ||
                     g * ((d->P + 3) / 4) * ((d->Q + 3) / 4) >= 16);
}

static int winograd_ok(const cr_conv2d_dims *d, int64_t elsize) {
    const int algo = cr_conv_algo();
    if (elsize != 4 || d->R != 3 || d->S != 3 || d->sh != 1 || d->sw != 1 || d->dh != 1 ||
        d->dw != 1)
        return 0;
    return algo == CR_CONV_ALGO_WINOGRAD ||
           (algo == CR_CONV_ALGO_AUTO && (winograd_auto(d) || wino_small_auto(d) || wino4_auto(d)));
}

/* dw by Winograd (conv_wino_small.c: the adjoint of the forward in the filter), backward of
 * a layer whose forward runs Winograd with G > 1 small images per block, when the implicit
 * backward does not take it and dx runs as a convolution (done before). The blocks are
 * summed in bl.rows groups (up to WINO_DW_PARTS, fewer when their sums would pass the
 * limit; never fewer than 2 of 2+ blocks) that threads take whole; scratch: dU (16 K C) per
 * group, V and M of one block per thread (one slot when a single group is shared). */
#define WINO_DW_PARTS 4
static int wino_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t dx_bytes) {
    const int64_t g = pl->dx_as_conv && winograd_ok(d, elsize) ? wino_small_G(d, elsize) : 1;
    if (g < 2) return 0;
    const int64_t du = 16 * (d->K * d->C + 16);
    pl->path = CONV_WINO_DW;
    pl->bl.G = g;
    pl->bl.cols = g * ((d->P + 1) / 2) * ((d->Q + 1) / 2);
    pl->nblocks = (d->N + g - 1) / g;
    pl->bl.rows = pl->nblocks < WINO_DW_PARTS ? pl->nblocks : WINO_DW_PARTS;
    while (pl->bl.rows > 2 && pl->bl.rows * du * elsize > g_ws_limit) pl->bl.rows--;
    pl->ws_elems = 16 * (d->C + d->K) * pl->bl.cols + 2 * 16 * 16;
    pl->ws_threads = pl->bl.rows > 1 ? pl->nt : 1;
    pl->ws_bytes = (pl->bl.rows * du + pl->ws_threads * pl->ws_elems) * elsize;
    if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
    return 1;
}

/* Large kernels on small images with the padding taps skipped (conv_g5.c, AVX-512, auto
 * only): 5x5 and larger, stride 1, outputs up to 28x28, 16+ channels in and out (1 -> 6 at
 * 28x28 ran 5x slower), scratch within the limit. Output channels in the lanes, no padded
 * copy, no product on zeros; 1 thread, same process, fwd/dx/dw ms: GoogLeNet's 832->128 7x7
 * (batch 8) 21.0/21.0/21.1 -> 13.6/14.7/14.6 (PyTorch 15.9/16.9/31.5), 480->48 14x14
 * 19.3/17.5/16.8 -> 13.6/14.3/13.6 (14.2/14.7/18.0), 192->32 28x28 (batch 16)
 * 40.0/41.4/36.6 -> 32.4/34.8/31.6 (32.5/32.5/35.6). */
static int g5_auto(const cr_conv2d_dims *d) {
    return conv_g5_ok(d, 4) && d->R >= 5 && d->S >= 5 && d->P * d->Q <= 28 * 28 &&
           d->C >= 16 && d->K >= 16 && conv_g5_ws_bytes(d, 2) <= g_ws_limit;
}


/* the plan's threads: tiny problems stay serial (a fork costs more than they do) */
#define CONV_THREAD_MIN_WORK 32768.0
static int conv_plan_threads(const cr_conv2d_dims *d) {
    return cr_threads_for((double)d->N * d->K * d->P * d->Q * (d->C * d->R * d->S),
                          CONV_THREAD_MIN_WORK);
}

/* Winograd F(2x2, 5x5) (conv_wino25.c, AVX-512, auto only): g5_auto's 5x5 stride-1 layers
 * with at most 28 output columns, scratch within the limit: 36 products per 2x2 outputs
 * instead of 100. Forward and dx (the forward of dy by the flipped kernel; dw: below, in
 * conv_plan_make). 2 threads, same process, fwd / dx ms g5_skip -> F(2x2, 5x5) (PyTorch):
 * GoogLeNet's 192->32 28x28 batch 16 15.8 / 16.6 -> 9.3 / 10.0 (16.0 / 16.0), 480->48
 * 14x14 batch 8 6.9 / 7.3 -> 5.7 / 5.9 (7.4 / 7.2); 256->64 10x10 and 8x8, 512->64 14x14
 * 1.2-1.4x faster too. Its rounding is bounded in tests/test_conv_wino25.py. */
static int wino25_auto(const cr_conv2d_dims *d) {
    conv_plan p;
    memset(&p, 0, sizeof p);
    p.nt = conv_plan_threads(d);
    /* 8+ outputs a side, odd sides from 13 (7x7 wastes 30% of its 8x8 tiles: 832->128 at
     * batch 8 lost, forward 6.9 -> 9.4 ms) */
    const int sides = d->P >= 8 && d->Q >= 8 && (d->P % 2 == 0 || d->P >= 13) &&
                      (d->Q % 2 == 0 || d->Q >= 13);
    return cr_conv_algo() == CR_CONV_ALGO_AUTO && sides && g5_auto(d) &&
           conv_wino25_applies(d) && conv_wino25_plan(&p, d, g_ws_limit);
}

/* dx as a convolution (dx_as_conv_ok) of 5+ kernel rows, 2+ columns, any image size, where
 * conv_rows.c does not take it: the padding of dy by R-1 rows makes a product on zeros of
 * every tap that falls off dy, which conv_g5.c skips. 2 threads, dX ms, implicit ->
 * conv_g5.c (PyTorch): the speech 10x5 s2 phase layers (batch 4) 64->64 5x3 38x49 4.34 ->
 * 3.70 (3.55), 5x2 2.80 -> 2.52 (2.39); the strided 32->64 76x98 7.72 -> 6.86 (6.64) and
 * 32->32 341x79 17.6 -> 16.7 (15.9); 5x5 32->32 56x56 (batch 8) 6.95 -> 5.77 (5.73). The
 * forward of the larger images stays implicit (conv_g5.c measured -5% to +4% there). dw
 * stays with its own plan (conv_g5.c's dw was 7% slower on the 341x79 phases). */
static int g5_dx_auto(const cr_conv2d_dims *dd) {
    return conv_g5_ok(dd, 4) && dd->R >= 5 && dd->S >= 2 && dd->C >= 16 && dd->K >= 16 &&
           conv_g5_ws_bytes(dd, 2) <= g_ws_limit;
}

/* For stride 1, dx is itself a convolution: the correlation of dy with the kernel flipped
 * in space and transposed in channels,
 *   dx[n, c, i, j] = sum_{k,r,s} w[k, c, r, s] * dy[n, k, i + ph - r*dh, j + pw - s*dw]
 *                  = conv(dy, w')[n, c, i, j],  w'[c, k, r', s'] = w[k, c, R-1-r', S-1-s'],
 * with padding dh*(R-1) - ph (>= 0 needed) and the same dilation; its output is H x W.
 * Run through the implicit forward (accumulating into dx) it needs neither im2col nor
 * col2im: 20% faster than w^T @ dy + col2im on 64->64 3x3. With few output channels
 * (K <= 64) it is taken for any C, since w^T @ dy then has a reduction of only K and
 * col2im of a large C*R*S dominates: 2x faster on GoogLeNet's 192->32 and 480->48 5x5
 * (1 thread); on 3x3 layers with 256+ channels both ways the GEMM stays ahead. Returns 2
 * when dd runs Winograd (winograd_ok: 3x3 layers with large images), 6 Winograd F(2x2, 5x5)
 * (wino25_auto), 4 conv_g5.c, 3 conv_rows.c, 1 implicit, 0 no; fills *dd. */
static int dx_as_conv_ok(const cr_conv2d_dims *d, cr_conv2d_dims *dd) {
    if (d->sh != 1 || d->sw != 1 || implicit_bwd_ok(d, 4)) return 0; /* small: see there */
    *dd = *d;
    dd->C = d->K; dd->H = d->P; dd->W = d->Q; dd->K = d->C;
    dd->ph = d->dh * (d->R - 1) - d->ph;
    dd->pw = d->dw * (d->S - 1) - d->pw;
    if (dd->ph < 0 || dd->pw < 0 || cr_conv2d_dims_init(dd) != 0) return 0;
    if (dd->P != d->H || dd->Q != d->W) return 0;
    if (winograd_ok(dd, 4)) return 2; /* dd's own plan picks Winograd */
    if (wino25_auto(dd)) return 6; /* Winograd F(2x2, 5x5) (conv_wino25.c) */
    if (g5_auto(dd)) return 4; /* padding taps skipped (conv_g5.c) */
    if (conv_rows_ok(dd, 4, 1)) return 3; /* row segments or a pixel panel (conv_rows.c) */
    if (g5_dx_auto(dd)) return 4;
    return implicit_fwd_ok_k(dd, 4, d->K <= 64);
}

/* 1x1 layers without padding as one product over the batch (conv_pointwise.c): every such
 * layer, whatever the algorithm setting (its panels are packed straight from the images, so
 * it beats a product per image at 16x16 and 56x56 too). The plan reports it as "pointwise". */
static int pointwise_batch_ok(const cr_conv2d_dims *d) {
    return d->R == 1 && d->S == 1 && d->ph == 0 && d->pw == 0;
}

/* A strided layer as stride-1 convolutions of its phase images (conv_phase.c): float32,
 * stride 2 on one or both axes, no dilation, auto (or winograd) algorithm, where each
 * stride-1 layer runs the implicit forward and the zero kernel row of an odd R (with sh 2)
 * adds at most 10% (10x5, 20x5: none; 7x7: 14% and 3x3: 33%, both measured slower). The speech
 * front-end 10x5 s2 32->32 (341x79) ran forward + backward 1.5x faster (1 thread). */
static int phase_ok(const cr_conv2d_dims *d, int64_t elsize) {
    const int algo = cr_conv_algo();
    if (elsize != 4 || (algo != CR_CONV_ALGO_AUTO && algo != CR_CONV_ALGO_WINOGRAD) ||
        d->sh > 2 || d->sw > 2 || (d->sh == 1 && d->sw == 1))
        return 0;
    int64_t taps = 0;
    for (int64_t b = 0; b < d->sw; b++) {
        cr_conv2d_dims e;
        const int r = conv_phase_dims(d, b, &e);
        if (r < 0 || (r == 0 && !implicit_fwd_ok(&e, elsize))) return 0;
        if (r == 0) taps += e.C * e.R * e.S;
    }
    return 10 * taps <= 11 * d->C * d->R * d->S;
}

/* Stride 2 without im2col (conv_s2.c): float32, AVX-512, auto algorithm (im2col and
 * implicit keep their paths), 3x3 kernels with stride 2 on both axes, no dilation, whose
 * scratch for one image fits the limit; the forward up to 128 channels in and out, the
 * backward up to 64. 1 thread, same process: ResNet-20's 16->32 32x32 at batch 32 forward
 * 1.07 -> 0.68 ms, dx 1.24 -> 0.96, dw 1.22 -> 0.83 (32->64 16x16: 0.83 -> 0.70, dx and dw
 * as before); forward 64->128 56x56 (batch 8) 22.5 -> 17.3, 128->128 56x56 2.1 -> 1.7;
 * with 128+ channels im2col's packed products win dx and dw (256->512 14x14: dx 1.4 vs 7),
 * except where dw runs conv_s2b.c's direct tile on large images (below). */
static int s2_ok(const cr_conv2d_dims *d, int which, int64_t elsize) {
    const int algo = cr_conv_algo();
    /* the backward up to 128 channels too where dw runs the direct tile (K % 16 == 0) on
     * 28x28+ outputs: 1 thread, batch 1, 64->128 and 128->128 56x56 dw 0.95x / 0.88x ->
     * 1.07x PyTorch's speed, dx as im2col's (at 28x28 and below dw lost: 256->512 14x14 0.78x) */
    const int64_t most = which == 0 || (d->K % 16 == 0 && d->P * d->Q >= 28 * 28) ? 128 : 64;
    if (elsize != 4 || !conv_avx512() || algo != CR_CONV_ALGO_AUTO || d->sh != 2 ||
        d->sw != 2 || d->dh != 1 || d->dw != 1 || d->R != 3 || d->S != 3 || d->C > most ||
        d->K > most)
        return 0;
    return conv_s2_fits(d, which, g_ws_limit);
}

/* The strided forward with output channels in the lanes (conv_s2b.c): float32, AVX-512,
 * auto algorithm, a stride above 1 along either axis, 2 to 64 taps, no dilation, K a
 * multiple of 16, and enough pixels in the batch (N*P*Q >= 48) to pay for packing the
 * weights once per call (1x1 layers take the pointwise paths before this). 1 thread, same
 * process: 3x3 s2 against implicit_s2 (ResNet-20 32->64 16x16 b32: 0.72x -> 1.06x
 * PyTorch's time) and im2col (ResNet-18 128->256 28x28 b1: 0.92x -> 1.03x; 256->512 14x14
 * b1 even); other kernels, ms before -> after (batch 8 unless said): the speech 10x5 s2
 * phase path (b4) 32->64 76x98 12.6 -> 11.7, 32->32 341x79 26.3 -> 23.7; ResNet's 7x7 s2
 * 3->64 224x224 im2col 24.2 -> 19.4; 5x5 s2 64->128 28x28 im2col 8.05 -> 5.65; 4x4 s2
 * 32->64 64x64 phase 5.44 -> 4.96; 5x5 s3 16->32 60x60 1.12 -> 0.72; 3x3 s(2,1) 64->128
 * 56x56 17.8 -> 17.2. */
static int s2b_ok(const cr_conv2d_dims *d, int64_t elsize) {
    return elsize == 4 && conv_avx512() && cr_conv_algo() == CR_CONV_ALGO_AUTO &&
           (d->sh > 1 || d->sw > 1) && d->R * d->S > 1 && d->R * d->S <= S2B_MAX_TAPS &&
           d->dh == 1 && d->dw == 1 && d->K % 16 == 0 && d->N * d->P * d->Q >= 48 &&
           conv_s2b_fits(d, g_ws_limit);
}

/* dx of strided layers by their stride phases, input channels in the lanes (conv_s2dx.c,
 * dx_as_conv 5, "direct_s2_dx"): float32, AVX-512, auto or implicit algorithm (which forces
 * it), a stride above 1, 2 to 64 taps, R >= sh, S >= sw, C % 16 == 0, scratch for one thread
 * within the limit; with the implicit_s2 backward it replaces that dx and keeps its dw, with
 * the phase path see there, else dw takes its own plan. 1 thread, dx CPU ms, im2col ->
 * conv_s2dx.c (batch 8): 5x5 s2 p2 64->128 28x28 8.1 -> 5.9, 7x7 s2 p3 16->32 112x112 21.1
 * -> 12.5, 5x5 s3 32->64 60x60 4.1 -> 3.2, 3x3 s(2,1) 64->128 56x56 19.0 -> 17.9. 3x3 s2,
 * 1 thread, same process, dx ms
 * before -> after (PyTorch): ResNet-18 128->256 28x28 b8 11.1 -> 8.6 (9.4, im2col before),
 * 256->512 14x14 10.5 -> 9.7 (9.8), 64->128 56x56 10.1 -> 9.2 (11.5, implicit_s2 before);
 * ResNet-50 256->256 28x28 21.7 -> 18.1 (20.7), 512->512 14x14 21.6 -> 19.0 (20.4);
 * ResNet-20 32->64 16x16 b32 1.12 -> 0.77 (1.05); batch 1 128->256 28x28 1.38 -> 1.14 (1.19). */
static int s2dx_ok(const cr_conv2d_dims *d, int64_t elsize) {
    const int algo = cr_conv_algo();
    return elsize == 4 && conv_avx512() &&
           (algo == CR_CONV_ALGO_AUTO || algo == CR_CONV_ALGO_IMPLICIT) &&
           conv_s2dx_applies(d) && conv_s2dx_bytes(d, 1) <= g_ws_limit;
}

/* The direct convolution (conv_direct.c, AVX-512, auto only): 3x3, stride 1, padding 1,
 * at most 16 input and 32 output channels, rows of 24+ columns (ResNet-20's 16->16 and
 * 3->16 layers at 32x32, MobileNet's 3->32 stem). Pixels in the vector lanes, the image read
 * in place: no padded copy, no wide output to copy out. Its backward runs dx as the direct
 * forward of the flipped kernel (16->16 32x32 b32, 1 thread: 1.3 ms against 1.8 for the
 * implicit backward's scatter) and dw, db as sums of 16-wide partial sums over the batch,
 * each input row meeting the dy rows it pairs with in registers (1.2 ms vs 1.3-1.5 implicit).
 * Forward + backward 1.7x faster than the implicit paths on 16->16, 1.3x on the stems. */
static int direct_ok(const cr_conv2d_dims *d, int64_t elsize) {
    return cr_conv_algo() == CR_CONV_ALGO_AUTO && elsize == 4 && conv_avx512() && d->R == 3 &&
           d->S == 3 && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 && d->ph == 1 &&
           d->pw == 1 && d->C <= 16 && d->K <= 32 && d->Q >= 24;
}

static int direct_plan(conv_plan *pl, const cr_conv2d_dims *d, int which, int64_t elsize) {
    if (!direct_ok(d, elsize)) return 0;
    pl->path = CONV_DIRECT;
    if (which == 0) return 1; /* no scratch (the packed weights are malloc'ed) */
    pl->dd = *d; /* dx: dy (K channels) with the flipped kernel, padding R-1-ph = 1 */
    pl->dd.C = d->K; pl->dd.K = d->C; pl->dd.H = d->P; pl->dd.W = d->Q;
    cr_conv2d_dims_init(&pl->dd);
    pl->ws_bytes = conv_direct_dw_bytes(d); /* dw's partial sums */
    return 1;
}

/* Winograd F(4x4, 3x3) with 16 images in the lanes (conv_c16.c): direct_ok's 16 -> 16
 * layers with 16+ images (a group of 16 costs about as much as 13 images of the direct
 * forward). Forward and dx; dw stays direct's. 1 thread, same process, batch 32: forward
 * 1.15-1.2x faster than direct, 1.5-1.7x faster than PyTorch. */
static int c16_ok(const cr_conv2d_dims *d) {
    return d->C == 16 && d->K == 16 && d->N >= 16;
}

/* a backward plan whose dx runs conv_s2dx.c first (dx_as_conv 5): its scratch too */
static void plan_dx_s2(conv_plan *pl, const cr_conv2d_dims *d) {
    pl->dx_as_conv = 5;
    if (conv_s2dx_bytes(d, pl->nt) > pl->ws_bytes) pl->ws_bytes = conv_s2dx_bytes(d, pl->nt);
}

void conv_plan_make(conv_plan *pl, const cr_conv2d_dims *d, int which, int64_t elsize) {
    const int64_t CRS = d->C * d->R * d->S, K = d->K;
    const int64_t offs_bytes = CRS * (int64_t)sizeof(int64_t); /* the implicit row offsets */
    memset(pl, 0, sizeof *pl);
    pl->nt = conv_plan_threads(d);
    if (pointwise_batch_ok(d)) { conv_pointwise_plan(pl, d, elsize, g_ws_limit); return; }
    if (which == 0 && s2b_ok(d, elsize)) { conv_s2b_plan(pl, d); return; }
    if (s2_ok(d, which, elsize)) {
        conv_s2_plan(pl, d, which, g_ws_limit);
        if (which == 1 && s2dx_ok(d, elsize)) plan_dx_s2(pl, d); /* its dw, dx by conv_s2dx.c */
        return;
    }
    if (phase_ok(d, elsize)) { /* phase images of bl.G images, then the stride-1 plans */
        pl->path = CONV_PHASE;
        pl->bl.G = conv_phase_images(d, which, elsize, g_ws_limit);
        const int64_t wsz = K * CRS * d->sh; /* w'_b, and dw'_b per column phase */
        int64_t img = 0, inner_ws = 0;
        for (int64_t b = 0; b < d->sw; b++) {
            cr_conv2d_dims e;
            conv_plan inner;
            if (conv_phase_dims(d, b, &e) != 0) continue;
            img += e.C * e.H * e.W;
            e.N = pl->bl.G;
            conv_plan_make(&inner, &e, which, elsize);
            if (inner.ws_bytes > inner_ws) inner_ws = inner.ws_bytes;
        }
        pl->ws_bytes = (pl->bl.G * img * (which ? 2 : 1) + wsz * (which ? 1 + d->sw : 1) +
                        (which == 0 && d->sw > 1 ? pl->bl.G * K * d->P * d->Q : 0)) * elsize +
                       inner_ws;
        /* dx by conv_s2dx.c (dw by the phases) where dy's zero padding costs it little: it
         * multiplies the zeros that fall off dy (H*W*RS/(sh*sw) products per channel pair
         * against P*Q*RS), the phases' conv_g5.c skips them but copies phase images. 1 thread,
         * dx CPU ms, phases -> conv_s2dx.c: the speech 10x5 s2 (b4) 32->32 341x79 (fill 0.94)
         * 32.5-39.1 -> 30.1-32.1, 4x4 s2 p1 (b8) 32->64 64x64 (fill 1.0) 7.2 -> 6.3, 64->64
         * 14.2-15.1 -> 12.4; but 32->64 76x98 (fill 0.86) 13.7-15.2 -> 15.9 */
        if (which == 1 && s2dx_ok(d, elsize) &&
            (double)(d->P * d->Q * d->sh * d->sw) >= 0.9 * (double)(d->H * d->W))
            plan_dx_s2(pl, d);
        return;
    }
    if (direct_plan(pl, d, which, elsize)) {
        if (c16_ok(d)) { /* scratch: dw's, or the transforms' (+ U) if larger */
            const int64_t b = conv_c16_ws_bytes(d, pl->nt);
            pl->path = CONV_C16;
            pl->ws_bytes = which == 0 || b > pl->ws_bytes ? b : pl->ws_bytes;
        }
        return;
    }
    if (which == 0 && winograd_ok(d, elsize)) {
        if (wino4_ok(d) && conv_wino4_plan(pl, d, elsize, g_ws_limit, 0)) return;
        if (wino4s_ok(d, elsize) && conv_wino4s_plan(pl, d, g_ws_limit, 0, 0)) return;
        /* U (16 K C), then V (16 C T) and M (16 K T) for T tiles: whole tile rows, as many
         * as the limit allows (one at least) */
        const int64_t TQ = (d->Q + 1) / 2, TP = (d->P + 1) / 2;
        int64_t rows = (g_ws_limit / elsize - 16 * (K * d->C + 3 * WINO_LD_PAD)) /
                       (16 * (d->C + K) * TQ);
        rows = rows < 1 ? 1 : rows > TP ? TP : rows;
        pl->path = CONV_WINOGRAD;
        pl->bl.G = 1;
        pl->bl.rows = rows;
        pl->bl.cols = rows * TQ;
        pl->nblocks = d->N * ((TP + rows - 1) / rows);
        pl->ws_elems = 16 * (K * d->C + 3 * WINO_LD_PAD) + 16 * (d->C + K) * pl->bl.cols;
        pl->ws_threads = 1;
        pl->ws_bytes = pl->ws_elems * elsize;
        if (rows == TP) wino_small_plan(pl, d, elsize); /* small images: G > 1 per block */
        return;
    }
    if (which == 0 && elsize == 4 && wino25_auto(d) &&
        conv_wino25_plan(pl, d, g_ws_limit))
        return;
    if (which == 0 && elsize == 4 && g5_auto(d)) { conv_g5_plan(pl, d); return; }
    if (which == 0 && conv_rows_ok(d, elsize, 0)) { conv_rows_plan(pl, d, elsize); return; }
    if (which == 0 && implicit_fwd_ok(d, elsize)) {
        /* threads take whole images, or with fewer images than threads share each image
         * (one padded copy, columns of the wide output split between them) */
        pl->path = CONV_IMPLICIT;
        pl->by_block = d->N >= pl->nt;
        pl->ws_elems = implicit_ws_elems(d);
        pl->ws_threads = pl->by_block ? pl->nt : 1;
        pl->ws_bytes = pl->ws_threads * pl->ws_elems * elsize + offs_bytes;
        return;
    }
    if (which == 1 && implicit_bwd_ok(d, elsize)) {
        pl->path = CONV_IMPLICIT;
        pl->ws_elems = implicit_bwd_elems(d, pl->nt);
        pl->ws_threads = pl->nt;
        pl->ws_bytes = pl->ws_threads * pl->ws_elems * elsize + offs_bytes;
        return;
    }
    /* dx first (as a convolution: its own forward plan plus the flipped weights), then dw
     * and db: the call needs the larger of the two */
    int64_t dx_bytes = 0;
    if (which == 1 && s2dx_ok(d, elsize)) {
        pl->dx_as_conv = 5;
        dx_bytes = conv_s2dx_bytes(d, pl->nt);
    } else if (which == 1 && elsize == 4 && (pl->dx_as_conv = dx_as_conv_ok(d, &pl->dd)) != 0) {
        conv_plan dx_plan;
        conv_plan_make(&dx_plan, &pl->dd, 0, elsize);
        if (pl->dx_as_conv == 3) conv_rows_plan(&dx_plan, &pl->dd, elsize); /* its dx variant */
        /* + the flipped copy of w the implicit forward (1) takes; Winograd (2), conv_rows.c
         * (3) and conv_g5.c (4) read w flipped in place (conv_backward_input_as_conv_f32) */
        dx_bytes = dx_plan.ws_bytes + (pl->dx_as_conv == 1 ? K * CRS * elsize : 0);
    }
    /* strided layers with dx by conv_s2dx.c: dw (and db) with output channels in the lanes
     * (conv_s2b.c, CONV_S2B_DW, "direct_s2") where K % 16 == 0. 1 thread, dw CPU ms, im2col ->
     * direct (batch 8): 5x5 s2 p2 64->128 28x28 7.3 -> 6.0, 7x7 s2 p3 16->32 112x112 18.9 ->
     * 11.9, 5x5 s3 32->64 60x60 4.0 -> 2.8, 3x3 s(2,1) 64->128 56x56 19.3 -> 17.6, 3x3 s2
     * 128->256 28x28 9.6 -> 8.8, 5x5 s2 128->256 14x14 7.7 -> 6.8; not with fewer than ~1000
     * products per image and channel pair (R*S*P*Q), where its per-image costs (dy
     * transposed, the padded copy) weigh more: 3x3 s2 256->512 14x14 9.5 -> 10.1 */
    if (which == 1 && pl->dx_as_conv == 5 && d->K % 16 == 0 &&
        d->R * d->S * d->P * d->Q >= 1000 && conv_s2b_dw_bytes(d, 1) <= g_ws_limit) {
        pl->path = CONV_S2B_DW;
        pl->ws_threads = pl->nt;
        pl->ws_bytes = conv_s2b_dw_bytes(d, pl->nt);
        if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
        return;
    }
    /* dw by F(2x2, 5x5) too when dx and the forward run it (conv_wino25.c), with 13+ output
     * columns (7+ tiles a row in the transforms' lanes) and K a multiple of 32 (whole column
     * panels of the products): 1 thread, dw ms g5_skip -> F(2x2, 5x5): 192->32 28x28 batch 16
     * 31.5 -> 21.5, 96->64 28x28 batch 4 7.9 -> 5.7, 160->32 14x14 batch 8 3.0 -> 2.4,
     * 512->64 14x14 19.7 -> 18.5; K = 48 (480->48 14x14: 13.8 -> 17.2) and 10x10 (256->64:
     * 4.7 -> 4.9) lost and stay conv_g5.c's, as a batch in a single block group
     * (conv_wino25_dw_plan); 2 threads 192->32 16.0 -> 9.8 (PyTorch 17.2) */
    if (which == 1 && pl->dx_as_conv == 6 && d->Q >= 13 &&
        d->K % 32 == 0 && wino25_auto(d) &&
        conv_wino25_dw_plan(pl, d, g_ws_limit, dx_bytes))
        return;
    /* dw too when dx runs conv_g5.c or conv_wino25.c (its shared scratch within the limit) */
    if (which == 1 && (pl->dx_as_conv == 4 || pl->dx_as_conv == 6) && g5_auto(&pl->dd) &&
        conv_g5_dw_ws_bytes(d, 2) <= g_ws_limit) {
        pl->path = CONV_G5;
        pl->ws_threads = pl->nt;
        pl->ws_bytes = conv_g5_dw_ws_bytes(d, pl->nt);
        if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
        return;
    }
    /* dw of a large layer read in place (float32, AVX-512, stride 1, dx done as a convolution):
     * per image, dw[k, crs] += sum_j dy_wide[k, j] * xp[offs[crs] + j] (the implicit
     * backward's product, one horizontal sum per image instead of 16-wide partial sums of a
     * dw too large for them). No im2col: 1.3x faster than im2col + dot on 64->64 3x3, and
     * the scratch (xp and dy_wide per thread) is the implicit forward's, far below im2col's. */
    if (which == 1 && wino4_dw_ok(pl, d, elsize) &&
        conv_wino4_dw_plan(pl, d, elsize, g_ws_limit, dx_bytes)) return;
    if (which == 1 && pl->dx_as_conv == 2 && wino4s_ok(d, elsize) &&
        conv_wino4s_plan(pl, d, g_ws_limit, 1, dx_bytes)) return;
    if (which == 1 && wino_dw_plan(pl, d, elsize, dx_bytes)) return;
    if (which == 1 && pl->dx_as_conv && conv_rows_dw_ok(d, elsize)) {
        conv_rows_dw_plan(pl, d, elsize, dx_bytes);
        return;
    }
    if (pl->dx_as_conv == 1 && implicit_fwd_ok(d, elsize)) {
        pl->path = CONV_IMPLICIT_DW;
        pl->ws_elems = implicit_ws_elems(d); /* xp and dy_wide, as the forward */
        pl->ws_threads = pl->nt;
        pl->ws_bytes = pl->ws_threads * pl->ws_elems * elsize + offs_bytes;
        if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
        return;
    }
    pl->path = CONV_GEMM;
    pl->bl = blocking(d, elsize);
    pl->nblocks = (d->N + pl->bl.G - 1) / pl->bl.G;
    pl->ws_elems = (CRS + K) * pl->bl.cols;
    pl->by_block = pl->nt > 1 && pl->nblocks >= pl->nt;
    /* forward: one slice per thread only when threads take whole blocks; backward: dw and
     * db always run on all threads, each with its slice */
    pl->ws_threads = which == 1 || pl->by_block ? pl->nt : 1;
    pl->ws_bytes = pl->ws_threads * pl->ws_elems * elsize;
    if (dx_bytes > pl->ws_bytes) pl->ws_bytes = dx_bytes;
}

/* The plan, as conv.h reports it. */
void cr_conv2d_plan_info_get(cr_conv2d_plan_info *info, const cr_conv2d_dims *d, int which,
                             int64_t elsize) {
    conv_plan pl;
    memset(info, 0, sizeof *info);
    if (d->N == 0) return;
    conv_plan_make(&pl, d, which, elsize);
    const int gemm = pl.path == CONV_POINTWISE ? CR_CONV_PATH_POINTWISE : CR_CONV_PATH_IM2COL;
    info->threads = pl.nt;
    info->ws_bytes = pl.ws_bytes;
    if (pl.path == CONV_GEMM || pl.path == CONV_WINOGRAD || pl.path == CONV_POINTWISE ||
        pl.path == CONV_WINO4S || pl.path == CONV_WINO25) {
        info->G = pl.bl.G;
        info->rows = pl.bl.rows;
        info->cols = pl.bl.cols;
        info->blocks = pl.nblocks;
    }
    if (pl.path == CONV_PHASE) {
        info->path = info->dx_path = info->dw_path = CR_CONV_PATH_PHASE;
        if (which == 1 && pl.dx_as_conv == 5) info->dx_path = CR_CONV_PATH_DX_S2;
        return;
    }
    if (pl.path == CONV_S2) {
        info->path = info->dx_path = info->dw_path = CR_CONV_PATH_S2;
        if (which == 1 && pl.bl.cols == 1) info->path = info->dw_path = CR_CONV_PATH_S2B;
        if (which == 1 && pl.dx_as_conv == 5) info->dx_path = CR_CONV_PATH_DX_S2;
        return;
    }
    if (pl.path == CONV_S2B) {
        info->path = CR_CONV_PATH_S2B;
        return;
    }
    if (pl.path == CONV_DIRECT) {
        info->path = info->dx_path = info->dw_path = CR_CONV_PATH_DIRECT;
        return;
    }
    if (pl.path == CONV_C16) {
        info->path = info->dx_path = CR_CONV_PATH_C16;
        info->dw_path = which == 1 ? CR_CONV_PATH_DIRECT : CR_CONV_PATH_C16;
        return;
    }
    if (which == 0) {
        info->path = pl.path == CONV_IMPLICIT   ? CR_CONV_PATH_IMPLICIT
                     : pl.path == CONV_WINOGRAD ? CR_CONV_PATH_WINOGRAD
                     : pl.path == CONV_ROWS     ? CR_CONV_PATH_ROWS
                     : pl.path == CONV_WINO4S   ? CR_CONV_PATH_WINO4S
                     : pl.path == CONV_G5       ? CR_CONV_PATH_G5
                     : pl.path == CONV_WINO25   ? CR_CONV_PATH_WINO25
                                                : gemm;
        return;
    }
    info->path = info->dw_path = pl.path == CONV_IMPLICIT      ? CR_CONV_PATH_IMPLICIT
                                 : pl.path == CONV_IMPLICIT_DW ? CR_CONV_PATH_IMPLICIT_DW
                                 : pl.path == CONV_WINO_DW     ? CR_CONV_PATH_WINO_DW
                                 : pl.path == CONV_ROWS_DW     ? CR_CONV_PATH_ROWS_DW
                                 : pl.path == CONV_WINO4S_DW   ? CR_CONV_PATH_WINO4S_DW
                                 : pl.path == CONV_G5          ? CR_CONV_PATH_G5
                                 : pl.path == CONV_S2B_DW      ? CR_CONV_PATH_S2B
                                 : pl.path == CONV_WINO25      ? CR_CONV_PATH_WINO25
                                                               : gemm;
    if (pl.path == CONV_POINTWISE && conv_pointwise_dw_dot(d, elsize))
        info->dw_path = CR_CONV_PATH_PW_DOT;
    conv_plan dxp;
    if (pl.dx_as_conv == 2) conv_plan_make(&dxp, &pl.dd, 0, elsize);
    info->dx_path = pl.path == CONV_IMPLICIT ? CR_CONV_PATH_IMPLICIT
                    : pl.dx_as_conv == 2 && dxp.path == CONV_WINO4S ? CR_CONV_PATH_DX_WINO4S
                    : pl.dx_as_conv == 2     ? CR_CONV_PATH_DX_WINOGRAD
                    : pl.dx_as_conv == 3     ? CR_CONV_PATH_DX_ROWS
                    : pl.dx_as_conv == 4     ? CR_CONV_PATH_G5
                    : pl.dx_as_conv == 5     ? CR_CONV_PATH_DX_S2
                    : pl.dx_as_conv == 6     ? CR_CONV_PATH_WINO25
                    : pl.dx_as_conv          ? CR_CONV_PATH_DX_AS_CONV
                                             : gemm;
}

/* The plan's figure: exactly what the call allocates. */
int64_t cr_conv2d_workspace_bytes(const cr_conv2d_dims *d, int which, int64_t elsize) {
    if (d->N == 0) return 0;
    conv_plan pl;
    conv_plan_make(&pl, d, which, elsize);
    return pl.ws_bytes;
}

/* Scratch buffers: one is cached across calls, because the page faults of a fresh
 * multi-MiB buffer on every call cost ~10% of a mid-size layer. Thread-safe: a caller
 * takes the cached buffer with an atomic exchange (concurrent callers allocate their
 * own) and puts its buffer back when done (freeing whatever was cached). The cached size
 * is bounded by the workspace limit times the thread count. A 64-byte header holds the
 * usable size. */

void *conv_ws_alloc(int64_t bytes) {
    if (bytes <= 0) return NULL;
    const size_t need = ((size_t)bytes + 63) & ~(size_t)63;
    char *c = (char *)__atomic_exchange_n(&g_ws_cache, NULL, __ATOMIC_ACQ_REL);
    if (c && *(size_t *)c >= need) return c + 64;
    free(c);
    c = (char *)aligned_alloc(64, need + 64);
    if (!c) return NULL;
    *(size_t *)c = need;
    return c + 64;
}

void conv_ws_free(void *p) {
    if (!p) return;
    void *old = __atomic_exchange_n(&g_ws_cache, (char *)p - 64, __ATOMIC_ACQ_REL);
    free(old);
}
