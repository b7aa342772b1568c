/* norm_tmpl.h — batch norm loops, the dtype template of norm.c (cpu.h's idiom: T, SUF,
 * CR_FN(name)). See norm.h for the math and the layout (N, C, L).
 *
 * Each thread takes its channels in blocks and runs all passes over a block back to back,
 * rows in memory order within the block:
 *   - long rows (L >= NORM_ROW_MIN, NCHW feature maps): blocks as large as fit in L2
 *     (NORM_BLOCK_BYTES), so the block is read from memory once and the later passes find
 *     it in cache, in runs of (block channels) x L contiguous values;
 *   - short rows (NC, short NCL): one block, so memory is read in order instead of one
 *     value per cache line.
 * Whatever the blocking, every channel's sums run in one fixed order (lanes l % NL, rows
 * in order), so the results do not depend on it or on the thread count.
 */

/* One read of a row for two sums, each in NL fixed lanes (element l goes to lane l % NL;
 * the lanes are copied to local arrays so they stay in registers, NL / 4 independent
 * vector chains on AVX-512, and back at the end):
 *   acc[j] += u[l],  acc[NL + j] += u[l] * v[l]
 * with
 *   lane_moments:      u = v = p - k (moments about the shift k)
 *   lane_grad:         u = dy, v = x - k
 *   lane_grad_relu:    u = dy masked by the relu output r (r > 0), v = x - k
 *   lane_grad_relu_x:  u = dy masked by (x - m) * a + b > 0 (the mask recomputed from x as
 *                      relu_mask_row does, bitwise its g, without writing it), v = x - k */
#define LANE_SUMS(NAME, U, V, ...)                                                        \
    CR_CLONES static void CR_FN(NAME)(double *restrict acc, double k, int64_t L,          \
                                      __VA_ARGS__) {                                      \
        double s_[NL], q_[NL];                                                            \
        for (int j = 0; j < NL; j++) s_[j] = acc[j], q_[j] = acc[NL + j];                 \
        int64_t l = 0;                                                                    \
        for (; l + NL <= L; l += NL) {                                                    \
            _Pragma("omp simd") /* without it GCC 12 keeps s_[] in scalar registers */    \
            for (int j = 0; j < NL; j++) {                                                \
                const int64_t i = l + j;                                                  \
                const double u = (U), v = (V);                                            \
                s_[j] += u;                                                               \
                q_[j] += u * v;                                                           \
            }                                                                             \
        }                                                                                 \
        for (int j = 0; l + j < L; j++) {                                                 \
            const int64_t i = l + j;                                                      \
            const double u = (U), v = (V);                                                \
            s_[j] += u;                                                                   \
            q_[j] += u * v;                                                               \
        }                                                                                 \
        for (int j = 0; j < NL; j++) acc[j] = s_[j], acc[NL + j] = q_[j];                 \
    }

LANE_SUMS(lane_moments, (double)p[i] - k, (double)p[i] - k, const T *restrict p)
LANE_SUMS(lane_grad, (double)dy[i], (double)x[i] - k, const T *restrict dy,
          const T *restrict x)
LANE_SUMS(lane_grad_relu, (double)(dy[i] * (T)(r[i] > (T)0)), (double)x[i] - k,
          const T *restrict dy, const T *restrict r, const T *restrict x)
LANE_SUMS(lane_grad_relu_x, (double)(dy[i] * (T)((x[i] - m) * a + b > (T)0)),
          (double)x[i] - k, const T *restrict dy, const T *restrict x, T m, T a, T b)
#undef LANE_SUMS

/* out[l] = (p[l] - m) * a + b: y from x (a = weight * invstd, b = bias), or dx = dy * k in
 * evaluation mode. Centring first keeps y exact where x == mean (x * a + (b - m * a)
 * would cancel two large terms). */
CR_CLONES static void CR_FN(affine_row)(T *out, const T *p, T m, T a, T b, int64_t L) {
    #pragma omp simd  /* out may be p (the backward's dx in place of dy): element-wise */
    for (int64_t l = 0; l < L; l++) out[l] = (p[l] - m) * a + b;
}

