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
#define V_LOADU _mm512_loadu_ps
#define V_STORE _mm512_store_ps
#define V_MASKZ_LOADU _mm512_maskz_loadu_ps
#define V_MASK_STOREU _mm512_mask_storeu_ps
#define S_FMA fmaf
#define FN_MASKS masks_f32
#define FN_WRITE write_f32
#define FN_PACKED cr_ukr_f32_avx512_packed
#define FN_STRIDED cr_ukr_f32_avx512_strided
#include "gemm_avx512_tmpl.h"
#define V_STOREU _mm512_storeu_ps
#define V_HSUM _mm512_reduce_add_ps
#define FN_DOT cr_skinny_dot_f32_avx512
#define FN_AXPY cr_skinny_axpy_f32_avx512
#include "gemm_skinny_simd_tmpl.h"
#undef V_STOREU
#undef V_HSUM
#undef FN_DOT
#undef FN_AXPY
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
#undef V_LOADU
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
#define V_LOADU _mm512_loadu_pd
#define V_STORE _mm512_store_pd
#define V_MASKZ_LOADU _mm512_maskz_loadu_pd
#define V_MASK_STOREU _mm512_mask_storeu_pd
#define S_FMA fma
#define FN_MASKS masks_f64
#define FN_WRITE write_f64
#define FN_PACKED cr_ukr_f64_avx512_packed
#define FN_STRIDED cr_ukr_f64_avx512_strided
#include "gemm_avx512_tmpl.h"
#define V_STOREU _mm512_storeu_pd
#define V_HSUM _mm512_reduce_add_pd
#define FN_DOT cr_skinny_dot_f64_avx512
#define FN_AXPY cr_skinny_axpy_f64_avx512
#include "gemm_skinny_simd_tmpl.h"

/* ---- transposing pack -------------------------------------------------------------
 * dst[p*W + r] = src[r*ld + p] for r < R, p < kc, and 0 for R <= r < W: the packing of a
 * row-major A into MR-wide panels and of a transposed B into NR-wide panels. Blocks of
 * 16 x 16 (fp32) or 8 x 8 (fp64) are transposed in registers; a scalar loop would store
 * one element per cycle into W-strided addresses (measured: the W^T pack was 15% of a
 * 256x1024x1024 linear forward). */

/* 4 x 4 transpose of 128-bit lanes: out[4L + c] = lanes [s0[L], s1[L], s2[L], s3[L]] of
 * the four registers s_c... given as s[c][g]; shared by both dtypes through casts. */
#define LANE_TRANSPOSE(SHUF, s0, s1, s2, s3, o0, o1, o2, o3)                                \
    do {                                                                                  \
        __typeof__(s0) u0_ = SHUF(s0, s1, 0x44), u1_ = SHUF(s0, s1, 0xEE);               \
        __typeof__(s0) u2_ = SHUF(s2, s3, 0x44), u3_ = SHUF(s2, s3, 0xEE);               \
        o0 = SHUF(u0_, u2_, 0x88);                                                        \
        o1 = SHUF(u0_, u2_, 0xDD);                                                        \
        o2 = SHUF(u1_, u3_, 0x88);                                                        \
        o3 = SHUF(u1_, u3_, 0xDD);                                                        \
    } while (0)

static inline void transpose16_f32(__m512 r[16]) {
    __m512 t[16], s[4][4]; /* s[c][g]: lane L = column 4L+c of rows 4g..4g+3 */
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
        __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
        s[0][g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        s[1][g] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        s[2][g] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        s[3][g] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int c = 0; c < 4; c++)
        LANE_TRANSPOSE(_mm512_shuffle_f32x4, s[c][0], s[c][1], s[c][2], s[c][3], r[c],
                       r[4 + c], r[8 + c], r[12 + c]);
}

static inline void transpose8_f64(__m512d r[8]) {
    __m512d s[2][4]; /* s[c][g]: lane L = column 2L+c of rows 2g, 2g+1 */
    for (int g = 0; g < 4; g++) {
        s[0][g] = _mm512_unpacklo_pd(r[2 * g], r[2 * g + 1]);
        s[1][g] = _mm512_unpackhi_pd(r[2 * g], r[2 * g + 1]);
    }
    for (int c = 0; c < 2; c++)
        LANE_TRANSPOSE(_mm512_shuffle_f64x2, s[c][0], s[c][1], s[c][2], s[c][3], r[c],
                       r[2 + c], r[4 + c], r[6 + c]);
}

void cr_pack_t_f32_avx512(float *dst, int64_t W, const float *src, int64_t ld, int64_t R,
                          int64_t kc) {
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        for (int64_t r0 = 0; r0 < W; r0 += 16) {
            __m512 v[16];
            for (int i = 0; i < 16; i++)
                v[i] = r0 + i < R ? _mm512_loadu_ps(src + (r0 + i) * ld + p) : _mm512_setzero_ps();
            transpose16_f32(v);
            int64_t w = W - r0 < 16 ? W - r0 : 16;
            __mmask16 mk = (__mmask16)((1u << w) - 1u);
            for (int q = 0; q < 16; q++) _mm512_mask_storeu_ps(dst + (p + q) * W + r0, mk, v[q]);
        }
    }
    for (; p < kc; p++)
        for (int64_t r = 0; r < W; r++) dst[p * W + r] = r < R ? src[r * ld + p] : 0.0f;
}

void cr_pack_t_f64_avx512(double *dst, int64_t W, const double *src, int64_t ld, int64_t R,
                          int64_t kc) {
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int64_t r0 = 0; r0 < W; r0 += 8) {
            __m512d v[8];
            for (int i = 0; i < 8; i++)
                v[i] = r0 + i < R ? _mm512_loadu_pd(src + (r0 + i) * ld + p) : _mm512_setzero_pd();
            transpose8_f64(v);
            int64_t w = W - r0 < 8 ? W - r0 : 8;
            __mmask8 mk = (__mmask8)((1u << w) - 1u);
            for (int q = 0; q < 8; q++) _mm512_mask_storeu_pd(dst + (p + q) * W + r0, mk, v[q]);
        }
    }
    for (; p < kc; p++)
        for (int64_t r = 0; r < W; r++) dst[p * W + r] = r < R ? src[r * ld + p] : 0.0;
}
