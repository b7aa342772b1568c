/* conv_grouped_tmpl.h — the im2col path of grouped convolution for one dtype (see
 * conv_grouped.c); included there with T, SUF and CONV_F32 (1 for float) defined.
 * g is one group of one image: g->N = 1, g->C = C/groups, g->K = K/groups. */

/* products: conv_mm / conv_mm_nt of conv_gemm_tmpl.h (the same choice of kernel) */

/* y_ng (Kg, PQ) = w_g @ im2col(x_ng) + b_g, `rows` output rows at a time. */
static void CR_FN(grp_fwd_item)(T *y, const T *x, const T *w, const T *b,
                                 const cr_conv2d_dims *g, int64_t rows, T *col) {
    const int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q, Q = g->Q;
    const int small = g->K <= 128 && CRS < 1024;
    if (conv_is_pointwise(g)) {
        CR_FN(conv_mm)(small, 0, g->K, PQ, g->C, w, g->C, x, PQ, y, PQ, 0, b);
        return;
    }
    for (int64_t p0 = 0; p0 < g->P; p0 += rows) {
        const int64_t p1 = p0 + rows < g->P ? p0 + rows : g->P, cols = (p1 - p0) * Q;
        CR_FN(conv_im2col_rows)(col, cols, x, g, 0, CRS, p0, p1);
        CR_FN(conv_mm)(small, 0, g->K, cols, CRS, w, CRS, col, cols, y + p0 * Q, PQ, 0, b);
    }
}

/* dx_ng (Cg, H, W) += col2im(w_g^T @ dy_ng), `rows` output rows at a time. */
static void CR_FN(grp_dx_item)(T *dx, const T *dy, const T *w, const cr_conv2d_dims *g,
                                int64_t rows, T *col) {
    const int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q, Q = g->Q;
    const int small = g->K <= 32 && CRS < 1024;
    if (conv_is_pointwise(g)) {
        CR_FN(conv_mm)(small, 1, g->C, PQ, g->K, w, g->C, dy, PQ, dx, PQ, 1, NULL);
        return;
    }
    for (int64_t p0 = 0; p0 < g->P; p0 += rows) {
        const int64_t p1 = p0 + rows < g->P ? p0 + rows : g->P, cols = (p1 - p0) * Q;
        CR_FN(conv_mm)(small, 1, CRS, cols, g->K, w, CRS, dy + p0 * Q, PQ, col, cols, 0, NULL);
        CR_FN(conv_col2im_rows)(dx, col, cols, g, 0, CRS, p0, p1);
    }
}

/* dw_g (Kg, CgRS) += dy_ng @ im2col(x_ng)^T, `rows` output rows at a time. */
static void CR_FN(grp_dw_item)(T *dw, const T *dy, const T *x, const cr_conv2d_dims *g,
                                int64_t rows, T *col) {
    const int64_t CRS = g->C * g->R * g->S, PQ = g->P * g->Q, Q = g->Q;
    if (conv_is_pointwise(g)) {
        CR_FN(conv_mm_nt)(g->K < 64, g->K, g->C, PQ, dy, PQ, x, PQ, dw, g->C);
        return;
    }
    for (int64_t p0 = 0; p0 < g->P; p0 += rows) {
        const int64_t p1 = p0 + rows < g->P ? p0 + rows : g->P, cols = (p1 - p0) * Q;
        CR_FN(conv_im2col_rows)(col, cols, x, g, 0, CRS, p0, p1);
        CR_FN(conv_mm_nt)(g->K < 64, g->K, CRS, cols, dy + p0 * Q, PQ, col, cols, dw, CRS);
    }
}

int CR_FN(cr_conv2d_grouped_forward)(T *out, const T *inp, const T *weight, const T *bias,
                                       const cr_conv2d_dims *d, int64_t groups) {
    const int64_t G = groups, N = d->N;
    const cr_conv2d_dims g = grp_dims(d, G);
    const int64_t CHWg = g.C * d->H * d->W, KPQg = g.K * d->P * d->Q, wsz = g.K * g.C * g.R * g.S;
#if CONV_F32 && defined(CR_X86)
    if (grp_path(d, G, 0, sizeof(T)) == CR_CONV_GROUPED_IMPLICIT)
        return grp_forward_implicit(out, inp, weight, bias, &g, G, N, 0);
#endif
    const int nt = cr_conv2d_grouped_threads(d, G);
    const int64_t rows = grp_rows(&g, sizeof(T)), per_t = grp_col_elems(&g, rows);
    T *ws = (T *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(T));
    if (per_t > 0 && !ws) return -1;
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < N * G; i++) {
        const int64_t n = i / G, j = i % G;
        CR_FN(grp_fwd_item)(out + (n * G + j) * KPQg, inp + (n * G + j) * CHWg,
                            weight + j * wsz, bias ? bias + j * g.K : NULL, &g, rows,
                            ws + CR_THREAD_NUM() * per_t);
    }
    conv_ws_free(ws);
    return 0;
}

int CR_FN(cr_conv2d_grouped_backward)(T *dinp, T *dweight, T *dbias, const T *dout,
                                        const T *inp, const T *weight, const cr_conv2d_dims *d,
                                        int64_t groups) {
    const int64_t G = groups, N = d->N;
    const cr_conv2d_dims g = grp_dims(d, G);
    const int64_t CHWg = g.C * d->H * d->W, KPQg = g.K * d->P * d->Q, wsz = g.K * g.C * g.R * g.S;
    const int nt = cr_conv2d_grouped_threads(d, G);
    if (dinp) {
#if CONV_F32 && defined(CR_X86)
        if (grp_path(d, G, 1, sizeof(T)) == CR_CONV_GROUPED_IMPLICIT) {
            if (grp_dx_implicit(dinp, dout, weight, &g, G, N) != 0) return -1;
        } else
#endif
        {
            const int64_t rows = grp_rows(&g, sizeof(T)), per_t = grp_col_elems(&g, rows);
            T *ws = (T *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(T));
            if (per_t > 0 && !ws) return -1;
            #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
            for (int64_t i = 0; i < N * G; i++) {
                const int64_t n = i / G, j = i % G;
                CR_FN(grp_dx_item)(dinp + (n * G + j) * CHWg, dout + (n * G + j) * KPQg,
                                   weight + j * wsz, &g, rows, ws + CR_THREAD_NUM() * per_t);
            }
            conv_ws_free(ws);
        }
    }
    if (!dweight && !dbias) return 0;
#if CONV_F32 && defined(CR_X86)
    if (grp_path(d, G, 2, sizeof(T)) == CR_CONV_GROUPED_IMPLICIT)
        return grp_dw_implicit(dweight, dbias, dout, inp, d, &g, G, N);
#endif
    const int64_t rows = grp_rows(&g, sizeof(T)), per_t = grp_col_elems(&g, rows);
    T *ws = (T *)conv_ws_alloc(nt * per_t * (int64_t)sizeof(T));
    if (per_t > 0 && !ws) return -1;
    /* threads own whole groups of dw (every image summed in order) and rows of db */
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), TT = CR_TEAM_SIZE();
        if (dbias) CR_FN(conv_bias_grad_rows)(dbias, dout, d, d->K * t / TT, d->K * (t + 1) / TT);
        if (dweight)
            for (int64_t j = G * t / TT; j < G * (t + 1) / TT; j++)
                for (int64_t n = 0; n < N; n++)
                    CR_FN(grp_dw_item)(dweight + j * wsz, dout + (n * G + j) * KPQg,
                                       inp + (n * G + j) * CHWg, &g, rows, ws + t * per_t);
    }
    conv_ws_free(ws);
    return 0;
}
