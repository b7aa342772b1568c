/* gates_drive.h — the LSTM / GRU entry points for one element type (see gates.c for the
 * design); included by gates_tmpl.h. */

static T *CR_FN(gt_alloc)(int64_t n) {
    size_t bytes = ((size_t)n * sizeof(T) + 63) / 64 * 64;
    return (T *)aligned_alloc(64, bytes ? bytes : 64);
}

/* How the recurrence is split: over the batch rows (no barrier), or over the `panels`
 * blocks of hidden units (one barrier per step) when a thread would get fewer than
 * GT_MIN_ROWS rows (too few for the register tiles) or when w_hh (G*H*H elements of
 * `elem` bytes) is larger than GT_L2_BYTES: then every thread would stream all of it from
 * L3 at every step, while a thread owning a slice of the hidden units reads only the rows
 * of its slice, which can stay in its own L2 across the T steps. */
static int CR_FN(gt_plan)(int64_t steps, int64_t N, int64_t H, int G, int64_t panels,
                          int *by_hidden) {
    *by_hidden = 0;
    int64_t nt = cr_threads_for((double)steps * (double)N * (double)H * (double)H * G,
                                GT_PAR_MIN_FLOPS);
    const double wbytes = (double)G * (double)H * (double)H * (double)sizeof(T);
    if (nt > 1 && (N < GT_MIN_ROWS * nt || wbytes > GT_L2_BYTES)) {
        *by_hidden = 1;
        if (nt > panels) nt = panels;
    }
    return nt < 1 ? 1 : (int)nt;
}

/* this thread's rows [r0, r1) and panels [p0, p1) */
static void CR_FN(gt_share)(int by_hidden, int64_t N, int64_t panels, int tid, int nthr,
                          int64_t *r0, int64_t *r1, int64_t *p0, int64_t *p1) {
    *r0 = 0; *r1 = N; *p0 = 0; *p1 = panels;
    if (by_hidden) {
        *p0 = panels * tid / nthr;
        *p1 = panels * (tid + 1) / nthr;
    } else {
        *r0 = N * tid / nthr;
        *r1 = N * (tid + 1) / nthr;
    }
}

/* colsum[j] = sum over the R rows of A[r][j], j < W (row stride ld): each thread owns a
 * range of columns and walks the rows in order -> one order whatever the thread count */
static void CR_FN(gt_colsum)(T *colsum, const T *A, int64_t R, int64_t W, int64_t ld) {
    const int ntc = cr_threads_for((double)R * (double)W, GT_COLSUM_MIN);
    #pragma omp parallel num_threads(ntc)
    {
        const int tid = CR_THREAD_NUM(), nthr = CR_TEAM_SIZE();
        const int64_t j0 = W * tid / nthr, j1 = W * (tid + 1) / nthr;
        for (int64_t j = j0; j < j1; j++) colsum[j] = 0;
        for (int64_t r = 0; r < R; r++) {
            const T *a = A + r * ld;
            for (int64_t j = j0; j < j1; j++) colsum[j] += a[j];
        }
    }
}

/* dw_hh += dGh^T @ [h0, h_1 .. h_{T-1}]: ONE product with K = T*N over the previous
 * states copied behind each other (dGh: G*H columns of dG, row stride ld); -1 if the copy
 * cannot be allocated */
