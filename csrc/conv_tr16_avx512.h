/* conv_tr16_avx512.h — a 16 x 16 float transpose in AVX-512 registers, for the ISA files
 * that move pixel-major tiles into channel planes (conv_s2dx_avx512.c, conv_s2b_avx512.c). */
#ifndef CHAINRULE_CONV_TR16_AVX512_H
#define CHAINRULE_CONV_TR16_AVX512_H
#include <immintrin.h>

/* r[c] = column c of the 16 x 16 block r[0..15] (rows r[i]): unpack pairs, shuffle quads,
 * then exchange 128-bit lanes */
static inline void cr_tr16_ps(__m512 *r) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) { /* u[4g + j], lane L: column 4L + j of rows 4g..4g+3 */
        u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        const __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        const __m512 w = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        const __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        const __m512 w2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v, v2, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v, v2, 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(w, w2, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(w, w2, 0xDD);
    }
}

#endif
