/* norm_small_tmpl.h — batch norm over short rows (L <= NL: NC, or NCHW with HW <= 16,
 * e.g. the 4x4 and 2x2 maps at the end of MobileNet), a dtype template of norm.c (cpu.h's
 * idiom: T, SUF, CR_FN(name); included after norm_tmpl.h, whose blocks call it).
 *
 * With L <= NL element l of a row goes to lane l, so a channel's lanes are its L columns
 * summed over n in order. Here the channel block [b0, b1) of sample n is one contiguous run
 * of K = (b1 - b0) * L values: each pass is one flat loop over it with per-element copies
 * of the per-channel constants, instead of a call (and a copy of the NL lanes in and out)
 * per row of L values. Same operations in the same order as the row loops of norm_tmpl.h
 * (lanes L .. NL - 1 stay 0), so the results are bitwise those of the general path.
 * The sums keep NL values' accumulators in registers over all N samples (SMALL_SUMS), so
 * a block is read once per pass. Scratch w: 3 L doubles and 7 L values per channel
 * (NORM_SCRATCH). */

/* values per run of the write passes: their per-value constants (up to 7 arrays) stay in L1 */
#define NORM_SMALL_RUN 256

/* The sums over the N rows (row n at p + n * ld) of a block's K values, for each value e
 * in n order: A[e] = sum u, Q[e] = sum u * v (i: the value's index in row n), with
 *   small_moments:      u = v = p - k
 *   small_grad:         u = dy, v = x - k
 *   small_grad_relu:    u = dy masked by the relu output r (r > 0), v = x - k
 *   small_grad_relu_x:  u = dy masked by the forward's (x - fm) * fa + fb > 0 (relu_mask_row's
 *                       expression, so bitwise its mask), v = x - k
 * (k, fm, fa, fb per value). Each chunk of NL values keeps its sums in registers over all
 * N rows (one load per value and row, no stores in the loop); a tail of K % NL values sums
 * in memory, in the same order. */
#define SMALL_SUMS(NAME, U, V, ...)                                                       \
    CR_CLONES static void CR_FN(NAME)(double *restrict A, double *restrict Q,             \
                                      const double *restrict k, int64_t ld, int64_t N,    \
                                      int64_t K, __VA_ARGS__) {                           \
        int64_t s = 0;                                                                    \
        for (; s + NL <= K; s += NL) {                                                    \
            double a[NL], q[NL];                                                          \
            for (int j = 0; j < NL; j++) a[j] = q[j] = 0.0;                               \
            for (int64_t n = 0; n < N; n++) {                                             \
                _Pragma("omp simd")                                                       \
                for (int j = 0; j < NL; j++) {                                            \
                    const int64_t e = s + j, i = n * ld + e;                              \
                    const double u = (U), v = (V);                                        \
                    a[j] += u;                                                            \
                    q[j] += u * v;                                                        \
                }                                                                         \
            }                                                                             \
            for (int j = 0; j < NL; j++) A[s + j] = a[j], Q[s + j] = q[j];                \
        }                                                                                 \
        for (int64_t e = s; e < K; e++) A[e] = Q[e] = 0.0;                                \
        for (int64_t n = 0; n < N && s < K; n++)                                          \
            for (int64_t e = s; e < K; e++) {                                             \
                const int64_t i = n * ld + e;                                             \
                const double u = (U), v = (V);                                            \
                A[e] += u;                                                                \
                Q[e] += u * v;                                                            \
            }                                                                             \
    }

SMALL_SUMS(small_moments, (double)p[i] - k[e], (double)p[i] - k[e], const T *restrict p)
SMALL_SUMS(small_grad, (double)dy[i], (double)x[i] - k[e], const T *restrict dy,
           const T *restrict x)
SMALL_SUMS(small_grad_relu, (double)(dy[i] * (T)(r[i] > (T)0)),
           (double)x[i] - k[e], const T *restrict dy, const T *restrict r, const T *restrict x)
