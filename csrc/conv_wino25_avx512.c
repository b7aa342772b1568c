/* conv_wino25_avx512.c — the transforms of Winograd F(2x2, 5x5) (conv_wino25.c), AVX-512:
 * 6x6 input tiles at a stride of 2, the tiles of one tile row (TQ <= 14) in the lanes of a
 * vector. Points 0, 1, -1, 2, -2, inf, so B^T is F(4x4, 3x3)'s (conv_winograd4_xf.h):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1],
 *   G = [1/4 0 0 0 0; -1/6 -1/6 -1/6 -1/6 -1/6; -1/6 1/6 -1/6 1/6 -1/6;
 *        1/24 1/12 1/6 1/3 2/3; 1/24 -1/12 1/6 -1/3 2/3; 0 0 0 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1]
 * (derived and checked in float64: y = A^T [(G g G^T) . (B^T d B)] A). */
#include <immintrin.h>
#include <stdint.h>
#include "conv_internal.h"

#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps

/* B^T v on 6 vectors (as conv_wino4s_avx512.c's bt6) */
static inline void bt6(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5,
                       __m512 *o) {
    const __m512 four = _mm512_set1_ps(4.0f), two = _mm512_set1_ps(2.0f);
    const __m512 ec = SUB(v4, MUL(four, v2)), db = SUB(v3, MUL(four, v1));
    const __m512 e_c = SUB(v4, v2), d_b = SUB(v3, v1);
    o[0] = ADD(MUL(four, SUB(v0, v2)), e_c);
    o[1] = ADD(ec, db);
    o[2] = SUB(ec, db);
    o[3] = ADD(e_c, MUL(two, d_b));
    o[4] = SUB(e_c, MUL(two, d_b));
    o[5] = ADD(MUL(four, SUB(v1, v3)), SUB(v5, v3));
}

/* A^T v on 6 vectors: o0 = (v0 + (v1 + v2)) + (v3 + v4), o1 = ((v1 - v2) + 2 (v3 - v4)) + v5 */
static inline void at2(const __m512 *v, __m512 *o0, __m512 *o1) {
    *o0 = ADD(ADD(v[0], ADD(v[1], v[2])), ADD(v[3], v[4]));
    *o1 = ADD(ADD(SUB(v[1], v[2]), MUL(_mm512_set1_ps(2.0f), SUB(v[3], v[4]))), v[5]);
}

static inline __mmask16 lanes(int64_t n) {
    return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1);
}

/* lane v + s of x in lane v (lanes past 15 wrap: never stored) */
static inline __m512 shift(__m512 x, int s) {
    const __m512i i = _mm512_castps_si512(x);
    return _mm512_castsi512_ps(s == 1 ? _mm512_alignr_epi32(i, i, 1) : _mm512_alignr_epi32(i, i, 2));
}

/* Down the rows of tile row tp: (B^T d)[i] of its even (te) and odd (to) columns, lane v
 * holding padded columns 2 v and 2 v + 1. A row is loaded as 32 columns (2 masked loads,
 * lanes outside the plane never read) and split into its even and odd columns. */
static inline __attribute__((always_inline)) void down_rows(__m512 *te, __m512 *to,
                                                            const float *x, int64_t H,
                                                            int64_t W, int64_t ph, int64_t pw,
                                                            int64_t tp, __mmask16 klo,
                                                            __mmask16 khi) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 re[6], ro[6];
    for (int i = 0; i < 6; i++) {
        const int64_t h = 2 * tp - ph + i;
        if (h < 0 || h >= H) {
            re[i] = ro[i] = _mm512_setzero_ps();
            continue;
        }
        const float *xr = x + h * W - pw; /* column u at xr + u (read only where inside) */
        const __m512 lo = _mm512_maskz_loadu_ps(klo, xr);
        const __m512 hi = _mm512_maskz_loadu_ps(khi, xr + 16);
        re[i] = _mm512_permutex2var_ps(lo, ev, hi);
        ro[i] = _mm512_permutex2var_ps(lo, od, hi);
    }
    bt6(re[0], re[1], re[2], re[3], re[4], re[5], te);
    bt6(ro[0], ro[1], ro[2], ro[3], ro[4], ro[5], to);
}

