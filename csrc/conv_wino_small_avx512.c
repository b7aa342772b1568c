/* conv_wino_small_avx512.c — the Winograd F(2x2, 3x3) transforms of one tile row for small
 * images (conv_wino_small.c), AVX-512 intrinsics: a tile row is at most a few vectors wide,
 * so the portable loops of conv_winograd_xf.h spend their time in loop tails. Each value is
 * computed with the same operations in the same order as conv_winograd_xf.h (the rows of
 * the 4x4 patch combined first, then its columns; A^T m the same), so both give the same
 * bits.
 *
 * Input: xr points at column 2*tq0 of the first of the tile row's four rows of a
 * zero-padded plane (row stride ldx, at least 32 readable floats from every row start used);
 * per chunk of 15 tiles, two loads per row and four permutes give the columns
 * a = x[2m], b = x[2m+1], c = x[2m+2], d = x[2m+3] of the chunk's tiles m. */
#include <immintrin.h>
#include <stdint.h>
#include "conv_internal.h"

void conv_wino_small_input_row_avx512(float *V, int64_t lde, const float *xr, int64_t ldx,
                                      int64_t TQ) {
    const __m512i ia = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i ib = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i ic = _mm512_setr_epi32(2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 0);
    const __m512i id = _mm512_setr_epi32(3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 1);
    for (int64_t tq0 = 0; tq0 < TQ; tq0 += 15) {
        const int64_t n = TQ - tq0 < 15 ? TQ - tq0 : 15;
        const __mmask16 mk = (__mmask16)((1u << n) - 1);
        __m512 a[4], b[4], c[4], d[4];
        for (int i = 0; i < 4; i++) {
            const float *r = xr + i * ldx + 2 * tq0;
            const __m512 lo = _mm512_loadu_ps(r), hi = _mm512_loadu_ps(r + 16);
            a[i] = _mm512_permutex2var_ps(lo, ia, hi);
            b[i] = _mm512_permutex2var_ps(lo, ib, hi);
            c[i] = _mm512_permutex2var_ps(lo, ic, hi);
            d[i] = _mm512_permutex2var_ps(lo, id, hi);
        }
        /* B^T d down the rows: t0 = r0 - r2, t1 = r1 + r2, t2 = r2 - r1, t3 = r1 - r3 */
        __m512 ta[4], tb[4], tc[4], td[4];
#define ROWS(T, X)                                 \
        T[0] = _mm512_sub_ps(X[0], X[2]);          \
        T[1] = _mm512_add_ps(X[1], X[2]);          \
        T[2] = _mm512_sub_ps(X[2], X[1]);          \
        T[3] = _mm512_sub_ps(X[1], X[3]);
        ROWS(ta, a) ROWS(tb, b) ROWS(tc, c) ROWS(td, d)
#undef ROWS
        float *v = V + tq0;
        for (int i = 0; i < 4; i++) {
            _mm512_mask_storeu_ps(v + (4 * i + 0) * lde, mk, _mm512_sub_ps(ta[i], tc[i]));
            _mm512_mask_storeu_ps(v + (4 * i + 1) * lde, mk, _mm512_add_ps(tb[i], tc[i]));
            _mm512_mask_storeu_ps(v + (4 * i + 2) * lde, mk, _mm512_sub_ps(tc[i], tb[i]));
            _mm512_mask_storeu_ps(v + (4 * i + 3) * lde, mk, _mm512_sub_ps(tb[i], td[i]));
        }
    }
}

/* Output of one tile row: y0, y1 rows 2tp, 2tp + 1 (y1 NULL past P), Q columns; the two
 * outputs of each tile row interleaved with one permute per 16 values. */
