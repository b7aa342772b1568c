/* pool_avx2.c — AVX2 max pooling for kernel 2x2, stride 2, no padding, one (H, W) plane per
 * call; the same rule and results (bitwise) as pool_avx512.c and the portable loop in
 * pool.c, for CPUs without AVX-512 (~10x faster than the scalar loop gcc makes of it).
 * x (H, W) -> y (P, Q), idx (P, Q) int64 = ih*W + iw of the first maximum of
 * x[2p, 2q], x[2p, 2q+1], x[2p+1, 2q], x[2p+1, 2q+1] (strict >, the first NaN wins).
 * Even/odd columns are split with shuffles + a cross-lane permute; row tails use
 * maskload/maskstore, so nothing outside the 2*Q used columns is touched.
 */
#include <immintrin.h>
#include <stdint.h>

/* take = (v > m) | (isnan(v) & !isnan(m)) = !(v <= m) & !isnan(m) */
#define TAKE_PS(v, m) _mm256_and_ps(_mm256_cmp_ps((v), (m), _CMP_NLE_UQ), _mm256_cmp_ps((m), (m), _CMP_ORD_Q))
#define TAKE_PD(v, m) _mm256_and_pd(_mm256_cmp_pd((v), (m), _CMP_NLE_UQ), _mm256_cmp_pd((m), (m), _CMP_ORD_Q))

/* lanes j < n all ones */
static inline __m256i lanes32(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i lanes64(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* (even, odd) columns of the 2n floats at r (n <= 8) */
static inline void split_ps(const float *r, int64_t n, __m256 *ev, __m256 *od) {
    __m256 t0, t1;
    if (n == 8) {
        t0 = _mm256_loadu_ps(r);
        t1 = _mm256_loadu_ps(r + 8);
    } else {
        t0 = _mm256_maskload_ps(r, lanes32(2 * n));
        t1 = _mm256_maskload_ps(r + 8, lanes32(2 * n - 8));
    }
    /* shuffle: [t0_0 t0_2 t1_0 t1_2 | t0_4 t0_6 t1_4 t1_6]; permute 64-bit pairs 0 2 1 3 */
    *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
    *od = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
}

void cr_max_pool2x2_plane_f32_avx2(float *y, int64_t *idx, const float *x, int64_t W,
                                   int64_t P, int64_t Q) {
    const __m256 one = _mm256_castsi256_ps(_mm256_set1_epi32(1));
    const __m256 wv = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)W));
    const __m256 wv1 = _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)W + 1));
    const __m256i lane2 = _mm256_setr_epi64x(0, 2, 4, 6);
    for (int64_t p = 0; p < P; p++) {
        const float *r0 = x + 2 * p * W, *r1 = r0 + W;
        float *yr = y + p * Q;
        int64_t *ir = idx + p * Q;
        for (int64_t q = 0; q < Q; q += 8) {
            const int64_t n = Q - q < 8 ? Q - q : 8;
            __m256 a, b, c, d;
            split_ps(r0 + 2 * q, n, &a, &b);
            split_ps(r1 + 2 * q, n, &c, &d);
            __m256 m = a, off = _mm256_setzero_ps(), k; /* off: int32 0, 1, W or W+1 */
            k = TAKE_PS(b, m);
            m = _mm256_blendv_ps(m, b, k);
            off = _mm256_blendv_ps(off, one, k);
            k = TAKE_PS(c, m);
            m = _mm256_blendv_ps(m, c, k);
            off = _mm256_blendv_ps(off, wv, k);
            k = TAKE_PS(d, m);
            m = _mm256_blendv_ps(m, d, k);
            off = _mm256_blendv_ps(off, wv1, k);
            const __m256i offi = _mm256_castps_si256(off);
            const __m256i base = _mm256_add_epi64(_mm256_set1_epi64x(2 * p * W + 2 * q), lane2);
            const __m256i i_lo = _mm256_add_epi64(base, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(offi)));
            const __m256i i_hi = _mm256_add_epi64(_mm256_add_epi64(base, _mm256_set1_epi64x(8)),
                                                  _mm256_cvtepi32_epi64(_mm256_extracti128_si256(offi, 1)));
            if (n == 8) {
                _mm256_storeu_ps(yr + q, m);
                _mm256_storeu_si256((__m256i *)(ir + q), i_lo);
                _mm256_storeu_si256((__m256i *)(ir + q + 4), i_hi);
            } else {
                _mm256_maskstore_ps(yr + q, lanes32(n), m);
                _mm256_maskstore_epi64((long long *)(ir + q), lanes64(n), i_lo);
                _mm256_maskstore_epi64((long long *)(ir + q + 4), lanes64(n - 4), i_hi);
            }
        }
    }
}

