/* conv_s2dx_avx512.c — the register tile of the direct strided dx (conv_s2dx.c): input
 * channels in the vector lanes, KV (<= 4) vectors of 16 channels by NP dx pixels of one stride
 * phase, every dy value a broadcast from the zero-padded dy read in place (a pixel is a
 * pointer), the NTAP taps of the phase's sub-kernel (1, 2 and 4, the 3x3 stride-2 phases,
 * compiled for their count; any other count runs the generic tiles):
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

/* NT_ 0: the tap count comes from ntap (any); else NT_ taps, their offsets kept local */
#define SDX_TILE(KV_, NP_, NT_)                                                     \
static void sdx_tile_##KV_##_##NP_##_##NT_(const float *wp, int64_t kn, int64_t kst,  \
                                           int64_t ntap, const int64_t *toff,       \
                                           const float *const *px, float *const *tp, \
                                           int acc) {                               \
    enum { KV = KV_, NP = NP_, CB = 16 * KV_ };                                     \
    const int64_t NTAP = NT_ ? NT_ : ntap;                                          \
    TILE_ALL(TILE_ACC_DECL)                                                         \
    if (acc) { TILE_ALL(TILE_LOAD) }                                                \
    int64_t to[4] = {0, 0, 0, 0};                                                   \
    for (int t = 0; t < NT_; t++) to[t] = toff[t];                                  \
    const int64_t *tv = NT_ ? to : toff;                                            \
    for (int64_t k = 0; k < kn; k++) {                                              \
        TILE_ALL(SDX_PTR)                                                           \
        const float *wk = wp + k * NTAP * CB;                                       \
        for (int64_t t = 0; t < NTAP; t++) {                                        \
            const int64_t o = tv[t];                                                \
            const float *wt = wk + t * CB;                                          \
            TILE_WEIGHTS(wt)                                                        \
            TILE_ALL(TILE_FMA)                                                      \
        }                                                                           \
    }                                                                               \
    TILE_ALL(TILE_STORE)                                                            \
}

typedef void (*sdx_fn)(const float *, int64_t, int64_t, int64_t, const int64_t *,
                       const float *const *, float *const *, int);
#define SDX_NP(KV, NT) SDX_TILE(KV, 1, NT) SDX_TILE(KV, 2, NT) SDX_TILE(KV, 3, NT)        \
    SDX_TILE(KV, 4, NT) SDX_TILE(KV, 5, NT) SDX_TILE(KV, 6, NT) SDX_TILE(KV, 7, NT)       \
    SDX_TILE(KV, 8, NT) SDX_TILE(KV, 9, NT) SDX_TILE(KV, 10, NT)
#define SDX_KV(KV) SDX_NP(KV, 1) SDX_NP(KV, 2) SDX_NP(KV, 4) SDX_NP(KV, 0)
SDX_KV(1) SDX_KV(2) SDX_KV(3) SDX_KV(4)
#define SDX_FNS(KV, NT) {0, sdx_tile_##KV##_1_##NT, sdx_tile_##KV##_2_##NT,               \
    sdx_tile_##KV##_3_##NT, sdx_tile_##KV##_4_##NT, sdx_tile_##KV##_5_##NT,              \
    sdx_tile_##KV##_6_##NT, sdx_tile_##KV##_7_##NT, sdx_tile_##KV##_8_##NT,              \
    sdx_tile_##KV##_9_##NT, sdx_tile_##KV##_10_##NT}
#define SDX_KVS(KV) {SDX_FNS(KV, 1), SDX_FNS(KV, 2), SDX_FNS(KV, 4), SDX_FNS(KV, 0)}
static const sdx_fn SDX[5][4][11] = {{{0}}, SDX_KVS(1), SDX_KVS(2), SDX_KVS(3), SDX_KVS(4)};

/* np (<= 10) pixels by kv (<= 4) vectors of channels, ntap >= 1; see the top */
void cr_s2dx_tile_f32_avx512(int64_t kv, int64_t np, int64_t ntap, const float *wp, int64_t kn,
                             int64_t kst, const int64_t *toff, const float *const *px,
                             float *const *tp, int acc) {
    const int slot = ntap == 1 ? 0 : ntap == 2 ? 1 : ntap == 4 ? 2 : 3;
    SDX[kv][slot][np](wp, kn, kst, ntap, toff, px, tp, acc);
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

/* wp of every block of CB input channels, the phases one after another, each [k][tap][CB]:
 * tap q of w (q = r*S + s < RS) of output channel k and channel block cb goes to
 * wp + cb*K*RS*CB + dst[q] + k*ntp[q]*CB (dst: its phase's start plus its place in the phase
 * times CB; ntp: its phase's tap count), output channels [k0, k1): per k, 16 channels' rows
 * of 16 taps (contiguous in w) transposed in registers, so each tap is one vector (scalar
 * copies with stride-9 reads took 9% of the 512->512 14x14 dx) */
void cr_s2dx_pack_f32_avx512(float *wp, const float *w, int64_t C, int64_t K, int64_t CB,
                             int64_t RS, const int64_t *dst, const int64_t *ntp, int64_t k0,
                             int64_t k1) {
    for (int64_t cb = 0; cb < C / CB; cb++)
        for (int64_t k = k0; k < k1; k++)
            for (int64_t g = 0; g < CB; g += 16)
                for (int64_t q0 = 0; q0 < RS; q0 += 16) {
                    const int64_t nq = RS - q0 < 16 ? RS - q0 : 16;
                    const __mmask16 m = nq == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nq) - 1);
                    const float *src = w + (k * C + cb * CB + g) * RS + q0;
                    __m512 r[16];
                    for (int i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_ps(m, src + i * RS);
                    cr_tr16_ps(r);
                    float *o = wp + cb * K * RS * CB + g;
                    for (int64_t q = q0; q < q0 + nq; q++)
                        _mm512_storeu_ps(o + dst[q] + k * ntp[q] * CB, r[q - q0]);
                }
}
