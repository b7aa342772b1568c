/* pool_avx512.c — AVX-512 max pooling for kernel 2x2, stride 2, no padding (the LeNet/CNN
 * case), one (H, W) plane per call; chosen at run time by pool.c.
 *
 * y[p, q] = max(x[2p, 2q], x[2p, 2q+1], x[2p+1, 2q], x[2p+1, 2q+1]) and idx[p, q] = the flat
 * index ih*W + iw of the first maximum in that (row-major) order: a later value is taken
 * only if it is strictly greater, or if it is NaN and the running max is not (so the first
 * NaN wins) — the exact rule of the generic kernel in pool.c, bitwise.
 * x (H, W) -> y (P, Q), idx (P, Q), P = H/2, Q = W/2 (floor: an odd last row/column drops).
 * Even/odd columns are split with vpermt2ps/pd; the row tails use masked loads and stores,
 * so nothing outside the 2*Q used columns of rows 2p, 2p+1 is ever read.
 */
#include <immintrin.h>
#include <stdint.h>

/* take = (v > m) | (isnan(v) & !isnan(m)) = !(v <= m) & !isnan(m) */
#define TAKE_PS(v, m) _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask((m), (m), _CMP_ORD_Q), (v), (m), _CMP_NLE_UQ)
#define TAKE_PD(v, m) _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask((m), (m), _CMP_ORD_Q), (v), (m), _CMP_NLE_UQ)

static inline __mmask16 mask16(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
static inline __mmask8 mask8(int64_t n) { return n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1); }

void cr_max_pool2x2_plane_f32_avx512(float *y, int64_t *idx, const float *x, int64_t W,
                                     int64_t P, int64_t Q) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14); /* iw of even columns */
    const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32((int32_t)W);
    for (int64_t p = 0; p < P; p++) {
        const float *r0 = x + 2 * p * W, *r1 = r0 + W;
        float *yr = y + p * Q;
        int64_t *ir = idx + p * Q;
        for (int64_t q = 0; q < Q; q += 16) {
            const int64_t n = Q - q < 16 ? Q - q : 16; /* outputs here; 2n inputs per row */
            const __mmask16 m_lo = mask16(2 * n), m_hi = mask16(2 * n - 16 > 0 ? 2 * n - 16 : 0);
            const __m512 t0 = _mm512_maskz_loadu_ps(m_lo, r0 + 2 * q);
            const __m512 t1 = _mm512_maskz_loadu_ps(m_hi, r0 + 2 * q + 16);
            const __m512 b0 = _mm512_maskz_loadu_ps(m_lo, r1 + 2 * q);
            const __m512 b1 = _mm512_maskz_loadu_ps(m_hi, r1 + 2 * q + 16);
            const __m512 a = _mm512_permutex2var_ps(t0, even, t1), b = _mm512_permutex2var_ps(t0, odd, t1);
            const __m512 c = _mm512_permutex2var_ps(b0, even, b1), d = _mm512_permutex2var_ps(b0, odd, b1);
            __m512 m = a;
            __m512i off = _mm512_setzero_si512(); /* 0, 1, W or W+1 */
            __mmask16 k = TAKE_PS(b, m);
            m = _mm512_mask_mov_ps(m, k, b);
            off = _mm512_mask_mov_epi32(off, k, one);
            k = TAKE_PS(c, m);
            m = _mm512_mask_mov_ps(m, k, c);
            off = _mm512_mask_mov_epi32(off, k, wv);
            k = TAKE_PS(d, m);
            m = _mm512_mask_mov_ps(m, k, d);
            off = _mm512_mask_add_epi32(off, k, wv, one);
            const __mmask16 m_out = mask16(n);
            _mm512_mask_storeu_ps(yr + q, m_out, m);
            const __m512i base = _mm512_add_epi64(_mm512_set1_epi64(2 * p * W + 2 * q), lane2);
            const __m512i i_lo = _mm512_add_epi64(base, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(off)));
            const __m512i i_hi = _mm512_add_epi64(_mm512_add_epi64(base, _mm512_set1_epi64(16)),
                                                  _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(off, 1)));
            _mm512_mask_storeu_epi64(ir + q, (__mmask8)m_out, i_lo);
            _mm512_mask_storeu_epi64(ir + q + 8, (__mmask8)(m_out >> 8), i_hi);
        }
    }
}

