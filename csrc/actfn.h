/* actfn.h — the parameterised activations of nn (LeakyReLU, ELU, GELU, SiLU, Softplus,
 * Hardtanh), forward and backward, one fused pass each (see actfn.c).
 *
 * kind selects the function; p0, p1 are its parameters (unused ones are ignored):
 *   CR_ACT_LEAKY_RELU  p0 = negative_slope   y = x > 0 ? x : p0 x
 *   CR_ACT_ELU         p0 = alpha            y = x > 0 ? x : p0 (exp(x) - 1)
 *   CR_ACT_GELU        p0 = 0 exact, 1 tanh  y = x Phi(x)  (or the tanh approximation)
 *   CR_ACT_SILU                              y = x sigmoid(x)
 *   CR_ACT_SOFTPLUS    p0 = beta, p1 = threshold
 *                      y = beta x > threshold ? x : log1p(exp(beta x)) / beta
 *   CR_ACT_HARDTANH    p0 = min_val, p1 = max_val   y = clamp(x, p0, p1) (NaN stays NaN)
 * The backward is written from the forward INPUT x and WRITES dinp = dout * f'(x) (dinp may
 * equal dout), PyTorch's formulas (hardtanh: 0 at and beyond the bounds). Flat contiguous
 * buffers of n elements; runs on the chainrule threads when n >= CR_ACT_PARALLEL_MIN.
 * Returns 0, or -1 for an unknown kind (nothing written). */
#ifndef CHAINRULE_ACTFN_H
#define CHAINRULE_ACTFN_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum { CR_ACT_LEAKY_RELU = 0, CR_ACT_ELU = 1, CR_ACT_GELU = 2, CR_ACT_SILU = 3,
       CR_ACT_SOFTPLUS = 4, CR_ACT_HARDTANH = 5 };

int cr_actfn_forward_f32(int kind, float *out, const float *inp, int64_t n, double p0,
                         double p1);
int cr_actfn_forward_f64(int kind, double *out, const double *inp, int64_t n, double p0,
                         double p1);
int cr_actfn_backward_f32(int kind, float *dinp, const float *dout, const float *inp,
                          int64_t n, double p0, double p1);
int cr_actfn_backward_f64(int kind, double *dinp, const double *dout, const double *inp,
                          int64_t n, double p0, double p1);

/* Softmax over the last axis of N rows of C (C >= 1), max-shifted, sums in double:
 *   log = 0: out = exp(x - m) / sum exp(x - m)     log = 1: out = x - m - log sum exp(x - m)
 * backward from the forward OUTPUT y, WRITES dinp (dinp may equal dout):
 *   softmax: dinp = y (dout - sum(dout y))          log: dinp = dout - exp(y) sum(dout)
 * Rows run on the chainrule threads when N * C >= CR_ACT_PARALLEL_MIN. */
void cr_softmax_rows_f32(float *out, const float *inp, int64_t N, int64_t C, int log);
void cr_softmax_rows_f64(double *out, const double *inp, int64_t N, int64_t C, int log);
void cr_softmax_rows_backward_f32(float *dinp, const float *dout, const float *out, int64_t N,
                                  int64_t C, int log);
void cr_softmax_rows_backward_f64(double *dinp, const double *dout, const double *out,
                                  int64_t N, int64_t C, int log);

#ifdef __cplusplus
}
#endif
#endif
