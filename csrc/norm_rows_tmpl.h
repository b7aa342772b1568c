/* norm_rows_tmpl.h — group and layer norm loops, the second dtype template of norm.c
 * (cpu.h's idiom: T, SUF, CR_FN(name); included after norm_tmpl.h, whose lane helpers it
 * uses). See norm.h for the layout (N, G, Cg, L) and the math.
 *
 * Forward: threads over rows; a row is read once for its statistics (float64 moments
 * about its first value, NL fixed lanes) and written once (y), the second touch from L1/L2.
 * Backward: threads over units (a chunk of RC samples, one group); per row one read of dy
 * and x for the two row sums (NL lanes), then dx; the parameter gradients go to per-chunk
 * partial sums (disjoint per unit) that are added up chunk by chunk in a fixed order at
 * the end. Chunks depend only on the shape, so every result is bitwise the same for any
 * thread count.
 */

/* out[k] = (p[k] - m) * (rs * w[k]) + b[k] (w, b may be NULL: 1 and 0) */
CR_CLONES static void CR_FN(affine_vec)(T *restrict out, const T *restrict p, T m, T rs,
                                      const T *restrict w, const T *restrict b, int64_t K) {
    if (w && b)
        for (int64_t k = 0; k < K; k++) out[k] = (p[k] - m) * (rs * w[k]) + b[k];
    else if (w)
        for (int64_t k = 0; k < K; k++) out[k] = (p[k] - m) * (rs * w[k]);
    else if (b)
        for (int64_t k = 0; k < K; k++) out[k] = (p[k] - m) * rs + b[k];
    else
        for (int64_t k = 0; k < K; k++) out[k] = (p[k] - m) * rs;
}

/* dx[k] = dy[k] * (rs * w[k]) + (x[k] - m) * bb + cc (w NULL: 1) */
CR_CLONES static void CR_FN(dx_vec)(T *restrict dx, const T *restrict dy, const T *restrict x,
                                  const T *restrict w, T m, T rs, T bb, T cc, int64_t K) {
    if (w)
        for (int64_t k = 0; k < K; k++) dx[k] = dy[k] * (rs * w[k]) + (x[k] - m) * bb + cc;
    else
        for (int64_t k = 0; k < K; k++) dx[k] = dy[k] * rs + (x[k] - m) * bb + cc;
}

/* per element (layer norm): acc[j] += g, acc[NL + j] += g * (x - m) over k % NL == j with
 * g = dy * w (w NULL: 1); the parameter partials are param_partials' */
CR_CLONES static void CR_FN(lane_wgrad)(double *restrict acc, const T *restrict dy,
                                      const T *restrict x, const T *restrict w, double m,
                                      int64_t K) {
    double a[NL], q[NL];
    for (int j = 0; j < NL; j++) a[j] = acc[j];
    for (int j = 0; j < NL; j++) q[j] = acc[NL + j];
    int64_t k = 0;
    for (; k + NL <= K; k += NL) {
        #pragma omp simd
        for (int j = 0; j < NL; j++) {
            const double g = (double)dy[k + j] * (w ? (double)w[k + j] : 1.0);
            a[j] += g;
            q[j] += g * ((double)x[k + j] - m);
        }
    }
    for (int j = 0; k + j < K; j++) {
        const double g = (double)dy[k + j] * (w ? (double)w[k + j] : 1.0);
        a[j] += g;
        q[j] += g * ((double)x[k + j] - m);
    }
    for (int j = 0; j < NL; j++) acc[j] = a[j];
    for (int j = 0; j < NL; j++) acc[NL + j] = q[j];
}

/* the chunk's parameter partials of layer norm, rows [n0, n1) (stride G*K between them):
 * p1[k] += dy, p2[k] += dy * (x - m) * rs, row after row for each k, 32 values of k at a
 * time in registers over the rows, so p1 and p2 are loaded and stored once per chunk (per
 * row and element, inside the row-sum pass, they were most of the layer-norm backward) */
