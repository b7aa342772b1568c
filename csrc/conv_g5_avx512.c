/* conv_g5_avx512.c — the AVX-512 tile of conv_g5.c: qb (<= 7) neighbouring output pixels
 * of one output row times 16 * kv (kv 1, 2 or 3) output channels, channels in the lanes
 * (at most 21 accumulators: no spills):
 *
 *   buf[j*KW + l] += sum_{c < cn} sum_{r < nr} sum_{s < ns}
 *                        x[c*HW + r*W + s + j] * wp[((c*R + r)*S + s)*KW + l]
 *
 * x and wp point at the first tap (r0, s0) of the tile's first pixel, and every (r, s, j)
 * the caller asks for is inside the image: the taps in the zero padding are skipped, not
 * multiplied by 0 (conv_g5.c splits a tile into runs of pixels per range of s). No tests
 * in the loop; the image is read in place, one broadcast per pixel and tap; each output
 * sums its terms in r, c, s order.
 */
#include <immintrin.h>
#include <stdint.h>

#define G5_QMAX 7

static inline __attribute__((always_inline)) void
g5_tile(float *buf, const float *x, int64_t cn, int64_t HW, int64_t W, const float *wp,
        int64_t R, int64_t S, int64_t nr, int64_t ns, const int QB,
        const int KV) {
    const int64_t KW = 16 * KV;
    __m512 a0[G5_QMAX], a1[G5_QMAX], a2[G5_QMAX];
#pragma GCC unroll 7
    for (int j = 0; j < G5_QMAX; j++) {
        if (j >= QB) break;
        a0[j] = _mm512_loadu_ps(buf + j * KW);
        a1[j] = KV >= 2 ? _mm512_loadu_ps(buf + j * KW + 16) : a0[j];
        a2[j] = KV == 3 ? _mm512_loadu_ps(buf + j * KW + 32) : a0[j];
    }
    const int64_t RS = R * S;
    for (int64_t r = 0; r < nr; r++) { /* channels innermost: a long loop, fixed strides */
        const float *xr = x + r * W;
        const float *wr = wp + r * S * KW;
        for (int64_t c = 0; c < cn; c++, xr += HW, wr += RS * KW) {
            for (int64_t s = 0; s < ns; s++) {
                const __m512 w0 = _mm512_loadu_ps(wr + s * KW);
                const __m512 w1 = KV >= 2 ? _mm512_loadu_ps(wr + s * KW + 16) : w0;
                const __m512 w2 = KV == 3 ? _mm512_loadu_ps(wr + s * KW + 32) : w0;
#pragma GCC unroll 7
                for (int j = 0; j < G5_QMAX; j++) {
                    if (j >= QB) break;
                    const __m512 b = _mm512_set1_ps(xr[s + j]);
                    a0[j] = _mm512_fmadd_ps(b, w0, a0[j]);
                    if (KV >= 2) a1[j] = _mm512_fmadd_ps(b, w1, a1[j]);
                    if (KV == 3) a2[j] = _mm512_fmadd_ps(b, w2, a2[j]);
                }
            }
        }
    }
#pragma GCC unroll 7
    for (int j = 0; j < G5_QMAX; j++) {
        if (j >= QB) break;
        _mm512_storeu_ps(buf + j * KW, a0[j]);
        if (KV >= 2) _mm512_storeu_ps(buf + j * KW + 16, a1[j]);
        if (KV == 3) _mm512_storeu_ps(buf + j * KW + 32, a2[j]);
    }
}

#define G5_ARGS                                                                             \
    float *buf, const float *x, int64_t cn, int64_t HW, int64_t W, const float *wp, int64_t R, \
        int64_t S, int64_t nr, int64_t ns
#define G5_PASS buf, x, cn, HW, W, wp, R, S, nr, ns
#define G5_FN(QB, KV)                                                                       \
    static void g5_tile_##QB##_##KV(G5_ARGS) { g5_tile(G5_PASS, QB, KV); }
#define G5_FNS(QB) G5_FN(QB, 1) G5_FN(QB, 2) G5_FN(QB, 3)
G5_FNS(1) G5_FNS(2) G5_FNS(3) G5_FNS(4) G5_FNS(5) G5_FNS(6) G5_FNS(7)

