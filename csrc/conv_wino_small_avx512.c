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

/* B^T d B of 16 tiles at once and its 16 values stored to V + e lde (mask mk): a, b, c, d
 * hold the tiles' columns 0..3, one vector per tile row i. Down the rows t0 = r0 - r2,
 * t1 = r1 + r2, t2 = r2 - r1, t3 = r1 - r3; then the same across the columns. */
static inline void wino_bt_store(float *V, int64_t lde, __mmask16 mk, const __m512 *a,
                                 const __m512 *b, const __m512 *c, const __m512 *d) {
    __m512 ta[4], tb[4], tc[4], td[4];
#define ROWS(T, X)                                 \
    T[0] = _mm512_sub_ps(X[0], X[2]);              \
    T[1] = _mm512_add_ps(X[1], X[2]);              \
    T[2] = _mm512_sub_ps(X[2], X[1]);              \
    T[3] = _mm512_sub_ps(X[1], X[3]);
    ROWS(ta, a) ROWS(tb, b) ROWS(tc, c) ROWS(td, d)
#undef ROWS
    for (int i = 0; i < 4; i++) {
        _mm512_mask_storeu_ps(V + (4 * i + 0) * lde, mk, _mm512_sub_ps(ta[i], tc[i]));
        _mm512_mask_storeu_ps(V + (4 * i + 1) * lde, mk, _mm512_add_ps(tb[i], tc[i]));
        _mm512_mask_storeu_ps(V + (4 * i + 2) * lde, mk, _mm512_sub_ps(tc[i], tb[i]));
        _mm512_mask_storeu_ps(V + (4 * i + 3) * lde, mk, _mm512_sub_ps(tb[i], td[i]));
    }
}

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
        wino_bt_store(V + tq0, lde, mk, a, b, c, d);
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

/* The transforms of m = 16 / TQ tile rows at once (TQ <= 8; conv_wino_small.c): tile tq of
 * the group's tile row u in lane u TQ + tq, so a 16x16 image (TQ = 8) fills every lane with
 * two tile rows and an 8x8 one (TQ = 4) with four, where one tile row used half or a
 * quarter. Lanes are gathered from two rows at a time (one two-source permute per pair of
 * tile rows, blended: the table of conv_wino_small.c's wino_pairs), then the same
 * operations as the one-row kernels above, so the same bits. */
/* A plane seen zero-padded: row rho of the padded plane is x[rho - ph] (H x W, zero outside),
 * its columns off .. off + 15 (lanes outside the plane masked off, never read) */
typedef struct {
    const float *x;
    int64_t H, W, ph, pw;
    __mmask16 cm[2]; /* columns off = 0, 2 */
} plane;

static plane plane_of(const float *x, int64_t H, int64_t W, int64_t ph, int64_t pw) {
    plane q = {x, H, W, ph, pw, {0, 0}};
    for (int o = 0; o < 2; o++) {
        const int64_t off = 2 * o, lo = pw - off, hi = W + pw - off; /* lanes [lo, hi) */
        unsigned m = 0;
        for (int64_t l = lo < 0 ? 0 : lo; l < (hi < 16 ? hi : 16); l++) m |= 1u << l;
        q.cm[o] = (__mmask16)m;
    }
    return q;
}

static inline __m512 prow(const plane *q, int64_t rho, int o) {
    const int64_t h = rho - q->ph;
    if (h < 0 || h >= q->H) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(q->cm[o], q->x + h * q->W + 2 * o - q->pw);
}

/* lanes of the group: column 2 tq + 2 o (+ 1 if odd) of padded row r0 + 2 u + i, tile row u */
static inline __m512 pick(const wino_pair_tab *t, const plane *q, int64_t r0, int64_t i, int o,
                          int odd) {
    __m512 v = _mm512_setzero_ps();
    for (int p = 0; p < t->np; p++) {
        const __m512 s1 = prow(q, r0 + 4 * p + i, o), s2 = prow(q, r0 + 4 * p + 2 + i, o);
        const __m512i ix = _mm512_loadu_si512(odd ? t->od[p] : t->ev[p]);
        const __m512 w = _mm512_permutex2var_ps(s1, ix, s2);
        v = p ? _mm512_mask_blend_ps((__mmask16)t->mk[p], v, w) : w;
    }
    return v;
}

/* Input: nrows (<= 16 / TQ) tile rows tp0 .. of plane x_c (H x W, padding ph, pw), read in
 * place; V + e lde + lane */
