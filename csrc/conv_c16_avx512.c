/* conv_c16_avx512.c — the kernel of conv_c16.c: Winograd F(4x4, 3x3) for 3x3 stride-1 pad-1
 * layers with 16 output channels, 16 images in the vector lanes.
 *
 * conv_c16_tilerow_avx512 computes tile row tp (output rows 4 tp .. 4 tp + 3) of images
 * n0 .. n0 + nimg - 1 (nimg <= 16; missing images are zero lanes):
 *   1. the 6 input rows h = 4 tp - 1 .. 4 tp + 4 of each channel, moved image -> lane by
 *      16 x 16 transposes into Xt[c][(h + 1) % 8][col + 1] (zero outside the image); with
 *      reuse (the call before did tile row tp - 1 of the same images in the same ws), its
 *      last 2 rows are this one's first 2 and only 4 are loaded;
 *   2. per pair of tiles: V = B^T d B of each channel (36 vectors per channel), the 36
 *      products M[e][k] = sum_c U[e][c][k] V[e][c] (c in order), Y = A^T M A + bias, into Yt;
 *   3. Yt (16 channels x 4 rows x columns, images in the lanes) transposed back to y.
 * Every output is computed by one call in one fixed order: the results do not depend on
 * how callers split the tile rows between threads. The matrices B^T, G, A^T are those of
 * conv_winograd4.c. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* r[i] (row i, lane j) -> r[j] (row j, lane i) */
static inline void tr16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]),
                      c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

static inline __mmask16 cols_mask(int64_t n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* o = B^T d (6 points) */
static inline void bt6(__m512 o[6], const __m512 d[6]) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f),
                 two = _mm512_set1_ps(2.0f);
    const __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]), b = _mm512_fnmadd_ps(four, d[1], d[3]);
    const __m512 c = _mm512_sub_ps(d[4], d[2]), e = _mm512_sub_ps(d[3], d[1]);
    o[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    o[1] = _mm512_add_ps(a, b);
    o[2] = _mm512_sub_ps(a, b);
    o[3] = _mm512_fmadd_ps(two, e, c);
    o[4] = _mm512_fnmadd_ps(two, e, c);
    o[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

/* o = A^T m (6 points -> 4) */
static inline void at6(__m512 o[4], const __m512 m[6]) {
    const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
}

/* V[e*C + c] = (B^T d B)[e] of channel c's 6 x 6 patch: its rows at xt + roff[i] */
static void input_tile(float *V, int64_t C, const float *xt, const int64_t roff[6], int64_t ldc) {
    for (int64_t c = 0; c < C; c++) {
        const float *xc = xt + c * ldc;
        __m512 t[6][6];
        for (int j = 0; j < 6; j++) {
            __m512 d[6], o[6];
            for (int i = 0; i < 6; i++) d[i] = _mm512_load_ps(xc + roff[i] + j * 16);
            bt6(o, d);
            for (int i = 0; i < 6; i++) t[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) {
            __m512 o[6];
            bt6(o, t[i]);
            for (int j = 0; j < 6; j++) _mm512_store_ps(V + ((i * 6 + j) * C + c) * 16, o[j]);
        }
    }
}

/* M0, M1[(e*16 + k)*16] = sum_c U[(e*C + c)*16 + k] V0, V1[(e*C + c)*16] */
static void products(float *M0, float *M1, const float *V0, const float *V1, const float *U,
                     int64_t C) {
    for (int e = 0; e < 36; e++)
        for (int kh = 0; kh < 16; kh += 8) {
            __m512 a[8], b[8];
            for (int k = 0; k < 8; k++) a[k] = b[k] = _mm512_setzero_ps();
            const float *u = U + e * C * 16 + kh;
            const float *v0 = V0 + e * C * 16, *v1 = V1 + e * C * 16;
            for (int64_t c = 0; c < C; c++) {
                const __m512 x0 = _mm512_load_ps(v0 + c * 16), x1 = _mm512_load_ps(v1 + c * 16);
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++) {
                    const __m512 w = _mm512_set1_ps(u[c * 16 + k]);
                    a[k] = _mm512_fmadd_ps(w, x0, a[k]);
                    b[k] = _mm512_fmadd_ps(w, x1, b[k]);
                }
            }
            for (int k = 0; k < 8; k++) {
                _mm512_store_ps(M0 + (e * 16 + kh + k) * 16, a[k]);
                _mm512_store_ps(M1 + (e * 16 + kh + k) * 16, b[k]);
            }
        }
}

/* Yt[(k*4 + i)*ldy + j*16] = (A^T M A)[i][j] + bias[k] for the 16 channels */
static void output_tile(float *Yt, int64_t ldy, const float *M, const float *bias) {
    for (int k = 0; k < 16; k++) {
        __m512 t[4][6];
        for (int j = 0; j < 6; j++) {
            __m512 m[6], o[4];
            for (int i = 0; i < 6; i++) m[i] = _mm512_load_ps(M + ((i * 6 + j) * 16 + k) * 16);
            at6(o, m);
            for (int i = 0; i < 4; i++) t[i][j] = o[i];
        }
        const __m512 b = _mm512_set1_ps(bias ? bias[k] : 0.0f);
        for (int i = 0; i < 4; i++) {
            __m512 o[4];
            at6(o, t[i]);
            for (int j = 0; j < 4; j++)
                _mm512_store_ps(Yt + (k * 4 + i) * ldy + j * 16,
                                bias ? _mm512_add_ps(o[j], b) : o[j]);
        }
    }
}

/* Step 1: the 6 input rows of each channel, images into the lanes; each image's rows are
 * first read in one run (staged in S: rows of 16 images side by side, zero outside the
 * image), so its lines are read once in order rather than 16 images at a time. */
static void load_rows(float *Xt, float *S, const float *x, int64_t nimg, int64_t C, int64_t H,
                      int64_t W, int64_t tp, int64_t wx, int i0) {
    const int64_t HW = H * W, nq = (W + 15) / 16;
    for (int64_t c = 0; c < C; c++) {
        for (int j = 0; j < 16; j++) {
            for (int i = i0; i < 6; i++) {
                const int64_t h = 4 * tp - 1 + i;
                const float *xr = x + j * C * HW + c * HW + h * W;
                for (int64_t qi = 0; qi < nq; qi++)
                    _mm512_store_ps(S + ((i * nq + qi) * 16 + j) * 16,
                                    j < nimg && h >= 0 && h < H
                                        ? _mm512_maskz_loadu_ps(cols_mask(W - 16 * qi), xr + 16 * qi)
                                        : _mm512_setzero_ps());
            }
        }
        for (int i = i0; i < 6; i++) {
            float *row = Xt + (c * 8 + ((4 * tp + i) & 7)) * wx * 16;
            _mm512_store_ps(row, _mm512_setzero_ps());
            for (int64_t col = 1 + nq * 16; col < wx; col++)
                _mm512_store_ps(row + col * 16, _mm512_setzero_ps());
            for (int64_t qi = 0; qi < nq; qi++) {
                __m512 r[16];
                for (int j = 0; j < 16; j++) r[j] = _mm512_load_ps(S + ((i * nq + qi) * 16 + j) * 16);
                tr16(r);
                for (int j = 0; j < 16; j++) _mm512_store_ps(row + (1 + 16 * qi + j) * 16, r[j]);
            }
        }
    }
}

/* Step 3: Yt back to the images, each image's 4 rows of a channel written in one run */
static void store_rows(float *y, float *S, const float *Yt, int64_t nimg, int64_t H, int64_t W,
                       int64_t tp, int64_t wy, int acc) {
    const int64_t HW = H * W, KHW = 16 * HW, nq = (W + 15) / 16;
    const int nr = H - 4 * tp < 4 ? (int)(H - 4 * tp) : 4;
    for (int k = 0; k < 16; k++) {
        for (int i = 0; i < nr; i++)
            for (int64_t qi = 0; qi < nq; qi++) {
                __m512 r[16];
                for (int j = 0; j < 16; j++)
                    r[j] = _mm512_load_ps(Yt + ((k * 4 + i) * wy + 16 * qi + j) * 16);
                tr16(r);
                for (int j = 0; j < 16; j++) _mm512_store_ps(S + ((i * nq + qi) * 16 + j) * 16, r[j]);
            }
        for (int j = 0; j < nimg; j++) {
            for (int i = 0; i < nr; i++) {
                float *yr = y + j * KHW + k * HW + (4 * tp + i) * W;
                for (int64_t qi = 0; qi < nq; qi++) {
                    const __mmask16 m = cols_mask(W - 16 * qi);
                    __m512 v = _mm512_load_ps(S + ((i * nq + qi) * 16 + j) * 16);
                    if (acc) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, yr + 16 * qi), v);
                    _mm512_mask_storeu_ps(yr + 16 * qi, m, v);
                }
            }
        }
    }
}

