/* conv_winograd4_xf.h — the input and output transforms of Winograd F(4x4, 3x3) for one row
 * of tiles, plain loops over the tiles of the row for the compiler to vectorise: included by
 * conv_winograd4.c (portable build) and conv_winograd4_avx512.c (the same code compiled for
 * AVX-512), with WINO4_FN(name) naming the two copies. Every multiplication is by a power of
 * two (exact), so a compiler that fuses a multiply and an add gives the same bits: both
 * builds compute every value with the same roundings.
 *
 * Input (tile row tp, channel c): the six input rows 4tp - ph + i (i < 6), zero-padded to
 * U = 4*TQ + 2 columns (column u is x column u - pw), are combined down the rows (B^T d),
 *   t0 = 4(r0 - r2) + (r4 - r2),     t1 = (r4 - 4 r2) + (r3 - 4 r1),
 *   t2 = (r4 - 4 r2) - (r3 - 4 r1),  t3 = (r4 - r2) + 2(r3 - r1),
 *   t4 = (r4 - r2) - 2(r3 - r1),     t5 = 4(r1 - r3) + (r5 - r3),
 * then the same along each tile's six columns 4tq .. 4tq + 5 ((B^T d) B), stored as
 * V[e * lde + tq] for the 36 positions e = 6i + j.
 * Output (tile row tp, output channel k): m_e[tq] = M[e * lde + tq]; down the rows (A^T m)
 * with p = m1 + m2, q = m1 - m2, r = m3 + m4, s = m3 - m4 (of rows 1..4 of the 6x6 tile):
 *   s0 = m0 + p + r,  s1 = q + 2s,  s2 = p + 4r,  s3 = (q + 8s) + m5,
 * then the same along the columns, plus the bias; rows and columns beyond P, Q dropped. */

#if defined(__GNUC__) && !defined(__clang__)
#define CR_IVDEP _Pragma("GCC ivdep")
#else
#define CR_IVDEP
#endif

/* The 1-D transforms, on 6 values: B^T v (input) and A^T v (output), as in the comment above */
#define WINO4_BT(a, b, c, d, e, f, o0, o1, o2, o3, o4, o5) do {                      \
        const float ec_ = (e) - 4.0f * (c), db_ = (d) - 4.0f * (b);                  \
        const float e_c_ = (e) - (c), d_b_ = (d) - (b);                              \
        o0 = 4.0f * ((a) - (c)) + e_c_;  o1 = ec_ + db_;  o2 = ec_ - db_;             \
        o3 = e_c_ + 2.0f * d_b_;  o4 = e_c_ - 2.0f * d_b_;                            \
        o5 = 4.0f * ((b) - (d)) + ((f) - (d));                                        \
    } while (0)
#define WINO4_AT(a, b, c, d, e, f, o0, o1, o2, o3) do {                              \
        const float p_ = (b) + (c), q_ = (b) - (c), r_ = (d) + (e), t_ = (d) - (e);   \
        o0 = ((a) + p_) + r_;  o1 = q_ + 2.0f * t_;  o2 = p_ + 4.0f * r_;             \
        o3 = (q_ + 8.0f * t_) + (f);                                                  \
    } while (0)

/* buf: 48 * (TQ + 1) floats of scratch. Input rows are staged zero-padded (row i at
 * buf + i*L, L = 4*(TQ+1)), then split by column phase (t_i of column 4tq + l at
 * ph + (4i + l)*(TQ+1) + tq) so every later loop over tiles reads contiguous memory. */
