/* conv_s2_avx512.c — the stride-2 copies of conv_s2.c (AVX-512 build): one input row into
 * the rows of its two column phases (even / odd columns, vpermt2ps), and the adjoint, the
 * two phase rows of dx added into one input row. Masked loads and stores: nothing outside
 * the row's W values is read or written (the padding columns read as zero).
 */
#include <immintrin.h>
#include <stdint.h>

static inline __mmask16 m16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Both column phases of one input row: r_b[j] = src[2j + b - pw] (0 outside [0, W)), j < Ws */
void cr_s2_split_row_f32_avx512(float *r0, float *r1, const float *src, int64_t W, int64_t pw,
                                int64_t Ws) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t j = 0; j < Ws; j += 16) {
        const int64_t i = 2 * j - pw; /* first input column of this step */
        /* lanes t with 0 <= i + t < W */
        const __mmask16 klo = (__mmask16)(m16(W - i) & ~m16(-i));
        const __mmask16 khi = (__mmask16)(m16(W - i - 16) & ~m16(-i - 16));
        const __m512 lo = _mm512_maskz_loadu_ps(klo, src + i);
        const __m512 hi = _mm512_maskz_loadu_ps(khi, src + i + 16);
        const __mmask16 ks = m16(Ws - j);
        _mm512_mask_storeu_ps(r0 + j, ks, _mm512_permutex2var_ps(lo, even, hi));
        _mm512_mask_storeu_ps(r1 + j, ks, _mm512_permutex2var_ps(lo, odd, hi));
    }
}

/* The adjoint: dst[2j + b - pw] += r_b[j] for the positions in [0, W), j < Ws */
void cr_s2_merge_row_add_f32_avx512(float *dst, const float *r0, const float *r1, int64_t W,
                                    int64_t pw, int64_t Ws) {
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_add_epi32(ilo, _mm512_set1_epi32(8));
    for (int64_t j = 0; j < Ws; j += 16) {
        const int64_t i = 2 * j - pw;
        const __mmask16 ks = m16(Ws - j);
        const __m512 s0 = _mm512_maskz_loadu_ps(ks, r0 + j), s1 = _mm512_maskz_loadu_ps(ks, r1 + j);
        /* lanes t with 0 <= i + t < W and t < 2 (Ws - j) */
        const __mmask16 klo = (__mmask16)(m16(W - i) & ~m16(-i) & m16(2 * (Ws - j)));
        const __mmask16 khi =
            (__mmask16)(m16(W - i - 16) & ~m16(-i - 16) & m16(2 * (Ws - j) - 16));
        const __m512 d0 = _mm512_maskz_loadu_ps(klo, dst + i);
        const __m512 d1 = _mm512_maskz_loadu_ps(khi, dst + i + 16);
        _mm512_mask_storeu_ps(dst + i, klo, _mm512_add_ps(d0, _mm512_permutex2var_ps(s0, ilo, s1)));
        _mm512_mask_storeu_ps(dst + i + 16, khi,
                              _mm512_add_ps(d1, _mm512_permutex2var_ps(s0, ihi, s1)));
    }
}