SMALL_SUMS(small_grad_relu_x,
           (double)(dy[i] * (T)((x[i] - fm[e]) * fa[e] + fb[e] > (T)0)),
           (double)x[i] - k[e], const T *restrict dy, const T *restrict x,
           const T *restrict fm, const T *restrict fa, const T *restrict fb)
#undef SMALL_SUMS

/* out[i] = (p[i] - m[i]) * a[i] + b[i] (affine_row with per-element constants) */
CR_CLONES static void CR_FN(small_affine)(T *out, const T *p, const T *restrict m,
                                        const T *restrict a, const T *restrict b, int64_t K) {
    #pragma omp simd  /* out may be p (in place, element-wise) */
    for (int64_t i = 0; i < K; i++) out[i] = (p[i] - m[i]) * a[i] + b[i];
}

/* small_affine, then the relu kernel's v <= 0 ? 0 : v */
CR_CLONES static void CR_FN(small_affine_relu)(T *restrict out, const T *restrict p,
                                             const T *restrict m, const T *restrict a,
                                             const T *restrict b, int64_t K) {
    for (int64_t i = 0; i < K; i++) {
        const T v = (p[i] - m[i]) * a[i] + b[i];
        out[i] = v <= (T)0 ? (T)0 : v;
    }
}

/* dx[i] = dy[i] * a[i] + (x[i] - m[i]) * b[i] + c[i] (dx_row, per-element constants; dx
 * may be dy) */
CR_CLONES static void CR_FN(small_dx)(T *dx, const T *dy, const T *restrict x,
                                    const T *restrict m, const T *restrict a,
                                    const T *restrict b, const T *restrict c, int64_t K) {
    #pragma omp simd
    for (int64_t i = 0; i < K; i++) dx[i] = dy[i] * a[i] + (x[i] - m[i]) * b[i] + c[i];
}

/* affine_add_row with per-element constants */
CR_CLONES static void CR_FN(small_affine_add)(T *restrict out, const T *restrict p,
                                            const T *restrict r, const T *restrict m,
                                            const T *restrict a, const T *restrict b, int relu,
                                            int64_t K) {
    if (relu)
        for (int64_t i = 0; i < K; i++) {
            const T v = (p[i] - m[i]) * a[i] + b[i];
            const T s = v + r[i];
            out[i] = s <= (T)0 ? (T)0 : s;
        }
    else
        for (int64_t i = 0; i < K; i++) {
            const T v = (p[i] - m[i]) * a[i] + b[i];
            out[i] = v + r[i];
        }
}

/* small_dx and small_affine with dy masked by the relu output r */
CR_CLONES static void CR_FN(small_dx_relu)(T *dx, const T *dy, const T *restrict r,
                                         const T *restrict x, const T *restrict m,
                                         const T *restrict a, const T *restrict b,
                                         const T *restrict c, int64_t K) {
    #pragma omp simd  /* dx may be dy */
    for (int64_t i = 0; i < K; i++) {
        const T g = dy[i] * (T)(r[i] > (T)0);
        dx[i] = g * a[i] + (x[i] - m[i]) * b[i] + c[i];
    }
}

CR_CLONES static void CR_FN(small_affine_masked)(T *out, const T *p, const T *restrict r,
                                               const T *restrict m, const T *restrict a,
                                               const T *restrict b, int64_t K) {
    #pragma omp simd  /* out may be p */
    for (int64_t i = 0; i < K; i++) {
        const T g = p[i] * (T)(r[i] > (T)0);
        out[i] = (g - m[i]) * a[i] + b[i];
    }
}

/* lanes_total of a channel's L sums (lanes L .. NL - 1 are 0) */
static double CR_FN(small_total)(const double *s, int64_t L) {
    double t[NL];
    for (int j = 0; j < NL; j++) t[j] = j < L ? s[j] : 0.0;
    return lanes_total(t);
}

