/* conv_dw_small_avx512.c — depthwise convolution (float32, AVX-512) with the vector lanes
 * along 16 channels: for small planes (a 4x4 or 2x2 plane fills a plane-wise vector badly,
 * or not at all at stride 2) and many channels, as in MobileNet's later layers.
 *
 * One call handles one image's block of nc <= 16 channels (planes contiguous in NCHW).
 * The planes are gathered into a scratch of (rows, cols, 16) vectors, zero-padded around
 * (the caller zeroes the scratch once; the borders are never written), each tap is then one
 * full-width load and FMA with that tap's 16 per-channel weights (cr_dwb_weights lays them
 * out once per call), and the result goes back to the planes. Both moves take 16 plane
 * positions of the 16 channels at a time through a 16x16 register transpose (gathers are
 * slow on CPUs with the gather-data-sampling fix); planes of 1, 2 or 4 values by lane
 * permutes of the block's 16, 32 or 64 contiguous values. Lanes nc..15 carry zeros.
 *   fwd: y[p, q] = b + sum_{r,s} w[r,s] * xs[p*sh + r, q*sw + s], taps in (r, s) order.
 *   bwd: dx as the correlation of the padded dy with the flipped kernel: at stride 1
 *        dx[h, v] = sum_{r,s} w[r,s] * gs[h + R-1-r, v + S-1-s] (dy at offset
 *        (R-1-ph, S-1-pw) in gs); at stride sh, sw only the taps r = h + ph (mod sh),
 *        s = v + pw (mod sw) reach dy, at gs[ga + (h+ph-r)/sh, gb + (v+pw-s)/sw].
 *        dw: acc[t*16 + l] += channel l's float32 sum over the plane (positions in (p, q)
 *        order) of dy[p, q] * xs[p*sh + r, q*sw + s]; acc[R*S*16 + l] the same of dy (db).
 *        3x3 with padding 1 at stride 1 (both dx and dw) and stride 2 have unrolled
 *        kernels that keep windows of xs / gs in registers (bwd_s1_33, dw_s2_33, dx_s2_33).
 * Sums are in a fixed order for any thread count (the caller gives one thread a whole
 * block of channels over all images, in order).
 */
#include <immintrin.h>
#include <stdint.h>
#include "conv_dw_avx512.h"
#include "conv.h"

#define TAPS_MAX 49

static inline __mmask16 mask16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* planes of n = 1, 2 or 4 values: the 16 channels' 16n contiguous values (cnt of them
 * valid) -> v[j] = the channels' position j, by lane permutes (no 16x16 transpose) */
static inline void tiny_in(__m512 *v, const float *x, int64_t n, int64_t cnt) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 a[4];
    for (int64_t k = 0; k < n; k++) a[k] = _mm512_maskz_loadu_ps(mask16(cnt - 16 * k), x + 16 * k);
    for (int64_t j = 0; j < n; j++) {
        if (n == 1) {
            v[0] = a[0];
            break;
        }
        const __m512i idx = _mm512_and_si512(
            _mm512_add_epi32(_mm512_mullo_epi32(iota, _mm512_set1_epi32((int)n)),
                             _mm512_set1_epi32((int)j)),
            _mm512_set1_epi32(31));
        const __m512 lo = _mm512_permutex2var_ps(a[0], idx, a[1]);
        v[j] = n == 2 ? lo
                      : _mm512_mask_mov_ps(lo, 0xFF00, _mm512_permutex2var_ps(a[2], idx, a[3]));
    }
}

/* the inverse of tiny_in: out[k] (+)= r[k % n] lane k / n for k < cnt */
static inline void tiny_out(float *out, const __m512 *r, int64_t n, int64_t cnt, int add) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t m = 0; m < n; m++) {
        __m512 o = r[0];
        if (n > 1) { /* lane e: channel (16m + e) / n of r[e % n] */
            const __m512i idx = _mm512_or_si512(
                _mm512_slli_epi32(_mm512_and_si512(iota, _mm512_set1_epi32(1)), 4),
                _mm512_srli_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32((int)(16 * m))),
                                  n == 2 ? 1 : 2));
            o = _mm512_permutex2var_ps(r[0], idx, r[1]);
            if (n == 4)
                o = _mm512_mask_mov_ps(o, 0xCCCC, _mm512_permutex2var_ps(r[2], idx, r[3]));
        }
        const __mmask16 k = mask16(cnt - 16 * m);
        if (add) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(k, out + 16 * m));
        _mm512_mask_storeu_ps(out + 16 * m, k, o);
    }
}