/* V[e lde + tp TQ + tq] (e = 6i + j < 36) = (B^T d B)[i][j] of the 6x6 tile at rows
 * 2 tp - ph .., columns 2 tq - pw .. of the plane x (H x W, zeros outside), for all TP x TQ
 * tiles; TQ <= 14. Tile tq's six columns are lanes tq, tq + 1, tq + 2 of te and to. With
 * TQ <= 8 two tile rows share the vectors (lanes [0, TQ) and [TQ, 2 TQ), gathered by one
 * two-source permute per operand; 14x14 outputs, TQ = 7, filled 7 of 16 lanes), stored as
 * one run: the same operations on each lane, so the same bits. */
void conv_wino25_input_plane_avx512(float *V, int64_t lde, const float *x, int64_t H,
                                    int64_t W, int64_t ph, int64_t pw, int64_t TP, int64_t TQ) {
    /* columns u - pw, u < 32: lanes of the low and high halves inside [0, W) */
    unsigned mlo = 0, mhi = 0;
    for (int64_t u = 0; u < 32; u++) {
        const int64_t col = u - pw;
        if (col >= 0 && col < W) {
            if (u < 16) mlo |= 1u << u;
            else mhi |= 1u << (u - 16);
        }
    }
    const __mmask16 klo = (__mmask16)mlo, khi = (__mmask16)mhi, mk = lanes(TQ);
    if (TQ <= 8) {
        __m512i ix[3]; /* shift s: lane L < TQ from row A's lane L + s, else row B's L - TQ + s */
        for (int sh = 0; sh < 3; sh++) {
            int32_t t[16];
            for (int L = 0; L < 16; L++)
                t[L] = L < TQ ? L + sh : L < 2 * TQ ? (int32_t)(16 + L - TQ + sh) : 0;
            ix[sh] = _mm512_loadu_si512(t);
        }
        for (int64_t tp = 0; tp < TP; tp += 2) {
            __m512 teA[6], toA[6], teB[6], toB[6];
            down_rows(teA, toA, x, H, W, ph, pw, tp, klo, khi);
            const int two = tp + 1 < TP;
            if (two) down_rows(teB, toB, x, H, W, ph, pw, tp + 1, klo, khi);
            else for (int i = 0; i < 6; i++) teB[i] = toB[i] = _mm512_setzero_ps();
            const __mmask16 m2 = lanes((two ? 2 : 1) * TQ);
            float *vt = V + tp * TQ;
            for (int i = 0; i < 6; i++) {
                __m512 q[6];
                bt6(_mm512_permutex2var_ps(teA[i], ix[0], teB[i]),
                    _mm512_permutex2var_ps(toA[i], ix[0], toB[i]),
                    _mm512_permutex2var_ps(teA[i], ix[1], teB[i]),
                    _mm512_permutex2var_ps(toA[i], ix[1], toB[i]),
                    _mm512_permutex2var_ps(teA[i], ix[2], teB[i]),
                    _mm512_permutex2var_ps(toA[i], ix[2], toB[i]), q);
                for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(vt + (6 * i + j) * lde, m2, q[j]);
            }
        }
        return;
    }
    for (int64_t tp = 0; tp < TP; tp++) {
        __m512 te[6], to[6]; /* down the rows: (B^T d)[i] of the even and odd columns */
        down_rows(te, to, x, H, W, ph, pw, tp, klo, khi);
        float *vt = V + tp * TQ;
        for (int i = 0; i < 6; i++) { /* along the columns 2 tq .. 2 tq + 5 */
            __m512 q[6];
            bt6(te[i], to[i], shift(te[i], 1), shift(to[i], 1), shift(te[i], 2), shift(to[i], 2), q);
            for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(vt + (6 * i + j) * lde, mk, q[j]);
        }
    }
}