typedef void (*g5_fn)(G5_ARGS);
#define G5_ROW(QB) {g5_tile_##QB##_1, g5_tile_##QB##_2, g5_tile_##QB##_3}
static const g5_fn g5_tab[G5_QMAX][3] = {G5_ROW(1), G5_ROW(2), G5_ROW(3), G5_ROW(4),
                                         G5_ROW(5), G5_ROW(6), G5_ROW(7)};

/* qb in [1, 7], kv in {1, 2, 3} */
void cr_conv_g5_tile_f32_avx512(G5_ARGS, int qb, int kv) {
    g5_tab[qb - 1][kv - 1](G5_PASS);
}

/* dw of conv_g5.c: cg (<= 6) input channels times 16 * kv output channels of one tap,
 *   out[g*KW + l] = sum_{i < np} x[g*HW + xo[i]] * dyT[yo[i]*KW + l]
 * over the tap's list of (input pixel, output pixel) pairs inside the image, in order. */
static inline __attribute__((always_inline)) void
g5_dw(float *out, const float *x, int64_t HW, const int32_t *xo, const int32_t *yo, int64_t np,
      const float *dyT, const int CG, const int KV) {
    const int64_t KW = 16 * KV;
    __m512 a0[6], a1[6], a2[6];
#pragma GCC unroll 6
    for (int g = 0; g < 6; g++) a0[g] = a1[g] = a2[g] = _mm512_setzero_ps();
    for (int64_t i = 0; i < np; i++) {
        const float *xi = x + xo[i], *dy = dyT + (int64_t)yo[i] * KW;
        const __m512 d0 = _mm512_loadu_ps(dy);
        const __m512 d1 = KV >= 2 ? _mm512_loadu_ps(dy + 16) : d0;
        const __m512 d2 = KV == 3 ? _mm512_loadu_ps(dy + 32) : d0;
#pragma GCC unroll 6
        for (int g = 0; g < 6; g++) {
            if (g >= CG) break;
            const __m512 b = _mm512_set1_ps(xi[g * HW]);
            a0[g] = _mm512_fmadd_ps(b, d0, a0[g]);
            if (KV >= 2) a1[g] = _mm512_fmadd_ps(b, d1, a1[g]);
            if (KV == 3) a2[g] = _mm512_fmadd_ps(b, d2, a2[g]);
        }
    }
#pragma GCC unroll 6
    for (int g = 0; g < 6; g++) {
        if (g >= CG) break;
        _mm512_storeu_ps(out + g * KW, a0[g]);
        if (KV >= 2) _mm512_storeu_ps(out + g * KW + 16, a1[g]);
        if (KV == 3) _mm512_storeu_ps(out + g * KW + 32, a2[g]);
    }
}

#define G5_DW_ARGS                                                                           \
    float *out, const float *x, int64_t HW, const int32_t *xo, const int32_t *yo, int64_t np, \
        const float *dyT
#define G5_DW_FN(CG, KV)                                                                     \
    static void g5_dw_##CG##_##KV(G5_DW_ARGS) { g5_dw(out, x, HW, xo, yo, np, dyT, CG, KV); }
#define G5_DW_FNS(CG) G5_DW_FN(CG, 1) G5_DW_FN(CG, 2) G5_DW_FN(CG, 3)
G5_DW_FNS(1) G5_DW_FNS(2) G5_DW_FNS(3) G5_DW_FNS(4) G5_DW_FNS(5) G5_DW_FNS(6)
typedef void (*g5_dw_fn)(G5_DW_ARGS);
#define G5_DW_ROW(CG) {g5_dw_##CG##_1, g5_dw_##CG##_2, g5_dw_##CG##_3}
static const g5_dw_fn g5_dw_tab[6][3] = {G5_DW_ROW(1), G5_DW_ROW(2), G5_DW_ROW(3),
                                         G5_DW_ROW(4), G5_DW_ROW(5), G5_DW_ROW(6)};

/* cg in [1, 6], kv in {1, 2, 3} */
void cr_conv_g5_dw_f32_avx512(G5_DW_ARGS, int cg, int kv) {
    g5_dw_tab[cg - 1][kv - 1](out, x, HW, xo, yo, np, dyT);
}