/* affine_row, then relu as the relu kernel does it: v <= 0 ? 0 : v (NaN passes) */
CR_CLONES static void CR_FN(affine_relu_row)(T *restrict out, const T *restrict p, T m, T a,
                                           T b, int64_t L) {
    for (int64_t l = 0; l < L; l++) {
        const T v = (p[l] - m) * a + b;
        out[l] = v <= (T)0 ? (T)0 : v;
    }
}

/* dx[l] = dy[l] * a + (x[l] - m) * b + c; dx may be dy (in place, element-wise) */
CR_CLONES static void CR_FN(dx_row)(T *dx, const T *dy, const T *restrict x, T m, T a, T b,
                                  T c, int64_t L) {
    #pragma omp simd
    for (int64_t l = 0; l < L; l++) dx[l] = dy[l] * a + (x[l] - m) * b + c;
}

/* g[l] = dy[l] * (v > 0 ? 1 : 0) with v = (x[l] - m) * a + b: the relu mask of a forward
 * with relu, recomputed from x with the forward's m, a, b and its very expression (so v is
 * bitwise the forward's y before the relu, and v > 0 exactly where that y is > 0); g may
 * be dy (in place) */
CR_CLONES static void CR_FN(relu_mask_row)(T *g, const T *dy, const T *restrict x, T m, T a,
                                         T b, int64_t L) {
    #pragma omp simd
    for (int64_t l = 0; l < L; l++) {
        const T v = (x[l] - m) * a + b;
        g[l] = dy[l] * (T)(v > (T)0);
    }
}

/* out[l] = (p[l] - m) * a + b + r[l], rounded to T after each step as separate kernels
 * would, then relu when asked (the residual block's bn2 + add + relu) */
CR_CLONES static void CR_FN(affine_add_row)(T *restrict out, const T *restrict p,
                                          const T *restrict r, T m, T a, T b, int relu,
                                          int64_t L) {
    if (relu)
        for (int64_t l = 0; l < L; l++) {
            const T v = (p[l] - m) * a + b;
            const T s = v + r[l];
            out[l] = s <= (T)0 ? (T)0 : s;
        }
    else
        for (int64_t l = 0; l < L; l++) {
            const T v = (p[l] - m) * a + b;
            out[l] = v + r[l];
        }
}

/* dx_row with dy masked by the relu output r; affine_row likewise (evaluation) */
CR_CLONES static void CR_FN(dx_relu_row)(T *dx, const T *dy, const T *restrict r,
                                       const T *restrict x, T m, T a, T b, T c, int64_t L) {
    #pragma omp simd  /* dx may be dy */
    for (int64_t l = 0; l < L; l++) {
        const T g = dy[l] * (T)(r[l] > (T)0);
        dx[l] = g * a + (x[l] - m) * b + c;
    }
}

/* dx_relu_row with the mask recomputed from x (relu_mask_row's v with the forward's fm, fa,
 * fb): dy is read once, no masked copy written first; dx may be dy */
CR_CLONES static void CR_FN(dx_relu_x_row)(T *dx, const T *dy, const T *restrict x, T fm, T fa,
                                         T fb, T m, T a, T b, T c, int64_t L) {
    #pragma omp simd
    for (int64_t l = 0; l < L; l++) {
        const T v = (x[l] - fm) * fa + fb;
        const T g = dy[l] * (T)(v > (T)0);
        dx[l] = g * a + (x[l] - m) * b + c;
    }
}

CR_CLONES static void CR_FN(affine_masked_row)(T *out, const T *p, const T *restrict r, T m,
                                             T a, T b, int64_t L) {
    #pragma omp simd  /* out may be p */
    for (int64_t l = 0; l < L; l++) {
        const T g = p[l] * (T)(r[l] > (T)0);
        out[l] = (g - m) * a + b;
    }
}