static inline int tiny(int64_t n) { return n == 1 || n == 2 || n == 4; }

/* r[j] = (r[0][j], r[1][j], ..., r[15][j]): a 16x16 transpose in 64 shuffles */
static inline __attribute__((always_inline)) void tr16(__m512 *r) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* r[4i + k], 128-bit lane L: column 4L + k, rows 4i.. */
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 1]), e = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, e));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, e));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
    }
}

/* xs[(h + r0)*ld + v + c0] = the nc channels' x[h, v] (planes H*W apart), 16 plane
 * positions at a time through a transpose */
static inline void gather_in(float *xs, int64_t ld, int64_t r0, int64_t c0, const float *x,
                             int64_t H, int64_t W, int64_t nc) {
    const int64_t HW = H * W;
    int64_t h = 0, v = 0;
    if (tiny(HW)) {
        __m512 t[4];
        tiny_in(t, x, HW, nc * HW);
        for (int64_t j = 0; j < HW; j++)
            _mm512_storeu_ps(xs + ((j / W + r0) * ld + j % W + c0) * 16, t[j]);
        return;
    }
    for (int64_t i0 = 0; i0 < HW; i0 += 16) {
        const int64_t cnt = HW - i0 < 16 ? HW - i0 : 16;
        const __mmask16 m = mask16(cnt);
        __m512 r[16];
        for (int64_t l = 0; l < 16; l++)
            r[l] = l < nc ? _mm512_maskz_loadu_ps(m, x + l * HW + i0) : _mm512_setzero_ps();
        tr16(r);
        for (int64_t j = 0; j < cnt; j++) {
            _mm512_storeu_ps(xs + ((h + r0) * ld + v + c0) * 16, r[j]);
            if (++v == W) v = 0, h++;
        }
    }
}

/* the planes out (nc planes rows*cols) (+)= the scratch src ((., ld, 16), the plane at
 * (r0, c0)), 16 plane positions at a time through a transpose */
static inline void put_out(float *out, const float *src, int64_t rows, int64_t cols,
                           int64_t ld, int64_t r0, int64_t c0, int64_t nc, int add) {
    const int64_t n = rows * cols;
    int64_t h = 0, v = 0;
    if (tiny(n)) {
        __m512 t[4];
        for (int64_t j = 0; j < n; j++)
            t[j] = _mm512_loadu_ps(src + ((j / cols + r0) * ld + j % cols + c0) * 16);
        tiny_out(out, t, n, nc * n, add);
        return;
    }
    for (int64_t i0 = 0; i0 < n; i0 += 16) {
        const int64_t cnt = n - i0 < 16 ? n - i0 : 16;
        const __mmask16 m = mask16(cnt);
        __m512 r[16];
        for (int64_t j = 0; j < 16; j++) {
            r[j] = j < cnt ? _mm512_loadu_ps(src + ((h + r0) * ld + v + c0) * 16)
                           : _mm512_setzero_ps();
            if (j < cnt && ++v == cols) v = 0, h++;
        }
        tr16(r);
        for (int64_t l = 0; l < nc; l++) {
            float *o = out + l * n + i0;
            _mm512_mask_storeu_ps(o, m, add ? _mm512_add_ps(r[l], _mm512_maskz_loadu_ps(m, o))
                                            : r[l]);
        }
    }
}