void conv_wino_small_output_row_avx512(float *y0, float *y1, const float *M, int64_t lde,
                                       int64_t TQ, int64_t Q, float bias, int accumulate) {
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 bv = _mm512_set1_ps(bias);
    for (int64_t tq0 = 0; tq0 < TQ; tq0 += 16) {
        const int64_t n = TQ - tq0 < 16 ? TQ - tq0 : 16;
        const __mmask16 mk = (__mmask16)(n == 16 ? 0xffffu : (1u << n) - 1);
        __m512 m[16];
        for (int e = 0; e < 16; e++) m[e] = _mm512_maskz_loadu_ps(mk, M + e * lde + tq0);
        __m512 s0[4], s1[4];
        for (int j = 0; j < 4; j++) {
            s0[j] = _mm512_add_ps(_mm512_add_ps(m[j], m[4 + j]), m[8 + j]);
            s1[j] = _mm512_sub_ps(_mm512_sub_ps(m[4 + j], m[8 + j]), m[12 + j]);
        }
        __m512 o[2][2];
        for (int i = 0; i < 2; i++) {
            const __m512 *s = i ? s1 : s0;
            o[i][0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), bv);
            o[i][1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), bv);
        }
        /* columns 2*tq0 .. of this chunk: cnt = min(2n, Q - 2tq0) values */
        int64_t cnt = Q - 2 * tq0 < 2 * n ? Q - 2 * tq0 : 2 * n;
        const __mmask16 m0 = (__mmask16)(cnt >= 16 ? 0xffffu : (1u << cnt) - 1);
        const __mmask16 m1 = (__mmask16)(cnt >= 32 ? 0xffffu : cnt > 16 ? (1u << (cnt - 16)) - 1 : 0);
        for (int i = 0; i < 2; i++) {
            float *y = i ? y1 : y0;
            if (!y) continue;
            __m512 lo = _mm512_permutex2var_ps(o[i][0], ilo, o[i][1]);
            __m512 hi = _mm512_permutex2var_ps(o[i][0], ihi, o[i][1]);
            y += 2 * tq0;
            if (accumulate) {
                lo = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, y), lo);
                hi = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, y + 16), hi);
            }
            _mm512_mask_storeu_ps(y, m0, lo);
            _mm512_mask_storeu_ps(y + 16, m1, hi);
        }
    }
}

/* dW (conv_wino_small.c): the gradient transform A dY A^T of one tile row, the adjoint of the
 * output transform: yr points at column 2*tq0 of the tile row's two rows of a zero-padded
 * dy plane (row stride ldy, 32 readable floats), tiles [[a, b], [c, d]]:
 *   rows  [a, b], [a + c, b + d], [a - c, b - d], [-c, -d],  each [x, y] -> [x, x + y, x - y, -y]
 * stored as Mg[e * lde + tq] for the 16 positions e. */
void conv_wino_small_grad_row_avx512(float *Mg, int64_t lde, const float *yr, int64_t ldy,
                                     int64_t TQ) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t tq0 = 0; tq0 < TQ; tq0 += 16) {
        const int64_t n = TQ - tq0 < 16 ? TQ - tq0 : 16;
        const __mmask16 mk = (__mmask16)(n == 16 ? 0xffffu : (1u << n) - 1);
        const float *r0 = yr + 2 * tq0, *r1 = r0 + ldy;
        const __m512 l0 = _mm512_loadu_ps(r0), h0 = _mm512_loadu_ps(r0 + 16);
        const __m512 l1 = _mm512_loadu_ps(r1), h1 = _mm512_loadu_ps(r1 + 16);
        __m512 x[4], y[4];
        const __m512 a = _mm512_permutex2var_ps(l0, ie, h0), b = _mm512_permutex2var_ps(l0, io, h0);
        const __m512 c = _mm512_permutex2var_ps(l1, ie, h1), d = _mm512_permutex2var_ps(l1, io, h1);
        x[0] = a; y[0] = b;
        x[1] = _mm512_add_ps(a, c); y[1] = _mm512_add_ps(b, d);
        x[2] = _mm512_sub_ps(a, c); y[2] = _mm512_sub_ps(b, d);
        x[3] = _mm512_sub_ps(zero, c); y[3] = _mm512_sub_ps(zero, d);
        float *m = Mg + tq0;
        for (int i = 0; i < 4; i++) {
            _mm512_mask_storeu_ps(m + (4 * i + 0) * lde, mk, x[i]);
            _mm512_mask_storeu_ps(m + (4 * i + 1) * lde, mk, _mm512_add_ps(x[i], y[i]));
            _mm512_mask_storeu_ps(m + (4 * i + 2) * lde, mk, _mm512_sub_ps(x[i], y[i]));
            _mm512_mask_storeu_ps(m + (4 * i + 3) * lde, mk, _mm512_sub_ps(zero, y[i]));
        }
    }
}
