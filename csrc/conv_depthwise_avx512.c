/* conv_depthwise_avx512.c — AVX-512 planes of the depthwise convolution (float32), for
 * stride 1, dilation 1 and "same" padding (odd R, S with ph = (R-1)/2, pw = (S-1)/2, so
 * P = H and Q = W); chosen at run time by conv_depthwise.c (cr_isa()).
 *
 * A plane is walked flat, 16 outputs i = p*W + q at a time, whatever W is (a 4x4 plane is
 * one vector, a 32x32 one 64). Tap (r, s) reads in[i + (r-ph)*W + (s-pw)]: one masked
 * load, the mask keeping the lanes whose input row and column lie inside the plane (the
 * zero padding; masked lanes are never touched, so reads before or after the plane cannot
 * fault). The masks depend only on the plane's shape: cr_dw_masks_avx512 tabulates them
 * once (per vector: R row masks, S column masks). One call runs n planes of one channel
 * (`step` elements apart), with the weights broadcast once. 3x3 and 5x5 are unrolled
 * (constant R, S), other odd sizes up to 7 loop.
 *   fwd: out[i] = bias + sum_{r,s} w[r,s] * in[i + tap], taps in (r, s) order.
 *   bwd: dx[i] += sum_{r,s} w[R-1-r,S-1-s] * dy[i + tap] (dx is the "same" correlation of
 *        dy with the flipped kernel) and acc[t*16 + l] += lane l of the plane's sum of
 *        dy[i] * x[i + tap t] (float32 over one plane, then added in double; acc[R*S*16+l]
 *        the same for db).
 * The backward's caller passes one plane per call, in memory order (cr_dw_lane_sums_avx512
 * folds each plane's lanes).
 */
#include <immintrin.h>
#include <stdint.h>
#include "conv_dw_avx512.h"

#define IN_MAX 7

static inline __mmask16 tail16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* mt[v*(R+S) + r]: lanes of vector v whose input row p + r - ph is in the plane (and
 * i < H*W); mt[v*(R+S) + R + s]: lanes whose input column q + s - pw is in the plane. */
void cr_dw_masks_avx512(uint16_t *mt, int64_t H, int64_t W, int R, int S) {
    const int ph = (R - 1) / 2, pw = (S - 1) / 2;
    const int64_t HW = H * W;
    int32_t q0[16];
    for (int l = 0; l < 16; l++) q0[l] = (int32_t)(l % W);
    __m512i iv = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i qv = _mm512_loadu_si512(q0);
    const __m512i step = _mm512_set1_epi32((int32_t)(16 % W)), wv = _mm512_set1_epi32((int32_t)W);
    for (int64_t i0 = 0, v = 0; i0 < HW; i0 += 16, v++) {
        uint16_t *m = mt + v * (R + S);
        for (int r = 0; r < R; r++) {
            const int64_t lo = (ph - r) * W, hi = (H + ph - r) * W;
            m[r] = _mm512_cmpge_epi32_mask(iv, _mm512_set1_epi32((int32_t)lo)) &
                   _mm512_cmplt_epi32_mask(iv, _mm512_set1_epi32((int32_t)(hi < HW ? hi : HW)));
        }
        for (int s = 0; s < S; s++)
            m[R + s] = _mm512_cmpge_epi32_mask(qv, _mm512_set1_epi32(pw - s)) &
                       _mm512_cmplt_epi32_mask(qv, _mm512_set1_epi32((int32_t)W + pw - s));
        iv = _mm512_add_epi32(iv, _mm512_set1_epi32(16));
        qv = _mm512_add_epi32(qv, step); /* next q = (q + 16) mod W */
        qv = _mm512_mask_sub_epi32(qv, _mm512_cmpge_epi32_mask(qv, wv), qv, wv);
    }
}

