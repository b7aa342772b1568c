/* peak_avx2.c — the FMA-throughput loop behind cr_fma_peak_gflops (cpu.c): 16 independent
 * chains of ymm FMAs (AVX2 + FMA) (4-cycle latency x 2 FMA pipes needs >= 8 in flight), so the loop runs
 * at the core's vector FMA throughput at the clock it really holds with AVX2 active. */
#include <immintrin.h>
#include "cpu.h"

static inline double hsum_pd(__m256d v) {
    double t[4];
    _mm256_storeu_pd(t, v);
    return t[0] + t[1] + t[2] + t[3];
}
static inline double hsum_ps(__m256 v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    return (double)(t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7]);
}

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) \
    X(14) X(15)

double cr_fma_loop_avx2(int64_t iters, int f64) {
    if (f64) {
        const __m256d x = _mm256_set1_pd(0.9999999), y = _mm256_set1_pd(1e-7);
#define D(i) __m256d a##i = _mm256_set1_pd(1.0 + 0.01 * i);
#define F(i) a##i = _mm256_fmadd_pd(a##i, x, y);
#define S(i) + hsum_pd(a##i)
        CHAINS(D)
        for (int64_t t = 0; t < iters; t++) { CHAINS(F) }
        return 0 CHAINS(S);
#undef D
#undef F
#undef S
    }
    const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(1e-4f);
#define D(i) __m256 a##i = _mm256_set1_ps(1.0f + 0.01f * i);
#define F(i) a##i = _mm256_fmadd_ps(a##i, x, y);
#define S(i) + hsum_ps(a##i)
    CHAINS(D)
    for (int64_t t = 0; t < iters; t++) { CHAINS(F) }
    return 0 CHAINS(S);
#undef D
#undef F
#undef S
}
