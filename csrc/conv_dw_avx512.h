/* conv_dw_avx512.h — AVX-512 helpers shared by the depthwise kernels (conv_depthwise_avx512.c,
 * conv_dw_small_avx512.c); included only by AVX-512 files. */
#ifndef CR_CONV_DW_AVX512_H
#define CR_CONV_DW_AVX512_H
#include <immintrin.h>

/* acc[t*16 ...] += the 16 float32 lanes of av[t] in double, for t < taps (dw's per-lane sums
 * kept in double, summed across lanes once at the end) */
static inline void dw_add_lanes(double *acc, const __m512 *av, int taps) {
    for (int t = 0; t < taps; t++) {
        double *o = acc + t * 16;
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(av[t]));
        const __m512d hi = _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(av[t]), 1)));
        _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), lo));
        _mm512_storeu_pd(o + 8, _mm512_add_pd(_mm512_loadu_pd(o + 8), hi));
    }
}

#endif
