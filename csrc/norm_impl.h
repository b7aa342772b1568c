/* norm_impl.h — batch norm loops, included by norm.c once per dtype with T (float/double)
 * and SUF (f32/f64) defined. See norm.h for the math and the layout (N, C, L).
 *
 * Two loop orders, chosen by L:
 *   - L >= NORM_ROW_MIN (NCHW feature maps): one channel at a time, all passes over that
 *     channel back to back, so a channel's N*L values are read from memory once and the
 *     later passes find them in L2 (32 x 32 x 32 float32 = 128 KiB);
 *   - small L (NC, short NCL): row by row over a block of channels with per-channel
 *     accumulators, so memory is read in order instead of one value per cache line.
 * Either way every channel's sums run in one fixed order (lanes l % 8, rows in order).
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

/* acc[j] += sum of p[l] over l % 8 == j, l < L (the lane an element goes to is fixed). */
CR_CLONES static void FN(lane_sum_)(double *restrict acc, const T *restrict p, int64_t L) {
    int64_t l = 0;
    for (; l + 8 <= L; l += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)p[l + j];
    for (int j = 0; l + j < L; j++) acc[j] += (double)p[l + j];
}

/* acc[j] += (p[l] - m)^2 over l % 8 == j */
CR_CLONES static void FN(lane_sqdev_)(double *restrict acc, const T *restrict p, double m,
                                      int64_t L) {
    int64_t l = 0;
    for (; l + 8 <= L; l += 8)
        for (int j = 0; j < 8; j++) {
            const double d = (double)p[l + j] - m;
            acc[j] += d * d;
        }
    for (int j = 0; l + j < L; j++) {
        const double d = (double)p[l + j] - m;
        acc[j] += d * d;
    }
}

/* sdy[j] += dy[l], sdx[j] += dy[l] * (x[l] - m) over l % 8 == j: the backward's one pass */
CR_CLONES static void FN(lane_dydx_)(double *restrict sdy, double *restrict sdx,
                                     const T *restrict dy, const T *restrict x, double m,
                                     int64_t L) {
    int64_t l = 0;
    for (; l + 8 <= L; l += 8)
        for (int j = 0; j < 8; j++) {
            const double g = (double)dy[l + j];
            sdy[j] += g;
            sdx[j] += g * ((double)x[l + j] - m);
        }
    for (int j = 0; l + j < L; j++) {
        const double g = (double)dy[l + j];
        sdy[j] += g;
        sdx[j] += g * ((double)x[l + j] - m);
    }
}

/* out[l] = (p[l] - m) * a + b: y from x (a = weight * invstd, b = bias), or dx = dy * k in
 * evaluation mode. Centring first keeps y exact where x == mean (x * a + (b - m * a)
 * would cancel two large terms). */
CR_CLONES static void FN(affine_row_)(T *restrict out, const T *restrict p, T m, T a, T b,
                                      int64_t L) {
    for (int64_t l = 0; l < L; l++) out[l] = (p[l] - m) * a + b;
}

/* dx[l] = dy[l] * a + (x[l] - m) * b + c */
CR_CLONES static void FN(dx_row_)(T *restrict dx, const T *restrict dy, const T *restrict x,
                                  T m, T a, T b, T c, int64_t L) {
    for (int64_t l = 0; l < L; l++) dx[l] = dy[l] * a + (x[l] - m) * b + c;
}

/* s = weight * invstd (in double, then rounded to T) and t = bias */
static void FN(scale_shift_)(T *s, T *t, double invstd, const T *weight, const T *bias,
                             int64_t c) {
    *s = (T)((weight ? (double)weight[c] : 1.0) * invstd);
    *t = bias ? bias[c] : (T)0;
}

/* Per-channel statistics, mean in double: stats[2c] = mean, stats[2c + 1] = biased var,
 * for channels [c0, c1), small-L loop order. */