/* wt[(blk*RS + t)*16 + l] = w[(16*blk + l)*RS + t], 0 past the C channels */
void cr_dwb_weights(float *wt, const float *w, int64_t C, int64_t RS) {
    const int64_t nb = (C + 15) / 16;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t t = 0; t < RS; t++)
            for (int64_t l = 0; l < 16; l++)
                wt[(b * RS + t) * 16 + l] = 16 * b + l < C ? w[(16 * b + l) * RS + t] : 0.0f;
}

static inline __attribute__((always_inline)) void fwd(float *y, const float *x, const float *w,
                                                      const float *b, int64_t nc,
                                                      const cr_conv2d_dims *d, float *xs,
                                                      float *ys, int R,
                                                      int S) {
    const int64_t Wp = d->W + 2 * d->pw, sh = d->sh, sw = d->sw, P = d->P, Q = d->Q;
    gather_in(xs, Wp, d->ph, d->pw, x, d->H, d->W, nc);
    __m512 wv[TAPS_MAX];
    for (int t = 0; t < R * S; t++) wv[t] = _mm512_loadu_ps(w + t * 16);
    const __m512 bv = b ? _mm512_maskz_loadu_ps(mask16(nc), b) : _mm512_setzero_ps();
    for (int64_t p = 0; p < P; p++)
        for (int64_t q = 0; q < Q; q++) {
            __m512 a = bv;
            for (int r = 0; r < R; r++) {
                const float *row = xs + ((p * sh + r) * Wp + q * sw) * 16;
                for (int s = 0; s < S; s++)
                    a = _mm512_fmadd_ps(wv[r * S + s], _mm512_loadu_ps(row + s * 16), a);
            }
            _mm512_storeu_ps(ys + (p * Q + q) * 16, a);
        }
    put_out(y, ys, P, Q, Q, 0, 0, nc, 0);
}

/* one image's block: y (nc planes P*Q) = conv(x (nc planes H*W)); w: the block's
 * cr_dwb_weights, b at its first channel; xs: (H+2ph) x (W+2pw) x 16 zero-bordered,
 * ys: P*Q*16 */
void cr_dwb_fwd_f32_avx512(float *y, const float *x, const float *w, const float *b,
                           int64_t nc, const cr_conv2d_dims *d, float *xs, float *ys) {
    if (d->R == 3 && d->S == 3)
        fwd(y, x, w, b, nc, d, xs, ys, 3, 3);
    else
        fwd(y, x, w, b, nc, d, xs, ys, (int)d->R, (int)d->S);
}

/* rows (returned) and columns (*cols) of the backward's dy scratch: dy at
 * (ceil((R-1-ph)/sh), ceil((S-1-pw)/sw)) with zeros around, as far as dx's taps reach */
int64_t cr_dwb_gs_size(const cr_conv2d_dims *d, int64_t *cols) {
    const int64_t ga = (d->R - 1 - d->ph + d->sh - 1) / d->sh;
    const int64_t gb = (d->S - 1 - d->pw + d->sw - 1) / d->sw;
    const int64_t hr = (d->H - 1 + d->ph) / d->sh + 1, wr = (d->W - 1 + d->pw) / d->sw + 1;
    *cols = gb + (d->Q > wr ? d->Q : wr);
    return ga + (d->P > hr ? d->P : hr);
}

/* dxs[h, v] for the rows h with h + ph = r0 (mod sh) and columns v + pw = c0 (mod sw):
 * the taps r = r0, r0 + sh, ... and s = c0, c0 + sw, ... reach dy at
 * gs[ga + (h+ph-r)/sh, gb + (v+pw-s)/sw] */
