/* norm.c — batch normalization over (N, C, L) and row (group / layer) normalization over
 * (N, G, Cg, L), forward and backward (see norm.h for the math).
 *
 * Threads share the channels out statically (one contiguous block each); a channel is
 * always reduced by one thread in one fixed order (16 double lanes, rows in order), so
 * results are bitwise the same for any thread count. The row loops are compiled for
 * AVX-512, AVX2+FMA and baseline x86-64 (target_clones); float32 and float64 share one
 * template (norm_tmpl.h), included twice.
 */
#include <math.h>
#include <stdlib.h>
#include "chainrule.h"
#include "norm.h"
#include "split.h"

/* rows at least this long are processed in cache-sized channel blocks (see norm_tmpl.h) */
#define NORM_ROW_MIN 32
/* bytes of input a channel block may span (its later passes should hit L2) */
#define NORM_BLOCK_BYTES (1 << 20)
/* lanes of a reduction: element l of a row goes to lane l % NL */
#define NL 16
/* scratch doubles per channel of a batch norm block: the lanes and statistics (2 NL + 3)
 * of norm_tmpl.h, or 3 L doubles + 7 L values (L <= NL) of norm_small_tmpl.h */
#define NORM_SCRATCH (10 * NL)

/* the NL lanes of a reduction, summed in one fixed order (a pairwise tree) */
static double lanes_total(const double *a) {
    double t[NL];
    for (int j = 0; j < NL; j++) t[j] = a[j];
    for (int w = NL / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) t[j] += t[j + w];
    return t[0];
}

/* Runs the statement(s) given after the sizes with int64_t c0, c1 in scope: one channel
 * block [c0, c1) per thread (static, in order) when the tensor is large enough, else
 * once with [0, C). */
#define NORM_CHANNELS(C, total, ...)                                                      \
    do {                                                                                  \
        const int nt_ = cr_threads_for((double)(total), CR_NORM_PARALLEL_MIN);           \
        if (nt_ <= 1 || (C) < 2) {                                                        \
            const int64_t c0 = 0, c1 = (C);                                               \
            __VA_ARGS__;                                                          \
        } else {                                                                          \
            _Pragma("omp parallel num_threads(nt_)")                                      \
            {                                                                             \
                const int64_t t_ = CR_THREAD_NUM(), T_ = CR_TEAM_SIZE();                 \
                const int64_t c0 = (C) * t_ / T_, c1 = (C) * (t_ + 1) / T_;               \
                if (c0 < c1) { __VA_ARGS__; }                                       \
            }                                                                             \
        }                                                                                 \
    } while (0)

#define T float
#define SUF f32
#include "norm_tmpl.h"
#include "norm_rows_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "norm_tmpl.h"
#include "norm_rows_tmpl.h"
#undef T
#undef SUF
