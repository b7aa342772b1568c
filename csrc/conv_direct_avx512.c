/* conv_direct_avx512.c — the register tile of the direct convolution (conv_direct.c): stride
 * 1, no dilation, few channels, the image read in place (no padded copy, no im2col).
 *
 *   conv_direct_tile_avx512 (3x3 kernels, R = S = 3): output rows p .. p + nr - 1 (nr <= 2), columns [q0, q0 + ncol)
 *   (ncol <= 32), output channels k0 .. k0 + mb - 1 (mb <= 6):
 *     y[k, p, q] = (acc ? y : 0) + bias[k] + sum_{c, r, s} w[k, c, r, s] x[c, p+r-ph, q+s-pw]
 *   summed over c, then r, then s (a row outside the image reads the zero row zrow, columns
 *   outside it read as zero through the load masks). Pixels lie in the vector lanes:
 *   mb x nr x 2 accumulators of 16 columns (up to 24); per tap nr x 2 masked loads of input
 *   rows and mb broadcast weights, each used by nr x 2 FMAs. wt holds the mb channels'
 *   weights tap by tap: wt[((c*R + r)*S + s)*8 + i].
 */
#include <immintrin.h>
#include <stdint.h>

/* lanes l with 0 <= q + l < W (q may be negative) */
static inline __mmask16 lane_mask(int64_t q, int64_t W) {
    int64_t lo = -q, hi = W - q;
    lo = lo < 0 ? 0 : lo > 16 ? 16 : lo;
    hi = hi < 0 ? 0 : hi > 16 ? 16 : hi;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The accumulators are named variables (not an array): GCC keeps them in registers. */
#define DECL(i) __m512 a##i##00 = _mm512_setzero_ps(), a##i##01 = a##i##00, a##i##10 = a##i##00, \
                       a##i##11 = a##i##00;
#define FMA(i)                                                                             \
    if (i < MB_) {                                                                         \
        const __m512 wv = _mm512_set1_ps(ws[i]);                                           \
        a##i##00 = _mm512_fmadd_ps(wv, b00, a##i##00);                                     \
        if (NV_ > 1) a##i##01 = _mm512_fmadd_ps(wv, b01, a##i##01);                        \
        if (NR_ > 1) a##i##10 = _mm512_fmadd_ps(wv, b10, a##i##10);                        \
        if (NR_ > 1 && NV_ > 1) a##i##11 = _mm512_fmadd_ps(wv, b11, a##i##11);             \
    }
#define STORE1(i, o, v, m)                                                                 \
    {                                                                                      \
        __m512 r_ = a##i##o##v;                                                            \
        float *yi = y + i * ldy + o * W + 16 * v;                                          \
        if (acc) r_ = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yi), r_);                     \
        if (bias) r_ = _mm512_add_ps(r_, _mm512_set1_ps(bias[i]));                         \
        _mm512_mask_storeu_ps(yi, m, r_);                                                  \
    }
#define STORE(i)                                                                           \
    if (i < MB_) {                                                                         \
        STORE1(i, 0, 0, o0)                                                                \
        if (NV_ > 1) STORE1(i, 0, 1, o1)                                                   \
        if (NR_ > 1) STORE1(i, 1, 0, o0)                                                   \
        if (NR_ > 1 && NV_ > 1) STORE1(i, 1, 1, o1)                                        \
    }

