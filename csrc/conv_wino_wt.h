/* conv_wino_wt.h — the Winograd filter transforms over a chunk of m <= WT_CHUNK contiguous
 * filters: F(2x2, 3x3) and F(4x4, 3x3) weight transforms (U = G g G^T, optionally of w flipped
 * and transposed: dx as the forward of dy) and the adjoints of dw (dw += G^T dU G). Plain loops
 * over the filters of the chunk (their taps first gathered into planes g[t][j]) so that the
 * compiler vectorises them: included by conv_winograd.c (portable build) and
 * conv_wino_wt_avx512.c (the same code for AVX-512, 16 wide, FMA contraction off), with
 * WT_FN(name) naming the two copies. Same operations in the same order: the same bits. */
#define WT_CHUNK CR_WT_CHUNK /* conv_internal.h */

/* g[r][j] = tap r of filter kc = kc0 + j (j < m) of w, or with flip tap 8 - r of filter
 * (kc % C) K + kc / C (w'[k, c] = w[c, k] turned by 180 degrees, w of shape (C, K, 3, 3));
 * scalar moves (AVX-512 gathers measured 1.4-1.9x slower on Zen 4) */
static void WT_FN(wt_gather)(float g[9][WT_CHUNK], const float *restrict w, int flip, int64_t K,
                             int64_t C, int64_t kc0, int64_t m) {
    for (int64_t j = 0; j < m; j++) {
        const int64_t kc = kc0 + j;
        if (flip) {
            const float *src = w + ((kc % C) * K + kc / C) * 9;
            for (int r = 0; r < 9; r++) g[r][j] = src[8 - r];
        } else {
            for (int r = 0; r < 9; r++) g[r][j] = w[kc * 9 + r];
        }
    }
}

/* F(2x2): U[e * ldu + j0 + j] = (G g G^T)[e] of filter kc = j0 + j (kc = k*C + c) of w, or with
 * flip of w' (w of shape (C, K, 3, 3) turned by 180 degrees: w'[k, c] = w[c, k]) */
void WT_FN(conv_wt2_chunk)(float *restrict U, int64_t ldu, const float *restrict w, int flip,
                           int64_t K, int64_t C, int64_t j0, int64_t m) {
    float g[9][WT_CHUNK], t[12][WT_CHUNK]; /* t[3i + j]: (G g)[i][j] */
    WT_FN(wt_gather)(g, w, flip, K, C, j0, m);
    for (int c = 0; c < 3; c++)
        for (int64_t j = 0; j < m; j++) {
            const float a = g[c][j], b = g[3 + c][j], d = g[6 + c][j];
            t[c][j] = a;
            t[3 + c][j] = 0.5f * (a + b + d);
            t[6 + c][j] = 0.5f * (a - b + d);
            t[9 + c][j] = d;
        }
    for (int i = 0; i < 4; i++) { /* rows of U never overlap (ivdep) */
        float *restrict u0 = U + 4 * i * ldu + j0, *restrict u1 = u0 + ldu;
        float *restrict u2 = u0 + 2 * ldu, *restrict u3 = u0 + 3 * ldu;
        const float *ta = t[3 * i], *tb = t[3 * i + 1], *td = t[3 * i + 2];
#pragma GCC ivdep
        for (int64_t j = 0; j < m; j++) {
            const float a = ta[j], b = tb[j], d = td[j];
            u0[j] = a;
            u1[j] = 0.5f * (a + b + d);
            u2[j] = 0.5f * (a - b + d);
            u3[j] = d;
        }
    }
}

/* F(2x2) dw: dw[j0 + j] (9 taps) += G^T (dU_0 + ... + dU_{np-1})[., j0 + j] G, dU_p[e] at
 * dU + (p * 16 + e) * ldu: rows t = G^T dU (3 x 4), then its columns */
