/* rnn_impl.h — the RNN kernels for one element type; included by rnn.c only, with
 * REAL (float/double), SUF(name) (adds _f32/_f64) and GEMM (cr_gemm_f32/_f64) defined. */

/* h = act(a) -> act'(a), written through the output h (no need to keep a). */
static inline REAL SUF(act_grad_from_output)(REAL h, int act) {
    switch (act) {
    case CR_ACT_TANH: return 1 - h * h;
    case CR_ACT_SIGMOID: return h * (1 - h);
    case CR_ACT_RELU: return h > 0 ? (REAL)1 : (REAL)0;
    default: return 1;
    }
}

/* hs[t] = act(x[t] @ w_ih^T + b_ih + hs[t-1] @ w_hh^T + b_hh),  hs[-1] = h0.
 * x (T,N,I) h0 (N,H) w_ih (H,I) w_hh (H,H) b_ih b_hh (H or NULL) -> hs (T,N,H) */
int SUF(cr_rnn_forward)(REAL *hs, const REAL *x, const REAL *h0, const REAL *w_ih,
                        const REAL *w_hh, const REAL *b_ih, const REAL *b_hh, int act,
                        int64_t T, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H;
    if (T == 0 || NH == 0) return 0;
    /* input projection of every step at once: hs (T*N x H) = x (T*N x I) @ w_ih^T + b_ih */
    GEMM(0, 1, T * N, H, I, 1, x, I > 0 ? I : 1, w_ih, I > 0 ? I : 1, 0, hs, H,
         b_ih, NULL, CR_ACT_NONE);
    for (int64_t t = 0; t < T; t++) {
        const REAL *h_prev = t > 0 ? hs + (t - 1) * NH : h0;
        REAL *h_t = hs + t * NH;
        /* h_t = act(h_prev @ w_hh^T + h_t + b_hh) */
        GEMM(0, 1, N, H, H, 1, h_prev, H, w_hh, H, 1, h_t, H, b_hh, NULL, act);
    }
    return 0;
}

/* Full BPTT; accumulates into dx (T,N,I) dh0 (N,H) dw_ih (H,I) dw_hh (H,H) db_* (H);
 * writes dh_norms[t] = ||dL/dh_t|| (Frobenius over N x H) when dh_norms is not NULL. */
int SUF(cr_rnn_backward)(REAL *dx, REAL *dh0, REAL *dw_ih, REAL *dw_hh, REAL *db_ih,
                         REAL *db_hh, double *dh_norms, const REAL *dhs, const REAL *x,
                         const REAL *h0, const REAL *hs, const REAL *w_ih, const REAL *w_hh,
                         int act, int64_t T, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H;
    if (T == 0 || NH == 0) {
        if (dh_norms) for (int64_t t = 0; t < T; t++) dh_norms[t] = 0;
        return 0;
    }
    REAL *da = (REAL *)malloc((size_t)(T * NH) * sizeof(REAL)); /* dL/da_t, (T, N, H) */
    if (!da) return -1;

    /* the serial walk back through time */
    for (int64_t t = T - 1; t >= 0; t--) {
        REAL *da_t = da + t * NH;
        const REAL *h_t = hs + t * NH;
        /* dh_t = dhs_t + da_{t+1} @ w_hh   (into the da_t slot) */
        memcpy(da_t, dhs + t * NH, (size_t)NH * sizeof(REAL));
        if (t < T - 1) GEMM(0, 0, N, H, H, 1, da_t + NH, H, w_hh, H, 1, da_t, H, NULL, NULL, CR_ACT_NONE);
        if (dh_norms) {
            double s = 0;
            for (int64_t i = 0; i < NH; i++) s += (double)da_t[i] * (double)da_t[i];
            dh_norms[t] = sqrt(s);
        }
        /* da_t = dh_t * act'(a_t) */
        for (int64_t i = 0; i < NH; i++) da_t[i] *= SUF(act_grad_from_output)(h_t[i], act);
    }
    /* dh0 += da_1 @ w_hh */
    GEMM(0, 0, N, H, H, 1, da, H, w_hh, H, 1, dh0, H, NULL, NULL, CR_ACT_NONE);
    if (I > 0) {
        /* dw_ih += da^T (H x T*N) @ x (T*N x I);   dx += da (T*N x H) @ w_ih (H x I) */
        GEMM(1, 0, H, I, T * N, 1, da, H, x, I, 1, dw_ih, I, NULL, NULL, CR_ACT_NONE);
        GEMM(0, 0, T * N, I, H, 1, da, H, w_ih, I, 1, dx, I, NULL, NULL, CR_ACT_NONE);
    }
    /* dw_hh += da^T @ [h0, h_1 .. h_{T-1}]: the step-1 block against h0, the rest against hs */
    GEMM(1, 0, H, H, N, 1, da, H, h0, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    if (T > 1)
        GEMM(1, 0, H, H, (T - 1) * N, 1, da + NH, H, hs, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    /* db_ih = db_hh += sum over the T*N rows of da; each column is summed in row order by
     * one thread, so the result does not depend on the thread count. */
    if (db_ih || db_hh) {
        const int64_t R = T * N;
        int nt = cr_in_parallel() ? 1 : cr_get_num_threads();
        if (R * H < 32768) nt = 1;
        #pragma omp parallel num_threads(nt)
        {
            int nthr = 1, tid = 0;
#ifdef _OPENMP
            nthr = omp_get_num_threads();
            tid = omp_get_thread_num();
#endif
            int64_t j0 = H * tid / nthr, j1 = H * (tid + 1) / nthr;
            for (int64_t j = j0; j < j1; j++) {
                REAL s = 0;
                for (int64_t r = 0; r < R; r++) s += da[r * H + j];
                if (db_ih) db_ih[j] += s;
                if (db_hh) db_hh[j] += s;
            }
        }
    }
    free(da);
    return 0;
}
