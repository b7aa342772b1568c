/* conv_s2b_avx512.c — the register tile of the direct strided forward (conv_s2b.c):
 * output channels in the vector lanes, KV (<= 4) vectors of 16 channels by NP pixels, every
 * input value a broadcast from the zero-padded image read in place (any stride: a pixel is
 * a pointer), so no phase image, no junk columns. The packed weights of the tile's channel
 * block run tap by tap: wp[(c*RS + t)*KB + kk], KB = 16*KV, tap t = r*S + s at offset
 * tof[t] = r*Wp + s from a pixel's corner.
 *   T[i*KB + kk] = (acc ? T[i*KB + kk] : 0) + sum_{c < cn, t < RS} wp[(c*RS + t)*KB + kk] *
 *                  px[i][c*cst + tof[t]]
 * summed in the order (c, r, s): one fixed order per output. Plus the weight packing (T goes
 * into the output's channel planes by conv_s2dx_avx512.c's transposing store).
 */
#include <immintrin.h>
#include <stdint.h>
#include "conv_tile16_avx512.h"
#include "conv_tr16_avx512.h"

#define TILE_AT(i, v) (T + i * KB + 16 * v)
#define S2B_PTR(i) const float *p##i = i < NP ? px[i] + c * cst : px[0];

#define S2B_TILE(KV_, NP_)                                                          \
static void s2b_tile_##KV_##_##NP_(const float *wp, int64_t cn, int64_t cst,         \
                                   const int64_t *tof, int64_t ntap,                \
                                   const float *const *px, float *T, int acc) {     \
    enum { KV = KV_, NP = NP_, KB = 16 * KV_ };                                     \
    TILE_ALL(TILE_ACC_DECL)                                                         \
    if (acc) { TILE_ALL(TILE_LOAD) }                                                \
    for (int64_t c = 0; c < cn; c++) {                                              \
        TILE_ALL(S2B_PTR)                                                           \
        const float *wc = wp + c * ntap * KB;                                       \
        for (int64_t t = 0; t < ntap; t++) {                                        \
            const int64_t o = tof[t];                                               \
            const float *wt = wc + t * KB;                                          \
            TILE_WEIGHTS(wt)                                                        \
            TILE_ALL(TILE_FMA)                                                      \
        }                                                                           \
    }                                                                               \
    TILE_ALL(TILE_STORE)                                                            \
}

typedef void (*s2b_fn)(const float *, int64_t, int64_t, const int64_t *, int64_t,
                       const float *const *, float *, int);
#define S2B_ROW(KV) S2B_TILE(KV, 1) S2B_TILE(KV, 2) S2B_TILE(KV, 3) S2B_TILE(KV, 4) \
    S2B_TILE(KV, 5) S2B_TILE(KV, 6) S2B_TILE(KV, 7) S2B_TILE(KV, 8) S2B_TILE(KV, 9) \
    S2B_TILE(KV, 10)
S2B_ROW(1) S2B_ROW(2) S2B_ROW(3) S2B_ROW(4)
#define S2B_FNS(KV) {0, s2b_tile_##KV##_1, s2b_tile_##KV##_2, s2b_tile_##KV##_3,     \
    s2b_tile_##KV##_4, s2b_tile_##KV##_5, s2b_tile_##KV##_6, s2b_tile_##KV##_7,     \
    s2b_tile_##KV##_8, s2b_tile_##KV##_9, s2b_tile_##KV##_10}
static const s2b_fn S2B[5][11] = {{0}, S2B_FNS(1), S2B_FNS(2), S2B_FNS(3), S2B_FNS(4)};

/* np (<= 10) pixels by kv (<= 4) vectors of channels; see the top of the file */
void cr_s2b_tile_f32_avx512(int64_t kv, int64_t np, const float *wp, int64_t cn, int64_t cst,
                            const int64_t *tof, int64_t ntap, const float *const *px, float *T,
                            int acc) {
    S2B[kv][np](wp, cn, cst, tof, ntap, px, T, acc);
}

/* wp[(c*RS + t)*KB + kk] = w[(kk*C + c)*RS + t], kk < KB (one block of output channels):
 * blocks of 16 channels by 16 taps transposed in registers, rows of w read contiguously
 * (a gather of 16 rows CRS apart per vector cost 16% of the 512->512 14x14 forward) */