void WT_FN(conv_adj2_chunk)(float *restrict dw, const float *restrict dU, int64_t ldu,
                            int64_t np, int64_t j0, int64_t m) {
    float u[16][WT_CHUNK], t[12][WT_CHUNK], o[9][WT_CHUNK];
    for (int e = 0; e < 16; e++) {
        const float *src = dU + e * ldu + j0;
        for (int64_t j = 0; j < m; j++) u[e][j] = src[j];
        for (int64_t p = 1; p < np; p++) {
            const float *sp = dU + (p * 16 + e) * ldu + j0;
            for (int64_t j = 0; j < m; j++) u[e][j] += sp[j];
        }
    }
    for (int c = 0; c < 4; c++)
        for (int64_t j = 0; j < m; j++) {
            const float a = u[c][j], b = u[4 + c][j], e8 = u[8 + c][j], f = u[12 + c][j];
            t[c][j] = a + 0.5f * (b + e8);
            t[4 + c][j] = 0.5f * (b - e8);
            t[8 + c][j] = 0.5f * (b + e8) + f;
        }
    for (int i = 0; i < 3; i++)
        for (int64_t j = 0; j < m; j++) {
            const float a = t[4 * i][j], b = t[4 * i + 1][j], e2 = t[4 * i + 2][j],
                        f = t[4 * i + 3][j];
            o[3 * i + 0][j] = a + 0.5f * (b + e2);
            o[3 * i + 1][j] = 0.5f * (b - e2);
            o[3 * i + 2][j] = 0.5f * (b + e2) + f;
        }
    float *restrict out = dw + j0 * 9;
    for (int64_t j = 0; j < m; j++)
        for (int r = 0; r < 9; r++) out[j * 9 + r] += o[r][j];
}

/* F(4x4)'s G g G^T of m filters: g (9 rows of ld values, tap r of filter j at g[r * ld + j])
 * -> U0[e * ldu + j] (e < 36), through t = G g (18 rows of ld); the one body of
 * conv_wt4_chunk and conv_wt4p_chunk (G below) */
static inline void WT_FN(wt4_apply)(float *restrict U0, int64_t ldu, const float *g,
                                    float *t, int64_t ld, int64_t m) {
    const float k4 = 0.25f, k6 = 1.0f / 6.0f, k12 = 1.0f / 12.0f, k24 = 1.0f / 24.0f;
    for (int c = 0; c < 3; c++)
        for (int64_t j = 0; j < m; j++) {
            const float a = g[c * ld + j], b = g[(3 + c) * ld + j], d = g[(6 + c) * ld + j];
            t[c * ld + j] = a * k4;
            t[(3 + c) * ld + j] = -(a + b + d) * k6;
            t[(6 + c) * ld + j] = -(a - b + d) * k6;
            t[(9 + c) * ld + j] = a * k24 + b * k12 + d * k6;
            t[(12 + c) * ld + j] = a * k24 - b * k12 + d * k6;
            t[(15 + c) * ld + j] = d;
        }
    for (int i = 0; i < 6; i++) { /* rows of U never overlap (ivdep) */
        float *restrict u0 = U0 + 6 * i * ldu, *restrict u1 = u0 + ldu;
        float *restrict u2 = u0 + 2 * ldu, *restrict u3 = u0 + 3 * ldu;
        float *restrict u4 = u0 + 4 * ldu, *restrict u5 = u0 + 5 * ldu;
        const float *ta = t + 3 * i * ld, *tb = ta + ld, *td = tb + ld;
#pragma GCC ivdep
        for (int64_t j = 0; j < m; j++) {
            const float a = ta[j], b = tb[j], d = td[j];
            u0[j] = a * k4;
            u1[j] = -(a + b + d) * k6;
            u2[j] = -(a - b + d) * k6;
            u3[j] = a * k24 + b * k12 + d * k6;
            u4[j] = a * k24 - b * k12 + d * k6;
            u5[j] = d;
        }
    }
}

/* F(4x4): U[e * ldu + j0 + j] = (G g G^T)[e] of filter kc = k0*C + j0 + j of w (or w', as
 * conv_wt2_chunk), G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 * 1/24 -1/12 1/6; 0 0 1] */
void WT_FN(conv_wt4_chunk)(float *restrict U, int64_t ldu, const float *restrict w, int flip,
                           int64_t K, int64_t C, int64_t k0, int64_t j0, int64_t m) {
    float g[9][WT_CHUNK], t[18][WT_CHUNK]; /* t[3i + j]: (G g)[i][j] */
    WT_FN(wt_gather)(g, w, flip, K, C, k0 * C + j0, m);
    WT_FN(wt4_apply)(U + j0, ldu, g[0], t[0], WT_CHUNK, m);
}