/* ws (64-byte aligned) holds, in floats: Xt C*8*wx*16, V 2*36*C*16, M 2*36*16*16,
 * Yt 16*4*wy*16, S 6*ceil(W/16)*256 (wx, wy: see conv_c16.c) */
void conv_c16_tilerow_avx512(float *y, const float *x, const float *U, const float *bias,
                             int64_t nimg, int64_t C, int64_t H, int64_t W, int64_t tp,
                             int64_t wx, int64_t wy, float *ws, int acc, int reuse) {
    const int64_t TQ = (W + 3) / 4;
    float *Xt = ws, *V = Xt + C * 8 * wx * 16, *M = V + 2 * 36 * C * 16,
          *Yt = M + 2 * 36 * 256, *S = Yt + 16 * 4 * wy * 16;
    load_rows(Xt, S, x, nimg, C, H, W, tp, wx, reuse ? 2 : 0);
    int64_t roff[6];
    for (int i = 0; i < 6; i++) roff[i] = ((4 * tp + i) & 7) * wx * 16;
    /* 2. pairs of tiles (the second past Q when TQ is odd: zero input, never stored) */
    for (int64_t tq = 0; tq < TQ; tq += 2) {
        for (int t = 0; t < 2; t++)
            input_tile(V + t * 36 * C * 16, C, Xt + 4 * (tq + t) * 16, roff, 8 * wx * 16);
        products(M, M + 36 * 256, V, V + 36 * C * 16, U, C);
        for (int t = 0; t < 2; t++)
            output_tile(Yt + 4 * (tq + t) * 16, wy * 16, M + t * 36 * 256, bias);
    }
    store_rows(y, S, Yt, nimg, H, W, tp, wy, acc);
}