CR_CLONES static void CR_FN(param_partials)(double *restrict p1, double *restrict p2,
                                          const T *restrict dy, const T *restrict x,
                                          const T *restrict mean, const T *restrict rstd,
                                          int64_t G, int64_t g, int64_t K, int64_t n0,
                                          int64_t n1) {
    enum { KB = 32 };
    int64_t k0 = 0;
    for (; k0 + KB <= K; k0 += KB) {
        double a[KB], q[KB];
        for (int j = 0; j < KB; j++) a[j] = p1 ? p1[k0 + j] : 0.0;
        for (int j = 0; j < KB; j++) q[j] = p2 ? p2[k0 + j] : 0.0;
        for (int64_t n = n0; n < n1; n++) {
            const int64_t r = n * G + g;
            const T *dyr = dy + r * K + k0, *xr = x + r * K + k0;
            const double m = (double)mean[r], rs = (double)rstd[r];
            #pragma omp simd
            for (int j = 0; j < KB; j++) {
                const double e = (double)dyr[j];
                a[j] += e;
                q[j] += e * ((double)xr[j] - m) * rs;
            }
        }
        if (p1) for (int j = 0; j < KB; j++) p1[k0 + j] = a[j];
        if (p2) for (int j = 0; j < KB; j++) p2[k0 + j] = q[j];
    }
    for (int64_t n = n0; n < n1 && k0 < K; n++) {
        const int64_t r = n * G + g;
        const double m = (double)mean[r], rs = (double)rstd[r];
        for (int64_t k = k0; k < K; k++) {
            const double e = (double)dy[r * K + k];
            if (p1) p1[k] += e;
            if (p2) p2[k] += e * ((double)x[r * K + k] - m) * rs;
        }
    }
}

void CR_FN(cr_row_norm_forward)(T *y, T *mean, T *rstd, double *var, const T *x,
                              const T *weight, const T *bias, int64_t N, int64_t G,
                              int64_t Cg, int64_t L, double eps) {
    const int64_t K = Cg * L, R = N * G;
    if (K <= 0) return;
    NORM_CHANNELS(R, R * K, {
        for (int64_t r = c0; r < c1; r++) {
            const int64_t g = r % G;
            const T *xr = x + r * K;
            double acc[2 * NL];
            for (int j = 0; j < 2 * NL; j++) acc[j] = 0.0;
            CR_FN(lane_moments)(acc, (double)xr[0], K, xr);
            const double d = lanes_total(acc) / (double)K, q = lanes_total(acc + NL) / (double)K;
            const double v = q - d * d > 0.0 ? q - d * d : 0.0;
            mean[r] = (T)((double)xr[0] + d);
            rstd[r] = (T)(1.0 / sqrt(v + eps));
            if (var) var[r] = v;
            const T m = mean[r], rs = rstd[r];
            const T *w = weight ? weight + g * Cg : NULL, *b = bias ? bias + g * Cg : NULL;
            if (L == 1) {
                CR_FN(affine_vec)(y + r * K, xr, m, rs, w, b, K);
                continue;
            }
            for (int64_t ci = 0; ci < Cg; ci++)
                CR_FN(affine_row)(y + r * K + ci * L, xr + ci * L, m, w ? rs * w[ci] : rs,
                                b ? b[ci] : (T)0, L);
        }
    });
}

/* rows of samples [n0, n1) in group g: dx and this chunk's parameter partials p1, p2 (the
 * Cg entries of group g, or NULL) */