/* F(4x4) dw: dw[j0 + j] (9 taps) += G^T dU[., j0 + j] G (dU[e * ldu + j]): the rows
 * t = G^T dU (3 x 6), then its columns; G^T = [1/4 -1/6 -1/6 1/24 1/24 0;
 * 0 -1/6 1/6 1/12 -1/12 0; 0 -1/6 -1/6 1/6 1/6 1] */
void WT_FN(conv_adj4_chunk)(float *restrict dw, const float *restrict dU, int64_t ldu,
                            int64_t j0, int64_t m) {
    const float k4 = 0.25f, k6 = 1.0f / 6.0f, k12 = 1.0f / 12.0f, k24 = 1.0f / 24.0f;
    float t[18][WT_CHUNK], g[9][WT_CHUNK]; /* t[6r + j]: (G^T dU)[r][j] */
    for (int col = 0; col < 6; col++) {
        const float *u0 = dU + col * ldu + j0, *u1 = u0 + 6 * ldu, *u2 = u0 + 12 * ldu;
        const float *u3 = u0 + 18 * ldu, *u4 = u0 + 24 * ldu, *u5 = u0 + 30 * ldu;
        for (int64_t j = 0; j < m; j++) {
            t[col][j] = u0[j] * k4 - (u1[j] + u2[j]) * k6 + (u3[j] + u4[j]) * k24;
            t[6 + col][j] = (u2[j] - u1[j]) * k6 + (u3[j] - u4[j]) * k12;
            t[12 + col][j] = (u3[j] + u4[j] - u1[j] - u2[j]) * k6 + u5[j];
        }
    }
    for (int r = 0; r < 3; r++) {
        const float *a0 = t[6 * r], *a1 = t[6 * r + 1], *a2 = t[6 * r + 2];
        const float *a3 = t[6 * r + 3], *a4 = t[6 * r + 4], *a5 = t[6 * r + 5];
        for (int64_t j = 0; j < m; j++) {
            g[3 * r][j] = a0[j] * k4 - (a1[j] + a2[j]) * k6 + (a3[j] + a4[j]) * k24;
            g[3 * r + 1][j] = (a2[j] - a1[j]) * k6 + (a3[j] - a4[j]) * k12;
            g[3 * r + 2][j] = (a3[j] + a4[j] - a1[j] - a2[j]) * k6 + a5[j];
        }
    }
    float *restrict out = dw + j0 * 9;
    for (int64_t j = 0; j < m; j++)
        for (int r = 0; r < 9; r++) out[j * 9 + r] += g[r][j];
}

/* F(4x4) into MR-row panels (the GEMM kit's packed A, MR = 12): the filters (k0 + i, c0 + q),
 * i < 12 (rows mk and beyond zero), q < mc <= 16, of w (or w', as conv_wt2_chunk) give
 * Up[e * ldu + (c0 + q) * 12 + i] for the panel of rows k0 .. k0 + 11 at Up; the same
 * operations as conv_wt4_chunk */
void WT_FN(conv_wt4p_chunk)(float *restrict Up, int64_t ldu, const float *restrict w, int flip,
                            int64_t K, int64_t C, int64_t k0, int64_t mk, int64_t c0,
                            int64_t mc) {
    float g[9][192], t[18][192]; /* filter (k0 + i, c0 + q) at j = 12 q + i */
    const int64_t m = 12 * mc;
    for (int64_t q = 0; q < mc; q++)
        for (int64_t i = 0; i < 12; i++) {
            const int64_t j = 12 * q + i, k = k0 + i, c = c0 + q;
            if (i >= mk) {
                for (int r = 0; r < 9; r++) g[r][j] = 0.0f;
            } else if (flip) {
                const float *src = w + (c * K + k) * 9;
                for (int r = 0; r < 9; r++) g[r][j] = src[8 - r];
            } else {
                const float *src = w + (k * C + c) * 9;
                for (int r = 0; r < 9; r++) g[r][j] = src[r];
            }
        }
    WT_FN(wt4_apply)(Up + c0 * 12, ldu, g[0], t[0], 192, m);
}