static inline __attribute__((always_inline)) void fwd(float *out, const float *in,
                                                      int64_t step, int64_t n, const float *w,
                                                      float bias, const uint16_t *mt,
                                                      int64_t H, int64_t W, int R, int S) {
    const int ph = (R - 1) / 2, pw = (S - 1) / 2;
    const int64_t HW = H * W;
    __m512 wv[IN_MAX * IN_MAX];
    for (int t = 0; t < R * S; t++) wv[t] = _mm512_set1_ps(w[t]);
    const __m512 bv = _mm512_set1_ps(bias);
    for (int64_t k = 0; k < n; k++) {
        float *o = out + k * step;
        const float *x = in + k * step;
        for (int64_t i0 = 0, v = 0; i0 < HW; i0 += 16, v++) {
            const uint16_t *m = mt + v * (R + S);
            __m512 a = bv;
            for (int r = 0; r < R; r++) {
                const float *row = x + i0 + (r - ph) * W - pw;
                for (int s = 0; s < S; s++)
                    a = _mm512_fmadd_ps(wv[r * S + s],
                                        _mm512_maskz_loadu_ps(m[r] & m[R + s], row + s), a);
            }
            _mm512_mask_storeu_ps(o + i0, tail16(HW - i0), a);
        }
    }
}

void cr_dw_channel_fwd_f32_avx512(float *out, const float *in, int64_t step, int64_t n,
                                  const float *w, float bias, const uint16_t *mt, int64_t H,
                                  int64_t W, int R, int S) {
    if (R == 3 && S == 3)
        fwd(out, in, step, n, w, bias, mt, H, W, 3, 3);
    else if (R == 5 && S == 5)
        fwd(out, in, step, n, w, bias, mt, H, W, 5, 5);
    else
        fwd(out, in, step, n, w, bias, mt, H, W, R, S);
}

static inline __attribute__((always_inline)) void bwd(float *dx, double *acc, const float *dy,
                                                      const float *x, int64_t step, int64_t n,
                                                      const float *w, const uint16_t *mt,
                                                      int64_t H, int64_t W, int R, int S,
                                                      int set) {
    const int ph = (R - 1) / 2, pw = (S - 1) / 2, RS = R * S;
    const int64_t HW = H * W;
    __m512 wf[IN_MAX * IN_MAX];
    for (int t = 0; t < RS; t++) wf[t] = _mm512_set1_ps(w[RS - 1 - t]);
    for (int64_t k = 0; k < n; k++) {
        const float *g = dy + k * step, *xk = x + k * step;
        float *d = dx ? dx + k * step : 0;
        __m512 av[IN_MAX * IN_MAX + 1];
        for (int t = 0; t <= RS; t++) av[t] = _mm512_setzero_ps();
        for (int64_t i0 = 0, v = 0; i0 < HW; i0 += 16, v++) {
            const uint16_t *m = mt + v * (R + S);
            const __mmask16 tail = tail16(HW - i0);
            if (acc) {
                const __m512 gv = _mm512_maskz_loadu_ps(tail, g + i0);
                for (int r = 0; r < R; r++) {
                    const float *row = xk + i0 + (r - ph) * W - pw;
                    for (int s = 0; s < S; s++)
                        av[r * S + s] = _mm512_fmadd_ps(
                            gv, _mm512_maskz_loadu_ps(m[r] & m[R + s], row + s), av[r * S + s]);
                }
                av[RS] = _mm512_add_ps(av[RS], gv);
            }
            if (d) {
                __m512 a = set ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(tail, d + i0);
                for (int r = 0; r < R; r++) {
                    const float *row = g + i0 + (r - ph) * W - pw;
                    for (int s = 0; s < S; s++)
                        a = _mm512_fmadd_ps(wf[r * S + s],
                                            _mm512_maskz_loadu_ps(m[r] & m[R + s], row + s), a);
                }
                _mm512_mask_storeu_ps(d + i0, tail, a);
            }
        }
        if (acc) dw_add_lanes(acc, av, RS + 1);
    }
}

/* dx (may be NULL) += ... (set: = ...), acc (may be NULL) += ... for n planes of one channel */
void cr_dw_channel_bwd_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                                  int64_t step, int64_t n, const float *w, const uint16_t *mt,
                                  int64_t H, int64_t W, int R, int S, int set) {
    if (R == 3 && S == 3)
        bwd(dx, acc, dy, x, step, n, w, mt, H, W, 3, 3, set);
    else if (R == 5 && S == 5)
        bwd(dx, acc, dy, x, step, n, w, mt, H, W, 5, 5, set);
    else
        bwd(dx, acc, dy, x, step, n, w, mt, H, W, R, S, set);
}

/* out[t] = the sum of acc's 16 lanes t*16 ... (a fixed tree), for t < taps; acc is zeroed
 * for the next plane */
