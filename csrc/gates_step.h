/* gates_step.h — the per-step kernels of the LSTM and GRU recurrences, for one element
 * type and one instruction set; included by gates_impl.h once per ISA with STEP(name)
 * and STEP_ATTR defined. Each works on rows [r0, r1) of the batch and on the panels
 * [p0, p1) (blocks of hidden units) of one step; all (.., H) buffers have row stride H,
 * gate buffers row stride 4H. The recurrent product is a register tile over a packed
 * panel; the gate math runs on the tile right after it (plain loops, `omp simd`). */

/* LSTM forward, panels of VL units x 4 gates. g_t holds x_t @ w_ih^T + b_ih on entry and
 * the activated i, f, g, o on exit; writes h_t, c_t. bh = b_hh (4H, zeros if no bias). */
STEP_ATTR
static void STEP(lstm_fwd_step)(REAL *g_t, REAL *h_t, REAL *c_t, const REAL *h_prev,
                                const REAL *c_prev, const REAL *Bp, const REAL *bh,
                                int64_t r0, int64_t r1, int64_t p0, int64_t p1, int64_t H) {
    enum { G = 4, MR = GT_MR_LSTM };
    REAL tile[GT_RB * G * VL] __attribute__((aligned(64)));
    for (int64_t p = p0; p < p1; p++) {
        const REAL *panel = Bp + p * H * G * VL;
        const int64_t j0 = p * VL, n = H - j0 < VL ? H - j0 : VL;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            SUF(gt_rows_product)(tile, h_prev, H, b0, b1, panel, H, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                REAL *g = g_t + row * 4 * H + j0;
                REAL *hr = h_t + row * H + j0, *cr = c_t + row * H + j0;
                const REAL *cp = c_prev + row * H + j0, *tl = tile + (row - b0) * G * VL;
                const REAL *b = bh + j0;
                #pragma omp simd
                for (int64_t c = 0; c < n; c++) {
                    const REAL ig = SUF(gt_sigmoid)(tl[c] + g[c] + b[c]);
                    const REAL fg = SUF(gt_sigmoid)(tl[VL + c] + g[H + c] + b[H + c]);
                    const REAL gg = SUF(gt_tanh)(tl[2 * VL + c] + g[2 * H + c] + b[2 * H + c]);
                    const REAL og = SUF(gt_sigmoid)(tl[3 * VL + c] + g[3 * H + c] + b[3 * H + c]);
                    const REAL cc = fg * cp[c] + ig * gg;
                    cr[c] = cc;
                    hr[c] = og * SUF(gt_tanh)(cc);
                    g[c] = ig;
                    g[H + c] = fg;
                    g[2 * H + c] = gg;
                    g[3 * H + c] = og;
                }
            }
        }
    }
}

/* LSTM backward, panels of 2*VL units: dh = dhs_t + dG_next @ w_hh (dG_next NULL at the
 * last step), dc (N, H) carries dL/dc from step t+1 to t; writes dG_t (pre-activation
 * gate gradients, (N, 4H)) and, if rowsq, rowsq[row * nb + p] = sum over the panel of dh^2. */