/* s = weight * invstd (in double, then rounded to T) and t = bias */
static void CR_FN(scale_shift)(T *s, T *t, double invstd, const T *weight, const T *bias,
                             int64_t c) {
    *s = (T)((weight ? (double)weight[c] : 1.0) * invstd);
    *t = bias ? bias[c] : (T)0;
}

/* The statistics of n channels from their sums about the shifts: d[i] = sum / M (the mean
 * minus the shift), q[i] = the biased variance max(sum of squares / M - d^2, 0), is[i] =
 * 1 / sqrt(q[i] + eps). One flat loop, vectorized (divisions and square roots dominate a
 * batch norm over few values per channel); the same operations as per channel. */
CR_CLONES static void CR_FN(bn_finish_stats)(double *restrict d, double *restrict q,
                                           double *restrict is, int64_t n, double M,
                                           double eps) {
    for (int64_t i = 0; i < n; i++) {
        const double di = d[i] / M, qi = q[i] / M;
        const double v = qi - di * di > 0.0 ? qi - di * di : 0.0;
        d[i] = di;
        q[i] = v;
        is[i] = 1.0 / sqrt(v + eps);
    }
}

#include "norm_small_tmpl.h"  /* the blocks for rows of L <= NL values */

/* Training forward of the channel block [b0, b1); w: scratch of 2 NL + 3 doubles per
 * channel (the lanes, then bn_finish_stats' three arrays). Rows in memory order within the block:
 * one read for the statistics, one fused write pass for y (the block is still in L2).
 * The moments are taken about the shift k = the channel's first value (shifted data:
 * var = E[(x-k)^2] - E[x-k]^2 only loses the digits of (mean-k)^2 / var, which is small
 * for a k drawn from the data -- at most M - 1 -- and the sums are in double). */
static void CR_FN(bn_forward_block)(T *y, T *mean, T *invstd, double *var, const T *x,
                                  const T *weight, const T *bias, int64_t N, int64_t C,
                                  int64_t L, double eps, int relu, const T *res, int64_t b0,
                                  int64_t b1, double *w) {
    if (L <= NL) {
        CR_FN(bn_forward_small)(y, mean, invstd, var, x, weight, bias, N, C, L, eps, relu, res,
                              b0, b1, w);
        return;
    }
    const double M = (double)(N * L);
    const int64_t B = b1 - b0;
    double *lanes = w, *D = w + 2 * NL * B, *V = D + B, *IS = V + B; /* (bn_finish_stats) */
    for (int64_t i = 0; i < 2 * NL * B; i++) lanes[i] = 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = b0; c < b1; c++)
            CR_FN(lane_moments)(lanes + 2 * NL * (c - b0), (double)x[c * L], L,
                              x + (n * C + c) * L);
    for (int64_t c = b0; c < b1; c++) {
        D[c - b0] = lanes_total(lanes + 2 * NL * (c - b0));
        V[c - b0] = lanes_total(lanes + 2 * NL * (c - b0) + NL);
    }
    CR_FN(bn_finish_stats)(D, V, IS, B, M, eps);
    for (int64_t c = b0; c < b1; c++) {
        mean[c] = (T)((double)x[c * L] + D[c - b0]);
        invstd[c] = (T)IS[c - b0];
        if (var) var[c] = V[c - b0];
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = b0; c < b1; c++) {
            T sc, t;
            CR_FN(scale_shift)(&sc, &t, (double)invstd[c], weight, bias, c);
            if (res)
                CR_FN(affine_add_row)(y + (n * C + c) * L, x + (n * C + c) * L,
                                    res + (n * C + c) * L, mean[c], sc, t, relu, L);
            else if (relu)
                CR_FN(affine_relu_row)(y + (n * C + c) * L, x + (n * C + c) * L, mean[c], sc,
                                     t, L);
            else
                CR_FN(affine_row)(y + (n * C + c) * L, x + (n * C + c) * L, mean[c], sc, t, L);
        }
}