void cr_dw_lane_sums_avx512(double *out, double *acc, int64_t taps) {
    for (int64_t t = 0; t < taps; t++) {
        const __m512d v =
            _mm512_add_pd(_mm512_loadu_pd(acc + t * 16), _mm512_loadu_pd(acc + t * 16 + 8));
        out[t] = _mm512_reduce_add_pd(v);
        _mm512_storeu_pd(acc + t * 16, _mm512_setzero_pd());
        _mm512_storeu_pd(acc + t * 16 + 8, _mm512_setzero_pd());
    }
}

/* ------------------------------------------------------------------ stride 2
 * Row by row, 16 outputs q0..q0+15 of row p at a time. Tap (r, s) needs the input columns
 * 2q - pw + s: two masked loads of 32 neighbouring columns (only those inside the row)
 * and their even lanes (vpermt2ps). dx is gathered, not scattered: for dx row h and a
 * window of 32 columns, the even columns sum the taps with s = pw (mod 2), the odd ones
 * the others (each reading dy at a lane shift), and the two halves are interleaved. */

/* bits [lo, hi) of a 16-lane mask, clipped to [0, 16) */
static inline __mmask16 span16(int64_t lo, int64_t hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)((((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1));
}

/* the 16 values row[c0 + 2l], zero outside the row's columns [0, W) */
static inline __m512 even_cols(const float *row, int64_t c0, int64_t W, __m512i even) {
    const __m512 lo = _mm512_maskz_loadu_ps(span16(-c0, W - c0), row + c0);
    const __m512 hi = _mm512_maskz_loadu_ps(span16(-c0 - 16, W - c0 - 16), row + c0 + 16);
    return _mm512_permutex2var_ps(lo, even, hi);
}

/* 32 columns of a stride-2 dx row: e (even columns) and o (odd) interleaved by ilo / ihi
 * into d[0..15] and d[16..31] under masks m0, m1; set: written, else added */
static inline void dx_pair_store(float *d, __m512 e, __m512 o, __m512i ilo, __m512i ihi,
                                 __mmask16 m0, __mmask16 m1, int set) {
    const __m512 lo = _mm512_permutex2var_ps(e, ilo, o);
    const __m512 hi = _mm512_permutex2var_ps(e, ihi, o);
    _mm512_mask_storeu_ps(d, m0, set ? lo : _mm512_add_ps(_mm512_maskz_loadu_ps(m0, d), lo));
    _mm512_mask_storeu_ps(d + 16, m1,
                          set ? hi : _mm512_add_ps(_mm512_maskz_loadu_ps(m1, d + 16), hi));
}

static inline __attribute__((always_inline)) void fwd_s2(float *out, const float *x,
                                                         const float *w, float bias,
                                                         int64_t H, int64_t W, int64_t P,
                                                         int64_t Q, int R, int S) {
    const int ph = (R - 1) / 2, pw = (S - 1) / 2;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    __m512 wv[IN_MAX * IN_MAX];
    for (int t = 0; t < R * S; t++) wv[t] = _mm512_set1_ps(w[t]);
    for (int64_t p = 0; p < P; p++)
        for (int64_t q0 = 0; q0 < Q; q0 += 16) {
            __m512 a = _mm512_set1_ps(bias);
            for (int r = 0; r < R; r++) {
                const int64_t h = 2 * p + r - ph;
                if (h < 0 || h >= H) continue;
                for (int s = 0; s < S; s++)
                    a = _mm512_fmadd_ps(wv[r * S + s],
                                        even_cols(x + h * W, 2 * q0 - pw + s, W, even), a);
            }
            _mm512_mask_storeu_ps(out + p * Q + q0, tail16(Q - q0), a);
        }
}

static inline __attribute__((always_inline)) void bwd_s2(float *dx, double *acc,
                                                         const float *dy, const float *x,
                                                         const float *w, int64_t H,
                                                         int64_t W, int64_t P, int64_t Q,
                                                         int R, int S, int set) {
    const int ph = (R - 1) / 2, pw = (S - 1) / 2, RS = R * S;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    if (acc) {
        __m512 av[IN_MAX * IN_MAX + 1];
        for (int t = 0; t <= RS; t++) av[t] = _mm512_setzero_ps();
        for (int64_t p = 0; p < P; p++)
            for (int64_t q0 = 0; q0 < Q; q0 += 16) {
                const __m512 g = _mm512_maskz_loadu_ps(tail16(Q - q0), dy + p * Q + q0);
                for (int r = 0; r < R; r++) {
                    const int64_t h = 2 * p + r - ph;
                    if (h < 0 || h >= H) continue;
                    for (int s = 0; s < S; s++)
                        av[r * S + s] = _mm512_fmadd_ps(
                            g, even_cols(x + h * W, 2 * q0 - pw + s, W, even), av[r * S + s]);
                }
                av[RS] = _mm512_add_ps(av[RS], g);
            }
        dw_add_lanes(acc, av, RS + 1);
    }
    if (!dx) return;
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                          23);
    const __m512i ihi = _mm512_add_epi32(ilo, _mm512_set1_epi32(8));
    __m512 wv[IN_MAX * IN_MAX];
    for (int t = 0; t < RS; t++) wv[t] = _mm512_set1_ps(w[t]);
    for (int64_t h = 0; h < H; h++)
        for (int64_t j0 = 0; 2 * j0 < W; j0 += 16) { /* dx columns 2*j0 ... 2*j0 + 31 */
            __m512 e = _mm512_setzero_ps(), o = _mm512_setzero_ps();
            for (int r = 0; r < R; r++) {
                const int64_t t2 = h + ph - r; /* = 2p */
                if (t2 < 0 || (t2 & 1) || t2 / 2 >= P) continue;
                const float *g = dy + (t2 / 2) * Q;
                for (int s = 0; s < S; s++) {
                    /* column 2q - pw + s: even columns 2(j0+l) take q = j0 + l + (pw-s)/2 */
                    const int odd = (s - pw) & 1;
                    const int64_t k = j0 + (pw + odd - s) / 2;
                    const __m512 v = _mm512_maskz_loadu_ps(span16(-k, Q - k), g + k);
                    if (odd)
                        o = _mm512_fmadd_ps(wv[r * S + s], v, o);
                    else
                        e = _mm512_fmadd_ps(wv[r * S + s], v, e);
                }
            }
            float *d = dx + h * W + 2 * j0;
            const __mmask16 m0 = span16(0, W - 2 * j0), m1 = span16(0, W - 2 * j0 - 16);
            dx_pair_store(d, e, o, ilo, ihi, m0, m1, set);
        }
}

