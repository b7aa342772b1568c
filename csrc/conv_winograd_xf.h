/* conv_winograd_xf.h — the input and output transforms of Winograd F(2x2, 3x3) for one row of
 * tiles, written as plain loops over the tiles of the row so that the compiler vectorises
 * them: included by conv_winograd.c (portable build) and conv_winograd_avx512.c (the same
 * code compiled for AVX-512), with WINO_FN(name) naming the two copies. Both compute every
 * value with the same operations in the same order, so they give the same bits.
 *
 * Input (tile row tp, channel c): the four input rows 2tp - ph + i (i < 4), zero-padded to
 * U = 2*TQ + 2 columns (column u is x column u - pw), are first combined down the rows,
 *   t0 = r0 - r2,  t1 = r1 + r2,  t2 = r2 - r1,  t3 = r1 - r3           (B^T d)
 * then along each tile's four columns 2tq .. 2tq + 3 (the same for every t_i)
 *   v[4i + 0] = t_i[2tq] - t_i[2tq+2],      v[4i + 1] = t_i[2tq+1] + t_i[2tq+2],
 *   v[4i + 2] = t_i[2tq+2] - t_i[2tq+1],    v[4i + 3] = t_i[2tq+1] - t_i[2tq+3]  ((B^T d) B)
 * and stored as V[e * lde + tq] for the 16 positions e.
 * Output (tile row tp, output channel k): m_e[tq] = M[e * lde + tq];
 *   s0_j = m_j + m_{4+j} + m_{8+j},  s1_j = m_{4+j} - m_{8+j} - m_{12+j}        (A^T m)
 *   y[2tp + i][2tq] = (s_i0 + s_i1 + s_i2) + b,  y[2tp + i][2tq + 1] = (s_i1 - s_i2 - s_i3) + b
 * (rows and columns beyond P, Q dropped), stored or added to y. */

/* buf: 4 * (2*TQ + 2) floats of scratch */
static void WINO_FN(wino_input_row)(float *restrict V, int64_t lde, const float *restrict x_c,
                                    int64_t H, int64_t W, int64_t h0, int64_t pw, int64_t TQ,
                                    float *restrict buf) {
    const int64_t U = 2 * TQ + 2;
    float *restrict r = buf; /* rows r_i at r + i*U, then t_i in place */
    for (int i = 0; i < 4; i++) {
        float *restrict ri = r + i * U;
        const int64_t h = h0 + i;
        if (h < 0 || h >= H) {
            for (int64_t u = 0; u < U; u++) ri[u] = 0.0f;
            continue;
        }
        const float *restrict xr = x_c + h * W;
        const int64_t lo = pw < U ? pw : U, hi = W + pw < U ? W + pw : U;
        for (int64_t u = 0; u < lo; u++) ri[u] = 0.0f;
        for (int64_t u = lo; u < hi; u++) ri[u] = xr[u - pw];
        for (int64_t u = hi; u < U; u++) ri[u] = 0.0f;
    }
    float *restrict r0 = r, *restrict r1 = r + U, *restrict r2 = r + 2 * U, *restrict r3 = r + 3 * U;
    for (int64_t u = 0; u < U; u++) {
        const float a = r0[u], b = r1[u], c = r2[u], d = r3[u];
        r0[u] = a - c;
        r1[u] = b + c;
        r2[u] = c - b;
        r3[u] = b - d;
    }
    for (int i = 0; i < 4; i++) {
        const float *restrict t = r + i * U;
        float *restrict v0 = V + (4 * i + 0) * lde, *restrict v1 = V + (4 * i + 1) * lde;
        float *restrict v2 = V + (4 * i + 2) * lde, *restrict v3 = V + (4 * i + 3) * lde;
        for (int64_t tq = 0; tq < TQ; tq++) {
            const float a = t[2 * tq], b = t[2 * tq + 1], c = t[2 * tq + 2], d = t[2 * tq + 3];
            v0[tq] = a - c;
            v1[tq] = b + c;
            v2[tq] = c - b;
            v3[tq] = b - d;
        }
    }
}

/* y0, y1: output rows 2tp and 2tp + 1 of channel k (y1 NULL past P); buf: 2 * 2*TQ floats */
static void WINO_FN(wino_output_row)(float *restrict y0, float *restrict y1,
                                     const float *restrict M, int64_t lde, int64_t TQ,
                                     int64_t Q, float b, int accumulate, float *restrict buf) {
    float *restrict o0 = buf, *restrict o1 = buf + 2 * TQ; /* interleaved output rows */
    for (int64_t tq = 0; tq < TQ; tq++) {
        float m[16];
        for (int e = 0; e < 16; e++) m[e] = M[e * lde + tq];
        const float s00 = m[0] + m[4] + m[8], s01 = m[1] + m[5] + m[9];
        const float s02 = m[2] + m[6] + m[10], s03 = m[3] + m[7] + m[11];
        const float s10 = m[4] - m[8] - m[12], s11 = m[5] - m[9] - m[13];
        const float s12 = m[6] - m[10] - m[14], s13 = m[7] - m[11] - m[15];
        o0[2 * tq] = (s00 + s01 + s02) + b;
        o0[2 * tq + 1] = (s01 - s02 - s03) + b;
        o1[2 * tq] = (s10 + s11 + s12) + b;
        o1[2 * tq + 1] = (s11 - s12 - s13) + b;
    }
    if (accumulate) {
        for (int64_t q = 0; q < Q; q++) y0[q] += o0[q];
        if (y1)
            for (int64_t q = 0; q < Q; q++) y1[q] += o1[q];
    } else {
        for (int64_t q = 0; q < Q; q++) y0[q] = o0[q];
        if (y1)
            for (int64_t q = 0; q < Q; q++) y1[q] = o1[q];
    }
}