static inline __attribute__((always_inline)) void dx_class(float *dxs, const float *gs,
                                                           const __m512 *wv,
                                                           const cr_conv2d_dims *d, int64_t Wg,
                                                           int64_t ga, int64_t gb, int r0,
                                                           int c0, int R, int S, int sh,
                                                           int sw) {
    const int64_t H = d->H, W = d->W, ph = d->ph, pw = d->pw;
    const int64_t h0 = ((r0 - ph) % sh + sh) % sh, v0 = ((c0 - pw) % sw + sw) % sw;
    for (int64_t h = h0; h < H; h += sh) {
        const float *grow = gs + ((ga + (h + ph) / sh) * Wg + gb) * 16;
        for (int64_t v = v0; v < W; v += sw) {
            const float *g = grow + ((v + pw) / sw) * 16;
            __m512 a = _mm512_setzero_ps();
            for (int r = r0, i = 0; r < R; r += sh, i++)
                for (int s = c0, k = 0; s < S; s += sw, k++)
                    a = _mm512_fmadd_ps(wv[r * S + s],
                                        _mm512_loadu_ps(g - (i * Wg + k) * 16), a);
            _mm512_storeu_ps(dxs + (h * W + v) * 16, a);
        }
    }
}

/* 3x3, stride 1, padding 1, both dx and dw: gs and xs are then both (H+2) x (W+2) with the
 * plane at (1, 1), and one sweep along each row keeps 3x3 windows of both in registers (3
 * new vectors of each per position instead of 18 loads): dw's taps take xs[p + r, q + s]
 * times the window's centre gs[p + 1, q + 1], dx[p, q] the taps w[r, s] times
 * gs[p + 2 - r, q + 2 - s]. */
static inline __attribute__((always_inline)) void s1_33(double *acc, const float *w,
                                                        const float *xs, const float *gs,
                                                        float *dxs, int64_t H, int64_t W,
                                                        int edge) {
    const int64_t L = (W + 2) * 16;
    const __m512 w00 = _mm512_loadu_ps(w), w01 = _mm512_loadu_ps(w + 16),
                 w02 = _mm512_loadu_ps(w + 32), w10 = _mm512_loadu_ps(w + 48),
                 w11 = _mm512_loadu_ps(w + 64), w12 = _mm512_loadu_ps(w + 80),
                 w20 = _mm512_loadu_ps(w + 96), w21 = _mm512_loadu_ps(w + 112),
                 w22 = _mm512_loadu_ps(w + 128);
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
           a20 = a00, a21 = a00, a22 = a00, ab = a00;
    for (int64_t p = 0; p < H; p++) {
        const float *xr = xs + p * L, *gr = gs + p * L;
        __m512 x00 = _mm512_loadu_ps(xr), x10 = _mm512_loadu_ps(xr + L),
               x20 = _mm512_loadu_ps(xr + 2 * L);
        __m512 x01 = _mm512_loadu_ps(xr + 16), x11 = _mm512_loadu_ps(xr + L + 16),
               x21 = _mm512_loadu_ps(xr + 2 * L + 16);
        __m512 g00 = _mm512_loadu_ps(gr), g10 = _mm512_loadu_ps(gr + L),
               g20 = _mm512_loadu_ps(gr + 2 * L);
        __m512 g01 = _mm512_loadu_ps(gr + 16), g11 = _mm512_loadu_ps(gr + L + 16),
               g21 = _mm512_loadu_ps(gr + 2 * L + 16);
        float *o = dxs + p * W * 16;
        for (int64_t q = 0; q < W; q++) {
            const int64_t c = (q + 2) * 16;
            const __m512 x02 = _mm512_loadu_ps(xr + c), x12 = _mm512_loadu_ps(xr + L + c),
                         x22 = _mm512_loadu_ps(xr + 2 * L + c);
            const __m512 g02 = _mm512_loadu_ps(gr + c), g12 = _mm512_loadu_ps(gr + L + c),
                         g22 = _mm512_loadu_ps(gr + 2 * L + c);
            /* edge (constant H, W): skip the terms of the zero border (row p - 1 or p + 1,
             * column q - 1 or q + 1 outside the plane) */
            const int t = !edge || p > 0, b = !edge || p < H - 1;
            const int l = !edge || q > 0, r = !edge || q < W - 1;
            if (t && l) a00 = _mm512_fmadd_ps(g11, x00, a00);
            if (t) a01 = _mm512_fmadd_ps(g11, x01, a01);
            if (t && r) a02 = _mm512_fmadd_ps(g11, x02, a02);
            if (l) a10 = _mm512_fmadd_ps(g11, x10, a10);
            a11 = _mm512_fmadd_ps(g11, x11, a11);
            if (r) a12 = _mm512_fmadd_ps(g11, x12, a12);
            if (b && l) a20 = _mm512_fmadd_ps(g11, x20, a20);
            if (b) a21 = _mm512_fmadd_ps(g11, x21, a21);
            if (b && r) a22 = _mm512_fmadd_ps(g11, x22, a22);
            ab = _mm512_add_ps(ab, g11);
            /* taps in (r, s) order from zero, as bwd's dx loop (dx alone is bitwise the
             * same; a dropped term would have added an exact zero) */
            __m512 e = _mm512_setzero_ps();
            if (b && r) e = _mm512_fmadd_ps(w00, g22, e);
            if (b) e = _mm512_fmadd_ps(w01, g21, e);
            if (b && l) e = _mm512_fmadd_ps(w02, g20, e);
            if (r) e = _mm512_fmadd_ps(w10, g12, e);
            e = _mm512_fmadd_ps(w11, g11, e);
            if (l) e = _mm512_fmadd_ps(w12, g10, e);
            if (t && r) e = _mm512_fmadd_ps(w20, g02, e);
            if (t) e = _mm512_fmadd_ps(w21, g01, e);
            if (t && l) e = _mm512_fmadd_ps(w22, g00, e);
            _mm512_storeu_ps(o + q * 16, e);
            x00 = x01, x01 = x02, x10 = x11, x11 = x12, x20 = x21, x21 = x22;
            g00 = g01, g01 = g02, g10 = g11, g11 = g12, g20 = g21, g21 = g22;
        }
    }
    const __m512 av[10] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, ab};
    dw_add_lanes(acc, av, 10);
}