/* (even, odd) columns of the 2n doubles at r (n <= 4) */
static inline void split_pd(const double *r, int64_t n, __m256d *ev, __m256d *od) {
    __m256d t0, t1;
    if (n == 4) {
        t0 = _mm256_loadu_pd(r);
        t1 = _mm256_loadu_pd(r + 4);
    } else {
        t0 = _mm256_maskload_pd(r, lanes64(2 * n));
        t1 = _mm256_maskload_pd(r + 4, lanes64(2 * n - 4));
    }
    /* unpack: [t0_0 t1_0 | t0_2 t1_2]; permute 0 2 1 3 */
    *ev = _mm256_permute4x64_pd(_mm256_unpacklo_pd(t0, t1), _MM_SHUFFLE(3, 1, 2, 0));
    *od = _mm256_permute4x64_pd(_mm256_unpackhi_pd(t0, t1), _MM_SHUFFLE(3, 1, 2, 0));
}

void cr_max_pool2x2_plane_f64_avx2(double *y, int64_t *idx, const double *x, int64_t W,
                                   int64_t P, int64_t Q) {
    const __m256i lane2 = _mm256_setr_epi64x(0, 2, 4, 6);
    for (int64_t p = 0; p < P; p++) {
        const double *r0 = x + 2 * p * W, *r1 = r0 + W;
        double *yr = y + p * Q;
        int64_t *ir = idx + p * Q;
        for (int64_t q = 0; q < Q; q += 4) {
            const int64_t n = Q - q < 4 ? Q - q : 4;
            __m256d a, b, c, d;
            split_pd(r0 + 2 * q, n, &a, &b);
            split_pd(r1 + 2 * q, n, &c, &d);
            const __m256i ia = _mm256_add_epi64(_mm256_set1_epi64x(2 * p * W + 2 * q), lane2);
            const __m256d ib = _mm256_castsi256_pd(_mm256_add_epi64(ia, _mm256_set1_epi64x(1)));
            const __m256d ic = _mm256_castsi256_pd(_mm256_add_epi64(ia, _mm256_set1_epi64x(W)));
            const __m256d id = _mm256_castsi256_pd(_mm256_add_epi64(ia, _mm256_set1_epi64x(W + 1)));
            __m256d m = a, i = _mm256_castsi256_pd(ia), k;
            k = TAKE_PD(b, m);
            m = _mm256_blendv_pd(m, b, k);
            i = _mm256_blendv_pd(i, ib, k);
            k = TAKE_PD(c, m);
            m = _mm256_blendv_pd(m, c, k);
            i = _mm256_blendv_pd(i, ic, k);
            k = TAKE_PD(d, m);
            m = _mm256_blendv_pd(m, d, k);
            i = _mm256_blendv_pd(i, id, k);
            if (n == 4) {
                _mm256_storeu_pd(yr + q, m);
                _mm256_storeu_si256((__m256i *)(ir + q), _mm256_castpd_si256(i));
            } else {
                _mm256_maskstore_pd(yr + q, lanes64(n), m);
                _mm256_maskstore_epi64((long long *)(ir + q), lanes64(n), _mm256_castpd_si256(i));
            }
        }
    }
}