/* Backward of the channel block [b0, b1) (see norm.h); w: scratch of 2 NL doubles per
 * channel (the dbias and dweight lanes). rx: the relu mask is recomputed from x (bias: the
 * forward's, or NULL) by each pass that needs it (in evaluation mode the masked dy is
 * written to dx by the first pass and read back by the second); dx may be dy. */
static void CR_FN(bn_backward_block)(T *dx, T *dweight, T *dbias, const T *dy, const T *x,
                                   const T *mean, const T *invstd, const T *weight,
                                   int64_t N, int64_t C, int64_t L, int training,
                                   const T *r, int rx, const T *bias, int64_t b0, int64_t b1,
                                   double *w) {
    if (L <= NL) {
        CR_FN(bn_backward_small)(dx, dweight, dbias, dy, x, mean, invstd, weight, N, C, L,
                               training, r, rx, bias, b0, b1, w);
        return;
    }
    const double M = (double)(N * L);
    const int64_t B = b1 - b0;
    const int sums = training || dweight || dbias;
    if (sums) {
        for (int64_t i = 0; i < 2 * NL * B; i++) w[i] = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = b0; c < b1; c++) {
                const int64_t o = (n * C + c) * L;
                double *acc = w + 2 * NL * (c - b0);
                const double k = (double)mean[c];
                if (rx) {
                    T sc, t;
                    CR_FN(scale_shift)(&sc, &t, (double)invstd[c], weight, bias, c);
                    if (training) {  /* the second pass recomputes the mask: no write here */
                        CR_FN(lane_grad_relu_x)(acc, k, L, dy + o, x + o, mean[c], sc, t);
                    } else {
                        CR_FN(relu_mask_row)(dx + o, dy + o, x + o, mean[c], sc, t, L);
                        CR_FN(lane_grad)(acc, k, L, dx + o, x + o);
                    }
                } else if (r) {
                    CR_FN(lane_grad_relu)(acc, k, L, dy + o, r + o, x + o);
                } else {
                    CR_FN(lane_grad)(acc, k, L, dy + o, x + o);
                }
            }
        for (int64_t c = b0; c < b1; c++) {  /* lanes -> (dbias, dweight) in w[2i], w[2i+1] */
            const double gb = lanes_total(w + 2 * NL * (c - b0));
            const double gw = lanes_total(w + 2 * NL * (c - b0) + NL) * (double)invstd[c];
            if (dbias) dbias[c] = (T)gb;
            if (dweight) dweight[c] = (T)gw;
            w[2 * (c - b0)] = gb;
            w[2 * (c - b0) + 1] = gw;
        }
    }
    if (dx == NULL) return;
    const T *g = rx ? dx : dy;  /* the masked dy (rx) */
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = b0; c < b1; c++) {
            const int64_t o = (n * C + c) * L;
            const double is = (double)invstd[c];
            const double k = (weight ? (double)weight[c] : 1.0) * is;
            if (rx && !sums) {
                T sc, t;
                CR_FN(scale_shift)(&sc, &t, is, weight, bias, c);
                CR_FN(relu_mask_row)(dx + o, dy + o, x + o, mean[c], sc, t, L);
            }
            if (training) {
                const double gb = w[2 * (c - b0)], gw = w[2 * (c - b0) + 1];
                if (rx) {
                    T sc, t;
                    CR_FN(scale_shift)(&sc, &t, is, weight, bias, c);
                    CR_FN(dx_relu_x_row)(dx + o, dy + o, x + o, mean[c], sc, t, mean[c], (T)k,
                                       (T)(-k * is * gw / M), (T)(-k * gb / M), L);
                } else if (r)
                    CR_FN(dx_relu_row)(dx + o, dy + o, r + o, x + o, mean[c], (T)k,
                                     (T)(-k * is * gw / M), (T)(-k * gb / M), L);
                else
                    CR_FN(dx_row)(dx + o, g + o, x + o, mean[c], (T)k, (T)(-k * is * gw / M),
                                (T)(-k * gb / M), L);
            } else if (r) {
                CR_FN(affine_masked_row)(dx + o, dy + o, r + o, (T)0, (T)k, (T)0, L);
            } else {
                CR_FN(affine_row)(dx + o, g + o, (T)0, (T)k, (T)0, L);
            }
        }
}

