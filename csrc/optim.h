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
 * maximize uses -grad for grad (here and in every step below).
 * momentum_buf may be NULL when momentum == 0. Shapes: all buffers (n,). */
void cr_sgd_step_f32(float *param, float *momentum_buf, const float *grad, int64_t n,
                     double lr, double momentum, double dampening, double weight_decay,
                     int nesterov, int first, int maximize);
void cr_sgd_step_f64(double *param, double *momentum_buf, const double *grad, int64_t n,
                     double lr, double momentum, double dampening, double weight_decay,
                     int nesterov, int first, int maximize);

/* Adam / AdamW (torch.optim.Adam, torch.optim.AdamW), step = t >= 1 after increment:
 *   param *= 1 - lr * weight_decay            if decoupled (AdamW)
 *   g      = grad + weight_decay * param      if not decoupled (Adam's L2)
 *   m      = m + (1 - beta1) * (g - m)        (lerp, as PyTorch)
 *   v      = beta2 * v + (1 - beta2) * g * g
 *   vmax   = max(vmax, v), v = vmax           if max_exp_avg_sq != NULL (amsgrad)
 *   denom  = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   param -= (lr / (1 - beta1^t)) * m / denom
 * Shapes: all buffers (n,). */
void cr_adam_step_f32(float *param, float *exp_avg, float *exp_avg_sq, float *max_exp_avg_sq,
                      const float *grad, int64_t n, double lr, double beta1, double beta2,
                      double eps, double weight_decay, int decoupled, int maximize,
                      int64_t step);
void cr_adam_step_f64(double *param, double *exp_avg, double *exp_avg_sq,
                      double *max_exp_avg_sq, const double *grad, int64_t n, double lr,
                      double beta1, double beta2, double eps, double weight_decay,
                      int decoupled, int maximize, int64_t step);

/* RMSprop (torch.optim.RMSprop):
 *   g   = grad + weight_decay * param
 *   sq  = alpha * sq + (1 - alpha) * g * g
 *   avg = sqrt(sq - ga * ga) + eps after ga += (1 - alpha) * (g - ga)   if grad_avg (centered)
 *   avg = sqrt(sq) + eps                                                 otherwise
 *   buf = momentum * buf + g / avg, param -= lr * buf    if momentum > 0
 *   param -= lr * g / avg                                 otherwise
 * grad_avg may be NULL (not centered), momentum_buf NULL when momentum == 0. */
void cr_rmsprop_step_f32(float *param, float *square_avg, float *grad_avg, float *momentum_buf,
                         const float *grad, int64_t n, double lr, double alpha, double eps,
                         double weight_decay, double momentum, int maximize);
void cr_rmsprop_step_f64(double *param, double *square_avg, double *grad_avg,
                         double *momentum_buf, const double *grad, int64_t n, double lr,
                         double alpha, double eps, double weight_decay, double momentum,
                         int maximize);

/* Adagrad (torch.optim.Adagrad), step = t >= 1 after increment:
 *   g = grad + weight_decay * param;  sum += g * g
 *   param -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps) */
void cr_adagrad_step_f32(float *param, float *state_sum, const float *grad, int64_t n,
                         double lr, double lr_decay, double eps, double weight_decay,
                         int maximize, int64_t step);
void cr_adagrad_step_f64(double *param, double *state_sum, const double *grad, int64_t n,
                         double lr, double lr_decay, double eps, double weight_decay,
                         int maximize, int64_t step);

/* Adadelta (torch.optim.Adadelta):
 *   g = grad + weight_decay * param;  sq = rho * sq + (1 - rho) * g * g
 *   d = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho * acc + (1 - rho) * d * d
 *   param -= lr * d */
void cr_adadelta_step_f32(float *param, float *square_avg, float *acc_delta, const float *grad,
                          int64_t n, double lr, double rho, double eps, double weight_decay,
                          int maximize);
void cr_adadelta_step_f64(double *param, double *square_avg, double *acc_delta,
                          const double *grad, int64_t n, double lr, double rho, double eps,
                          double weight_decay, int maximize);

#ifdef __cplusplus
}
#endif
#endif