/* bwd_s2 for 3x3 (pw = 1), with the dw accumulators in named registers (bwd_s2's array of
 * 50 spills to the stack). dw, per 16 outputs of dy row p and input row h = 2p - 1 + r: the
 * 32 columns from 2q0 - 1 (A, B) give tap s = 0 (even lanes), those from 2q0 (A1, B1) taps
 * s = 1 (even) and s = 2 (odd). dx, per 32 columns 2j0... of row h: even columns take tap
 * s = 1 of dy[p, j], odd ones s = 0 of dy[p, j + 1] and s = 2 of dy[p, j], for the rows
 * r = 1 (h even, p = h/2) or r = 0, 2 (h odd, p = (h+1)/2, (h-1)/2). */
static void bwd_s2_33(float *dx, double *acc, const float *dy, const float *x, const float *w,
                      int64_t H, int64_t W, int64_t P, int64_t Q, int set) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    if (acc) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
               a7 = a0, a8 = a0, ab = a0;
        for (int64_t q0 = 0; q0 < Q; q0 += 16) {
            const int64_t c0 = 2 * q0 - 1;
            const __mmask16 m0 = span16(-c0, W - c0), m1 = span16(-c0 - 16, W - c0 - 16);
            const __mmask16 n0 = span16(-c0 - 1, W - c0 - 1), n1 = span16(-c0 - 17, W - c0 - 17);
            const __mmask16 mg = tail16(Q - q0);
            for (int64_t p = 0; p < P; p++) {
                const __m512 g = _mm512_maskz_loadu_ps(mg, dy + p * Q + q0);
                ab = _mm512_add_ps(ab, g);
#define DW_ROW(h, t0, t1, t2)                                                                \
    do {                                                                                     \
        const float *row_ = x + (h) * W + c0;                                                \
        const __m512 A = _mm512_maskz_loadu_ps(m0, row_);                                  \
        const __m512 B = _mm512_maskz_loadu_ps(m1, row_ + 16);                             \
        const __m512 A1 = _mm512_maskz_loadu_ps(n0, row_ + 1);                               \
        const __m512 B1 = _mm512_maskz_loadu_ps(n1, row_ + 17);                              \
        t0 = _mm512_fmadd_ps(g, _mm512_permutex2var_ps(A, even, B), t0);                     \
        t1 = _mm512_fmadd_ps(g, _mm512_permutex2var_ps(A1, even, B1), t1);                   \
        t2 = _mm512_fmadd_ps(g, _mm512_permutex2var_ps(A1, odd, B1), t2);                    \
    } while (0)
                if (p > 0) DW_ROW(2 * p - 1, a0, a1, a2);
                DW_ROW(2 * p, a3, a4, a5); /* 2p < H always (P = ceil(H/2)) */
                if (2 * p + 1 < H) DW_ROW(2 * p + 1, a6, a7, a8);
#undef DW_ROW
            }
        }
        const __m512 av[10] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, ab};
        dw_add_lanes(acc, av, 10);
    }
    if (!dx) return;
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                          23);
    const __m512i ihi = _mm512_add_epi32(ilo, _mm512_set1_epi32(8));
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(w[t]);
    for (int64_t j0 = 0; 2 * j0 < W; j0 += 16) { /* dx columns 2*j0 ... 2*j0 + 31 */
        const __mmask16 k0 = span16(-j0, Q - j0), k1 = span16(-j0 - 1, Q - j0 - 1);
        const __mmask16 m0 = span16(0, W - 2 * j0), m1 = span16(0, W - 2 * j0 - 16);
        for (int64_t h = 0; h < H; h++) {
            __m512 e, o;
            if (!(h & 1)) { /* r = 1, p = h/2 */
                const float *g = dy + (h / 2) * Q + j0;
                const __m512 G = _mm512_maskz_loadu_ps(k0, g);
                const __m512 G1 = _mm512_maskz_loadu_ps(k1, g + 1);
                e = _mm512_mul_ps(wv[4], G);
                o = _mm512_fmadd_ps(wv[5], G, _mm512_mul_ps(wv[3], G1));
            } else { /* r = 0 with p = (h+1)/2 (if < P), r = 2 with p = (h-1)/2 */
                const float *g = dy + ((h - 1) / 2) * Q + j0;
                const __m512 G = _mm512_maskz_loadu_ps(k0, g);
                const __m512 G1 = _mm512_maskz_loadu_ps(k1, g + 1);
                e = _mm512_mul_ps(wv[7], G);
                o = _mm512_fmadd_ps(wv[8], G, _mm512_mul_ps(wv[6], G1));
                if ((h + 1) / 2 < P) {
                    const __m512 F = _mm512_maskz_loadu_ps(k0, g + Q);
                    const __m512 F1 = _mm512_maskz_loadu_ps(k1, g + Q + 1);
                    e = _mm512_fmadd_ps(wv[1], F, e);
                    o = _mm512_fmadd_ps(wv[2], F, _mm512_fmadd_ps(wv[0], F1, o));
                }
            }
            float *d = dx + h * W + 2 * j0;
            dx_pair_store(d, e, o, ilo, ihi, m0, m1, set);
        }
    }
}

/* one plane (x (H, W) -> out (P, Q)) of a stride-2 "same"-padded layer */
void cr_dw_plane_fwd_s2_f32_avx512(float *out, const float *x, const float *w, float bias,
                                   int64_t H, int64_t W, int64_t P, int64_t Q, int R, int S) {
    if (R == 3 && S == 3)
        fwd_s2(out, x, w, bias, H, W, P, Q, 3, 3);
    else
        fwd_s2(out, x, w, bias, H, W, P, Q, R, S);
}

/* dx (may be NULL) += ... (set: = ...), acc (may be NULL) += ... for one plane */
void cr_dw_plane_bwd_s2_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                                   const float *w, int64_t H, int64_t W, int64_t P, int64_t Q,
                                   int R, int S, int set) {
    if (R == 3 && S == 3)
        bwd_s2_33(dx, acc, dy, x, w, H, W, P, Q, set);
    else
        bwd_s2(dx, acc, dy, x, w, H, W, P, Q, R, S, set);
}