/* Runs BLOCK(b0, b1, w) over [c0, c1) in blocks of channels with a scratch w of
 * NORM_SCRATCH doubles per channel: short rows take the whole range at once (memory read
 * in order); long rows take as many channels as keep `arrays` arrays of the block in L2. If the
 * scratch cannot be allocated, one channel at a time on the stack (same sums). */
#define NORM_BLOCKS(arrays, BLOCK)                                                        \
    do {                                                                                  \
        int64_t cb_ = c1 - c0;                                                            \
        if (L >= NORM_ROW_MIN) {                                                          \
            const int64_t per_ = (arrays) * N * L * (int64_t)sizeof(T);                   \
            cb_ = per_ > 0 ? NORM_BLOCK_BYTES / per_ : cb_;                               \
            cb_ = cb_ < 1 ? 1 : cb_ > c1 - c0 ? c1 - c0 : cb_;                            \
        }                                                                                 \
        double one_[NORM_SCRATCH];                                                        \
        double *w = (double *)malloc(sizeof(double) * (size_t)NORM_SCRATCH * (size_t)cb_); \
        if (w == NULL) cb_ = 1;                                                           \
        for (int64_t b0 = c0; b0 < c1; b0 += cb_) {                                       \
            const int64_t b1 = b0 + cb_ < c1 ? b0 + cb_ : c1;                             \
            BLOCK(b0, b1, w ? w : one_);                                                  \
        }                                                                                 \
        free(w);                                                                          \
    } while (0)

void CR_FN(cr_batch_norm_forward)(T *y, T *mean, T *invstd, double *var, const T *x,
                                const T *weight, const T *bias, int64_t N, int64_t C,
                                int64_t L, double eps, int relu, const T *residual) {
#define FWD_BLOCK(b0, b1, w) \
    CR_FN(bn_forward_block)(y, mean, invstd, var, x, weight, bias, N, C, L, eps, relu, \
                          residual, b0, b1, w)
    NORM_CHANNELS(C, N * C * L, NORM_BLOCKS(1, FWD_BLOCK));
#undef FWD_BLOCK
}

void CR_FN(cr_batch_norm_apply)(T *y, const T *x, const T *mean, const T *invstd,
                              const T *weight, const T *bias, int64_t N, int64_t C,
                              int64_t L) {
    NORM_CHANNELS(C, N * C * L, {
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = c0; c < c1; c++) {
                T s, t;
                CR_FN(scale_shift)(&s, &t, (double)invstd[c], weight, bias, c);
                CR_FN(affine_row)(y + (n * C + c) * L, x + (n * C + c) * L, mean[c], s, t, L);
            }
    });
}

void CR_FN(cr_batch_norm_backward)(T *dx, T *dweight, T *dbias, const T *dy, const T *x,
                                 const T *mean, const T *invstd, const T *weight, int64_t N,
                                 int64_t C, int64_t L, int training, const T *relu_out,
                                 int relu_x, const T *bias) {
    const int rx = relu_x && dx != NULL && relu_out == NULL;
#define BWD_BLOCK(b0, b1, w) \
    CR_FN(bn_backward_block)(dx, dweight, dbias, dy, x, mean, invstd, weight, N, C, L, \
                           training, relu_out, rx, bias, b0, b1, w)
    if (relu_out || (rx && dx != dy))
        NORM_CHANNELS(C, N * C * L, NORM_BLOCKS(3, BWD_BLOCK));
    else
        NORM_CHANNELS(C, N * C * L, NORM_BLOCKS(2, BWD_BLOCK));
#undef BWD_BLOCK
}

#undef NORM_BLOCKS