/* y (P x Q) (+)= A^T M A + bias of the TP x TQ tiles of one plane, M[e lde + tp TQ + tq];
 * the 2x2 outputs of a tile row interleaved into two output rows of up to 28 columns. With
 * TQ <= 8 two tile rows (contiguous in M) go in one vector, lanes [0, TQ) and [TQ, 2 TQ):
 * the same operations on each lane, so the same bits. */
void conv_wino25_output_plane_avx512(float *y, const float *M, int64_t lde, int64_t P,
                                     int64_t Q, int64_t TP, int64_t TQ, float bias,
                                     int accumulate) {
    const __m512i lo_ix = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_ix = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __mmask16 qlo = lanes(Q), qhi = lanes(Q - 16 > 0 ? Q - 16 : 0);
    const __m512 bv = _mm512_set1_ps(bias);
    const int64_t step = TQ <= 8 ? 2 : 1; /* tile rows per vector */
    for (int64_t tp = 0; tp < TP; tp += step) {
        const int64_t nu = TP - tp < step ? TP - tp : step;
        const __mmask16 mk = lanes(nu * TQ);
        const float *mt = M + tp * TQ;
        __m512 s0[6], s1[6]; /* down the rows: (A^T m)[0], [1] of column j */
        for (int j = 0; j < 6; j++) {
            __m512 v[6];
            for (int i = 0; i < 6; i++) v[i] = _mm512_maskz_loadu_ps(mk, mt + (6 * i + j) * lde);
            at2(v, &s0[j], &s1[j]);
        }
        for (int r = 0; r < 2; r++) {
            __m512 o0, o1;
            at2(r ? s1 : s0, &o0, &o1);
            o0 = ADD(o0, bv);
            o1 = ADD(o1, bv);
            for (int64_t u = 0; u < nu; u++) { /* tile row tp + u: lanes u TQ .. */
                const int64_t row = 2 * (tp + u) + r;
                if (row >= P) break;
                const __m512i off = _mm512_set1_epi32((int)(u * TQ));
                __m512 a = _mm512_permutex2var_ps(o0, _mm512_add_epi32(lo_ix, off), o1); /* columns 0 .. 15 */
                __m512 b = _mm512_permutex2var_ps(o0, hi_ix, o1); /* 16 .. 31 (TQ > 8: u = 0) */
                float *yr = y + row * Q;
                if (accumulate) {
                    a = ADD(_mm512_maskz_loadu_ps(qlo, yr), a);
                    b = ADD(_mm512_maskz_loadu_ps(qhi, yr + 16), b);
                }
                _mm512_mask_storeu_ps(yr, qlo, a);
                _mm512_mask_storeu_ps(yr + 16, qhi, b);
            }
        }
    }
}

/* G g G^T of the filters (k0 + i, c0 + q), i < 12 (rows mk and beyond zero), q < mc <= 16,
 * of w (K x C x 5 x 5), or with flip of w' (w of shape (C, K, 5, 5) turned by 180 degrees:
 * w'[k, c] = w[c, k]), into the 12-row panel at Up: Up[e ldu + (c0 + q) 12 + i]. Loops over
 * the 12 mc filters for the compiler to vectorise. */