/* dw of 3x3 stride 2 padding 1: acc's taps += dy[p, q] * xs[2p + r, 2q + s] (dy at (1, 1) in
 * gs), the accumulators in registers and column 2q + 2 of xs kept for the next q (6 new
 * loads per position instead of 9) */
static void dw_s2_33(double *acc, const float *xs, const float *gs, int64_t P, int64_t Q,
                     int64_t Wp, int64_t Wg) {
    const int64_t L = Wp * 16;
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
           a20 = a00, a21 = a00, a22 = a00, ab = a00;
    for (int64_t p = 0; p < P; p++) {
        const float *xr = xs + 2 * p * L, *gr = gs + ((p + 1) * Wg + 1) * 16;
        __m512 x00 = _mm512_loadu_ps(xr), x10 = _mm512_loadu_ps(xr + L),
               x20 = _mm512_loadu_ps(xr + 2 * L);
        for (int64_t q = 0; q < Q; q++) {
            const int64_t c = (2 * q + 1) * 16;
            const __m512 g = _mm512_loadu_ps(gr + q * 16);
            const __m512 x01 = _mm512_loadu_ps(xr + c), x11 = _mm512_loadu_ps(xr + L + c),
                         x21 = _mm512_loadu_ps(xr + 2 * L + c);
            const __m512 x02 = _mm512_loadu_ps(xr + c + 16),
                         x12 = _mm512_loadu_ps(xr + L + c + 16),
                         x22 = _mm512_loadu_ps(xr + 2 * L + c + 16);
            a00 = _mm512_fmadd_ps(g, x00, a00);
            a01 = _mm512_fmadd_ps(g, x01, a01);
            a02 = _mm512_fmadd_ps(g, x02, a02);
            a10 = _mm512_fmadd_ps(g, x10, a10);
            a11 = _mm512_fmadd_ps(g, x11, a11);
            a12 = _mm512_fmadd_ps(g, x12, a12);
            a20 = _mm512_fmadd_ps(g, x20, a20);
            a21 = _mm512_fmadd_ps(g, x21, a21);
            a22 = _mm512_fmadd_ps(g, x22, a22);
            ab = _mm512_add_ps(ab, g);
            x00 = x02, x10 = x12, x20 = x22;
        }
    }
    const __m512 av[10] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, ab};
    dw_add_lanes(acc, av, 10);
}

