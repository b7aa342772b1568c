/* conv_s2dx_avx512.c — the register tile of the direct stride-2 3x3 dx (conv_s2dx.c): input
 * channels in the vector lanes, KV (<= 4) vectors of 16 channels by NP dx pixels of one stride
 * phase, every dy value a broadcast from the zero-padded dy read in place (a pixel is a
 * pointer), NTAP (1, 2 or 4) taps of the phase's sub-kernel:
 *   T_i[kk] = (acc ? T_i[kk] : 0) + sum_{k < kn, t < NTAP} wp[(k*NTAP + t)*CB + kk] *
 *             px[i][k*kst + toff[t]]
 * summed in the order (k, t): one fixed order per output. Plus the transposed add of the
 * pixel-major T into dx's channel planes.
 */
#include <immintrin.h>
#include <stdint.h>
#include "conv_tile16_avx512.h"
#include "conv_tr16_avx512.h"

#define TILE_AT(i, v) (tp[i] + 16 * v)
#define SDX_PTR(i) const float *p##i = i < NP ? px[i] + k * kst : px[0];

#define SDX_TILE(KV_, NP_, NT_)                                                     \
static void sdx_tile_##KV_##_##NP_##_##NT_(const float *wp, int64_t kn, int64_t kst,  \
                                           const int64_t *toff,                     \
                                           const float *const *px, float *const *tp, \
                                           int acc) {                               \
    enum { KV = KV_, NP = NP_, NTAP = NT_, CB = 16 * KV_ };                         \
    TILE_ALL(TILE_ACC_DECL)                                                         \
    if (acc) { TILE_ALL(TILE_LOAD) }                                                \
    int64_t to[4];                                                                  \
    for (int t = 0; t < NTAP; t++) to[t] = toff[t];                                 \
    for (int64_t k = 0; k < kn; k++) {                                              \
        TILE_ALL(SDX_PTR)                                                           \
        const float *wk = wp + k * NTAP * CB;                                       \
        for (int t = 0; t < NTAP; t++) {                                            \
            const int64_t o = to[t];                                                \
            const float *wt = wk + t * CB;                                          \
            TILE_WEIGHTS(wt)                                                        \
            TILE_ALL(TILE_FMA)                                                      \
        }                                                                           \
    }                                                                               \
    TILE_ALL(TILE_STORE)                                                            \
}

typedef void (*sdx_fn)(const float *, int64_t, int64_t, const int64_t *, const float *const *,
                       float *const *, int);
#define SDX_NP(KV, NT) SDX_TILE(KV, 1, NT) SDX_TILE(KV, 2, NT) SDX_TILE(KV, 3, NT)        \
    SDX_TILE(KV, 4, NT) SDX_TILE(KV, 5, NT) SDX_TILE(KV, 6, NT) SDX_TILE(KV, 7, NT)       \
    SDX_TILE(KV, 8, NT) SDX_TILE(KV, 9, NT) SDX_TILE(KV, 10, NT)
#define SDX_KV(KV) SDX_NP(KV, 1) SDX_NP(KV, 2) SDX_NP(KV, 4)
SDX_KV(1) SDX_KV(2) SDX_KV(3) SDX_KV(4)
#define SDX_FNS(KV, NT) {0, sdx_tile_##KV##_1_##NT, sdx_tile_##KV##_2_##NT,               \
    sdx_tile_##KV##_3_##NT, sdx_tile_##KV##_4_##NT, sdx_tile_##KV##_5_##NT,              \
    sdx_tile_##KV##_6_##NT, sdx_tile_##KV##_7_##NT, sdx_tile_##KV##_8_##NT,              \
    sdx_tile_##KV##_9_##NT, sdx_tile_##KV##_10_##NT}
#define SDX_KVS(KV) {SDX_FNS(KV, 1), SDX_FNS(KV, 2), {0}, SDX_FNS(KV, 4)}
static const sdx_fn SDX[5][4][11] = {{{0}}, SDX_KVS(1), SDX_KVS(2), SDX_KVS(3), SDX_KVS(4)};

/* np (<= 10) pixels by kv (<= 4) vectors of channels, ntap 1, 2 or 4; see the top */
void cr_s2dx_tile_f32_avx512(int64_t kv, int64_t np, int64_t ntap, const float *wp, int64_t kn,
                             int64_t kst, const int64_t *toff, const float *const *px,
                             float *const *tp, int acc) {
    SDX[kv][ntap - 1][np](wp, kn, kst, toff, px, tp, acc);
}

/* acc: dx[kk*ldx + j] += T[j*CB + kk], else dx[kk*ldx + j] = T[j*CB + kk] + (bias ? bias[kk]
 * : 0), kk < CB, j < n: blocks of 16 pixels by 16 channels transposed in registers (against
 * the 16 gathers per block this replaces: 8% of the dx call), one add per element */
void cr_s2dx_store_f32_avx512(float *dx, int64_t ldx, const float *T, int64_t CB, int64_t n,
                              int acc, const float *bias) {
    for (int64_t j = 0; j < n; j += 16) {
        const int64_t nj = n - j < 16 ? n - j : 16;
        const __mmask16 m = nj == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nj) - 1);
        for (int64_t c0 = 0; c0 < CB; c0 += 16) {
            __m512 r[16];
            for (int64_t i = 0; i < 16; i++)
                r[i] = i < nj ? _mm512_loadu_ps(T + (j + i) * CB + c0) : _mm512_setzero_ps();
            cr_tr16_ps(r);
            for (int64_t c = 0; c < 16; c++) {
                float *o = dx + (c0 + c) * ldx + j;
                if (acc)
                    _mm512_mask_storeu_ps(o, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), r[c]));
                else if (bias)
                    _mm512_mask_storeu_ps(o, m, _mm512_add_ps(r[c], _mm512_set1_ps(bias[c0 + c])));
                else
                    _mm512_mask_storeu_ps(o, m, r[c]);
            }
        }
    }
}

/* wp of every block of CB input channels, phases (ra, sa) one after another, each
 * [k][tap][CB] (taps in the order (r, s)), output channels [k0, k1): per k, 16 channels'
 * 16 x 9 block of w (contiguous) transposed in registers, so each tap is one vector (scalar
 * copies with stride-9 reads took 9% of the 512->512 14x14 dx) */
void cr_s2dx_pack_f32_avx512(float *wp, const float *w, int64_t C, int64_t K, int64_t CB,
                             int64_t k0, int64_t k1) {
    static const int taps[4][4] = {{0, 2, 6, 8}, {1, 7, 0, 0}, {3, 5, 0, 0}, {4, 0, 0, 0}};
    static const int ntaps[4] = {4, 2, 2, 1};
    for (int64_t cb = 0; cb < C / CB; cb++)
        for (int64_t k = k0; k < k1; k++)
            for (int64_t g = 0; g < CB; g += 16) {
                const float *src = w + (k * C + cb * CB + g) * 9;
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_ps(0x1FF, src + i * 9);
                cr_tr16_ps(r);
                float *o = wp + cb * K * 9 * CB;
                for (int ph = 0; ph < 4; ph++) {
                    const int nt = ntaps[ph];
                    for (int t = 0; t < nt; t++)
                        _mm512_storeu_ps(o + (k * nt + t) * CB + g, r[taps[ph][t]]);
                    o += K * nt * CB;
                }
            }
}