void cr_s2b_pack_f32_avx512(float *wp, const float *w, int64_t C, int64_t RS, int64_t KB) {
    const int64_t CRS = C * RS;
    for (int64_t v = 0; v < KB; v += 16)
        for (int64_t ct = 0; ct < CRS; ct += 16) {
            const int64_t nc = CRS - ct < 16 ? CRS - ct : 16;
            const __mmask16 m = nc == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
            __m512 r[16];
            for (int64_t i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_ps(m, w + (v + i) * CRS + ct);
            cr_tr16_ps(r);
            for (int64_t c = 0; c < nc; c++) _mm512_storeu_ps(wp + (ct + c) * KB + v, r[c]);
        }
}

/* the interior of xp (rows of Wp, first at xp) = x's rows (c*H + h)*W, channels [c0, c1) of
 * planes of cst floats; the padding around it is left as it is (zeroed once per call) */
void cr_s2b_copy_rows_f32_avx512(float *xp, int64_t cst, int64_t Wp, const float *x, int64_t H,
                                 int64_t W, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++)
        for (int64_t h = 0; h < H; h++) {
            float *o = xp + c * cst + h * Wp;
            const float *s = x + (c * H + h) * W;
            int64_t j = 0;
            for (; j + 16 <= W; j += 16) _mm512_storeu_ps(o + j, _mm512_loadu_ps(s + j));
            if (j < W) {
                const __mmask16 m = (__mmask16)((1u << (W - j)) - 1);
                _mm512_mask_storeu_ps(o + j, m, _mm512_maskz_loadu_ps(m, s + j));
            }
        }
}

/* dw: tile of NT taps (offsets off[i] from a pixel's corner in xp) by KV vectors of output
 * channels, summed over n pixels (corners xp + pof[j]) in order:
 *   D[i*KB + kk] = (acc ? D[i*KB + kk] : 0) + sum_{j < n} dyT[j*KB + kk] * xp[pof[j] + off[i]] */
#define S2B_DW_OFF(i) const int64_t o##i = i < NT ? off[i] : 0;
#define S2B_DW_FMA(i)                                                              \
    if (i < NT) {                                                                  \
        const __m512 b = _mm512_set1_ps(x0[o##i]);                                 \
        if (KV > 0) a##i##0 = _mm512_fmadd_ps(w0, b, a##i##0);                     \
        if (KV > 1) a##i##1 = _mm512_fmadd_ps(w1, b, a##i##1);                     \
        if (KV > 2) a##i##2 = _mm512_fmadd_ps(w2, b, a##i##2);                     \
        if (KV > 3) a##i##3 = _mm512_fmadd_ps(w3, b, a##i##3);                     \
    }
#define S2B_DW_TILE(KV_, NT_)                                                       \
static void s2b_dw_##KV_##_##NT_(const float *dyT, int64_t n, const float *xp,      \
                                 const int64_t *pof, const int64_t *off, float *T, int acc) { \
    enum { KV = KV_, NP = NT_, NT = NT_, KB = 16 * KV_ };                           \
    TILE_ALL(TILE_ACC_DECL)                                                         \
    if (acc) { TILE_ALL(TILE_LOAD) }                                                \
    TILE_ALL(S2B_DW_OFF)                                                            \
    for (int64_t j = 0; j < n; j++) {                                               \
        const float *x0 = xp + pof[j], *wt = dyT + j * KB;                          \
        TILE_WEIGHTS(wt)                                                            \
        TILE_ALL(S2B_DW_FMA)                                                        \
    }                                                                               \
    TILE_ALL(TILE_STORE)                                                            \
}
typedef void (*s2b_dw_fn)(const float *, int64_t, const float *, const int64_t *,
                          const int64_t *, float *, int);
#define S2B_DW_ROW(KV) S2B_DW_TILE(KV, 1) S2B_DW_TILE(KV, 2) S2B_DW_TILE(KV, 3)        \
    S2B_DW_TILE(KV, 4) S2B_DW_TILE(KV, 5) S2B_DW_TILE(KV, 6) S2B_DW_TILE(KV, 7)        \
    S2B_DW_TILE(KV, 8) S2B_DW_TILE(KV, 9) S2B_DW_TILE(KV, 10)
S2B_DW_ROW(1) S2B_DW_ROW(2) S2B_DW_ROW(3) S2B_DW_ROW(4)
#define S2B_DW_FNS(KV) {0, s2b_dw_##KV##_1, s2b_dw_##KV##_2, s2b_dw_##KV##_3, s2b_dw_##KV##_4, \
    s2b_dw_##KV##_5, s2b_dw_##KV##_6, s2b_dw_##KV##_7, s2b_dw_##KV##_8, s2b_dw_##KV##_9,     \
    s2b_dw_##KV##_10}
static const s2b_dw_fn S2B_DW[5][11] = {{0}, S2B_DW_FNS(1), S2B_DW_FNS(2), S2B_DW_FNS(3),
                                        S2B_DW_FNS(4)};

void cr_s2b_dw_tile_f32_avx512(int64_t kv, int64_t nt, const float *dyT, int64_t n,
                               const float *xp, const int64_t *pof, const int64_t *off,
                               float *D, int acc) {
    S2B_DW[kv][nt](dyT, n, xp, pof, off, D, acc);
}

/* dyT[j*KB + kk] = dy[kk*ldy + j], kk < KB, j < n (one block of output channels) */
void cr_s2b_transpose_f32_avx512(float *dyT, const float *dy, int64_t ldy, int64_t KB,
                                 int64_t n) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                             11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)ldy));
    for (int64_t j = 0; j < n; j++)
        for (int64_t v = 0; v < KB; v += 16)
            _mm512_storeu_ps(dyT + j * KB + v, _mm512_i32gather_ps(idx, dy + v * ldy + j, 4));
}
