/* conv_winograd.c — the Winograd F(2x2, 3x3) forward for float32 stride-1, undilated 3x3
 * layers (CONV_WINOGRAD; chosen by the plan only when CHAINRULE_CONV_ALGO=winograd).
 *
 * Each 2x2 output tile is  Y = A^T [ (G g G^T) .* (B^T d B) ] A  for the 4x4 input patch d
 * around it, so the products over channels become 16 matrix products, one per position e
 * of the 4x4 transformed tile:  M[e] (K x T) = U[e] (K x C) @ V[e] (C x T), T tiles.
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * 2.25x fewer multiplications than the direct sum; the transforms add rounding (the float32
 * error bound is tested against the float64 reference in tests/test_conv_plan.py).
 * Tiles of one image are taken in blocks of tile rows so the scratch (U, V and M of a block)
 * stays under the workspace limit; threads split channels in the transforms (no shared
 * sums) and run the products (cr_gemm), so results do not depend on the thread count. */
#include <string.h>
#include "conv_internal.h"

/* U[e][k*C + c] = (G g G^T)[e] for the 3x3 filter g = w[k, c] */
static void weight_transform(float *U, const float *w, int64_t K, int64_t C) {
    for (int64_t kc = 0; kc < K * C; kc++) {
        const float *g = w + kc * 9;
        float t[4][3], u[4][4];
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            u[i][0] = t[i][0];
            u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            u[i][3] = t[i][2];
        }
        for (int e = 0; e < 16; e++) U[e * K * C + kc] = u[e / 4][e % 4];
    }
}

int conv_forward_winograd_f32(float *out, const float *inp, const float *w, const float *bias,
                              const cr_conv2d_dims *d, const conv_plan *pl) {
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, P = d->P, Q = d->Q;
    const int64_t TQ = (Q + 1) / 2, TP = (P + 1) / 2, rows_b = pl->bl.rows, Tmax = rows_b * TQ;
    const int nt = pl->nt;
    float *ws = (float *)conv_ws_alloc(pl->ws_bytes);
    if (!ws) return -1;
    float *U = ws, *V = U + 16 * K * C, *M = V + 16 * C * Tmax;
    weight_transform(U, w, K, C);
    for (int64_t n = 0; n < N; n++) {
        const float *x_n = inp + n * C * H * W;
        float *y_n = out + n * K * P * Q;
        for (int64_t tp0 = 0; tp0 < TP; tp0 += rows_b) {
            const int64_t tp1 = tp0 + rows_b < TP ? tp0 + rows_b : TP, T = (tp1 - tp0) * TQ;
            #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (int64_t c = 0; c < C; c++) {
                const float *x_c = x_n + c * H * W;
                float vt[16 * TQ]; /* one row of tiles by position e, copied out in 16 runs
                                    * (one store per tile to 16 far-apart rows thrashes the TLB) */
                for (int64_t tp = tp0; tp < tp1; tp++) {
                    for (int64_t tq = 0; tq < TQ; tq++) {
                        float dd[4][4], t[4][4];
                        const int64_t h0 = 2 * tp - d->ph, w0 = 2 * tq - d->pw;
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) {
                                const int64_t h = h0 + i, x = w0 + j;
                                dd[i][j] = h >= 0 && h < H && x >= 0 && x < W ? x_c[h * W + x] : 0.0f;
                            }
                        for (int j = 0; j < 4; j++) { /* B^T d */
                            t[0][j] = dd[0][j] - dd[2][j];
                            t[1][j] = dd[1][j] + dd[2][j];
                            t[2][j] = dd[2][j] - dd[1][j];
                            t[3][j] = dd[1][j] - dd[3][j];
                        }
                        for (int i = 0; i < 4; i++) { /* (B^T d) B */
                            vt[(4 * i + 0) * TQ + tq] = t[i][0] - t[i][2];
                            vt[(4 * i + 1) * TQ + tq] = t[i][1] + t[i][2];
                            vt[(4 * i + 2) * TQ + tq] = t[i][2] - t[i][1];
                            vt[(4 * i + 3) * TQ + tq] = t[i][1] - t[i][3];
                        }
                    }
                    for (int e = 0; e < 16; e++)
                        memcpy(V + (e * C + c) * T + (tp - tp0) * TQ, vt + e * TQ,
                               (size_t)TQ * sizeof(float));
                }
            }
            for (int e = 0; e < 16; e++)
                cr_gemm_f32(0, 0, K, T, C, 1.0f, U + e * K * C, C, V + e * C * T, T, 0.0f,
                            M + e * K * T, T, NULL, NULL, CR_ACT_NONE);
            #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (int64_t k = 0; k < K; k++) {
                const float b = bias ? bias[k] : 0.0f;
                for (int64_t tp = tp0; tp < tp1; tp++) {
                    const float *mk = M + k * T + (tp - tp0) * TQ; /* position e at e*K*T */
                    const int64_t p0 = 2 * tp;
                    for (int64_t tq = 0; tq < TQ; tq++) {
                        float s[2][4];
                        for (int j = 0; j < 4; j++) { /* A^T m */
                            const float m0 = mk[j * K * T + tq], m1 = mk[(4 + j) * K * T + tq];
                            const float m2 = mk[(8 + j) * K * T + tq], m3 = mk[(12 + j) * K * T + tq];
                            s[0][j] = m0 + m1 + m2;
                            s[1][j] = m1 - m2 - m3;
                        }
                        const int64_t q0 = 2 * tq;
                        for (int i = 0; i < 2; i++) {
                            if (p0 + i >= P) break;
                            float *y = y_n + (k * P + p0 + i) * Q + q0;
                            y[0] = (s[i][0] + s[i][1] + s[i][2]) + b;
                            if (q0 + 1 < Q) y[1] = (s[i][1] - s[i][2] - s[i][3]) + b;
                        }
                    }
                }
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}
