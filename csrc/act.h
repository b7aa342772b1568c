/* act.h — elementwise activation kernels for the autograd layer (see act.c).
 *
 * ReLU forward and backward over flat contiguous buffers of n elements. Unlike the layer
 * backwards, relu_backward WRITES its result (=): it produces a fresh gradient that the
 * autograd engine sums itself, and dinp may be the same buffer as dout (in place).
 * Runs on cr_get_num_threads() threads when n >= CR_ACT_PARALLEL_MIN, else serially;
 * elementwise, so results do not depend on the thread count.
 */
#ifndef CHAINRULE_ACT_H
#define CHAINRULE_ACT_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Below this many elements a call runs serially: one pass costs ~0.08 ns per float32
 * element on a Zen 5 core (25 us for 300k), so a second thread pays off only on the
 * largest activations while a parallel region on a loaded machine can stall. */
#define CR_ACT_PARALLEL_MIN 131072

/* out = max(inp, 0) elementwise (NaN stays NaN, -0 becomes +0, as numpy.maximum(inp, 0)).
 * out (n), inp (n); out may equal inp. */
void cr_relu_forward_f32(float *out, const float *inp, int64_t n);
void cr_relu_forward_f64(double *out, const double *inp, int64_t n);

/* dinp = dout * (out > 0) elementwise, from the forward OUTPUT (out > 0 iff inp > 0), so
 * no mask is kept; a NaN in dout stays NaN (multiplication, not selection).
 * dinp (n), dout (n), out (n); dinp may equal dout. */
void cr_relu_backward_f32(float *dinp, const float *dout, const float *out, int64_t n);
void cr_relu_backward_f64(double *dinp, const double *dout, const double *out, int64_t n);

/* From the forward OUTPUT y, one pass, WRITES dinp (dinp may equal dout):
 *   sigmoid: dinp = dout * y * (1 - y)        tanh: dinp = dout * (1 - y * y)
 * dinp (n), dout (n), out (n). */
void cr_sigmoid_backward_f32(float *dinp, const float *dout, const float *out, int64_t n);
void cr_sigmoid_backward_f64(double *dinp, const double *dout, const double *out, int64_t n);
void cr_tanh_backward_f32(float *dinp, const float *dout, const float *out, int64_t n);
void cr_tanh_backward_f64(double *dinp, const double *dout, const double *out, int64_t n);

/* Softmax cross-entropy with class-index targets, one row of C logits per sample:
 *   p[n, c] = exp(a[n, c] - m_n) / sum_c' exp(a[n, c'] - m_n),   m_n = max_c a[n, c]
 *   loss[n] = -log p[n, t_n] = log(sum_c exp(a[n, c] - m_n)) - (a[n, t_n] - m_n)
 * prob (N, C) is kept for the backward. Exponentials and the row sum are computed in double.
 * Returns the number of targets outside [0, C) (their rows get loss NaN, nothing is read
 * out of bounds). prob, loss, logits (N, C), target (N). */
int64_t cr_softmax_xent_forward_f32(float *prob, float *loss, const float *logits,
                                    const int64_t *target, int64_t N, int64_t C);
int64_t cr_softmax_xent_forward_f64(double *prob, double *loss, const double *logits,
                                    const int64_t *target, int64_t N, int64_t C);

/* dlogits[n, c] = scale[n * scale_stride] * (prob[n, c] - [c == t_n])   (WRITES dlogits;
 * dlogits may equal prob). scale_stride is 0 (one scale, reduction mean/sum) or 1 (per
 * sample, reduction none). Targets outside [0, C) are skipped and counted: returns
 * their number (0 for valid input), so a caller can validate without a second pass. */
int64_t cr_softmax_xent_backward_f32(float *dlogits, const float *prob, const int64_t *target,
                                     const float *scale, int64_t scale_stride, int64_t N,
                                     int64_t C);
int64_t cr_softmax_xent_backward_f64(double *dlogits, const double *prob, const int64_t *target,
                                  const double *scale, int64_t scale_stride, int64_t N,
                                  int64_t C);

/* heap.c: raise glibc's M_TRIM_THRESHOLD and M_MMAP_THRESHOLD (bytes) so memory freed
 * between training steps stays mapped for the next step; 1 on success, 0 if not glibc or
 * a value was refused (M_MMAP_THRESHOLD is capped at 32 MiB on 64-bit). */
int cr_heap_keep_freed(int64_t trim_threshold, int64_t mmap_threshold);

#ifdef __cplusplus
}
#endif
#endif
