/* conv_depthwise_tmpl.h — the dtype template of conv_depthwise.c (cpu.h's idiom: T, SUF,
 * CR_FN(name)). Planes: x (H, W) padded to xp (Hp, Wp); y, dy (P, Q). DW_FAST_FWD(d) and
 * DW_FAST_BWD(d), when defined (float32 on x86), pick conv_depthwise.c's AVX-512 drivers
 * instead. */

/* xp = the plane x with ph/pw zeros around it */
static void CR_FN(dw_pad)(T *restrict xp, const T *restrict x, const cr_conv2d_dims *d) {
    const int64_t Wp = d->W + 2 * d->pw, Hp = d->H + 2 * d->ph;
    memset(xp, 0, (size_t)(Hp * Wp) * sizeof(T));
    for (int64_t i = 0; i < d->H; i++)
        memcpy(xp + (i + d->ph) * Wp + d->pw, x + i * d->W, (size_t)d->W * sizeof(T));
}

/* out[q] += a * in[q * st] for q < Q */
static inline void CR_FN(dw_axpy)(T *restrict out, const T *restrict in, T a, int64_t Q,
                                     int64_t st) {
    if (st == 1) {
        for (int64_t q = 0; q < Q; q++) out[q] += a * in[q];
    } else {
        for (int64_t q = 0; q < Q; q++) out[q] += a * in[q * st];
    }
}

/* out[q * st] += a * in[q] for q < Q */
static inline void CR_FN(dw_scatter)(T *restrict out, const T *restrict in, T a, int64_t Q,
                                        int64_t st) {
    if (st == 1) {
        for (int64_t q = 0; q < Q; q++) out[q] += a * in[q];
    } else {
        for (int64_t q = 0; q < Q; q++) out[q * st] += a * in[q];
    }
}

/* acc[q] += a[q] * b[q * st] for q < Q (lanes in double, summed once at the end) */
static inline void CR_FN(dw_lanes)(double *restrict acc, const T *restrict a,
                                   const T *restrict b, int64_t Q, int64_t st) {
    if (st == 1) {
        for (int64_t q = 0; q < Q; q++) acc[q] += (double)a[q] * (double)b[q];
    } else {
        for (int64_t q = 0; q < Q; q++) acc[q] += (double)a[q] * (double)b[q * st];
    }
}

CR_CLONES static void CR_FN(dw_plane_forward)(T *restrict y, const T *restrict xp,
                                              const T *restrict w, T bias,
                                              const cr_conv2d_dims *d) {
    const int64_t Wp = d->W + 2 * d->pw;
    for (int64_t p = 0; p < d->P; p++) {
        T *yr = y + p * d->Q;
        for (int64_t q = 0; q < d->Q; q++) yr[q] = bias;
        for (int64_t r = 0; r < d->R; r++) {
            const T *row = xp + (p * d->sh + r * d->dh) * Wp;
            for (int64_t s = 0; s < d->S; s++)
                CR_FN(dw_axpy)(yr, row + s * d->dw, w[r * d->S + s], d->Q, d->sw);
        }
    }
}

int CR_FN(cr_conv2d_depthwise_forward)(T *y, const T *x, const T *w, const T *b,
                                       const cr_conv2d_dims *d) {
#ifdef DW_FAST_FWD
    if (DW_FAST_FWD(d)) return DW_FAST_FORWARD(y, x, w, b, d);
#endif
    const int64_t planes = d->N * d->C, Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    const int nt = cr_threads_for((double)planes * d->P * d->Q * d->R * d->S, CONV_DW_MIN_WORK);
    int fail = 0;
#pragma omp parallel num_threads(nt) reduction(| : fail)
    {
        T *xp = malloc((size_t)(Hp * Wp) * sizeof(T));
        if (!xp) fail = 1;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < planes; i++) {
            if (!xp) continue;
            const int64_t c = i % d->C;
            CR_FN(dw_pad)(xp, x + i * d->H * d->W, d);
            CR_FN(dw_plane_forward)(y + i * d->P * d->Q, xp, w + c * d->R * d->S,
                                    b ? b[c] : (T)0, d);
        }
        free(xp);
    }
    return fail ? -1 : 0;
}

/* one channel c over all images in order: dw[c] += ..., db[c] += ..., dx planes += ...
 * acc: R*S*Q + Q double lanes (dw's per (r, s), then db's), summed in q order at the end */