static void WINO4_FN(wino4_input_row)(float *restrict V, int64_t lde, const float *restrict x_c,
                                      int64_t H, int64_t W, int64_t h0, int64_t pw, int64_t TQ,
                                      float *restrict buf) {
    const int64_t T1 = TQ + 1, L = 4 * T1;
    float *restrict ph = buf + 6 * L;
    for (int i = 0; i < 6; i++) {
        float *restrict ri = buf + i * L;
        const int64_t h = h0 + i;
        if (h < 0 || h >= H) {
            for (int64_t u = 0; u < L; u++) ri[u] = 0.0f;
            continue;
        }
        const float *restrict xr = x_c + h * W;
        const int64_t lo = pw < L ? pw : L, hi = W + pw < L ? W + pw : L;
        for (int64_t u = 0; u < lo; u++) ri[u] = 0.0f;
        for (int64_t u = lo; u < hi; u++) ri[u] = xr[u - pw];
        for (int64_t u = hi; u < L; u++) ri[u] = 0.0f;
    }
    /* down the rows, four column phases at a time (t_i, i < 6, phase l at (4i + l)*T1) */
    for (int l = 0; l < 4; l++) {
        const float *restrict r0 = buf + l, *restrict r1 = r0 + L, *restrict r2 = r0 + 2 * L;
        const float *restrict r3 = r0 + 3 * L, *restrict r4 = r0 + 4 * L, *restrict r5 = r0 + 5 * L;
        float *restrict t0 = ph + l * T1, *restrict t1 = t0 + 4 * T1, *restrict t2 = t0 + 8 * T1;
        float *restrict t3 = t0 + 12 * T1, *restrict t4 = t0 + 16 * T1, *restrict t5 = t0 + 20 * T1;
        CR_IVDEP
        for (int64_t j = 0; j < T1; j++)
            WINO4_BT(r0[4 * j], r1[4 * j], r2[4 * j], r3[4 * j], r4[4 * j], r5[4 * j],
                     t0[j], t1[j], t2[j], t3[j], t4[j], t5[j]);
    }
    for (int i = 0; i < 6; i++) { /* along the columns: 4tq + 0..3 and 4(tq+1) + 0..1 */
        const float *restrict a = ph + 4 * i * T1, *restrict b = a + T1;
        const float *restrict c = a + 2 * T1, *restrict d = a + 3 * T1;
        float *restrict v0 = V + (6 * i + 0) * lde, *restrict v1 = V + (6 * i + 1) * lde;
        float *restrict v2 = V + (6 * i + 2) * lde, *restrict v3 = V + (6 * i + 3) * lde;
        float *restrict v4 = V + (6 * i + 4) * lde, *restrict v5 = V + (6 * i + 5) * lde;
        CR_IVDEP
        for (int64_t tq = 0; tq < TQ; tq++)
            WINO4_BT(a[tq], b[tq], c[tq], d[tq], a[tq + 1], b[tq + 1],
                     v0[tq], v1[tq], v2[tq], v3[tq], v4[tq], v5[tq]);
    }
}

/* y[i]: output row 4tp + i of channel k (NULL past P); buf: 16 * TQ + 4 * 4 * TQ floats.
 * First down the rows (s_ij, i < 4, j < 6 at buf + (6i + j)*TQ), then along the columns
 * into the four interleaved rows o_i (4*TQ each, after the s), then to y. */
static void WINO4_FN(wino4_output_row)(float *const y[4], const float *restrict M, int64_t lde,
                                       int64_t TQ, int64_t Q, float bias, int accumulate,
                                       float *restrict buf) {
    for (int j = 0; j < 6; j++) {
        const float *restrict m0 = M + j * lde, *restrict m1 = M + (6 + j) * lde;
        const float *restrict m2 = M + (12 + j) * lde, *restrict m3 = M + (18 + j) * lde;
        const float *restrict m4 = M + (24 + j) * lde, *restrict m5 = M + (30 + j) * lde;
        float *restrict s0 = buf + j * TQ, *restrict s1 = buf + (6 + j) * TQ;
        float *restrict s2 = buf + (12 + j) * TQ, *restrict s3 = buf + (18 + j) * TQ;
        for (int64_t tq = 0; tq < TQ; tq++)
            WINO4_AT(m0[tq], m1[tq], m2[tq], m3[tq], m4[tq], m5[tq], s0[tq], s1[tq], s2[tq],
                     s3[tq]);
    }
    float *restrict o = buf + 24 * TQ;
    for (int i = 0; i < 4; i++) {
        const float *restrict s = buf + 6 * i * TQ;
        float *restrict oi = o + 4 * i * TQ;
        for (int64_t tq = 0; tq < TQ; tq++) {
            float a0, a1, a2, a3;
            WINO4_AT(s[tq], s[TQ + tq], s[2 * TQ + tq], s[3 * TQ + tq], s[4 * TQ + tq],
                     s[5 * TQ + tq], a0, a1, a2, a3);
            oi[4 * tq + 0] = a0 + bias;
            oi[4 * tq + 1] = a1 + bias;
            oi[4 * tq + 2] = a2 + bias;
            oi[4 * tq + 3] = a3 + bias;
        }
    }
    for (int i = 0; i < 4; i++) {
        float *restrict yi = y[i];
        const float *restrict oi = o + 4 * i * TQ;
        if (!yi) break;
        if (accumulate)
            for (int64_t q = 0; q < Q; q++) yi[q] += oi[q];
        else
            for (int64_t q = 0; q < Q; q++) yi[q] = oi[q];
    }
}