void conv_wt25p_chunk_avx512(float *restrict Up, int64_t ldu, const float *restrict w, int flip,
                             int64_t K, int64_t C, int64_t k0, int64_t mk, int64_t c0,
                             int64_t mc) {
    float g[25][192], t[30][192]; /* filter (k0 + i, c0 + q) at j = 12 q + i; t[5 a + s]: (G g)[a][s] */
    const int64_t m = 12 * mc;
    const float k4 = 0.25f, k6 = 1.0f / 6.0f, k24 = 1.0f / 24.0f;
    for (int64_t q = 0; q < mc; q++)
        for (int64_t i = 0; i < 12; i++) {
            const int64_t j = 12 * q + i, k = k0 + i, c = c0 + q;
            if (i >= mk) {
                for (int r = 0; r < 25; r++) g[r][j] = 0.0f;
            } else if (flip) {
                const float *src = w + (c * K + k) * 25;
                for (int r = 0; r < 25; r++) g[r][j] = src[24 - r];
            } else {
                const float *src = w + (k * C + c) * 25;
                for (int r = 0; r < 25; r++) g[r][j] = src[r];
            }
        }
    for (int s = 0; s < 5; s++) /* down the rows of each column s */
        for (int64_t j = 0; j < m; j++) {
            const float a = g[s][j], b = g[5 + s][j], c = g[10 + s][j], d = g[15 + s][j],
                        e = g[20 + s][j];
            const float ace = (a + c) + e, bd = b + d;
            const float ev = (a + 4.0f * c) + 16.0f * e, od = 2.0f * b + 8.0f * d;
            t[s][j] = a * k4;
            t[5 + s][j] = -(ace + bd) * k6;
            t[10 + s][j] = -(ace - bd) * k6;
            t[15 + s][j] = (ev + od) * k24;
            t[20 + s][j] = (ev - od) * k24;
            t[25 + s][j] = e;
        }
    for (int a6 = 0; a6 < 6; a6++) { /* along the columns */
        float *restrict u0 = Up + 6 * a6 * ldu + c0 * 12, *restrict u1 = u0 + ldu;
        float *restrict u2 = u0 + 2 * ldu, *restrict u3 = u0 + 3 * ldu;
        float *restrict u4 = u0 + 4 * ldu, *restrict u5 = u0 + 5 * ldu;
        const float *ta = t[5 * a6], *tb = ta + 192, *tc = tb + 192, *td = tc + 192,
                    *te = td + 192;
#pragma GCC ivdep
        for (int64_t j = 0; j < m; j++) {
            const float a = ta[j], b = tb[j], c = tc[j], d = td[j], e = te[j];
            const float ace = (a + c) + e, bd = b + d;
            const float ev = (a + 4.0f * c) + 16.0f * e, od = 2.0f * b + 8.0f * d;
            u0[j] = a * k4;
            u1[j] = -(ace + bd) * k6;
            u2[j] = -(ace - bd) * k6;
            u3[j] = (ev + od) * k24;
            u4[j] = (ev - od) * k24;
            u5[j] = e;
        }
    }
}

/* dw: MgT[e lde + (tp TQ + tq) ldk] = (A dY A^T)[e] of the 2x2 tiles of the dy plane (P x Q,
 * zeros beyond), A = (A^T)^T = [1 0; 1 1; 1 -1; 1 2; 1 -2; 0 1]: tiles in the lanes, stored
 * transposed (tile-major, ldk apart: the products read MgT[e] as a T x K matrix) */
void conv_wino25_grad_plane_avx512(float *MgT, int64_t lde, int64_t ldk, const float *dy,
                                   int64_t P, int64_t Q, int64_t TP, int64_t TQ) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i vix = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)ldk));
    const __mmask16 mk = lanes(TQ), qlo = lanes(Q), qhi = lanes(Q - 16 > 0 ? Q - 16 : 0);
    const __m512 two = _mm512_set1_ps(2.0f);
    for (int64_t tp = 0; tp < TP; tp++) {
        __m512 de[2], dd[2]; /* row r of the tiles: even and odd columns */
        for (int r = 0; r < 2; r++) {
            const int64_t row = 2 * tp + r;
            if (row >= P) {
                de[r] = dd[r] = _mm512_setzero_ps();
                continue;
            }
            const __m512 lo = _mm512_maskz_loadu_ps(qlo, dy + row * Q);
            const __m512 hi = _mm512_maskz_loadu_ps(qhi, dy + row * Q + 16);
            de[r] = _mm512_permutex2var_ps(lo, ev, hi);
            dd[r] = _mm512_permutex2var_ps(lo, od, hi);
        }
        __m512 ae[6], ao[6]; /* down the rows: (A d)[i] of the two columns */
        ae[0] = de[0]; ao[0] = dd[0];
        ae[1] = ADD(de[0], de[1]); ao[1] = ADD(dd[0], dd[1]);
        ae[2] = SUB(de[0], de[1]); ao[2] = SUB(dd[0], dd[1]);
        ae[3] = ADD(de[0], MUL(two, de[1])); ao[3] = ADD(dd[0], MUL(two, dd[1]));
        ae[4] = SUB(de[0], MUL(two, de[1])); ao[4] = SUB(dd[0], MUL(two, dd[1]));
        ae[5] = de[1]; ao[5] = dd[1];
        float *mt = MgT + tp * TQ * ldk;
        for (int i = 0; i < 6; i++) {
            const __m512 a = ae[i], b = ao[i];
            const __m512 q[6] = {a, ADD(a, b), SUB(a, b), ADD(a, MUL(two, b)), SUB(a, MUL(two, b)), b};
            for (int j = 0; j < 6; j++)
                _mm512_mask_i32scatter_ps(mt + (6 * i + j) * lde, mk, vix, q[j], 4);
        }
    }
}

