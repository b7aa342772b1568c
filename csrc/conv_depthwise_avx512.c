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
 */
#include <immintrin.h>
#include <stdint.h>

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

/* acc (R*S + 1) x 16 doubles += this plane's float32 lane sums */
static inline void add_lanes(double *acc, const __m512 *av, int taps) {
    for (int t = 0; t < taps; t++) {
        double *o = acc + t * 16;
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(av[t]));
        const __m512d hi = _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(av[t]), 1)));
        _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), lo));
        _mm512_storeu_pd(o + 8, _mm512_add_pd(_mm512_loadu_pd(o + 8), hi));
    }
}

static inline __attribute__((always_inline)) void bwd(float *dx, double *acc, const float *dy,
                                                      const float *x, int64_t step, int64_t n,
                                                      const float *w, const uint16_t *mt,
                                                      int64_t H, int64_t W, int R, int S) {
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
                __m512 a = _mm512_maskz_loadu_ps(tail, d + i0);
                for (int r = 0; r < R; r++) {
                    const float *row = g + i0 + (r - ph) * W - pw;
                    for (int s = 0; s < S; s++)
                        a = _mm512_fmadd_ps(wf[r * S + s],
                                            _mm512_maskz_loadu_ps(m[r] & m[R + s], row + s), a);
                }
                _mm512_mask_storeu_ps(d + i0, tail, a);
            }
        }
        if (acc) add_lanes(acc, av, RS + 1);
    }
}

/* dx (may be NULL) += ..., acc (may be NULL) += ... for n planes of one channel */
void cr_dw_channel_bwd_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                                  int64_t step, int64_t n, const float *w, const uint16_t *mt,
                                  int64_t H, int64_t W, int R, int S) {
    if (R == 3 && S == 3)
        bwd(dx, acc, dy, x, step, n, w, mt, H, W, 3, 3);
    else if (R == 5 && S == 5)
        bwd(dx, acc, dy, x, step, n, w, mt, H, W, 5, 5);
    else
        bwd(dx, acc, dy, x, step, n, w, mt, H, W, R, S);
}