/* dx of 3x3 stride 2 padding 1 (dy at (1, 1) in gs, ga = gb = 1), the four dx positions
 * (2i + a, 2j + b) of each dy position at once, taps unrolled (dx_class's loops over the
 * parity classes and taps do not unroll): with G_kl = gs[i + 1 + k, j + 1 + l],
 *   dx[2i, 2j] = w11 G00, dx[2i, 2j+1] = w10 G01 + w12 G00, dx[2i+1, 2j] = w01 G10 + w21 G00,
 *   dx[2i+1, 2j+1] = w00 G11 + w02 G10 + w20 G01 + w22 G00
 * (row i + 2 and column j + 2 of gs are read only for dx rows / columns inside the plane) */
static void dx_s2_33(float *dxs, const float *gs, const __m512 *wv, int64_t H, int64_t W,
                     int64_t Wg) {
    const __m512 z = _mm512_setzero_ps();
    for (int64_t i = 0; 2 * i < H; i++) {
        const int ho = 2 * i + 1 < H;
        const float *g0 = gs + ((i + 1) * Wg + 1) * 16, *g1 = g0 + Wg * 16;
        float *o0 = dxs + 2 * i * W * 16, *o1 = o0 + W * 16;
        for (int64_t j = 0; 2 * j < W; j++) {
            const int vo = 2 * j + 1 < W;
            const __m512 G00 = _mm512_loadu_ps(g0 + j * 16);
            const __m512 G01 = vo ? _mm512_loadu_ps(g0 + j * 16 + 16) : z;
            _mm512_storeu_ps(o0 + 2 * j * 16, _mm512_mul_ps(wv[4], G00));
            if (vo)
                _mm512_storeu_ps(o0 + (2 * j + 1) * 16,
                                 _mm512_fmadd_ps(wv[5], G00, _mm512_mul_ps(wv[3], G01)));
            if (!ho) continue;
            const __m512 G10 = _mm512_loadu_ps(g1 + j * 16);
            _mm512_storeu_ps(o1 + 2 * j * 16,
                             _mm512_fmadd_ps(wv[7], G00, _mm512_mul_ps(wv[1], G10)));
            if (vo) {
                const __m512 G11 = _mm512_loadu_ps(g1 + j * 16 + 16);
                __m512 a = _mm512_mul_ps(wv[0], G11);
                a = _mm512_fmadd_ps(wv[2], G10, a);
                a = _mm512_fmadd_ps(wv[6], G01, a);
                _mm512_storeu_ps(o1 + (2 * j + 1) * 16, _mm512_fmadd_ps(wv[8], G00, a));
            }
        }
    }
}

/* the sweep with the border terms dropped at compile time for MobileNet's 2x2, 4x4 and 8x8
 * planes (a third to a half of the 3x3 terms of a 4x4 or 2x2 plane read the zero border) */
static void bwd_s1_33(double *acc, const float *w, const cr_conv2d_dims *d, const float *xs,
                      const float *gs, float *dxs) {
    if (d->H == 2 && d->W == 2)
        s1_33(acc, w, xs, gs, dxs, 2, 2, 1);
    else if (d->H == 4 && d->W == 4)
        s1_33(acc, w, xs, gs, dxs, 4, 4, 1);
    else if (d->H == 8 && d->W == 8)
        s1_33(acc, w, xs, gs, dxs, 8, 8, 1);
    else
        s1_33(acc, w, xs, gs, dxs, d->H, d->W, 0);
}

