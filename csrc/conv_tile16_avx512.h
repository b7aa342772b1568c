/* conv_tile16_avx512.h — the register tile of the channels-in-lanes stride-2 kernels
 * (conv_s2b_avx512.c: forward, conv_s2dx_avx512.c: dx): NP (<= 10) pixels x KV (<= 4) vectors
 * of 16 channels in accumulators a<i><v>; TILE_FMA(i) adds the weight vectors w0..w3
 * (TILE_WEIGHTS) times a broadcast of pixel i's input p<i>[o]. The including file defines
 * TILE_AT(i, v), the address of accumulator a<i><v> in its buffer (TILE_LOAD / TILE_STORE),
 * and uses NP and KV as compile-time constants. Included only by AVX-512 files. */
#ifndef CR_CONV_TILE16_AVX512_H
#define CR_CONV_TILE16_AVX512_H
#include <immintrin.h>

#define TILE_ACC_DECL(i) __m512 a##i##0 = _mm512_setzero_ps(), a##i##1 = a##i##0, \
                               a##i##2 = a##i##0, a##i##3 = a##i##0;
#define TILE_LOAD1(i, v) if (i < NP && v < KV) a##i##v = _mm512_loadu_ps(TILE_AT(i, v));
#define TILE_LOAD(i) TILE_LOAD1(i, 0) TILE_LOAD1(i, 1) TILE_LOAD1(i, 2) TILE_LOAD1(i, 3)
#define TILE_STORE1(i, v) if (i < NP && v < KV) _mm512_storeu_ps(TILE_AT(i, v), a##i##v);
#define TILE_STORE(i) TILE_STORE1(i, 0) TILE_STORE1(i, 1) TILE_STORE1(i, 2) TILE_STORE1(i, 3)
#define TILE_FMA(i)                                                                \
    if (i < NP) {                                                                  \
        const __m512 b = _mm512_set1_ps(p##i[o]);                                  \
        if (KV > 0) a##i##0 = _mm512_fmadd_ps(w0, b, a##i##0);                     \
        if (KV > 1) a##i##1 = _mm512_fmadd_ps(w1, b, a##i##1);                     \
        if (KV > 2) a##i##2 = _mm512_fmadd_ps(w2, b, a##i##2);                     \
        if (KV > 3) a##i##3 = _mm512_fmadd_ps(w3, b, a##i##3);                     \
    }
#define TILE_ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9)
/* the KV weight vectors w0..w3 of one tap at wt (16 channels each; unused ones repeat w0) */
#define TILE_WEIGHTS(wt)                                                           \
    const __m512 w0 = _mm512_loadu_ps(wt);                                         \
    const __m512 w1 = KV > 1 ? _mm512_loadu_ps((wt) + 16) : w0;                    \
    const __m512 w2 = KV > 2 ? _mm512_loadu_ps((wt) + 32) : w0;                    \
    const __m512 w3 = KV > 3 ? _mm512_loadu_ps((wt) + 48) : w0;
#endif
