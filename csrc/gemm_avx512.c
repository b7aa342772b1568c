/* gemm_avx512.c — AVX-512 GEMM micro-kernels (compiled with -mavx512f/vl/bw/dq -mfma,
 * called only when the CPU reports avx512f; see gemm.c for dispatch).
 *
 *   fp32: 12 x 32 tile (12 rows x 2 zmm), fp64: 12 x 16 tile (12 rows x 2 zmm).
 * 24 accumulators hide the 4-cycle FMA latency of 2 FMA pipes; each k step costs
 * 2 vector loads of B and 12 broadcasts of A for 24 FMAs.
 */
#include <immintrin.h>
#include <math.h>
#include "gemm_ukr.h"

#if CR_AVX512_MR_F32 != 12 || CR_AVX512_MR_F64 != 12 || CR_AVX512_NR_F32 != 32 || CR_AVX512_NR_F64 != 16
#error "gemm_avx512_tmpl.h has 12/8/4-row kernels of 2 vectors; update it with gemm_ukr.h"
#endif

/* ---- float32 ---------------------------------------------------------------- */
#define T float
#define VT __m512
#define MASKT __mmask16
#define LANES 16
#define MR CR_AVX512_MR_F32
#define NV (CR_AVX512_NR_F32 / 16)
#define V_ZERO _mm512_setzero_ps
#define V_SET1 _mm512_set1_ps
#define V_FMADD _mm512_fmadd_ps
#define V_MUL _mm512_mul_ps
#define V_ADD _mm512_add_ps
#define V_LOAD _mm512_load_ps
#define V_STORE _mm512_store_ps
#define V_MASKZ_LOADU _mm512_maskz_loadu_ps
#define V_MASK_STOREU _mm512_mask_storeu_ps
#define S_FMA fmaf
#define FN_MASKS masks_f32
#define FN_WRITE write_f32
#define FN_PACKED cr_ukr_f32_avx512_packed
#define FN_STRIDED cr_ukr_f32_avx512_strided
#include "gemm_avx512_tmpl.h"
#undef T
#undef VT
#undef MASKT
#undef LANES
#undef MR
#undef NV
#undef V_ZERO
#undef V_SET1
#undef V_FMADD
#undef V_MUL
#undef V_ADD
#undef V_LOAD
#undef V_STORE
#undef V_MASKZ_LOADU
#undef V_MASK_STOREU
#undef S_FMA
#undef FN_MASKS
#undef FN_WRITE
#undef FN_PACKED
#undef FN_STRIDED

/* ---- float64 ---------------------------------------------------------------- */
#define T double
#define VT __m512d
#define MASKT __mmask8
#define LANES 8
#define MR CR_AVX512_MR_F64
#define NV (CR_AVX512_NR_F64 / 8)
#define V_ZERO _mm512_setzero_pd
#define V_SET1 _mm512_set1_pd
#define V_FMADD _mm512_fmadd_pd
#define V_MUL _mm512_mul_pd
#define V_ADD _mm512_add_pd
#define V_LOAD _mm512_load_pd
#define V_STORE _mm512_store_pd
#define V_MASKZ_LOADU _mm512_maskz_loadu_pd
#define V_MASK_STOREU _mm512_mask_storeu_pd
#define S_FMA fma
#define FN_MASKS masks_f64
#define FN_WRITE write_f64
#define FN_PACKED cr_ukr_f64_avx512_packed
#define FN_STRIDED cr_ukr_f64_avx512_strided
#include "gemm_avx512_tmpl.h"