/* dw: dw[(k C + c) 25 + 5 r + s] += (G^T dU G)[r][s] of the filters j = c K + k, j0 <= j <
 * j0 + m (m <= 64), dU[e] of filter j at dUT[e ldd + j]: the rows t = G^T dU (5 x 6), then
 * its columns; G^T's columns u0 .. u5 combine as
 *   (u0/4 - (u1 + u2)/6 + (u3 + u4)/24, (u2 - u1)/6 + (u3 - u4)/12, ((u3 + u4) - (u1 + u2))/6,
 *    (u2 - u1)/6 + (u3 - u4)/3, (4 (u3 + u4) - (u1 + u2))/6 + u5) */
#define ADJ25(u0, u1, u2, u3, u4, u5, o0, o1, o2, o3, o4) do {                          \
        const float p_ = (u1) + (u2), m_ = (u2) - (u1), P_ = (u3) + (u4), M_ = (u3) - (u4); \
        o0 = ((u0) * 0.25f - p_ * k6) + P_ * k24;                                          \
        o1 = m_ * k6 + M_ * k12;                                                            \
        o2 = (P_ - p_) * k6;                                                                \
        o3 = m_ * k6 + M_ * k3;                                                             \
        o4 = (4.0f * P_ - p_) * k6 + (u5);                                                  \
    } while (0)
void conv_adj25_chunk_avx512(float *restrict dw, const float *restrict dUT, int64_t ldd,
                             int64_t K, int64_t C, int64_t j0, int64_t m) {
    const float k3 = 1.0f / 3.0f, k6 = 1.0f / 6.0f, k12 = 1.0f / 12.0f, k24 = 1.0f / 24.0f;
    float t[30][64], o[25][64]; /* t[6 r + col]: (G^T dU)[r][col] */
    for (int col = 0; col < 6; col++) {
        const float *u0 = dUT + col * ldd + j0, *u1 = u0 + 6 * ldd, *u2 = u0 + 12 * ldd;
        const float *u3 = u0 + 18 * ldd, *u4 = u0 + 24 * ldd, *u5 = u0 + 30 * ldd;
        for (int64_t j = 0; j < m; j++)
            ADJ25(u0[j], u1[j], u2[j], u3[j], u4[j], u5[j], t[col][j], t[6 + col][j],
                  t[12 + col][j], t[18 + col][j], t[24 + col][j]);
    }
    for (int r = 0; r < 5; r++)
        for (int64_t j = 0; j < m; j++)
            ADJ25(t[6 * r][j], t[6 * r + 1][j], t[6 * r + 2][j], t[6 * r + 3][j],
                  t[6 * r + 4][j], t[6 * r + 5][j], o[5 * r][j], o[5 * r + 1][j],
                  o[5 * r + 2][j], o[5 * r + 3][j], o[5 * r + 4][j]);
    for (int64_t j = 0; j < m; j++) {
        const int64_t c = (j0 + j) / K, k = (j0 + j) % K;
        float *out = dw + (k * C + c) * 25;
        for (int r = 0; r < 25; r++) out[r] += o[r][j];
    }
}
