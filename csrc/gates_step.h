/* gates_step.h — the per-step kernels of the LSTM and GRU recurrences, for one element
 * type and one instruction set; included by gates_tmpl.h once per ISA with STEP(name)
 * and STEP_ATTR defined. Each works on rows [r0, r1) of the batch and on the panels
 * [p0, p1) (blocks of hidden units) of one step; all (.., H) buffers have row stride H,
 * gate buffers row stride 4H. The recurrent product is a register tile over a packed
 * panel; the gate math runs on the tile right after it (plain loops, `omp simd`). */

/* LSTM forward, panels of VL units x 4 gates. g_t holds x_t @ w_ih^T + b_ih on entry and
 * the activated i, f, g, o on exit; writes h_t, c_t. bh = b_hh (4H, zeros if no bias). */
STEP_ATTR
static void STEP(lstm_fwd_step)(T *g_t, T *h_t, T *c_t, const T *h_prev,
                                const T *c_prev, const T *Bp, const T *bh,
                                int64_t r0, int64_t r1, int64_t p0, int64_t p1, int64_t H) {
    enum { G = 4, MR = GT_MR_LSTM };
    T tile[GT_RB * G * VL] __attribute__((aligned(64)));
    for (int64_t p = p0; p < p1; p++) {
        const T *panel = Bp + p * H * G * VL;
        const int64_t j0 = p * VL, n = H - j0 < VL ? H - j0 : VL;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            CR_FN(gt_rows_product)(tile, h_prev, H, b0, b1, panel, H, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                T *g = g_t + row * 4 * H + j0;
                T *hr = h_t + row * H + j0, *cr = c_t + row * H + j0;
                const T *cp = c_prev + row * H + j0, *tl = tile + (row - b0) * G * VL;
                const T *b = bh + j0;
                #pragma omp simd
                for (int64_t c = 0; c < n; c++) {
                    const T ig = CR_FN(gt_sigmoid)(tl[c] + g[c] + b[c]);
                    const T fg = CR_FN(gt_sigmoid)(tl[VL + c] + g[H + c] + b[H + c]);
                    const T gg = CR_FN(gt_tanh)(tl[2 * VL + c] + g[2 * H + c] + b[2 * H + c]);
                    const T og = CR_FN(gt_sigmoid)(tl[3 * VL + c] + g[3 * H + c] + b[3 * H + c]);
                    const T cc = fg * cp[c] + ig * gg;
                    cr[c] = cc;
                    hr[c] = og * CR_FN(gt_tanh)(cc);
                    g[c] = ig;
                    g[H + c] = fg;
                    g[2 * H + c] = gg;
                    g[3 * H + c] = og;
                }
            }
        }
    }
}

/* LSTM backward, panels of GT_BWD_G*VL units: dh = dhs_t + dG_next @ w_hh (dG_next NULL at the
 * last step), dc (N, H) carries dL/dc from step t+1 to t; writes dG_t (pre-activation
 * gate gradients, (N, 4H)) and, if rowsq, rowsq[row * nb + p] = sum over the panel of dh^2. */
STEP_ATTR
static void STEP(lstm_bwd_step)(T *dG_t, T *dc, T *rowsq, const T *dG_next,
                                const T *dhs_t, const T *g_t, const T *c_t,
                                const T *c_prev, const T *Bp, int64_t r0, int64_t r1,
                                int64_t p0, int64_t p1, int64_t H) {
    enum { G = GT_BWD_G, MR = GT_MR_BWD };
    T tile[GT_RB * G * VL] __attribute__((aligned(64)));
    const int64_t NRB = G * VL, nb = (H + NRB - 1) / NRB, K = 4 * H;
    for (int64_t p = p0; p < p1; p++) {
        const T *panel = Bp + p * K * NRB;
        const int64_t j0 = p * NRB, n = H - j0 < NRB ? H - j0 : NRB;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            CR_FN(gt_rows_product)(tile, dG_next, K, b0, b1, panel, K, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                T *d = dG_t + row * K + j0, *dcr = dc + row * H + j0;
                const T *g = g_t + row * K + j0, *tl = tile + (row - b0) * NRB;
                const T *dh_out = dhs_t + row * H + j0;
                const T *cr = c_t + row * H + j0, *cp = c_prev + row * H + j0;
                T sq = 0;
                #pragma omp simd reduction(+ : sq)
                for (int64_t c = 0; c < n; c++) {
                    const T dh = tl[c] + dh_out[c];
                    sq += dh * dh;
                    const T ig = g[c], fg = g[H + c], gg = g[2 * H + c], og = g[3 * H + c];
                    const T tc = CR_FN(gt_tanh)(cr[c]);
                    const T dcc = dcr[c] + dh * og * ((T)1 - tc * tc);
                    d[c] = dcc * gg * ig * ((T)1 - ig);
                    d[H + c] = dcc * cp[c] * fg * ((T)1 - fg);
                    d[2 * H + c] = dcc * ig * ((T)1 - gg * gg);
                    d[3 * H + c] = dh * tc * og * ((T)1 - og);
                    dcr[c] = dcc * fg;
                }
                if (rowsq) rowsq[row * nb + p] = sq;
            }
        }
    }
}

