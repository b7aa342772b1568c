/* conv_rows_avx512.c — the AVX-512 float32 product of the row-segment convolution
 * (conv_rows.c): output rows cut into segments of at most 16 columns, one vector each.
 *
 *   cr_conv_rows_f32_avx512:  for i < m, segments v < nseg, lanes l < len(v):
 *       C[i*ldc + sc[v] + l] = (acc ? C[...] : 0) + bias[i]
 *                              + sum_{p < kd} A[i*ai + aoff[p]] * B[boff[p] + sb[v] + l]
 *   (A the weights read in place: row stride ai, step p at aoff[p]; a packed copy cost
 *   about 20% of dx of GoogLeNet's 480->48, its 8-row gathers being slow)
 *   len(v) = popcount(smask[v]) (a low mask). Tiles of MB (<= 8) rows x NV (<= 3)
 *   segments, MB and NV compile-time constants; each output is summed over p in order, so
 *   results do not depend on how callers split rows or segments between threads.
 */
#include <immintrin.h>
#include <stdint.h>

#define SEG_ACC(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0;
#define SEG_FMA(i)                                                                         \
    if (i < MBc) {                                                                         \
        const __m512 a = _mm512_set1_ps(a##i[oa]);                                         \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);                                         \
        if (NVc > 1) c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);                            \
        if (NVc > 2) c##i##2 = _mm512_fmadd_ps(a, b2, c##i##2);                            \
    }