/* W doubles as the output row stride (stride 1: Q = W + 2 pw - S + 1; the driver passes Q) */
#define TILE(MB, NR, NV)                                                                   \
static void tile_##MB##_##NR##_##NV(float *y, int64_t ldy, int64_t W, const float *x,      \
                                    const float *wt, int64_t C, int64_t H, int64_t Wx,     \
                                    int64_t R, int64_t S, int64_t ph, int64_t pw,          \
                                    int64_t p, int64_t q0, int64_t ncol, const float *zrow,\
                                    const float *bias, int acc) {                          \
    enum { MB_ = MB, NR_ = NR, NV_ = NV };                                                 \
    __mmask16 m0[3], m1[3]; /* per tap column s: the input lanes inside the row */         \
    (void)R; (void)S; /* 3 x 3: the constant lets the compiler unroll the taps */          \
    for (int64_t s = 0; s < 3; s++) {                                                      \
        m0[s] = lane_mask(q0 + s - pw, Wx);                                                \
        m1[s] = lane_mask(q0 + 16 + s - pw, Wx);                                           \
    }                                                                                      \
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5)                                        \
    const int64_t HW = H * Wx;                                                             \
    for (int64_t c = 0; c < C; c++)                                                        \
        for (int64_t r = 0; r < 3; r++) {                                                  \
            const int64_t row0 = p + r - ph, row1 = row0 + 1;                              \
            const float *x0 = (row0 >= 0 && row0 < H ? x + c * HW + row0 * Wx : zrow) + q0 - pw; \
            const float *x1 = (row1 >= 0 && row1 < H ? x + c * HW + row1 * Wx : zrow) + q0 - pw; \
            const float *wr = wt + (c * 3 + r) * 3 * 8;                                    \
            for (int64_t s = 0; s < 3; s++) {                                              \
                const float *ws = wr + s * 8;                                              \
                const __m512 b00 = _mm512_maskz_loadu_ps(m0[s], x0 + s);                   \
                const __m512 b01 = NV_ > 1 ? _mm512_maskz_loadu_ps(m1[s], x0 + s + 16) : b00; \
                const __m512 b10 = NR_ > 1 ? _mm512_maskz_loadu_ps(m0[s], x1 + s) : b00;   \
                const __m512 b11 = NR_ > 1 && NV_ > 1                                      \
                                       ? _mm512_maskz_loadu_ps(m1[s], x1 + s + 16) : b00;  \
                FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5)                                  \
            }                                                                              \
        }                                                                                  \
    const __mmask16 o0 = lane_mask(0, ncol), o1 = lane_mask(16, ncol);                     \
    (void)o1;                                                                              \
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)                                  \
}
#define TILES_MB(NR, NV) TILE(1, NR, NV) TILE(2, NR, NV) TILE(3, NR, NV) TILE(4, NR, NV)    \
                         TILE(5, NR, NV) TILE(6, NR, NV)
TILES_MB(1, 1) TILES_MB(1, 2) TILES_MB(2, 1) TILES_MB(2, 2)

typedef void (*tile_fn)(float *, int64_t, int64_t, const float *, const float *, int64_t,
                        int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                        int64_t, const float *, const float *, int);
#define ROW(NR, NV) {0, tile_1_##NR##_##NV, tile_2_##NR##_##NV, tile_3_##NR##_##NV,          \
                     tile_4_##NR##_##NV, tile_5_##NR##_##NV, tile_6_##NR##_##NV}
static const tile_fn TILES[2][2][7] = {{ROW(1, 1), ROW(1, 2)}, {ROW(2, 1), ROW(2, 2)}};

void conv_direct_tile_avx512(float *y, int64_t ldy, int64_t Q, const float *x, const float *wt,
                             int64_t mb, int64_t C, int64_t H, int64_t W, int64_t R, int64_t S,
                             int64_t ph, int64_t pw, int64_t p, int64_t nr, int64_t q0,
                             int64_t ncol, const float *zrow, const float *bias, int acc) {
    TILES[nr > 1][ncol > 16][mb](y, ldy, Q, x, wt, C, H, W, R, S, ph, pw, p, q0, ncol, zrow,
                                 bias, acc);
}

/* conv_direct_dw_avx512: 16-wide partial sums of dw for output channels k0 .. k0 + mb - 1
 * (mb <= 2) and one input channel c of a 3x3 kernel, over one image, added to g:
 *   g[(i*9 + r*3 + s)*16 + l] += sum over input rows h and vectors v of
 *                                dy[k0+i, h - r + ph, 16v + l] * x[c, h, 16v + l + s - pw]
 * (v, then h, in order). dy_k0: channel k0's plane (P x Q), planes ldy apart; xc: channel c's
 * plane (H x W). Only rows h inside the image are visited; dy rows outside [0, P) read zero,
 * x columns outside the row and dy lanes past Q are masked to zero. Each input row is loaded
 * once (3 shifts) and meets the three dy rows it pairs with, kept in registers as a sliding
 * window (slots a, b, c rotate as the loop is unrolled by 3): 18 accumulators, per input
 * row 3 + mb loads for 9 mb FMAs. */
#define GLOAD(i, t) __m512 g##i##t = MB_ > i ? _mm512_loadu_ps(g + (i * 9 + t) * 16) : _mm512_setzero_ps();
#define GDECL(i) GLOAD(i, 0) GLOAD(i, 1) GLOAD(i, 2) GLOAD(i, 3) GLOAD(i, 4) GLOAD(i, 5)  \
                 GLOAD(i, 6) GLOAD(i, 7) GLOAD(i, 8)
