/* optim.h — fused optimizer updates, one call per parameter buffer (see optim.c).
 *
 * Every kernel updates a flat, contiguous buffer of n elements IN PLACE and reads the
 * gradient once: weight decay, momentum / moment updates and the parameter step are one
 * loop, so a step costs one pass over memory. The math is PyTorch's (torch.optim) exactly,
 * up to floating-point rounding (no -ffast-math; FMA contraction may differ).
 * Scalars arrive as double and are rounded once to the buffer's type, as PyTorch does.
 * Runs on cr_get_num_threads() threads when n >= CR_OPTIM_PARALLEL_MIN, else serially;
 * elementwise, so results do not depend on the thread count.
 */
#ifndef CHAINRULE_OPTIM_H
#define CHAINRULE_OPTIM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Below this many elements a step runs serially. The update is memory-bound (~0.17 ns per
 * float32 element on one Zen 5 core, 35 us for 200k elements), so a second thread saves
 * little below ~1 MB of parameters, while a parallel region on a busy machine can stall for
 * a scheduler time slice (measured: 4-12 ms for 32k-1M elements with 2 threads on 2 loaded
 * cores, vs 4-160 us serial). */
#define CR_OPTIM_PARALLEL_MIN 262144

/* SGD (torch.optim.SGD):
 *   g   = grad + weight_decay * param
 *   buf = g                                   if first  (momentum != 0; buf is write-only)
 *   buf = momentum * buf + (1 - dampening) * g   otherwise
 *   g   = nesterov ? g + momentum * buf : buf  (momentum != 0)
 *   param -= lr * g
 * momentum_buf may be NULL when momentum == 0. Shapes: all buffers (n,). */
void cr_sgd_step_f32(float *param, float *momentum_buf, const float *grad, int64_t n,
                     double lr, double momentum, double dampening, double weight_decay,
                     int nesterov, int first);
void cr_sgd_step_f64(double *param, double *momentum_buf, const double *grad, int64_t n,
                     double lr, double momentum, double dampening, double weight_decay,
                     int nesterov, int first);

/* Adam / AdamW (torch.optim.Adam, torch.optim.AdamW), step = t >= 1 after increment:
 *   param *= 1 - lr * weight_decay            if decoupled (AdamW)
 *   g      = grad + weight_decay * param      if not decoupled (Adam's L2)
 *   m      = m + (1 - beta1) * (g - m)        (lerp, as PyTorch)
 *   v      = beta2 * v + (1 - beta2) * g * g
 *   denom  = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   param -= (lr / (1 - beta1^t)) * m / denom
 * Shapes: all buffers (n,). */
void cr_adam_step_f32(float *param, float *exp_avg, float *exp_avg_sq, const float *grad,
                      int64_t n, double lr, double beta1, double beta2, double eps,
                      double weight_decay, int decoupled, int64_t step);
void cr_adam_step_f64(double *param, double *exp_avg, double *exp_avg_sq, const double *grad,
                      int64_t n, double lr, double beta1, double beta2, double eps,
                      double weight_decay, int decoupled, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