/* bn_forward_block for L <= NL */
static void CR_FN(bn_forward_small)(T *y, T *mean, T *invstd, double *var, const T *x,
                                  const T *weight, const T *bias, int64_t N, int64_t C,
                                  int64_t L, double eps, int relu, const T *res, int64_t b0,
                                  int64_t b1, double *w) {
    const double M = (double)(N * L);
    const int64_t K = (b1 - b0) * L;
    double *A = w, *Q = w + K, *k = w + 2 * K;
    T *m = (T *)(w + 3 * K), *a = m + K, *b = a + K;
    for (int64_t c = b0; c < b1; c++)  /* (nested loops: no division per value) */
        for (int64_t l = 0; l < L; l++) k[(c - b0) * L + l] = (double)x[c * L];
    CR_FN(small_moments)(A, Q, k, C * L, N, K, x + b0 * L);
    for (int64_t c = b0; c < b1; c++) {  /* channel totals, packed in place (i <= o) */
        const int64_t o = (c - b0) * L;
        const double ta = CR_FN(small_total)(A + o, L), tq = CR_FN(small_total)(Q + o, L);
        A[c - b0] = ta;
        Q[c - b0] = tq;
    }
    CR_FN(bn_finish_stats)(A, Q, k, b1 - b0, M, eps);
    for (int64_t c = b0; c < b1; c++) {
        const int64_t o = (c - b0) * L;
        mean[c] = (T)((double)x[c * L] + A[c - b0]);
        invstd[c] = (T)k[c - b0];
        if (var) var[c] = Q[c - b0];
        T sc, t;
        CR_FN(scale_shift)(&sc, &t, (double)invstd[c], weight, bias, c);
        for (int64_t l = 0; l < L; l++) {
            m[o + l] = mean[c];
            a[o + l] = sc;
            b[o + l] = t;
        }
    }
    for (int64_t s = 0; s < K; s += NORM_SMALL_RUN) {  /* the run's m, a, b stay in L1 */
        const int64_t ks = K - s < NORM_SMALL_RUN ? K - s : NORM_SMALL_RUN;
        for (int64_t n = 0; n < N; n++) {
            const int64_t o = (n * C + b0) * L + s;
            if (res)
                CR_FN(small_affine_add)(y + o, x + o, res + o, m + s, a + s, b + s, relu, ks);
            else
                (relu ? CR_FN(small_affine_relu) : CR_FN(small_affine))(y + o, x + o, m + s,
                                                                        a + s, b + s, ks);
        }
    }
}

/* g[i] = dy[i] * (v > 0 ? 1 : 0), v = (x[i] - m[i]) * a[i] + b[i] (relu_mask_row with
 * per-element constants; g may be dy) */
CR_CLONES static void CR_FN(small_relu_mask)(T *g, const T *dy, const T *restrict x,
                                           const T *restrict m, const T *restrict a,
                                           const T *restrict b, int64_t K) {
    #pragma omp simd
    for (int64_t i = 0; i < K; i++) {
        const T v = (x[i] - m[i]) * a[i] + b[i];
        g[i] = dy[i] * (T)(v > (T)0);
    }
}

/* small_dx with dy masked as small_relu_mask does (the mask recomputed from x: bitwise its
 * g, without writing it first); dx may be dy */
CR_CLONES static void CR_FN(small_dx_relu_x)(T *dx, const T *dy, const T *restrict x,
                                           const T *restrict fm, const T *restrict fa,
                                           const T *restrict fb, const T *restrict m,
                                           const T *restrict a, const T *restrict b,
                                           const T *restrict c, int64_t K) {
    #pragma omp simd
    for (int64_t i = 0; i < K; i++) {
        const T v = (x[i] - fm[i]) * fa[i] + fb[i];
        const T g = dy[i] * (T)(v > (T)0);
        dx[i] = g * a[i] + (x[i] - m[i]) * b[i] + c[i];
    }
}