static void CR_FN(rows_backward)(T *dx, double *p1, double *p2, const T *dy, const T *x,
                               const T *mean, const T *rstd, const T *weight, int64_t G,
                               int64_t Cg, int64_t L, int64_t n0, int64_t n1, int64_t g) {
    const int64_t K = Cg * L;
    const T *w = weight ? weight + g * Cg : NULL;
    for (int64_t n = n0; n < n1; n++) {
        const int64_t r = n * G + g;
        const T *xr = x + r * K, *dyr = dy + r * K;
        const double m = (double)mean[r], rs = (double)rstd[r];
        double A = 0.0, B = 0.0;  /* sum dy * w, sum dy * w * (x - m) over the row */
        double acc[2 * NL];
        if (L == 1) { /* the parameter partials after the rows (param_partials) */
            for (int j = 0; j < 2 * NL; j++) acc[j] = 0.0;
            CR_FN(lane_wgrad)(acc, dyr, xr, w, m, K);
            A = lanes_total(acc);
            B = lanes_total(acc + NL);
        } else {
            for (int64_t ci = 0; ci < Cg; ci++) {
                for (int j = 0; j < 2 * NL; j++) acc[j] = 0.0;
                CR_FN(lane_grad)(acc, m, L, dyr + ci * L, xr + ci * L);
                const double s1 = lanes_total(acc), s2 = lanes_total(acc + NL);
                const double wc = w ? (double)w[ci] : 1.0;
                A += wc * s1;
                B += wc * s2;
                if (p1) p1[ci] += s1;
                if (p2) p2[ci] += s2 * rs;
            }
        }
        if (dx == NULL) continue;
        const T bb = (T)(-rs * rs * rs * B / (double)K), cc = (T)(-rs * A / (double)K);
        if (L == 1) {
            CR_FN(dx_vec)(dx + r * K, dyr, xr, w, (T)m, (T)rs, bb, cc, K);
            continue;
        }
        for (int64_t ci = 0; ci < Cg; ci++)
            CR_FN(dx_row)(dx + r * K + ci * L, dyr + ci * L, xr + ci * L, (T)m,
                        (T)(rs * (w ? (double)w[ci] : 1.0)), bb, cc, L);
    }
    if (L == 1 && (p1 || p2)) CR_FN(param_partials)(p1, p2, dy, x, mean, rstd, G, g, K, n0, n1);
}

int CR_FN(cr_row_norm_backward)(T *dx, T *dweight, T *dbias, const T *dy, const T *x,
                              const T *mean, const T *rstd, const T *weight, int64_t N,
                              int64_t G, int64_t Cg, int64_t L) {
    const int64_t K = Cg * L, C = G * Cg;
    if (K <= 0 || N <= 0) {
        for (int64_t c = 0; c < C; c++) {
            if (dweight) dweight[c] = 0;
            if (dbias) dbias[c] = 0;
        }
        return 0;
    }
    const int64_t RC = L >= NORM_ROW_MIN ? 1 : (NORM_ROW_MIN + L - 1) / L;  /* samples/chunk */
    const int64_t chunks = (N + RC - 1) / RC;
    double *p1 = NULL, *p2 = NULL;
    if (dbias && !(p1 = (double *)calloc((size_t)(chunks * C), sizeof(double)))) return -1;
    if (dweight && !(p2 = (double *)calloc((size_t)(chunks * C), sizeof(double)))) {
        free(p1);
        return -1;
    }
    NORM_CHANNELS(chunks * G, N * G * K, {
        for (int64_t u = c0; u < c1; u++) {
            const int64_t ch = u / G, g = u % G, n0 = ch * RC;
            const int64_t n1 = n0 + RC < N ? n0 + RC : N;
            CR_FN(rows_backward)(dx, p1 ? p1 + ch * C + g * Cg : NULL,
                               p2 ? p2 + ch * C + g * Cg : NULL, dy, x, mean, rstd, weight,
                               G, Cg, L, n0, n1, g);
        }
    });
    if (p1 || p2)
        NORM_CHANNELS(C, chunks * C * 64, {  /* the chunks' partials, in chunk order */
            for (int64_t ch = 1; ch < chunks; ch++)
                for (int64_t c = c0; c < c1; c++) {
                    if (p1) p1[c] += p1[ch * C + c];
                    if (p2) p2[c] += p2[ch * C + c];
                }
            for (int64_t c = c0; c < c1; c++) {
                if (dbias) dbias[c] = (T)p1[c];
                if (dweight) dweight[c] = (T)p2[c];
            }
        });
    free(p1);
    free(p2);
    return 0;
}
