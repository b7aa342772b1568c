/* pool_adaptive.c — adaptive average and max pooling (see pool.h).
 *
 * Output (P, Q) is given; the window of output row p covers input rows
 * [floor(p*H/P), ceil((p+1)*H/P)) (PyTorch's windows; they overlap when P does not divide H),
 * columns likewise. Loops over the N*C planes with OpenMP (static schedule), a plane per
 * thread, so the backward's scatter-add needs no atomics and every result is bitwise the
 * same whatever the thread count. P = Q = 1 (global average pooling) is a contiguous sum per
 * plane in 8 partial sums, which the compiler vectorises. Window sizes are exact int64
 * products (at most N*C*H*W < 2**48 values), converted to T once.
 * The float32 and float64 kernels are one body, pool_adaptive_tmpl.h, included twice.
 */
#include <math.h>
#include <stdlib.h>
#include "chainrule.h"
#include "split.h"

static int adaptive_threads(int64_t work) { return cr_threads_for((double)work, 16384.0); }

/* [*lo, *hi) = input range of output o of n_out over an axis of size n (exact in int128). */
static inline void adaptive_window(int64_t o, int64_t n_out, int64_t n, int64_t *lo,
                                   int64_t *hi) {
    *lo = (int64_t)(((__int128)o * n) / n_out);
    *hi = (int64_t)((((__int128)(o + 1) * n) + n_out - 1) / n_out);
}

#if defined(CR_X86) && defined(__GNUC__) && !defined(__clang__)
#define ADAPTIVE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ADAPTIVE_CLONES
#endif

#define T float
#define SUF f32
#include "pool_adaptive_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "pool_adaptive_tmpl.h"
#undef T
#undef SUF