void cr_max_pool2x2_plane_f64_avx512(double *y, int64_t *idx, const double *x, int64_t W,
                                     int64_t P, int64_t Q) {
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i odd = _mm512_add_epi64(even, _mm512_set1_epi64(1));
    const __m512i one = _mm512_set1_epi64(1), wv = _mm512_set1_epi64(W);
    for (int64_t p = 0; p < P; p++) {
        const double *r0 = x + 2 * p * W, *r1 = r0 + W;
        double *yr = y + p * Q;
        int64_t *ir = idx + p * Q;
        for (int64_t q = 0; q < Q; q += 8) {
            const int64_t n = Q - q < 8 ? Q - q : 8;
            const __mmask8 m_lo = mask8(2 * n), m_hi = mask8(2 * n - 8 > 0 ? 2 * n - 8 : 0);
            const __m512d t0 = _mm512_maskz_loadu_pd(m_lo, r0 + 2 * q);
            const __m512d t1 = _mm512_maskz_loadu_pd(m_hi, r0 + 2 * q + 8);
            const __m512d b0 = _mm512_maskz_loadu_pd(m_lo, r1 + 2 * q);
            const __m512d b1 = _mm512_maskz_loadu_pd(m_hi, r1 + 2 * q + 8);
            const __m512d a = _mm512_permutex2var_pd(t0, even, t1), b = _mm512_permutex2var_pd(t0, odd, t1);
            const __m512d c = _mm512_permutex2var_pd(b0, even, b1), d = _mm512_permutex2var_pd(b0, odd, b1);
            __m512d m = a;
            /* flat index of the even column of the top row, then + 1, W or W+1 */
            const __m512i ia = _mm512_add_epi64(_mm512_set1_epi64(2 * p * W + 2 * q), even);
            __m512i i = ia;
            __mmask8 k = TAKE_PD(b, m);
            m = _mm512_mask_mov_pd(m, k, b);
            i = _mm512_mask_add_epi64(i, k, ia, one);
            k = TAKE_PD(c, m);
            m = _mm512_mask_mov_pd(m, k, c);
            i = _mm512_mask_add_epi64(i, k, ia, wv);
            k = TAKE_PD(d, m);
            m = _mm512_mask_mov_pd(m, k, d);
            i = _mm512_mask_add_epi64(i, k, _mm512_add_epi64(ia, wv), one);
            const __mmask8 m_out = mask8(n);
            _mm512_mask_storeu_pd(yr + q, m_out, m);
            _mm512_mask_storeu_epi64(ir + q, m_out, i);
        }
    }
}

/* Any kernel (kh, kw) and stride (sh, sw) without padding (so every window lies inside the
 * plane), one plane: 16 (float) / 8 (double) output columns at a time, each window offset
 * (i, j) in row-major order gathered at stride sw and taken by the same rule as above.
 * Needs H*W < 2^30 and 16*sw < 2^30 (int32 offsets; checked by the caller). */
void cr_max_pool2d_plane_f32_avx512(float *y, int64_t *idx, const float *x, int64_t W,
                                    int64_t P, int64_t Q, int64_t kh, int64_t kw, int64_t sh,
                                    int64_t sw) {
    const __m512i col = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                             11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int32_t)sw));
    for (int64_t p = 0; p < P; p++) {
        for (int64_t q = 0; q < Q; q += 16) {
            const __mmask16 mk = mask16(Q - q);
            const float *r = x + p * sh * W + q * sw; /* window corner of output column q */
            __m512 m = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, col, r, 4);
            __m512i best = _mm512_setzero_si512(); /* window offset i*W + j of the max */
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = (i == 0); j < kw; j++) {
                    const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, col,
                                                              r + i * W + j, 4);
                    const __mmask16 k = TAKE_PS(v, m);
                    m = _mm512_mask_mov_ps(m, k, v);
                    best = _mm512_mask_mov_epi32(best, k, _mm512_set1_epi32((int32_t)(i * W + j)));
                }
            _mm512_mask_storeu_ps(y + p * Q + q, mk, m);
            const __m512i c64 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(col));
            const __m512i base = _mm512_add_epi64(_mm512_set1_epi64(p * sh * W + q * sw), c64);
            const __m512i base_hi = _mm512_add_epi64(base, _mm512_set1_epi64(8 * sw));
            _mm512_mask_storeu_epi64(idx + p * Q + q, (__mmask8)mk,
                _mm512_add_epi64(base, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(best))));
            _mm512_mask_storeu_epi64(idx + p * Q + q + 8, (__mmask8)(mk >> 8),
                _mm512_add_epi64(base_hi, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(best, 1))));
        }
    }
}

void cr_max_pool2d_plane_f64_avx512(double *y, int64_t *idx, const double *x, int64_t W,
                                    int64_t P, int64_t Q, int64_t kh, int64_t kw, int64_t sh,
                                    int64_t sw) {
    const __m256i col = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                           _mm256_set1_epi32((int32_t)sw));
    const __m512i col64 = _mm512_cvtepi32_epi64(col);
    for (int64_t p = 0; p < P; p++) {
        for (int64_t q = 0; q < Q; q += 8) {
            const __mmask8 mk = mask8(Q - q);
            const double *r = x + p * sh * W + q * sw;
            __m512d m = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mk, col, r, 8);
            __m512i best = _mm512_setzero_si512();
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = (i == 0); j < kw; j++) {
                    const __m512d v = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mk, col,
                                                               r + i * W + j, 8);
                    const __mmask8 k = TAKE_PD(v, m);
                    m = _mm512_mask_mov_pd(m, k, v);
                    best = _mm512_mask_mov_epi64(best, k, _mm512_set1_epi64(i * W + j));
                }
            _mm512_mask_storeu_pd(y + p * Q + q, mk, m);
            const __m512i base = _mm512_add_epi64(_mm512_set1_epi64(p * sh * W + q * sw), col64);
            _mm512_mask_storeu_epi64(idx + p * Q + q, mk, _mm512_add_epi64(base, best));
        }
    }
}