static inline __attribute__((always_inline)) void bwd(float *dx, double *acc, const float *dy,
                                                      const float *x, const float *w,
                                                      int64_t nc, const cr_conv2d_dims *d,
                                                      float *xs, float *gs, float *dxs,
                                                      int R, int S, int set) {
    const int64_t H = d->H, W = d->W, Wp = W + 2 * d->pw, P = d->P,
                  Q = d->Q, sh = d->sh, sw = d->sw, RS = R * S;
    const int64_t ph = d->ph, pw = d->pw, ga = (R - 1 - ph + sh - 1) / sh,
                  gb = (S - 1 - pw + sw - 1) / sw;
    int64_t Wg;
    cr_dwb_gs_size(d, &Wg);
    gather_in(gs, Wg, ga, gb, dy, P, Q, nc);
    if (R == 3 && S == 3 && sh == 1 && sw == 1 && ph == 1 && pw == 1 && acc && dx) {
        gather_in(xs, Wp, 1, 1, x, H, W, nc);
        bwd_s1_33(acc, w, d, xs, gs, dxs);
        put_out(dx, dxs, H, W, W, 0, 0, nc, !set);
        return;
    }
    if (acc && R == 3 && S == 3 && sh == 2 && sw == 2 && ph == 1 && pw == 1) {
        gather_in(xs, Wp, 1, 1, x, H, W, nc);
        dw_s2_33(acc, xs, gs, P, Q, Wp, Wg);
    } else if (acc) {
        gather_in(xs, Wp, d->ph, d->pw, x, H, W, nc);
        __m512 av[TAPS_MAX + 1];
        for (int t = 0; t <= RS; t++) av[t] = _mm512_setzero_ps();
        for (int64_t p = 0; p < P; p++)
            for (int64_t q = 0; q < Q; q++) {
                const __m512 g = _mm512_loadu_ps(gs + ((p + ga) * Wg + q + gb) * 16);
                for (int r = 0; r < R; r++) {
                    const float *row = xs + ((p * sh + r) * Wp + q * sw) * 16;
                    for (int s = 0; s < S; s++)
                        av[r * S + s] =
                            _mm512_fmadd_ps(g, _mm512_loadu_ps(row + s * 16), av[r * S + s]);
                }
                av[RS] = _mm512_add_ps(av[RS], g);
            }
        dw_add_lanes(acc, av, RS + 1);
    }
    if (!dx) return;
    __m512 wv[TAPS_MAX];
    for (int t = 0; t < RS; t++) wv[t] = _mm512_loadu_ps(w + t * 16);
    if (sh == 1 && sw == 1) {
        for (int64_t h = 0; h < H; h++)
            for (int64_t v = 0; v < W; v++) {
                __m512 a = _mm512_setzero_ps();
                for (int r = 0; r < R; r++) {
                    const float *row = gs + ((h + R - 1 - r) * Wg + v + S - 1) * 16;
                    for (int s = 0; s < S; s++)
                        a = _mm512_fmadd_ps(wv[r * S + s], _mm512_loadu_ps(row - s * 16), a);
                }
                _mm512_storeu_ps(dxs + (h * W + v) * 16, a);
            }
    } else if (sh == 2 && sw == 2 && R == 3 && S == 3 && ph == 1 && pw == 1) {
        dx_s2_33(dxs, gs, wv, H, W, Wg);
    } else {
        for (int r0 = 0; r0 < sh; r0++)
            for (int c0 = 0; c0 < sw; c0++)
                dx_class(dxs, gs, wv, d, Wg, ga, gb, r0, c0, R, S, (int)sh, (int)sw);
    }
    put_out(dx, dxs, H, W, W, 0, 0, nc, !set);
}

/* one image's block: dx (nc planes, may be NULL) += ... (set: = ...), acc ((R*S + 1) x 16
 * doubles, may be NULL) += ...; xs: (H+2ph) x (W+2pw) x 16 zero-bordered; gs:
 * cr_dwb_gs_size x 16 zero-bordered; dxs: H*W*16;
 * w: the block's cr_dwb_weights */
void cr_dwb_bwd_f32_avx512(float *dx, double *acc, const float *dy, const float *x,
                           const float *w, int64_t nc, const cr_conv2d_dims *d, float *xs,
                           float *gs, float *dxs, int set) {
    if (d->R == 3 && d->S == 3)
        bwd(dx, acc, dy, x, w, nc, d, xs, gs, dxs, 3, 3, set);
    else
        bwd(dx, acc, dy, x, w, nc, d, xs, gs, dxs, (int)d->R, (int)d->S, set);
}