#define GPUT(i, t) if (MB_ > i) _mm512_storeu_ps(g + (i * 9 + t) * 16, g##i##t);
#define GSTORE(i) GPUT(i, 0) GPUT(i, 1) GPUT(i, 2) GPUT(i, 3) GPUT(i, 4) GPUT(i, 5)        \
                  GPUT(i, 6) GPUT(i, 7) GPUT(i, 8)
/* dy row pr of channel k0 + k (zero outside the output) */
#define DYROW(k, pr) (MB_ > k && (pr) >= 0 && (pr) < P                                    \
                      ? _mm512_maskz_loadu_ps(mo, dy + k * ldy + (pr) * Q + q0)            \
                      : _mm512_setzero_ps())
#define GFMA3(k, D, t0, t1, t2)                                                            \
    if (MB_ > k) {                                                                         \
        g##k##t0 = _mm512_fmadd_ps(D, xa, g##k##t0);                                       \
        g##k##t1 = _mm512_fmadd_ps(D, xb, g##k##t1);                                       \
        g##k##t2 = _mm512_fmadd_ps(D, xe, g##k##t2);                                       \
    }
/* input row h: dy row h + ph enters slot N (tap row r = 0); slots S1, S2 hold rows h+ph-1
 * (r = 1) and h+ph-2 (r = 2) */
#define STEP(N, S1, S2)                                                                    \
    {                                                                                      \
        d0##N = DYROW(0, h + ph);                                                          \
        d1##N = DYROW(1, h + ph);                                                          \
        const float *xr = xc + h * W - pw + q0;                                            \
        const __m512 xa = _mm512_maskz_loadu_ps(ma, xr), xb = _mm512_maskz_loadu_ps(mb, xr + 1), \
                     xe = _mm512_maskz_loadu_ps(me, xr + 2);                               \
        GFMA3(0, d0##N, 0, 1, 2) GFMA3(1, d1##N, 0, 1, 2)                                  \
        GFMA3(0, d0##S1, 3, 4, 5) GFMA3(1, d1##S1, 3, 4, 5)                                \
        GFMA3(0, d0##S2, 6, 7, 8) GFMA3(1, d1##S2, 6, 7, 8)                                \
        h++;                                                                               \
    }
#define DW_TILE(MB)                                                                        \
static void dw_tile_##MB(float *g, const float *dy, int64_t ldy, const float *xc, int64_t H, \
                         int64_t W, int64_t P, int64_t Q, int64_t ph, int64_t pw) {        \
    enum { MB_ = MB };                                                                     \
    GDECL(0) GDECL(1)                                                                      \
    for (int64_t q0 = 0; q0 < Q; q0 += 16) {                                               \
        const __mmask16 mo = lane_mask(q0, Q), ma = lane_mask(q0 - pw, W),                 \
                        mb = lane_mask(q0 + 1 - pw, W), me = lane_mask(q0 + 2 - pw, W);    \
        int64_t h = 0;                                                                     \
        __m512 d0a = _mm512_setzero_ps(), d1a = d0a;                                       \
        __m512 d0c = DYROW(0, ph - 1), d1c = DYROW(1, ph - 1);                             \
        __m512 d0b = DYROW(0, ph - 2), d1b = DYROW(1, ph - 2);                             \
        while (h + 3 <= H) { STEP(a, c, b) STEP(b, a, c) STEP(c, b, a) }                   \
        if (h < H) STEP(a, c, b)                                                           \
        if (h < H) STEP(b, a, c)                                                           \
    }                                                                                      \
    GSTORE(0) GSTORE(1)                                                                    \
}
DW_TILE(1) DW_TILE(2)

void conv_direct_dw_avx512(float *g, const float *dy_k0, int64_t ldy, int64_t mb,
                           const float *xc, int64_t H, int64_t W, int64_t P, int64_t Q,
                           int64_t ph, int64_t pw) {
    if (mb == 2) dw_tile_2(g, dy_k0, ldy, xc, H, W, P, Q, ph, pw);
    else dw_tile_1(g, dy_k0, ldy, xc, H, W, P, Q, ph, pw);
}

/* dw[i*ldw + t] += the sum of the 16 lanes of g[(i*9 + t)*16 ...] for i < mb, t < 9 */
void conv_direct_dw_reduce_avx512(float *dw, int64_t ldw, const float *g, int64_t mb) {
    for (int64_t i = 0; i < mb; i++)
        for (int64_t t = 0; t < 9; t++)
            dw[i * ldw + t] += _mm512_reduce_add_ps(_mm512_loadu_ps(g + (i * 9 + t) * 16));
}