/* bn_backward_block for L <= NL */
static void CR_FN(bn_backward_small)(T *dx, T *dweight, T *dbias, const T *dy, const T *x,
                                   const T *mean, const T *invstd, const T *weight,
                                   int64_t N, int64_t C, int64_t L, int training,
                                   const T *r, int rx, const T *bias, int64_t b0, int64_t b1,
                                   double *w) {
    const double M = (double)(N * L);
    const int64_t K = (b1 - b0) * L;
    const int sums = training || dweight || dbias;
    double *A = w, *Q = w + K, *k = w + 2 * K;
    T *m = (T *)(w + 3 * K), *a = m + K, *bb = a + K, *cc = bb + K;
    T *fm = cc + K, *fa = fm + K, *fb = fa + K;  /* the forward's m, a, b (rx) */
    if (rx)
        for (int64_t c = b0; c < b1; c++) {
            T sc, t;
            CR_FN(scale_shift)(&sc, &t, (double)invstd[c], weight, bias, c);
            for (int64_t l = 0; l < L; l++) {
                fm[(c - b0) * L + l] = mean[c];
                fa[(c - b0) * L + l] = sc;
                fb[(c - b0) * L + l] = t;
            }
        }
    if (sums) {
        const int64_t o = b0 * L, ld = C * L;
        for (int64_t c = b0; c < b1; c++)
            for (int64_t l = 0; l < L; l++) k[(c - b0) * L + l] = (double)mean[c];
        if (rx)  /* the mask recomputed from x; dy is not written (dx: the second pass) */
            CR_FN(small_grad_relu_x)(A, Q, k, ld, N, K, dy + o, x + o, fm, fa, fb);
        else if (r)
            CR_FN(small_grad_relu)(A, Q, k, ld, N, K, dy + o, r + o, x + o);
        else
            CR_FN(small_grad)(A, Q, k, ld, N, K, dy + o, x + o);
    }
    for (int64_t c = b0; c < b1; c++) {
        const int64_t o = (c - b0) * L;
        double gb = 0.0, gw = 0.0;
        if (sums) {
            gb = CR_FN(small_total)(A + o, L);
            gw = CR_FN(small_total)(Q + o, L) * (double)invstd[c];
            if (dbias) dbias[c] = (T)gb;
            if (dweight) dweight[c] = (T)gw;
        }
        const double is = (double)invstd[c];
        const double kc = (weight ? (double)weight[c] : 1.0) * is;
        for (int64_t l = 0; l < L; l++) {
            m[o + l] = training ? mean[c] : (T)0;
            a[o + l] = (T)kc;
            bb[o + l] = training ? (T)(-kc * is * gw / M) : (T)0;
            cc[o + l] = training ? (T)(-kc * gb / M) : (T)0;
        }
    }
    if (dx == NULL) return;
    for (int64_t s = 0; s < K; s += NORM_SMALL_RUN) {  /* the run's constants stay in L1 */
        const int64_t ks = K - s < NORM_SMALL_RUN ? K - s : NORM_SMALL_RUN;
        for (int64_t n = 0; n < N; n++) {
            const int64_t o = (n * C + b0) * L + s;
            if (rx && training) {
                CR_FN(small_dx_relu_x)(dx + o, dy + o, x + o, fm + s, fa + s, fb + s, m + s,
                                     a + s, bb + s, cc + s, ks);
                continue;
            }
            if (rx) CR_FN(small_relu_mask)(dx + o, dy + o, x + o, fm + s, fa + s, fb + s, ks);
            const T *g = rx ? dx : dy;  /* the masked dy (rx) */
            if (training && r)
                CR_FN(small_dx_relu)(dx + o, dy + o, r + o, x + o, m + s, a + s, bb + s, cc + s,
                                   ks);
            else if (training)
                CR_FN(small_dx)(dx + o, g + o, x + o, m + s, a + s, bb + s, cc + s, ks);
            else if (r)
                CR_FN(small_affine_masked)(dx + o, dy + o, r + o, m + s, a + s, bb + s, ks);
            else
                CR_FN(small_affine)(dx + o, g + o, m + s, a + s, bb + s, ks);
        }
    }
}
