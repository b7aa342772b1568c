/* conv_pw_dot_avx512.c — dw of a stride-1 1x1 convolution (float32, AVX-512) as dot products
 * along the pixels (see conv_pw_dot.h):
 *
 *   dw[k][c] (+)= sum_n sum_j dy[n][k][j] * x[n][c][j]
 *
 * Rows of dy and x are contiguous pixel runs in NCHW, so no operand is packed (the GEMM
 * path transposes both into panels, which costs as much as the product when the layer has
 * few weights, e.g. 32->64 or 64->256 channels over 32x32..56x56 maps). A tile of 4 rows of
 * dw x 4 columns keeps 16 vector accumulators: 8 loads feed 16 FMAs. Lane l of an
 * accumulator sums the pixels j = l (mod 16) of every image, in (n, j) order; an image's
 * last partial vector is a masked FMA (the other lanes untouched). The pixels are swept in
 * slabs (a run of one image's pixels, or whole images when they are small) sized so the
 * slab's rows of x and dy stay in L2 while every tile passes over them; a tile's
 * accumulators wait in buf between slabs (stores and reloads change no value), so the sums
 * depend neither on the slabs nor on the rows a thread owns. At the end each accumulator is
 * summed across its lanes (_mm512_reduce_add_ps, one fixed order) into dw.
 * Tiles past the last row or column repeat a valid row (their sums are dropped).
 */
#include <immintrin.h>
#include <stdint.h>
#include "conv_pw_dot.h"

#define TK 4 /* rows of dw per tile */
#define TC 4 /* columns of dw per tile */

int64_t cr_pw_dw_dot_buf(int64_t k0, int64_t k1, int64_t C) {
    const int64_t tk = (k1 - k0 + TK - 1) / TK, tc = (C + TC - 1) / TC;
    return tk * tc * TK * TC * 16;
}

static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1); }

/* One tile over pixels [j0, j1) of one image: d[i], s[j] the tile's rows of dy and x. */
static inline void tile_run(__m512 acc[TK][TC], const float *const d[TK],
                            const float *const s[TC], int64_t j0, int64_t j1) {
    int64_t j = j0;
    for (; j + 16 <= j1; j += 16) {
        __m512 a[TK], b[TC];
        for (int i = 0; i < TK; i++) a[i] = _mm512_loadu_ps(d[i] + j);
        for (int c = 0; c < TC; c++) b[c] = _mm512_loadu_ps(s[c] + j);
        for (int i = 0; i < TK; i++)
            for (int c = 0; c < TC; c++) acc[i][c] = _mm512_fmadd_ps(a[i], b[c], acc[i][c]);
    }
    if (j < j1) {
        const __mmask16 m = tail_mask(j1 - j);
        __m512 a[TK], b[TC];
        for (int i = 0; i < TK; i++) a[i] = _mm512_maskz_loadu_ps(m, d[i] + j);
        for (int c = 0; c < TC; c++) b[c] = _mm512_maskz_loadu_ps(m, s[c] + j);
        for (int i = 0; i < TK; i++)
            for (int c = 0; c < TC; c++)
                acc[i][c] = _mm512_mask3_fmadd_ps(a[i], b[c], acc[i][c], m);
    }
}

void cr_pw_dw_dot_f32_avx512(float *dw, const float *dy, const float *x, int64_t N, int64_t K,
                             int64_t C, int64_t PQ, int64_t k0, int64_t k1, int beta,
                             float *buf) {
    if (k0 >= k1) return;
    const int64_t tk = (k1 - k0 + TK - 1) / TK, tc = (C + TC - 1) / TC;
    const int64_t ntile = tk * tc;
    /* slab: PJ pixels of G images; (k1 - k0 + C) <= K + C rows of each */
    int64_t PJ = CR_PW_DOT_SLAB_BYTES / ((K + C) * (int64_t)sizeof(float));
    PJ = PJ < 16 ? 16 : PJ / 16 * 16;
    const int64_t G = PQ >= PJ ? 1 : PJ / PQ;
    for (int64_t e = 0; e < ntile * TK * TC * 16; e++) buf[e] = 0.0f;
    for (int64_t n0 = 0; n0 < N; n0 += G) {
        const int64_t n1 = N - n0 < G ? N : n0 + G;
        for (int64_t j0 = 0; j0 < PQ; j0 += PJ) {
            const int64_t j1 = PQ - j0 < PJ ? PQ : j0 + PJ;
            for (int64_t t = 0; t < ntile; t++) {
                const int64_t kb = k0 + (t / tc) * TK, cb = (t % tc) * TC;
                float *tb = buf + t * TK * TC * 16;
                __m512 acc[TK][TC];
                for (int i = 0; i < TK; i++)
                    for (int c = 0; c < TC; c++)
                        acc[i][c] = _mm512_load_ps(tb + (i * TC + c) * 16);
                for (int64_t n = n0; n < n1; n++) {
                    const float *d[TK], *s[TC];
                    for (int i = 0; i < TK; i++) {
                        const int64_t k = kb + i < k1 ? kb + i : k1 - 1;
                        d[i] = dy + (n * K + k) * PQ;
                    }
                    for (int c = 0; c < TC; c++) {
                        const int64_t ch = cb + c < C ? cb + c : C - 1;
                        s[c] = x + (n * C + ch) * PQ;
                    }
                    tile_run(acc, d, s, j0, j1);
                }
                for (int i = 0; i < TK; i++)
                    for (int c = 0; c < TC; c++)
                        _mm512_store_ps(tb + (i * TC + c) * 16, acc[i][c]);
            }
        }
    }
    for (int64_t t = 0; t < ntile; t++) {
        const int64_t kb = k0 + (t / tc) * TK, cb = (t % tc) * TC;
        const float *tb = buf + t * TK * TC * 16;
        for (int i = 0; i < TK && kb + i < k1; i++)
            for (int c = 0; c < TC && cb + c < C; c++) {
                const float v = _mm512_reduce_add_ps(_mm512_load_ps(tb + (i * TC + c) * 16));
                float *o = dw + (kb + i) * C + cb + c;
                *o = beta ? *o + v : v;
            }
    }
}
