/* gemm_avx2.c — AVX2+FMA GEMM micro-kernels (compiled with -mavx2 -mfma, called only
 * when the CPU reports avx2 and fma; see gemm.c for dispatch).
 *
 *   fp32: 6 x 16 tile (6 rows x 2 ymm), fp64: 6 x 8 tile (6 rows x 2 ymm).
 * 12 accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers (the Haswell
 * shape). Packed operands only: edge tiles are zero-padded by the packing in gemm.c.
 */
#include <immintrin.h>
#include <math.h>
#include "cpu.h"
#include "gemm_ukr.h"

/* fixed-order horizontal sums for the skinny kernels */
static inline float hsum_f32(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}
static inline double hsum_f64(__m256d v) {
    __m128d x = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    x = _mm_add_sd(x, _mm_unpackhi_pd(x, x));
    return _mm_cvtsd_f64(x);
}

#define T float
#define SUF f32
#define VT __m256
#define LANES 8
#define MR CR_AVX2_MR_F32
#define V_ZERO _mm256_setzero_ps
#define V_SET1 _mm256_set1_ps
#define V_FMADD _mm256_fmadd_ps
#define V_MUL _mm256_mul_ps
#define V_ADD _mm256_add_ps
#define V_LOAD _mm256_load_ps
#define V_LOADU _mm256_loadu_ps
#define V_STORE _mm256_store_ps
#define V_STOREU _mm256_storeu_ps
#define S_FMA fmaf
#include "gemm_avx2_tmpl.h"
#define V_HSUM hsum_f32
#define FN_DOT cr_skinny_dot_f32_avx2
#define FN_AXPY cr_skinny_axpy_f32_avx2
#include "gemm_skinny_simd_tmpl.h"
#undef V_HSUM
#undef FN_DOT
#undef FN_AXPY
#undef T
#undef SUF
#undef VT
#undef LANES
#undef MR
#undef V_ZERO
#undef V_SET1
#undef V_FMADD
#undef V_MUL
#undef V_ADD
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_STOREU
#undef S_FMA

#define T double
#define SUF f64
#define VT __m256d
#define LANES 4
#define MR CR_AVX2_MR_F64
#define V_ZERO _mm256_setzero_pd
#define V_SET1 _mm256_set1_pd
#define V_FMADD _mm256_fmadd_pd
#define V_MUL _mm256_mul_pd
#define V_ADD _mm256_add_pd
#define V_LOAD _mm256_load_pd
#define V_LOADU _mm256_loadu_pd
#define V_STORE _mm256_store_pd
#define V_STOREU _mm256_storeu_pd
#define S_FMA fma
#include "gemm_avx2_tmpl.h"
#define V_HSUM hsum_f64
#define FN_DOT cr_skinny_dot_f64_avx2
#define FN_AXPY cr_skinny_axpy_f64_avx2
#include "gemm_skinny_simd_tmpl.h"
#undef V_HSUM
#undef FN_DOT
#undef FN_AXPY
#undef T
#undef SUF
#undef VT
#undef LANES
#undef MR
#undef V_ZERO
#undef V_SET1
#undef V_FMADD
#undef V_MUL
#undef V_ADD
#undef V_LOAD
#undef V_LOADU
#undef V_STORE
#undef V_STOREU
#undef S_FMA