/* dw: the 6x6 gradient tiles A dY A^T of one row of 4x4 dy tiles (the adjoint of the output
 * transform): with A^T as above, on 4 values a, b, c, d (powers of two only, as above)
 *   o0 = a,  o1 = (a + c) + (b + d),  o2 = (a + c) - (b + d),
 *   o3 = (a + 4c) + (2b + 8d),  o4 = (a + 4c) - (2b + 8d),  o5 = d,
 * down the rows, then along the columns: Mg[e * lde + tq] for e = 6i + j.
 * yr: the 4 dy rows of the tile row, zero-padded to 4*TQ columns, row i at yr + i*ldy;
 * buf: 24 * TQ floats. */
#define WINO4_A(a, b, c, d, o0, o1, o2, o3, o4, o5) do {                              \
        const float ac_ = (a) + (c), bd_ = (b) + (d);                                  \
        const float a4c_ = (a) + 4.0f * (c), b2d8_ = 2.0f * (b) + 8.0f * (d);          \
        o0 = (a);  o1 = ac_ + bd_;  o2 = ac_ - bd_;                                    \
        o3 = a4c_ + b2d8_;  o4 = a4c_ - b2d8_;  o5 = (d);                              \
    } while (0)
static void WINO4_FN(wino4_grad_row)(float *restrict Mg, int64_t lde, const float *restrict yr,
                                     int64_t ldy, int64_t TQ, float *restrict buf) {
    for (int l = 0; l < 4; l++) { /* t_i of column 4tq + l at buf + (4i + l)*TQ + tq */
        const float *restrict r0 = yr + l, *restrict r1 = r0 + ldy;
        const float *restrict r2 = r0 + 2 * ldy, *restrict r3 = r0 + 3 * ldy;
        float *restrict t0 = buf + l * TQ, *restrict t1 = t0 + 4 * TQ, *restrict t2 = t0 + 8 * TQ;
        float *restrict t3 = t0 + 12 * TQ, *restrict t4 = t0 + 16 * TQ, *restrict t5 = t0 + 20 * TQ;
        CR_IVDEP
        for (int64_t j = 0; j < TQ; j++)
            WINO4_A(r0[4 * j], r1[4 * j], r2[4 * j], r3[4 * j], t0[j], t1[j], t2[j], t3[j],
                    t4[j], t5[j]);
    }
    for (int i = 0; i < 6; i++) {
        const float *restrict a = buf + 4 * i * TQ, *restrict b = a + TQ;
        const float *restrict c = a + 2 * TQ, *restrict d = a + 3 * TQ;
        float *restrict v0 = Mg + (6 * i + 0) * lde, *restrict v1 = Mg + (6 * i + 1) * lde;
        float *restrict v2 = Mg + (6 * i + 2) * lde, *restrict v3 = Mg + (6 * i + 3) * lde;
        float *restrict v4 = Mg + (6 * i + 4) * lde, *restrict v5 = Mg + (6 * i + 5) * lde;
        CR_IVDEP
        for (int64_t tq = 0; tq < TQ; tq++)
            WINO4_A(a[tq], b[tq], c[tq], d[tq], v0[tq], v1[tq], v2[tq], v3[tq], v4[tq], v5[tq]);
    }
}
