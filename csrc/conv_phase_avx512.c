/* conv_phase_avx512.c — the stride-2 row copies of conv_phase.c (AVX-512): one column phase
 * of an input row, and its gradient added back. Same values, same single add per element as
 * the scalar loops they replace (the bits do not change). */
#include <immintrin.h>
#include <stdint.h>

/* dst[j] = src[2 j] for j < n */
void cr_phase_gather2_f32_avx512(float *dst, const float *src, int64_t n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512 a = _mm512_loadu_ps(src + 2 * j);
        const __m512 b = _mm512_maskz_loadu_ps(0x7FFF, src + 2 * j + 16); /* to src[2j + 30] */
        _mm512_storeu_ps(dst + j, _mm512_permutex2var_ps(a, even, b));
    }
    for (; j < n; j++) dst[j] = src[2 * j];
}

/* dst[2 j] += src[j] for j < n */
void cr_phase_scatter2_add_f32_avx512(float *dst, const float *src, int64_t n) {
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15,
                                         15);
    const __mmask16 ev = 0x5555;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512 s = _mm512_loadu_ps(src + j);
        float *d0 = dst + 2 * j;
        const __m512 a = _mm512_loadu_ps(d0);
        _mm512_mask_storeu_ps(d0, ev, _mm512_add_ps(a, _mm512_permutexvar_ps(lo, s)));
        const __m512 b = _mm512_maskz_loadu_ps(ev, d0 + 16); /* even lanes: to dst[2j + 30] */
        _mm512_mask_storeu_ps(d0 + 16, ev, _mm512_add_ps(b, _mm512_permutexvar_ps(hi, s)));
    }
    for (; j < n; j++) dst[2 * j] += src[j];
}
