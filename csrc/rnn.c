/* rnn.c — Elman RNN forward over a sequence and full backprop-through-time (see rnn.h).
 *
 * The float and double kernels are one template, csrc/rnn_tmpl.h, included twice (T, SUF
 * and the vector types; the template idiom of cpu.h).
 *   forward : A = x @ w_ih^T + b_ih for all T*N rows in ONE cr_gemm (written into hs), then
 *             per step h_t = act(h_{t-1} @ w_hh^T + A_t + b_hh) with bias and activation
 *             fused into the write-out of the step's matrix product.
 *   backward: per step (t = T..1) dh_t = dhs_t + da_{t+1} @ w_hh, da_t = dh_t * act'(h_t),
 *             every da kept in one (T, N, H) buffer; then dw_ih, dw_hh, dx as ONE cr_gemm
 *             each over the T*N rows, and db as column sums of da.
 *
 * The per-step product (N x H times H x H) is the serial critical path, and cr_gemm would
 * re-pack w_hh and fork threads on every step. So the recurrence has its own lean kernel:
 * w_hh (or w_hh^T) is packed ONCE per call into column panels of NR = 2 vectors and an
 * MR x NR register tile runs over k. Row n of h_t depends only on row n of h_{t-1} (and
 * row n of da_t only on row n of da_{t+1}), so the threads split the BATCH: ONE parallel
 * region, each thread runs all T steps on its own rows, no barrier between steps. Every
 * output element is summed over k in the same order whatever the thread count -> bitwise
 * reproducible.
 * Vectors are GCC vector extensions (64 bytes); the step kernels (csrc/rnn_step.h) are
 * compiled for x86-64-v4, x86-64-v3 and the baseline and picked at run time (see
 * rnn_path_id). tanh/sigmoid use an exp written on those vectors (libm's tanhf per
 * element cost more than the whole matrix product at H = 64).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#include "split.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Which compiled step kernels run: the ISA level of cpu.h (cr_isa), mapped to the
 * baseline, x86-64-v3 and x86-64-v4 clones. */
enum { RNN_PATH_GENERIC = CR_ISA_GENERIC, RNN_PATH_V3 = CR_ISA_AVX2, RNN_PATH_V4 = CR_ISA_AVX512 };
static int rnn_path_id(void) { return cr_isa(); }

#define RNN_INLINE static inline __attribute__((always_inline))
/* the 64-byte vector helpers are always inlined: no call ABI is involved */
#pragma GCC diagnostic ignored "-Wpsabi"

/* tile of the step kernel: RNN_MR rows of the batch x 2 vectors of columns */
#define RNN_MR 8
/* run the recurrence on several threads only when the whole sequence has at least this
 * many multiply-adds (T*N*H*H); below it starting the threads costs more than it saves */
#define RNN_PAR_MIN_FLOPS 2000000

/* ---- float ---- */
typedef float rnn_vf32 __attribute__((vector_size(64)));
typedef float rnn_vf32u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int32_t rnn_vi32 __attribute__((vector_size(64)));
#define T float
#define SUF f32
#define VREAL rnn_vf32
#define VREALU rnn_vf32u
#define VINT rnn_vi32
#define VL 16
#define EXP_LO (-87.0f)           /* exp of anything lower is clamped (2^n stays normal) */
#define EXP_MANT 23
#define EXP_BIAS 127
#define EXP_DEG 7                 /* Taylor degree on |r| <= ln2/2: error < 6e-9 */
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#define SIGN_BIT ((int32_t)0x80000000u)
#include "rnn_tmpl.h"
#undef T
#undef SUF
#undef VREAL
#undef VREALU
#undef VINT
#undef VL
#undef EXP_LO
#undef EXP_MANT
#undef EXP_BIAS
#undef EXP_DEG
#undef LN2_HI
#undef LN2_LO
#undef SIGN_BIT

/* ---- double ---- */
typedef double rnn_vf64 __attribute__((vector_size(64)));
typedef double rnn_vf64u __attribute__((vector_size(64), aligned(8), may_alias));
typedef int64_t rnn_vi64 __attribute__((vector_size(64)));
#define T double
#define SUF f64
#define VREAL rnn_vf64
#define VREALU rnn_vf64u
#define VINT rnn_vi64
#define VL 8
#define EXP_LO (-708.0)
#define EXP_MANT 52
#define EXP_BIAS 1023
#define EXP_DEG 13                /* Taylor degree on |r| <= ln2/2: error < 5e-18 */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
#define SIGN_BIT ((int64_t)0x8000000000000000ull)
#include "rnn_tmpl.h"