STEP_ATTR
static void STEP(lstm_bwd_step)(REAL *dG_t, REAL *dc, REAL *rowsq, const REAL *dG_next,
                                const REAL *dhs_t, const REAL *g_t, const REAL *c_t,
                                const REAL *c_prev, const REAL *Bp, int64_t r0, int64_t r1,
                                int64_t p0, int64_t p1, int64_t H) {
    enum { G = 2, MR = 8 };
    REAL tile[GT_RB * G * VL] __attribute__((aligned(64)));
    const int64_t NRB = G * VL, nb = (H + NRB - 1) / NRB, K = 4 * H;
    for (int64_t p = p0; p < p1; p++) {
        const REAL *panel = Bp + p * K * NRB;
        const int64_t j0 = p * NRB, n = H - j0 < NRB ? H - j0 : NRB;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            SUF(gt_rows_product)(tile, dG_next, K, b0, b1, panel, K, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                REAL *d = dG_t + row * K + j0, *dcr = dc + row * H + j0;
                const REAL *g = g_t + row * K + j0, *tl = tile + (row - b0) * NRB;
                const REAL *dh_out = dhs_t + row * H + j0;
                const REAL *cr = c_t + row * H + j0, *cp = c_prev + row * H + j0;
                REAL sq = 0;
                #pragma omp simd reduction(+ : sq)
                for (int64_t c = 0; c < n; c++) {
                    const REAL dh = tl[c] + dh_out[c];
                    sq += dh * dh;
                    const REAL ig = g[c], fg = g[H + c], gg = g[2 * H + c], og = g[3 * H + c];
                    const REAL tc = SUF(gt_tanh)(cr[c]);
                    const REAL dcc = dcr[c] + dh * og * ((REAL)1 - tc * tc);
                    d[c] = dcc * gg * ig * ((REAL)1 - ig);
                    d[H + c] = dcc * cp[c] * fg * ((REAL)1 - fg);
                    d[2 * H + c] = dcc * ig * ((REAL)1 - gg * gg);
                    d[3 * H + c] = dh * tc * og * ((REAL)1 - og);
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
static void STEP(gru_fwd_step)(REAL *g_t, REAL *h_t, const REAL *h_prev, const REAL *Bp,
                               const REAL *bh, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                               int64_t H) {
    enum { G = 3, MR = 8 };
    REAL tile[GT_RB * G * VL] __attribute__((aligned(64)));
    for (int64_t p = p0; p < p1; p++) {
        const REAL *panel = Bp + p * H * G * VL;
        const int64_t j0 = p * VL, n = H - j0 < VL ? H - j0 : VL;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            SUF(gt_rows_product)(tile, h_prev, H, b0, b1, panel, H, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                REAL *g = g_t + row * 4 * H + j0, *hr = h_t + row * H + j0;
                const REAL *hp = h_prev + row * H + j0, *tl = tile + (row - b0) * G * VL;
                const REAL *b = bh + j0;
                #pragma omp simd
                for (int64_t c = 0; c < n; c++) {
                    const REAL hn = tl[2 * VL + c] + b[2 * H + c];
                    const REAL r = SUF(gt_sigmoid)(g[c] + tl[c] + b[c]);
                    const REAL z = SUF(gt_sigmoid)(g[H + c] + tl[VL + c] + b[H + c]);
                    const REAL nn = SUF(gt_tanh)(g[2 * H + c] + r * hn);
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

/* GRU backward, panels of 2*VL units: dh = dhs_t + carry + dG_next[:, :3H] @ w_hh, carry
 * (N, H) = dh_{t+1} * z_{t+1} on entry and dh_t * z_t on exit; writes dG_t (N, 4H) =
 * dL/d(pre-activations) [r, z, hidden part of n (times r), input part of n]. */
STEP_ATTR
static void STEP(gru_bwd_step)(REAL *dG_t, REAL *carry, REAL *rowsq, const REAL *dG_next,
                               const REAL *dhs_t, const REAL *g_t, const REAL *h_prev,
                               const REAL *Bp, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                               int64_t H) {
    enum { G = 2, MR = 8 };
    REAL tile[GT_RB * G * VL] __attribute__((aligned(64)));
    const int64_t NRB = G * VL, nb = (H + NRB - 1) / NRB, K = 3 * H, ld = 4 * H;
    for (int64_t p = p0; p < p1; p++) {
        const REAL *panel = Bp + p * K * NRB;
        const int64_t j0 = p * NRB, n = H - j0 < NRB ? H - j0 : NRB;
        for (int64_t b0 = r0; b0 < r1; b0 += GT_RB) {
            const int64_t b1 = b0 + GT_RB < r1 ? b0 + GT_RB : r1;
            SUF(gt_rows_product)(tile, dG_next, ld, b0, b1, panel, K, G, MR);
            for (int64_t row = b0; row < b1; row++) {
                REAL *d = dG_t + row * ld + j0, *cy = carry + row * H + j0;
                const REAL *g = g_t + row * ld + j0, *tl = tile + (row - b0) * NRB;
                const REAL *dh_out = dhs_t + row * H + j0, *hp = h_prev + row * H + j0;
                REAL sq = 0;
                #pragma omp simd reduction(+ : sq)
                for (int64_t c = 0; c < n; c++) {
                    const REAL dh = tl[c] + dh_out[c] + cy[c];
                    sq += dh * dh;
                    const REAL r = g[c], z = g[H + c], nn = g[2 * H + c], hn = g[3 * H + c];
                    const REAL dn = dh * ((REAL)1 - z) * ((REAL)1 - nn * nn);
                    d[c] = dn * hn * r * ((REAL)1 - r);
                    d[H + c] = dh * (hp[c] - nn) * z * ((REAL)1 - z);
                    d[2 * H + c] = dn * r;
                    d[3 * H + c] = dn;
                    cy[c] = dh * z;
                }
                if (rowsq) rowsq[row * nb + p] = sq;
            }
        }
    }
}
