/* conv_k5_avx512.c — the AVX-512 float32 product of the batched pixel panel of conv_k5.c
 * (large kernels, small outputs), the weights read in place (no packed copy), and the
 * gather of the panel.
 *
 *   cr_conv_k5_f32_avx512: for i < mb, vectors v < nv, lanes l:
 *       r = sum_{p < kd} A[i*ai + aoff[p]] * B[boff[p] + 16 v + l]
 *       C[i*ldc + so[2v] + l]     (lanes of mask sm[2v]: the pixels of one image)
 *       C[i*ldc + so[2v + 1] + l] (lanes of mask sm[2v + 1]: those of the next one)
 *   = (acc ? C : 0) + r (+ bias[i]).
 * A the weights read in place (ai: row stride, aoff[p]: step p's offset in a row; the
 * flipped weights of dx are the same with other strides), B the panel (boff[p] = p * its
 * width). A packed copy measured no faster (its 8-row gathers cost as much as they save).
 * Tiles of MB (<= 8) rows x NV (<= 3) vectors; each output is summed over p in order, so
 * results do not depend on how callers split rows or vectors between threads.
 */
#include <immintrin.h>
#include <stdint.h>

#define K5_ACC(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0;
#define K5_PTR(i) const float *a##i = A + (i < MBc ? i : 0) * ai;
#define K5_FMA(i)                                                                          \
    if (i < MBc) {                                                                         \
        const __m512 a = _mm512_set1_ps(a##i[o]);                                          \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);                                         \
        if (NVc > 1) c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);                            \
        if (NVc > 2) c##i##2 = _mm512_fmadd_ps(a, b2, c##i##2);                            \
    }
#define K5_STORE1(i, v)                                                                    \
    if (NVc > v) {                                                                         \
        __m512 r = c##i##v;                                                                \
        float *lo = C + i * ldc + so[2 * v], *hi = C + i * ldc + so[2 * v + 1];            \
        const __mmask16 ml = sm[2 * v], mh = sm[2 * v + 1];                                \
        if (acc)                                                                           \
            r = _mm512_add_ps(_mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(ml, lo), mh, hi), r); \
        if (bias) r = _mm512_add_ps(r, _mm512_set1_ps(bias[i]));                           \
        _mm512_mask_storeu_ps(lo, ml, r);                                                  \
        if (mh) _mm512_mask_storeu_ps(hi, mh, r);                                          \
    }
#define K5_STORE(i) if (i < MBc) { K5_STORE1(i, 0) K5_STORE1(i, 1) K5_STORE1(i, 2) }

#define K5_TILE(MB, NV)                                                                    \
static void k5_tile_##MB##_##NV(int64_t kd, const float *A, int64_t ai, const int64_t *aoff, \
                                const float *B, const int64_t *boff, const int64_t *so,    \
                                const uint16_t *sm, float *C, int64_t ldc, int acc,        \
                                const float *bias) {                                       \
    enum { MBc = MB, NVc = NV };                                                           \
    K5_PTR(0) K5_PTR(1) K5_PTR(2) K5_PTR(3) K5_PTR(4) K5_PTR(5) K5_PTR(6) K5_PTR(7)        \
    K5_ACC(0) K5_ACC(1) K5_ACC(2) K5_ACC(3) K5_ACC(4) K5_ACC(5) K5_ACC(6) K5_ACC(7)        \
    for (int64_t p = 0; p < kd; p++) {                                                     \
        const int64_t o = aoff[p];                                                         \
        const float *bp = B + boff[p];                                                     \
        const __m512 b0 = _mm512_loadu_ps(bp);                                             \
        const __m512 b1 = NVc > 1 ? _mm512_loadu_ps(bp + 16) : b0;                         \
        const __m512 b2 = NVc > 2 ? _mm512_loadu_ps(bp + 32) : b0;                         \
        K5_FMA(0) K5_FMA(1) K5_FMA(2) K5_FMA(3)                                            \
        K5_FMA(4) K5_FMA(5) K5_FMA(6) K5_FMA(7)                                            \
    }                                                                                      \
    K5_STORE(0) K5_STORE(1) K5_STORE(2) K5_STORE(3)                                        \
    K5_STORE(4) K5_STORE(5) K5_STORE(6) K5_STORE(7)                                        \
}
#define K5_TILES(MB) K5_TILE(MB, 1) K5_TILE(MB, 2) K5_TILE(MB, 3)
K5_TILES(1) K5_TILES(2) K5_TILES(3) K5_TILES(4)
K5_TILES(5) K5_TILES(6) K5_TILES(7) K5_TILES(8)

typedef void (*k5_fn)(int64_t, const float *, int64_t, const int64_t *, const float *,
                      const int64_t *, const int64_t *, const uint16_t *, float *, int64_t, int,
                      const float *);
#define K5_ROW(MB) {k5_tile_##MB##_1, k5_tile_##MB##_2, k5_tile_##MB##_3}
static const k5_fn K5T[9][3] = {{0, 0, 0}, K5_ROW(1), K5_ROW(2), K5_ROW(3), K5_ROW(4),
                                K5_ROW(5), K5_ROW(6), K5_ROW(7), K5_ROW(8)};

/* one tile: rows [0, mb) (mb <= 8) at A and C, vectors [0, nv) (nv <= 3) at B, so, sm */
void cr_conv_k5_f32_avx512(int64_t mb, int64_t nv, int64_t kd, const float *A, int64_t ai,
                           const int64_t *aoff, const float *B, const int64_t *boff,
                           const int64_t *so, const uint16_t *sm, float *C, int64_t ldc,
                           int acc, const float *bias) {
    K5T[mb][nv - 1](kd, A, ai, aoff, B, boff, so, sm, C, ldc, acc, bias);
}

/* panel rows j < kd: dst[j*ldd + run.dst + q] = src[offs[j] + run.src + q] on the lanes q of
 * run.mask, for each of the nr runs (src, dst, mask: at most 16 pixels of one output row) */
void cr_conv_k5_gather_f32_avx512(float *dst, int64_t ldd, const float *src,
                                  const int64_t *offs, int64_t kd, const int64_t *runs,
                                  int64_t nr) {
    for (int64_t j = 0; j < kd; j++) {
        const float *s = src + offs[j];
        float *d = dst + j * ldd;
        for (int64_t u = 0; u < nr; u++) {
            const __mmask16 m = (__mmask16)runs[3 * u + 2];
            _mm512_mask_storeu_ps(d + runs[3 * u + 1], m, _mm512_maskz_loadu_ps(m, s + runs[3 * u]));
        }
    }
}
