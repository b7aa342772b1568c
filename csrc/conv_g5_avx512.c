/* conv_g5_avx512.c — the AVX-512 tile of conv_g5.c: qb (<= 14) neighbouring output pixels
 * of one output row times 16 * kv (kv 1 or 2) output channels, channels in the lanes:
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

#define G5_QMAX 14

static inline __attribute__((always_inline)) void
g5_tile(float *buf, const float *x, int64_t cn, int64_t HW, int64_t W, const float *wp,
        int64_t R, int64_t S, int64_t nr, int64_t ns, const int QB,
        const int KV) {
    const int64_t KW = 16 * KV;
    __m512 a0[G5_QMAX], a1[G5_QMAX];
#pragma GCC unroll 14
    for (int j = 0; j < G5_QMAX; j++) {
        if (j >= QB) break;
        a0[j] = _mm512_loadu_ps(buf + j * KW);
        a1[j] = KV == 2 ? _mm512_loadu_ps(buf + j * KW + 16) : a0[j];
    }
    const int64_t RS = R * S;
    for (int64_t r = 0; r < nr; r++) { /* channels innermost: a long loop, fixed strides */
        const float *xr = x + r * W;
        const float *wr = wp + r * S * KW;
        for (int64_t c = 0; c < cn; c++, xr += HW, wr += RS * KW) {
            for (int64_t s = 0; s < ns; s++) {
                const __m512 w0 = _mm512_loadu_ps(wr + s * KW);
                const __m512 w1 = KV == 2 ? _mm512_loadu_ps(wr + s * KW + 16) : w0;
#pragma GCC unroll 14
                for (int j = 0; j < G5_QMAX; j++) {
                    if (j >= QB) break;
                    const __m512 b = _mm512_set1_ps(xr[s + j]);
                    a0[j] = _mm512_fmadd_ps(b, w0, a0[j]);
                    if (KV == 2) a1[j] = _mm512_fmadd_ps(b, w1, a1[j]);
                }
            }
        }
    }
#pragma GCC unroll 14
    for (int j = 0; j < G5_QMAX; j++) {
        if (j >= QB) break;
        _mm512_storeu_ps(buf + j * KW, a0[j]);
        if (KV == 2) _mm512_storeu_ps(buf + j * KW + 16, a1[j]);
    }
}

#define G5_ARGS                                                                             \
    float *buf, const float *x, int64_t cn, int64_t HW, int64_t W, const float *wp, int64_t R, \
        int64_t S, int64_t nr, int64_t ns
#define G5_PASS buf, x, cn, HW, W, wp, R, S, nr, ns
#define G5_FN(QB, KV)                                                                       \
    static void g5_tile_##QB##_##KV(G5_ARGS) { g5_tile(G5_PASS, QB, KV); }
#define G5_FNS(QB) G5_FN(QB, 1) G5_FN(QB, 2)
G5_FNS(1) G5_FNS(2) G5_FNS(3) G5_FNS(4) G5_FNS(5) G5_FNS(6) G5_FNS(7)
G5_FNS(8) G5_FNS(9) G5_FNS(10) G5_FNS(11) G5_FNS(12) G5_FNS(13) G5_FNS(14)

typedef void (*g5_fn)(G5_ARGS);
#define G5_ROW(QB) {g5_tile_##QB##_1, g5_tile_##QB##_2}
static const g5_fn g5_tab[G5_QMAX][2] = {G5_ROW(1), G5_ROW(2), G5_ROW(3), G5_ROW(4),
                                         G5_ROW(5), G5_ROW(6), G5_ROW(7), G5_ROW(8),
                                         G5_ROW(9), G5_ROW(10), G5_ROW(11), G5_ROW(12),
                                         G5_ROW(13), G5_ROW(14)};

/* qb in [1, 14], kv in {1, 2} */
void cr_conv_g5_tile_f32_avx512(G5_ARGS, int qb, int kv) {
    g5_tab[qb - 1][kv - 1](G5_PASS);
}
