/* gates.c — LSTM and GRU forward over a sequence and full BPTT (see gates.h).
 *
 * The float and double kernels are one template, csrc/gates_tmpl.h, included twice (T, SUF
 * and the vector types; the template idiom of cpu.h); the per-step kernels
 * (csrc/gates_step.h) are compiled for x86-64-v4, x86-64-v3 and the baseline and picked
 * by the ISA level of cpu.h (cr_isa: CHAINRULE_ISA / set_isa).
 *
 * forward : the input projection of all T steps is ONE cr_gemm into the gates buffer
 *           (T*N x 4H, bias b_ih fused); then per step the recurrent product
 *           h_{t-1} @ w_hh^T runs on w_hh packed ONCE per call into panels that hold, for
 *           VL hidden units, the columns of all G gates side by side, so one register tile
 *           carries every gate of its units and the gate math (sigmoid, tanh, the cell
 *           update) is fused into the tile's write-out. The activated gates overwrite the
 *           projection in place and are what the backward needs.
 * backward: per step (t = T..1) the recurrent gradient dG_{t+1} @ w_hh (packed once) with
 *           the gate derivatives fused into its write-out; every dG_t kept in one
 *           (T, N, 4H) buffer, then dw_ih, dx, dw_hh are single cr_gemm calls over all T*N
 *           rows (dw_hh's over a copy of h0, h_1 .. h_{T-1} behind each other) and db
 *           column sums in a fixed order.
 *
 * Memory saved by the forward for the backward (besides the inputs and parameters):
 *   LSTM hs (T,N,H) [the output], cs (T,N,H), gates (T,N,4H): 6*T*N*H elements;
 *   GRU  hs (T,N,H) [the output], gates (T,N,4H) = r, z, n, W_hn h + b_hn: 5*T*N*H.
 * Backward work space: dG (T,N,4H), the packed w_hh (4H*H), a carry (N,H), and for dw_hh
 * the previous states (T,N,H) (allocated after the walk back, while dG is still held).
 *
 * Threads: ONE parallel region per call, on cr_threads_for(T*N*H*H*G, GT_PAR_MIN_FLOPS)
 * threads. The batch is split by rows (row n of step t
 * depends only on row n of step t-1: no barrier between steps); a small batch (fewer than
 * GT_MIN_ROWS rows per thread) or a w_hh larger than GT_L2_BYTES is split by hidden units
 * instead (gt_plan: each thread's slice of w_hh stays in its L2), one barrier per step.
 * Every element is computed by the same code with its sums over k in one fixed
 * order whatever the split, so results are bitwise identical for any thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#include "gates.h"
#include "split.h"

#define GT_INLINE static inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"
/* FP operations here never trap (no FP exceptions are enabled), so GCC may compute both
 * sides of the gate math's selects and vectorize the `omp simd` loops; values unchanged */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* row-tile heights of the step products: G = 4 (LSTM forward) keeps 6 x 4 vector
 * accumulators, the others 8 x 3 or 8 x 2 */
#define GT_MR_MAX 8
/* rows per block of a step product, and the bytes of a packed panel kept in L1 */
#define GT_RB 48
#define GT_L1_PANEL 24576
#define GT_MR_LSTM 6
/* the backward's panels: GT_BWD_G vectors of hidden units wide, tiles of GT_MR_BWD rows
 * (4 x 6 accumulators as the LSTM forward: 10 loads per 24 multiply-adds) */
#define GT_BWD_G 4
#define GT_MR_BWD 6
/* split the batch only when each thread gets at least this many rows (two row tiles;
 * else hidden units) and w_hh is at most GT_L2_BYTES (else each thread keeps its slice
 * of w_hh in its own L2: hidden units); this Xeon has 2 MiB of L2 per core */
#define GT_MIN_ROWS 12
#define GT_L2_BYTES 1048576.0
/* several threads only when the sequence has at least this many multiply-adds */
#define GT_PAR_MIN_FLOPS 2000000.0

/* column sums (db) on several threads only from this many elements */
#define GT_COLSUM_MIN 65536.0

/* which compiled step kernels run: the ISA level of cpu.h */
enum { GT_GENERIC = CR_ISA_GENERIC, GT_V3 = CR_ISA_AVX2, GT_V4 = CR_ISA_AVX512 };
static int gt_path(void) { return cr_isa(); }

/* ---- float ---- */
typedef float gt_vf32 __attribute__((vector_size(64)));
#define T float
#define ITYPE int32_t
#define SUF f32
#define GEMM cr_gemm_f32
#define VREAL gt_vf32
#define VL 16
#define FABS fabsf
#define COPYSIGN copysignf
#define EXP_LO (-87.0f)
#define EXP_MANT 23
#define EXP_BIAS 127
#define EXP_DEG 7
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#include "gates_tmpl.h"
#undef T
#undef ITYPE
#undef SUF
#undef GEMM
#undef VREAL
#undef VL
#undef FABS
#undef COPYSIGN
#undef EXP_LO
#undef EXP_MANT
#undef EXP_BIAS
#undef EXP_DEG
#undef LN2_HI
#undef LN2_LO

/* ---- double ---- */
typedef double gt_vf64 __attribute__((vector_size(64)));
#define T double
#define ITYPE int64_t
#define SUF f64
#define GEMM cr_gemm_f64
#define VREAL gt_vf64
#define VL 8
#define FABS fabs
#define COPYSIGN copysign
#define EXP_LO (-708.0)
#define EXP_MANT 52
#define EXP_BIAS 1023
#define EXP_DEG 13
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#include "gates_tmpl.h"

int cr_gt_run_calls(int (*fn)(void *ctx, int64_t i), void *ctx, int64_t n) {
    int64_t nt = n > 1 ? cr_threads_for(1.0, 0.0) : 1;
    if (nt > n) nt = n;
    int rc = 0;
    #pragma omp parallel for num_threads((int)nt) schedule(static, 1) reduction(| : rc)
    for (int64_t i = 0; i < n; i++) rc |= fn(ctx, i) != 0;
    return rc ? -1 : 0;
}
