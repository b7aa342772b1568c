/* rnn.c — Elman RNN forward over a sequence and full backprop-through-time (see rnn.h).
 *
 * The float and double kernels are one template, csrc/rnn_impl.h, included twice with
 * REAL / SUF / GEMM defined. Plan of both passes:
 *   forward : A = x @ w_ih^T + b_ih for all T*N rows in ONE GEMM (written into hs), then
 *             per step h_t = act(h_{t-1} @ w_hh^T + A_t + b_hh): beta = 1 accumulates onto
 *             A_t, the bias and the activation are the GEMM's epilogue.
 *   backward: per step (t = T..1) dh_t = dhs_t + da_{t+1} @ w_hh, da_t = dh_t * act'(h_t),
 *             all da kept in one (T, N, H) buffer; then dw_ih, dw_hh, dx as big GEMMs over
 *             T*N rows, db as column sums of da.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define REAL float
#define SUF(name) name##_f32
#define GEMM cr_gemm_f32
#include "rnn_impl.h"
#undef REAL
#undef SUF
#undef GEMM

#define REAL double
#define SUF(name) name##_f64
#define GEMM cr_gemm_f64
#include "rnn_impl.h"
#undef REAL
#undef SUF
#undef GEMM