CR_CLONES static void CR_FN(dw_channel_backward)(T *dx, T *dw, T *db, const T *dy, const T *x,
                                                 const T *w, const cr_conv2d_dims *d,
                                                 int64_t c, T *xp, T *dxp, double *acc) {
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw, RS = d->R * d->S;
    const int64_t PQ = d->P * d->Q, HW = d->H * d->W, Q = d->Q;
    double *bacc = acc + RS * Q;
    for (int64_t j = 0; j < (RS + 1) * Q; j++) acc[j] = 0;
    for (int64_t n = 0; n < d->N; n++) {
        const int64_t i = n * d->C + c;
        const T *g = dy + i * PQ;
        if (dw) CR_FN(dw_pad)(xp, x + i * HW, d);
        if (dx) memset(dxp, 0, (size_t)(Hp * Wp) * sizeof(T));
        for (int64_t p = 0; p < d->P; p++) {
            const T *gr = g + p * Q;
            if (db)
                for (int64_t q = 0; q < Q; q++) bacc[q] += (double)gr[q];
            for (int64_t r = 0; r < d->R; r++) {
                const int64_t o = (p * d->sh + r * d->dh) * Wp;
                for (int64_t s = 0; s < d->S; s++) {
                    if (dw) CR_FN(dw_lanes)(acc + (r * d->S + s) * Q, gr, xp + o + s * d->dw, Q,
                                            d->sw);
                    if (dx) CR_FN(dw_scatter)(dxp + o + s * d->dw, gr, w[c * RS + r * d->S + s],
                                              Q, d->sw);
                }
            }
        }
        if (dx) {
            T *out = dx + i * HW;
            for (int64_t h = 0; h < d->H; h++)
                for (int64_t v = 0; v < d->W; v++)
                    out[h * d->W + v] += dxp[(h + d->ph) * Wp + v + d->pw];
        }
    }
    for (int64_t j = 0; dw && j < RS; j++) {
        double t = 0;
        for (int64_t q = 0; q < Q; q++) t += acc[j * Q + q];
        dw[c * RS + j] += (T)t;
    }
    if (db) {
        double t = 0;
        for (int64_t q = 0; q < Q; q++) t += bacc[q];
        db[c] += (T)t;
    }
}

/* ACCUMULATES into dx (N, C, H, W), dw (C, 1, R, S), db (C,); each may be NULL. */
int CR_FN(cr_conv2d_depthwise_backward)(T *dx, T *dw, T *db, const T *dy, const T *x,
                                        const T *w, const cr_conv2d_dims *d) {
#ifdef DW_FAST_BWD
    if (DW_FAST_BWD(d)) return DW_FAST_BACKWARD(dx, dw, db, dy, x, w, d, 0);
#endif
    const int64_t Hp = d->H + 2 * d->ph, Wp = d->W + 2 * d->pw;
    const int nt = cr_threads_for((double)d->N * d->C * d->P * d->Q * d->R * d->S,
                                  CONV_DW_MIN_WORK);
    int fail = 0;
#pragma omp parallel num_threads(nt) reduction(| : fail)
    {
        T *xp = malloc((size_t)(2 * Hp * Wp) * sizeof(T));
        double *acc = malloc((size_t)((d->R * d->S + 1) * d->Q) * sizeof(double));
        if (!xp || !acc) fail = 1;
#pragma omp for schedule(static)
        for (int64_t c = 0; c < d->C; c++) {
            if (!xp || !acc) continue;
            CR_FN(dw_channel_backward)(dx, dw, db, dy, x, w, d, c, xp, xp + Hp * Wp, acc);
        }
        free(xp);
        free(acc);
    }
    return fail ? -1 : 0;
}

/* As above but dx and dw (when given) are written, not accumulated (db still +=): the fast
 * kernels write them straight; the plane loops accumulate into zeroed ones. */
int CR_FN(cr_conv2d_depthwise_backward_set)(T *dx, T *dw, T *db, const T *dy, const T *x,
                                            const T *w, const cr_conv2d_dims *d) {
#ifdef DW_FAST_BWD
    if (DW_FAST_BWD(d)) return DW_FAST_BACKWARD(dx, dw, db, dy, x, w, d, 1);
#endif
    if (dx) memset(dx, 0, (size_t)(d->N * d->C * d->H * d->W) * sizeof(T));
    if (dw) memset(dw, 0, (size_t)(d->C * d->R * d->S) * sizeof(T));
    return CR_FN(cr_conv2d_depthwise_backward)(dx, dw, db, dy, x, w, d);
}