static int CR_FN(gt_dw_hh)(T *dw_hh, const T *dG, int64_t ld, int64_t GH, const T *h0,
                           const T *hs, int64_t Ts, int64_t N, int64_t H) {
    const int64_t NH = N * H;
    T *hp = (T *)malloc((size_t)(Ts * NH) * sizeof(T));
    if (!hp) return -1;
    memcpy(hp, h0, (size_t)NH * sizeof(T));
    if (Ts > 1) memcpy(hp + NH, hs, (size_t)((Ts - 1) * NH) * sizeof(T));
    GEMM(1, 0, GH, H, Ts * N, 1, dG, ld, hp, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    free(hp);
    return 0;
}

/* dh_norms[t] = sqrt(sum over rows and panels of rowsq), summed in one order */
static void CR_FN(gt_norms)(double *dh_norms, const T *rowsq, int64_t steps, int64_t N,
                          int64_t nb) {
    for (int64_t t = 0; t < steps; t++) {
        double s = 0;
        for (int64_t i = 0; i < N * nb; i++) s += (double)rowsq[t * N * nb + i];
        dh_norms[t] = sqrt(s);
    }
}

int CR_FN(cr_lstm_forward)(T *hs, T *cs, T *gates, const T *x, const T *h0,
                         const T *c0, const T *w_ih, const T *w_hh, const T *b_ih,
                         const T *b_hh, int64_t Ts, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H, GH = 4 * H, np = (H + VL - 1) / VL;
    if (Ts == 0 || NH == 0) return 0;
    T *Bp = CR_FN(gt_alloc)(np * H * 4 * VL);
    T *bh = (T *)calloc((size_t)GH, sizeof(T));
    if (!Bp || !bh) { free(Bp); free(bh); return -1; }
    if (b_hh) memcpy(bh, b_hh, (size_t)GH * sizeof(T));
    /* input projection of every step: gates (T*N x 4H) = x @ w_ih^T + b_ih */
    GEMM(0, 1, Ts * N, GH, I, 1, x, I > 0 ? I : 1, w_ih, I > 0 ? I : 1, 0, gates, GH, b_ih,
         NULL, CR_ACT_NONE);
    const CR_FN(gt_steps) st = CR_FN(gt_pick)();
    int by_hidden;
    const int nt = CR_FN(gt_plan)(Ts, N, H, 4, np, &by_hidden);
    #pragma omp parallel num_threads(nt)
    {
        #pragma omp for schedule(static)
        for (int64_t p = 0; p < np; p++) CR_FN(gt_pack_fwd)(Bp, w_hh, 4, p, H);
        int64_t r0, r1, p0, p1;
        CR_FN(gt_share)(by_hidden, N, np, CR_THREAD_NUM(), CR_TEAM_SIZE(), &r0, &r1, &p0, &p1);
        for (int64_t t = 0; t < Ts; t++) {
            const T *hp = t > 0 ? hs + (t - 1) * NH : h0, *cp = t > 0 ? cs + (t - 1) * NH : c0;
            st.lstm_fwd(gates + t * N * GH, hs + t * NH, cs + t * NH, hp, cp, Bp, bh, r0, r1,
                        p0, p1, H);
            if (by_hidden) {
                #pragma omp barrier
            }
        }
    }
    free(Bp); free(bh);
    return 0;
}

int CR_FN(cr_lstm_backward)(T *dx, T *dh0, T *dc0, T *dw_ih, T *dw_hh,
                          T *db_ih, T *db_hh, double *dh_norms, const T *dhs,
                          const T *dc_n, const T *x, const T *h0, const T *c0,
                          const T *w_ih, const T *w_hh, const T *hs, const T *cs,
                          const T *gates, int64_t Ts, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H, GH = 4 * H, NRB = GT_BWD_G * VL, nb = (H + NRB - 1) / NRB;
    if (Ts == 0 || NH == 0) {
        if (dh_norms) for (int64_t t = 0; t < Ts; t++) dh_norms[t] = 0;
        if (Ts == 0 && dc_n) for (int64_t i = 0; i < NH; i++) dc0[i] += dc_n[i]; /* c_n = c0 */
        return 0;
    }
    T *dG = (T *)malloc((size_t)(Ts * N * GH) * sizeof(T));
    T *Bp = CR_FN(gt_alloc)(nb * GH * NRB);
    T *dc = (T *)malloc((size_t)NH * sizeof(T));
    T *rowsq = dh_norms ? (T *)malloc((size_t)(Ts * N * nb) * sizeof(T)) : NULL;
    T *colsum = (T *)malloc((size_t)GH * sizeof(T));
    if (!dG || !Bp || !dc || !colsum || (dh_norms && !rowsq)) {
        free(dG); free(Bp); free(dc); free(rowsq); free(colsum);
        return -1;
    }
    if (dc_n) memcpy(dc, dc_n, (size_t)NH * sizeof(T));
    else memset(dc, 0, (size_t)NH * sizeof(T));
    const CR_FN(gt_steps) st = CR_FN(gt_pick)();
    int by_hidden;
    const int nt = CR_FN(gt_plan)(Ts, N, H, 4, nb, &by_hidden);
    #pragma omp parallel num_threads(nt)
    {
        #pragma omp for schedule(static)
        for (int64_t p = 0; p < nb; p++) CR_FN(gt_pack_bwd)(Bp, w_hh, 4, p, H);
        int64_t r0, r1, p0, p1;
        CR_FN(gt_share)(by_hidden, N, nb, CR_THREAD_NUM(), CR_TEAM_SIZE(), &r0, &r1, &p0, &p1);
        for (int64_t t = Ts - 1; t >= 0; t--) {
            st.lstm_bwd(dG + t * N * GH, dc, rowsq ? rowsq + t * N * nb : NULL,
                        t < Ts - 1 ? dG + (t + 1) * N * GH : NULL, dhs + t * NH,
                        gates + t * N * GH, cs + t * NH, t > 0 ? cs + (t - 1) * NH : c0, Bp,
                        r0, r1, p0, p1, H);
            if (by_hidden) {
                #pragma omp barrier
            }
        }
    }
    if (dh_norms) CR_FN(gt_norms)(dh_norms, rowsq, Ts, N, nb);
    for (int64_t i = 0; i < NH; i++) dc0[i] += dc[i];
    /* dh0 += dG_1 @ w_hh */
    GEMM(0, 0, N, H, GH, 1, dG, GH, w_hh, H, 1, dh0, H, NULL, NULL, CR_ACT_NONE);
    if (I > 0) {
        /* dw_ih += dG^T (4H x T*N) @ x;  dx += dG @ w_ih */
        GEMM(1, 0, GH, I, Ts * N, 1, dG, GH, x, I, 1, dw_ih, I, NULL, NULL, CR_ACT_NONE);
        if (dx) GEMM(0, 0, Ts * N, I, GH, 1, dG, GH, w_ih, I, 1, dx, I, NULL, NULL, CR_ACT_NONE);
    }
    /* dw_hh += dG^T @ [h0, h_1 .. h_{T-1}] */
    int rc = CR_FN(gt_dw_hh)(dw_hh, dG, GH, GH, h0, hs, Ts, N, H);
    if (db_ih || db_hh) {
        CR_FN(gt_colsum)(colsum, dG, Ts * N, GH, GH);
        for (int64_t j = 0; j < GH; j++) {
            if (db_ih) db_ih[j] += colsum[j];
            if (db_hh) db_hh[j] += colsum[j];
        }
    }
    free(dG); free(Bp); free(dc); free(rowsq); free(colsum);
    return rc;
}

int CR_FN(cr_gru_forward)(T *hs, T *gates, const T *x, const T *h0, const T *w_ih,
                        const T *w_hh, const T *b_ih, const T *b_hh, int64_t Ts,
                        int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H, ld = 4 * H, np = (H + VL - 1) / VL;
    if (Ts == 0 || NH == 0) return 0;
    T *Bp = CR_FN(gt_alloc)(np * H * 3 * VL);
    T *bh = (T *)calloc((size_t)(3 * H), sizeof(T));
    if (!Bp || !bh) { free(Bp); free(bh); return -1; }
    if (b_hh) memcpy(bh, b_hh, (size_t)(3 * H) * sizeof(T));
    /* input projection of every step into the first 3H columns of gates (row stride 4H) */
    GEMM(0, 1, Ts * N, 3 * H, I, 1, x, I > 0 ? I : 1, w_ih, I > 0 ? I : 1, 0, gates, ld, b_ih,
         NULL, CR_ACT_NONE);
    const CR_FN(gt_steps) st = CR_FN(gt_pick)();
    int by_hidden;
    const int nt = CR_FN(gt_plan)(Ts, N, H, 3, np, &by_hidden);
    #pragma omp parallel num_threads(nt)
    {
        #pragma omp for schedule(static)
        for (int64_t p = 0; p < np; p++) CR_FN(gt_pack_fwd)(Bp, w_hh, 3, p, H);
        int64_t r0, r1, p0, p1;
        CR_FN(gt_share)(by_hidden, N, np, CR_THREAD_NUM(), CR_TEAM_SIZE(), &r0, &r1, &p0, &p1);
        for (int64_t t = 0; t < Ts; t++) {
            st.gru_fwd(gates + t * N * ld, hs + t * NH, t > 0 ? hs + (t - 1) * NH : h0, Bp, bh,
                       r0, r1, p0, p1, H);
            if (by_hidden) {
                #pragma omp barrier
            }
        }
    }
    free(Bp); free(bh);
    return 0;
}

int CR_FN(cr_gru_backward)(T *dx, T *dh0, T *dw_ih, T *dw_hh, T *db_ih,
                         T *db_hh, double *dh_norms, const T *dhs, const T *x,
                         const T *h0, const T *w_ih, const T *w_hh, const T *hs,
                         const T *gates, int64_t Ts, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H, ld = 4 * H, NRB = GT_BWD_G * VL, nb = (H + NRB - 1) / NRB;
    if (Ts == 0 || NH == 0) {
        if (dh_norms) for (int64_t t = 0; t < Ts; t++) dh_norms[t] = 0;
        return 0;
    }
    T *dG = (T *)malloc((size_t)(Ts * N * ld) * sizeof(T));
    T *Bp = CR_FN(gt_alloc)(nb * 3 * H * NRB);
    T *carry = (T *)calloc((size_t)NH, sizeof(T));
    T *rowsq = dh_norms ? (T *)malloc((size_t)(Ts * N * nb) * sizeof(T)) : NULL;
    T *colsum = (T *)malloc((size_t)ld * sizeof(T));
    if (!dG || !Bp || !carry || !colsum || (dh_norms && !rowsq)) {
        free(dG); free(Bp); free(carry); free(rowsq); free(colsum);
        return -1;
    }
    const CR_FN(gt_steps) st = CR_FN(gt_pick)();
    int by_hidden;
    const int nt = CR_FN(gt_plan)(Ts, N, H, 3, nb, &by_hidden);
    #pragma omp parallel num_threads(nt)
    {
        #pragma omp for schedule(static)
        for (int64_t p = 0; p < nb; p++) CR_FN(gt_pack_bwd)(Bp, w_hh, 3, p, H);
        int64_t r0, r1, p0, p1;
        CR_FN(gt_share)(by_hidden, N, nb, CR_THREAD_NUM(), CR_TEAM_SIZE(), &r0, &r1, &p0, &p1);
        for (int64_t t = Ts - 1; t >= 0; t--) {
            st.gru_bwd(dG + t * N * ld, carry, rowsq ? rowsq + t * N * nb : NULL,
                       t < Ts - 1 ? dG + (t + 1) * N * ld : NULL, dhs + t * NH,
                       gates + t * N * ld, t > 0 ? hs + (t - 1) * NH : h0, Bp, r0, r1, p0, p1,
                       H);
            if (by_hidden) {
                #pragma omp barrier
            }
        }
    }
    if (dh_norms) CR_FN(gt_norms)(dh_norms, rowsq, Ts, N, nb);
    /* dh0 += dh_1 * z_1 + dGh_1 @ w_hh, dGh = the first 3H columns of dG */
    for (int64_t i = 0; i < NH; i++) dh0[i] += carry[i];
    GEMM(0, 0, N, H, 3 * H, 1, dG, ld, w_hh, H, 1, dh0, H, NULL, NULL, CR_ACT_NONE);
    if (I > 0) {
        /* dGx = dG columns [0, 2H) (r, z) and [3H, 4H) (n): two blocks of w_ih's rows */
        GEMM(1, 0, 2 * H, I, Ts * N, 1, dG, ld, x, I, 1, dw_ih, I, NULL, NULL, CR_ACT_NONE);
        GEMM(1, 0, H, I, Ts * N, 1, dG + 3 * H, ld, x, I, 1, dw_ih + 2 * H * I, I, NULL, NULL,
             CR_ACT_NONE);
        GEMM(0, 0, Ts * N, I, 2 * H, 1, dG, ld, w_ih, I, 1, dx, I, NULL, NULL, CR_ACT_NONE);
        GEMM(0, 0, Ts * N, I, H, 1, dG + 3 * H, ld, w_ih + 2 * H * I, I, 1, dx, I, NULL, NULL,
             CR_ACT_NONE);
    }
    /* dw_hh += dGh^T @ [h0, h_1 .. h_{T-1}] */
    int rc = CR_FN(gt_dw_hh)(dw_hh, dG, ld, 3 * H, h0, hs, Ts, N, H);
    if (db_ih || db_hh) {
        CR_FN(gt_colsum)(colsum, dG, Ts * N, ld, ld);
        for (int64_t j = 0; j < 3 * H; j++) {
            if (db_ih) db_ih[j] += colsum[j < 2 * H ? j : j + H];
            if (db_hh) db_hh[j] += colsum[j];
        }
    }
    free(dG); free(Bp); free(carry); free(rowsq); free(colsum);
    return rc;
}
