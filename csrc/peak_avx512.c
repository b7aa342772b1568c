/* peak_avx512.c — the FMA-throughput loop behind cr_fma_peak_gflops (cpu.c): 16 independent
 * chains of zmm FMAs (4-cycle latency x 2 FMA pipes needs >= 8 in flight), so the loop runs
 * at the core's vector FMA throughput at the clock it really holds with AVX-512 active. */
#include <immintrin.h>
#include "cpu.h"

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) \
    X(14) X(15)

double cr_fma_loop_avx512(int64_t iters, int f64) {
    if (f64) {
        const __m512d x = _mm512_set1_pd(0.9999999), y = _mm512_set1_pd(1e-7);
#define D(i) __m512d a##i = _mm512_set1_pd(1.0 + 0.01 * i);
#define F(i) a##i = _mm512_fmadd_pd(a##i, x, y);
#define S(i) + _mm512_reduce_add_pd(a##i)
        CHAINS(D)
        for (int64_t t = 0; t < iters; t++) { CHAINS(F) }
        return 0 CHAINS(S);
#undef D
#undef F
#undef S
    }
    const __m512 x = _mm512_set1_ps(0.9999f), y = _mm512_set1_ps(1e-4f);
#define D(i) __m512 a##i = _mm512_set1_ps(1.0f + 0.01f * i);
#define F(i) a##i = _mm512_fmadd_ps(a##i, x, y);
#define S(i) + (double)_mm512_reduce_add_ps(a##i)
    CHAINS(D)
    for (int64_t t = 0; t < iters; t++) { CHAINS(F) }
    return 0 CHAINS(S);
#undef D
#undef F
#undef S
}