static void FN(stats_rows_)(double *stats, const T *x, int64_t N, int64_t C, int64_t L,
                            int64_t c0, int64_t c1) {
    const double M = (double)(N * L);
    for (int64_t c = c0; c < c1; c++) {
        double acc[8] = {0};
        for (int64_t n = 0; n < N; n++) FN(lane_sum_)(acc, x + (n * C + c) * L, L);
        stats[2 * c] = LANES_TOTAL(acc) / M;
    }
    for (int64_t c = c0; c < c1; c++) {
        double acc[8] = {0};
        const double m = stats[2 * c];
        for (int64_t n = 0; n < N; n++) FN(lane_sqdev_)(acc, x + (n * C + c) * L, m, L);
        stats[2 * c + 1] = LANES_TOTAL(acc) / M;
    }
}

/* Training forward of channels [c0, c1). */
static void FN(bn_forward_block_)(T *y, T *mean, T *invstd, double *var, const T *x,
                                  const T *weight, const T *bias, int64_t N, int64_t C,
                                  int64_t L, double eps, int64_t c0, int64_t c1) {
    const double M = (double)(N * L);
    for (int64_t c = c0; c < c1; c++) {
        double acc[8] = {0}, sq[8] = {0};
        for (int64_t n = 0; n < N; n++) FN(lane_sum_)(acc, x + (n * C + c) * L, L);
        const double m = LANES_TOTAL(acc) / M;
        for (int64_t n = 0; n < N; n++) FN(lane_sqdev_)(sq, x + (n * C + c) * L, m, L);
        const double v = LANES_TOTAL(sq) / M, is = 1.0 / sqrt(v + eps);
        mean[c] = (T)m;
        invstd[c] = (T)is;
        if (var) var[c] = v;
        T s, t;
        FN(scale_shift_)(&s, &t, is, weight, bias, c);
        for (int64_t n = 0; n < N; n++)
            FN(affine_row_)(y + (n * C + c) * L, x + (n * C + c) * L, mean[c], s, t, L);
    }
}

void FN(cr_batch_norm_forward_)(T *y, T *mean, T *invstd, double *var, const T *x,
                                const T *weight, const T *bias, int64_t N, int64_t C,
                                int64_t L, double eps) {
    if (L >= NORM_ROW_MIN) {
        NORM_CHANNELS(C, N * C * L, FN(bn_forward_block_)(y, mean, invstd, var, x, weight,
                                                          bias, N, C, L, eps, c0, c1));
        return;
    }
    NORM_CHANNELS(C, N * C * L, {
        double *st = (double *)malloc(sizeof(double) * 2 * (size_t)(c1 - c0) + 16);
        if (st == NULL) {  /* out of memory: per-channel order instead (same sums) */
            FN(bn_forward_block_)(y, mean, invstd, var, x, weight, bias, N, C, L, eps, c0, c1);
        } else {
            double *sts = st - 2 * c0;  /* indexed by the global channel */
            FN(stats_rows_)(sts, x, N, C, L, c0, c1);
            for (int64_t c = c0; c < c1; c++) {  /* stats -> (s, t), kept in st */
                const double is = 1.0 / sqrt(sts[2 * c + 1] + eps);
                T s, t;
                mean[c] = (T)sts[2 * c];
                invstd[c] = (T)is;
                if (var) var[c] = sts[2 * c + 1];
                FN(scale_shift_)(&s, &t, is, weight, bias, c);
                sts[2 * c] = (double)s;
                sts[2 * c + 1] = (double)t;
            }
            for (int64_t n = 0; n < N; n++)
                for (int64_t c = c0; c < c1; c++)
                    FN(affine_row_)(y + (n * C + c) * L, x + (n * C + c) * L, mean[c],
                                    (T)sts[2 * c], (T)sts[2 * c + 1], L);
            free(st);
        }
    });
}

void FN(cr_batch_norm_apply_)(T *y, const T *x, const T *mean, const T *invstd,
                              const T *weight, const T *bias, int64_t N, int64_t C,
                              int64_t L) {
    NORM_CHANNELS(C, N * C * L, {
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = c0; c < c1; c++) {
                T s, t;
                FN(scale_shift_)(&s, &t, (double)invstd[c], weight, bias, c);
                FN(affine_row_)(y + (n * C + c) * L, x + (n * C + c) * L, mean[c], s, t, L);
            }
    });
}