/* GRU forward, panels of VL units x 3 gates. g_t (N, 4H) holds x_t @ w_ih^T + b_ih in its
 * first 3H columns on entry and r, z, n, W_hn h_prev + b_hn on exit; writes h_t. */
STEP_ATTR
static void STEP(gru_fwd_step)(T *g_t, T *h_t, const T *h_prev, const T *Bp,
                               const T *bh, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                               int64_t H) {
    enum { G = 3, MR = 8 };
    T tile[GT_RB * G * VL] __attribute__((aligned(64)));
    for (int64_t p = p0; p < p1; p++) {
        const T *panel = Bp + p * H * G * VL;
        const int64_t j0 = p * VL, n = H - j0 < VL ? H - j0 : VL;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            CR_FN(gt_rows_product)(tile, h_prev, H, b0, b1, panel, H, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                T *g = g_t + row * 4 * H + j0, *hr = h_t + row * H + j0;
                const T *hp = h_prev + row * H + j0, *tl = tile + (row - b0) * G * VL;
                const T *b = bh + j0;
                #pragma omp simd
                for (int64_t c = 0; c < n; c++) {
                    const T hn = tl[2 * VL + c] + b[2 * H + c];
                    const T r = CR_FN(gt_sigmoid)(g[c] + tl[c] + b[c]);
                    const T z = CR_FN(gt_sigmoid)(g[H + c] + tl[VL + c] + b[H + c]);
                    const T nn = CR_FN(gt_tanh)(g[2 * H + c] + r * hn);
                    hr[c] = nn + z * (hp[c] - nn);
                    g[c] = r;
                    g[H + c] = z;
                    g[2 * H + c] = nn;
                    g[3 * H + c] = hn;
                }
            }
        }
    }
}

/* GRU backward, panels of GT_BWD_G*VL units: dh = dhs_t + carry + dG_next[:, :3H] @ w_hh, carry
 * (N, H) = dh_{t+1} * z_{t+1} on entry and dh_t * z_t on exit; writes dG_t (N, 4H) =
 * dL/d(pre-activations) [r, z, hidden part of n (times r), input part of n]. */
STEP_ATTR
static void STEP(gru_bwd_step)(T *dG_t, T *carry, T *rowsq, const T *dG_next,
                               const T *dhs_t, const T *g_t, const T *h_prev,
                               const T *Bp, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                               int64_t H) {
    enum { G = GT_BWD_G, MR = GT_MR_BWD };
    T tile[GT_RB * G * VL] __attribute__((aligned(64)));
    const int64_t NRB = G * VL, nb = (H + NRB - 1) / NRB, K = 3 * H, ld = 4 * H;
    for (int64_t p = p0; p < p1; p++) {
        const T *panel = Bp + p * K * NRB;
        const int64_t j0 = p * NRB, n = H - j0 < NRB ? H - j0 : NRB;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            CR_FN(gt_rows_product)(tile, dG_next, ld, b0, b1, panel, K, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                T *d = dG_t + row * ld + j0, *cy = carry + row * H + j0;
                const T *g = g_t + row * ld + j0, *tl = tile + (row - b0) * NRB;
                const T *dh_out = dhs_t + row * H + j0, *hp = h_prev + row * H + j0;
                T sq = 0;
                #pragma omp simd reduction(+ : sq)
                for (int64_t c = 0; c < n; c++) {
                    const T dh = tl[c] + dh_out[c] + cy[c];
                    sq += dh * dh;
                    const T r = g[c], z = g[H + c], nn = g[2 * H + c], hn = g[3 * H + c];
                    const T dn = dh * ((T)1 - z) * ((T)1 - nn * nn);
                    d[c] = dn * hn * r * ((T)1 - r);
                    d[H + c] = dh * (hp[c] - nn) * z * ((T)1 - z);
                    d[2 * H + c] = dn * r;
                    d[3 * H + c] = dn;
                    cy[c] = dh * z;
                }
                if (rowsq) rowsq[row * nb + p] = sq;
            }
        }
    }
}
