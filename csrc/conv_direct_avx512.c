/* conv_direct_avx512.c — the register tile of the direct convolution (conv_direct.c): stride
 * 1, no dilation, few channels, the image read in place (no padded copy, no im2col).
 *
 *   conv_direct_row_avx512: output row p, columns [q0, q0 + ncol) (ncol <= 32), output
 *   channels k0 .. k0 + mb - 1 (mb <= 8):
 *     y[k, p, q] = (acc ? y : 0) + bias[k] + sum_{c, r, s} w[k, c, r, s] x[c, p+r-ph, q+s-pw]
 *   summed over c, then r, then s (rows outside the image are skipped, columns outside it
 *   read as zero through the load masks). Pixels lie in the vector lanes: mb x 2 accumulators
 *   of 16 columns; per tap two masked loads of the input row, shared by the mb broadcast
 *   weights. wt holds the mb channels' weights tap by tap: wt[((c*R + r)*S + s)*8 + i].
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
#define DECL(i) __m512 a##i##0 = _mm512_setzero_ps(), a##i##1 = a##i##0;
#define FMA(i)                                                                             \
    if (i < MB_) {                                                                         \
        const __m512 wv = _mm512_set1_ps(ws[i]);                                           \
        a##i##0 = _mm512_fmadd_ps(wv, b0, a##i##0);                                        \
        if (NV_ > 1) a##i##1 = _mm512_fmadd_ps(wv, b1, a##i##1);                           \
    }
#define STORE1(i, v, m)                                                                    \
    {                                                                                      \
        __m512 r_ = a##i##v;                                                               \
        float *yi = y + i * ldy + 16 * v;                                                  \
        if (acc) r_ = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yi), r_);                     \
        if (bias) r_ = _mm512_add_ps(r_, _mm512_set1_ps(bias[i]));                         \
        _mm512_mask_storeu_ps(yi, m, r_);                                                  \
    }
#define STORE(i)                                                                           \
    if (i < MB_) {                                                                         \
        STORE1(i, 0, o0)                                                                   \
        if (NV_ > 1) STORE1(i, 1, o1)                                                      \
    }

#define TILE(MB, NV)                                                                       \
static void tile_##MB##_##NV(float *y, int64_t ldy, const float *x, const float *wt,      \
                             int64_t C, int64_t H, int64_t W, int64_t R, int64_t S,        \
                             int64_t ph, int64_t pw, int64_t p, int64_t q0, int64_t ncol,  \
                             const float *bias, int acc) {                                 \
    enum { MB_ = MB, NV_ = NV };                                                           \
    __mmask16 m0[16], m1[16]; /* per tap column s: the input lanes inside the row */       \
    for (int64_t s = 0; s < S && s < 16; s++) {                                            \
        m0[s] = lane_mask(q0 + s - pw, W);                                                 \
        m1[s] = lane_mask(q0 + 16 + s - pw, W);                                            \
    }                                                                                      \
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5) DECL(6) DECL(7)                        \
    const int64_t HW = H * W;                                                              \
    for (int64_t c = 0; c < C; c++)                                                        \
        for (int64_t r = 0; r < R; r++) {                                                  \
            const int64_t row = p + r - ph;                                                \
            if (row < 0 || row >= H) continue;                                             \
            const float *xr = x + c * HW + row * W + q0 - pw;                              \
            const float *wr = wt + (c * R + r) * S * 8;                                    \
            for (int64_t s = 0; s < S; s++) {                                              \
                const float *ws = wr + s * 8;                                              \
                const __m512 b0 = _mm512_maskz_loadu_ps(m0[s], xr + s);                    \
                const __m512 b1 = NV_ > 1 ? _mm512_maskz_loadu_ps(m1[s], xr + s + 16)      \
                                          : b0;                                            \
                FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7)                    \
            }                                                                              \
        }                                                                                  \
    const __mmask16 o0 = lane_mask(-0, ncol), o1 = lane_mask(16, ncol);                    \
    (void)o1;                                                                              \
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)                \
}
TILE(1, 1) TILE(2, 1) TILE(3, 1) TILE(4, 1) TILE(5, 1) TILE(6, 1) TILE(7, 1) TILE(8, 1)
TILE(1, 2) TILE(2, 2) TILE(3, 2) TILE(4, 2) TILE(5, 2) TILE(6, 2) TILE(7, 2) TILE(8, 2)

typedef void (*tile_fn)(float *, int64_t, const float *, const float *, int64_t, int64_t,
                        int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                        const float *, int);
static const tile_fn TILES[2][9] = {
    {0, tile_1_1, tile_2_1, tile_3_1, tile_4_1, tile_5_1, tile_6_1, tile_7_1, tile_8_1},
    {0, tile_1_2, tile_2_2, tile_3_2, tile_4_2, tile_5_2, tile_6_2, tile_7_2, tile_8_2}};

void conv_direct_row_avx512(float *y, int64_t ldy, const float *x, const float *wt, int64_t mb,
                            int64_t C, int64_t H, int64_t W, int64_t R, int64_t S, int64_t ph,
                            int64_t pw, int64_t p, int64_t q0, int64_t ncol, const float *bias,
                            int acc) {
    TILES[ncol > 16][mb](y, ldy, x, wt, C, H, W, R, S, ph, pw, p, q0, ncol, bias, acc);
}