#define SEG_PTR(i) const float *a##i = A + (i < MBc ? i : 0) * ai;
#define SEG_STORE1(i, v)                                                                   \
    if (NVc > v) {                                                                         \
        __m512 r = c##i##v;                                                                \
        float *ci = C + i * ldc + sc[v];                                                   \
        if (acc) r = _mm512_add_ps(_mm512_maskz_loadu_ps(m##v, ci), r);                    \
        if (bias) r = _mm512_add_ps(r, _mm512_set1_ps(bias[i]));                           \
        _mm512_mask_storeu_ps(ci, m##v, r);                                                \
    }
#define SEG_STORE(i) if (i < MBc) { SEG_STORE1(i, 0) SEG_STORE1(i, 1) SEG_STORE1(i, 2) }

#define SEG_TILE(MB, NV)                                                                   \
static void seg_tile_##MB##_##NV(int64_t kd, const float *A, int64_t ai, const int64_t *aoff, \
                                 const float *B,                                           \
                                 const int64_t *boff, const int64_t *sb, const int64_t *sc, \
                                 const uint16_t *smask, float *C, int64_t ldc, int acc,    \
                                 const float *bias) {                                      \
    enum { MBc = MB, NVc = NV };                                                           \
    const __mmask16 m0 = smask[0], m1 = NVc > 1 ? smask[1] : 0, m2 = NVc > 2 ? smask[2] : 0; \
    const float *B0 = B + sb[0], *B1 = B + (NVc > 1 ? sb[1] : 0), *B2 = B + (NVc > 2 ? sb[2] : 0); \
    SEG_PTR(0) SEG_PTR(1) SEG_PTR(2) SEG_PTR(3) SEG_PTR(4) SEG_PTR(5) SEG_PTR(6) SEG_PTR(7) \
    SEG_ACC(0) SEG_ACC(1) SEG_ACC(2) SEG_ACC(3) SEG_ACC(4) SEG_ACC(5) SEG_ACC(6) SEG_ACC(7) \
    for (int64_t p = 0; p < kd; p++) {                                                     \
        const int64_t o = boff[p], oa = aoff[p];                                           \
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, B0 + o);                               \
        const __m512 b1 = NVc > 1 ? _mm512_maskz_loadu_ps(m1, B1 + o) : b0;                \
        const __m512 b2 = NVc > 2 ? _mm512_maskz_loadu_ps(m2, B2 + o) : b0;                \
        SEG_FMA(0) SEG_FMA(1) SEG_FMA(2) SEG_FMA(3)                                        \
        SEG_FMA(4) SEG_FMA(5) SEG_FMA(6) SEG_FMA(7)                                        \
    }                                                                                      \
    SEG_STORE(0) SEG_STORE(1) SEG_STORE(2) SEG_STORE(3)                                    \
    SEG_STORE(4) SEG_STORE(5) SEG_STORE(6) SEG_STORE(7)                                    \
}
#define SEG_TILES(MB) SEG_TILE(MB, 1) SEG_TILE(MB, 2) SEG_TILE(MB, 3)
SEG_TILES(1) SEG_TILES(2) SEG_TILES(3) SEG_TILES(4)
SEG_TILES(5) SEG_TILES(6) SEG_TILES(7) SEG_TILES(8)

typedef void (*seg_fn)(int64_t, const float *, int64_t, const int64_t *, const float *,
                       const int64_t *,
                       const int64_t *, const int64_t *, const uint16_t *, float *, int64_t,
                       int, const float *);
#define SEG_ROW(MB) {seg_tile_##MB##_1, seg_tile_##MB##_2, seg_tile_##MB##_3}
static const seg_fn SEG[9][3] = {{0, 0, 0}, SEG_ROW(1), SEG_ROW(2), SEG_ROW(3), SEG_ROW(4),
                                 SEG_ROW(5), SEG_ROW(6), SEG_ROW(7), SEG_ROW(8)};

/* one tile: rows [i0, i0 + mb) (mb <= 8), segments [v0, v0 + nv) (nv <= 3) */
void cr_conv_rows_f32_avx512(int64_t mb, int64_t nv, int64_t kd, const float *A, int64_t ai,
                             const int64_t *aoff, const float *B, const int64_t *boff,
                             const int64_t *sb, const int64_t *sc, const uint16_t *smask,
                             float *C, int64_t ldc, int acc, const float *bias) {
    SEG[mb][nv - 1](kd, A, ai, aoff, B, boff, sb, sc, smask, C, ldc, acc, bias);
}

/* The dw product (conv_rows.c, conv_rows_backward_weight_f32): a tile of MB (<= 8) rows crs
 * of dw^T and NV (<= 3) vectors of its K columns (masks m[v]):
 *   C[i*ldc + k] += sum_{p < P} sum_{q < Q} X[aoff[i] + p*Wp + q] * B[(p*Q + q)*ldb + k]
 * X the padded image, B = dy^T (pixels x K): the sum runs over the valid output pixels in
 * order (no junk columns), one vector store per accumulator at the end. */
#define DW_FMA(i)                                                                          \
    if (i < MBc) {                                                                         \
        const __m512 a = _mm512_set1_ps(x##i[q]);                                          \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);                                         \
        if (NVc > 1) c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);                            \
        if (NVc > 2) c##i##2 = _mm512_fmadd_ps(a, b2, c##i##2);                            \
    }
#define DW_STORE1(i, v)                                                                    \
    if (NVc > v) {                                                                         \
        float *ci = C + i * ldc + 16 * v;                                                  \
        _mm512_mask_storeu_ps(ci, m##v,                                                    \
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m##v, ci), c##i##v));    \
    }
#define DW_STORE(i) if (i < MBc) { DW_STORE1(i, 0) DW_STORE1(i, 1) DW_STORE1(i, 2) }
#define DW_PTR(i) const float *x##i = X + aoff[i < MBc ? i : 0] + xo;

#define DW_TILE(MB, NV)                                                                    \
static void dw_tile_##MB##_##NV(const float *X, const int64_t *aoff, int64_t P, int64_t Q,  \
                                int64_t Wp, const float *B, int64_t ldb, const __mmask16 *mk, \
                                float *C, int64_t ldc) {                                   \
    enum { MBc = MB, NVc = NV };                                                           \
    const __mmask16 m0 = mk[0], m1 = NVc > 1 ? mk[1] : 0, m2 = NVc > 2 ? mk[2] : 0;        \
    SEG_ACC(0) SEG_ACC(1) SEG_ACC(2) SEG_ACC(3) SEG_ACC(4) SEG_ACC(5) SEG_ACC(6) SEG_ACC(7) \
    for (int64_t p = 0; p < P; p++) {                                                      \
        const int64_t xo = p * Wp;                                                         \
        DW_PTR(0) DW_PTR(1) DW_PTR(2) DW_PTR(3) DW_PTR(4) DW_PTR(5) DW_PTR(6) DW_PTR(7)    \
        const float *bp = B + p * Q * ldb;                                                 \
        for (int64_t q = 0; q < Q; q++, bp += ldb) {                                       \
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);                              \
            const __m512 b1 = NVc > 1 ? _mm512_maskz_loadu_ps(m1, bp + 16) : b0;           \
            const __m512 b2 = NVc > 2 ? _mm512_maskz_loadu_ps(m2, bp + 32) : b0;           \
            DW_FMA(0) DW_FMA(1) DW_FMA(2) DW_FMA(3) DW_FMA(4) DW_FMA(5) DW_FMA(6) DW_FMA(7) \
        }                                                                                  \
    }                                                                                      \
    DW_STORE(0) DW_STORE(1) DW_STORE(2) DW_STORE(3)                                        \
    DW_STORE(4) DW_STORE(5) DW_STORE(6) DW_STORE(7)                                        \
}
#define DW_TILES(MB) DW_TILE(MB, 1) DW_TILE(MB, 2) DW_TILE(MB, 3)
DW_TILES(1) DW_TILES(2) DW_TILES(3) DW_TILES(4)
DW_TILES(5) DW_TILES(6) DW_TILES(7) DW_TILES(8)

typedef void (*dw_fn)(const float *, const int64_t *, int64_t, int64_t, int64_t, const float *,
                      int64_t, const __mmask16 *, float *, int64_t);
#define DW_ROW(MB) {dw_tile_##MB##_1, dw_tile_##MB##_2, dw_tile_##MB##_3}
static const dw_fn DWT[9][3] = {{0, 0, 0}, DW_ROW(1), DW_ROW(2), DW_ROW(3), DW_ROW(4),
                                DW_ROW(5), DW_ROW(6), DW_ROW(7), DW_ROW(8)};

/* rows [0, mb) (mb <= 8) of dw^T at C (row stride ldc), columns k < nk (nk <= 48) */
void cr_conv_rows_dw_f32_avx512(int64_t mb, int64_t nk, const float *X, const int64_t *aoff,
                                int64_t P, int64_t Q, int64_t Wp, const float *B, int64_t ldb,
                                float *C, int64_t ldc) {
    __mmask16 mk[3];
    for (int v = 0; v < 3; v++) {
        const int64_t r = nk - 16 * v;
        mk[v] = r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? 0 : (__mmask16)((1u << r) - 1);
    }
    DWT[mb][(nk + 15) / 16 - 1](X, aoff, P, Q, Wp, B, ldb, mk, C, ldc);
}