/* Backward of channels [c0, c1): reduction, then dx (see norm.h). With small L the
 * reductions of the block run row by row into per-channel lanes kept in red (16 per
 * channel), so memory is read in order. */
static void FN(bn_backward_block_)(T *dx, T *dweight, T *dbias, const T *dy, const T *x,
                                   const T *mean, const T *invstd, const T *weight,
                                   int64_t N, int64_t C, int64_t L, int training,
                                   int64_t c0, int64_t c1, double *red) {
    const double M = (double)(N * L);
    if (red != NULL) {  /* small L: rows in memory order */
        for (int64_t i = 0; i < 16 * (c1 - c0); i++) red[i] = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = c0; c < c1; c++)
                FN(lane_dydx_)(red + 16 * (c - c0), red + 16 * (c - c0) + 8,
                               dy + (n * C + c) * L, x + (n * C + c) * L, (double)mean[c], L);
    }
    for (int64_t c = c0; c < c1; c++) {
        const double m = (double)mean[c], is = (double)invstd[c];
        const double k = (weight ? (double)weight[c] : 1.0) * is;
        double sdy_l[8] = {0}, sdx_l[8] = {0};
        double *sdy = sdy_l, *sdx = sdx_l;
        if (red != NULL) {
            sdy = red + 16 * (c - c0);
            sdx = sdy + 8;
        } else if (training || dweight || dbias) {
            for (int64_t n = 0; n < N; n++)
                FN(lane_dydx_)(sdy, sdx, dy + (n * C + c) * L, x + (n * C + c) * L, m, L);
        }
        const double gb = LANES_TOTAL(sdy), gw = LANES_TOTAL(sdx) * is;
        if (dbias) dbias[c] = (T)gb;
        if (dweight) dweight[c] = (T)gw;
        if (dx == NULL || red != NULL) continue;  /* small L: dx below, in row order */
        for (int64_t n = 0; n < N; n++) {
            const int64_t o = (n * C + c) * L;
            if (training)
                FN(dx_row_)(dx + o, dy + o, x + o, mean[c], (T)k, (T)(-k * is * gw / M),
                            (T)(-k * gb / M), L);
            else
                FN(affine_row_)(dx + o, dy + o, (T)0, (T)k, (T)0, L);
        }
    }
    if (dx != NULL && red != NULL) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = c0; c < c1; c++) {
                const int64_t o = (n * C + c) * L;
                const double is = (double)invstd[c];
                const double k = (weight ? (double)weight[c] : 1.0) * is;
                if (training) {
                    const double *r = red + 16 * (c - c0);
                    const double gb = LANES_TOTAL(r), gw = LANES_TOTAL(r + 8) * is;
                    FN(dx_row_)(dx + o, dy + o, x + o, mean[c], (T)k, (T)(-k * is * gw / M),
                                (T)(-k * gb / M), L);
                } else {
                    FN(affine_row_)(dx + o, dy + o, (T)0, (T)k, (T)0, L);
                }
            }
    }
}

void FN(cr_batch_norm_backward_)(T *dx, T *dweight, T *dbias, const T *dy, const T *x,
                                 const T *mean, const T *invstd, const T *weight, int64_t N,
                                 int64_t C, int64_t L, int training) {
    NORM_CHANNELS(C, N * C * L, {
        double *red = NULL;
        if (L < NORM_ROW_MIN && (training || dweight || dbias))
            red = (double *)malloc(sizeof(double) * 16 * (size_t)(c1 - c0) + 16);
        FN(bn_backward_block_)(dx, dweight, dbias, dy, x, mean, invstd, weight, N, C, L,
                               training, c0, c1, red);
        free(red);
    });
}

#undef FN
#undef CAT
#undef CAT_