void conv_wino_small_input_rows_avx512(float *V, int64_t lde, const float *x_c, int64_t H,
                                       int64_t W, int64_t ph, int64_t pw, int64_t tp0,
                                       const wino_pair_tab *t, int64_t nrows) {
    const plane q = plane_of(x_c, H, W, ph, pw);
    const int64_t n = nrows * t->TQ, r0 = 2 * tp0;
    const __mmask16 mk = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1);
    __m512 a[4], b[4], c[4], d[4];
    for (int i = 0; i < 4; i++) {
        a[i] = pick(t, &q, r0, i, 0, 0);
        b[i] = pick(t, &q, r0, i, 0, 1);
        c[i] = pick(t, &q, r0, i, 1, 0);
        d[i] = pick(t, &q, r0, i, 1, 1);
    }
    wino_bt_store(V, lde, mk, a, b, c, d);
}

/* dW's gradient transform of nrows tile rows tp0 .. of the dy plane (P x Q), read in place */
void conv_wino_small_grad_rows_avx512(float *Mg, int64_t lde, const float *dy, int64_t P,
                                      int64_t Q, int64_t tp0, const wino_pair_tab *t,
                                      int64_t nrows) {
    const plane q = plane_of(dy, P, Q, 0, 0);
    const int64_t n = nrows * t->TQ, r0 = 2 * tp0;
    const __mmask16 mk = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1);
    const __m512 zero = _mm512_setzero_ps();
    const __m512 a = pick(t, &q, r0, 0, 0, 0), b = pick(t, &q, r0, 0, 0, 1);
    const __m512 c = pick(t, &q, r0, 1, 0, 0), d = pick(t, &q, r0, 1, 0, 1);
    __m512 x[4], y[4];
    x[0] = a; y[0] = b;
    x[1] = _mm512_add_ps(a, c); y[1] = _mm512_add_ps(b, d);
    x[2] = _mm512_sub_ps(a, c); y[2] = _mm512_sub_ps(b, d);
    x[3] = _mm512_sub_ps(zero, c); y[3] = _mm512_sub_ps(zero, d);
    for (int i = 0; i < 4; i++) {
        _mm512_mask_storeu_ps(Mg + (4 * i + 0) * lde, mk, x[i]);
        _mm512_mask_storeu_ps(Mg + (4 * i + 1) * lde, mk, _mm512_add_ps(x[i], y[i]));
        _mm512_mask_storeu_ps(Mg + (4 * i + 2) * lde, mk, _mm512_sub_ps(x[i], y[i]));
        _mm512_mask_storeu_ps(Mg + (4 * i + 3) * lde, mk, _mm512_sub_ps(zero, y[i]));
    }
}

/* Output of nrows tile rows tp0 .. (plane y, P x Q): the interleaved outputs of tile row u
 * of the group are values 2 u TQ .. of the 32 (lo, hi), stored with shifted masks. */
void conv_wino_small_output_rows_avx512(float *y, const float *M, int64_t lde, int64_t TQ,
                                        int64_t tp0, int64_t nrows, int64_t P, int64_t Q,
                                        float bias, int accumulate) {
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 bv = _mm512_set1_ps(bias);
    const int64_t n = nrows * TQ;
    const __mmask16 mk = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1);
    __m512 m[16];
    for (int e = 0; e < 16; e++) m[e] = _mm512_maskz_loadu_ps(mk, M + e * lde);
    __m512 s0[4], s1[4];
    for (int j = 0; j < 4; j++) {
        s0[j] = _mm512_add_ps(_mm512_add_ps(m[j], m[4 + j]), m[8 + j]);
        s1[j] = _mm512_sub_ps(_mm512_sub_ps(m[4 + j], m[8 + j]), m[12 + j]);
    }
    const int64_t w = 2 * TQ < Q ? 2 * TQ : Q; /* output columns of a tile row */
    for (int i = 0; i < 2; i++) {
        const __m512 *s = i ? s1 : s0;
        const __m512 o0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), bv);
        const __m512 o1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), bv);
        const __m512 lo = _mm512_permutex2var_ps(o0, ilo, o1);
        const __m512 hi = _mm512_permutex2var_ps(o0, ihi, o1);
        for (int64_t u = 0; u < nrows; u++) {
            const int64_t row = 2 * (tp0 + u) + i;
            if (row >= P) continue;
            /* values [2 u TQ, 2 u TQ + w) of (lo, hi) -> y[row, 0 .. w) */
            const int64_t s0i = 2 * u * TQ, s1i = s0i + w;
            float *yr = y + row * Q - s0i;
            for (int h = 0; h < 2; h++) {
                const int64_t b0 = s0i > 16 * h ? s0i : 16 * h, b1 = s1i < 16 * h + 16 ? s1i : 16 * h + 16;
                if (b0 >= b1) continue;
                const __mmask16 k = (__mmask16)(((1u << (b1 - b0)) - 1) << (b0 - 16 * h));
                __m512 v = h ? hi : lo;
                if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, yr + 16 * h), v);
                _mm512_mask_storeu_ps(yr + 16 * h, k, v);
            }
        }
    }
}
