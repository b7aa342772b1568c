/* linear.h — the dense layer (see linear.c).
 *
 *   forward:  out (N, OC) = inp (N, C) @ weight (OC, C)^T + bias (OC)      bias may be NULL
 *   backward: dinp += dout @ weight, dweight += dout^T @ inp, dbias += dout.sum(0)
 *             (accumulate; any of dinp, dweight, dbias may be NULL)
 */
#ifndef CHAINRULE_LINEAR_H
#define CHAINRULE_LINEAR_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

void cr_linear_forward_f32(float *out, const float *inp, const float *weight, const float *bias,
                           int64_t N, int64_t C, int64_t OC);
void cr_linear_forward_f64(double *out, const double *inp, const double *weight,
                           const double *bias, int64_t N, int64_t C, int64_t OC);
void cr_linear_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int64_t N, int64_t C,
                            int64_t OC);
void cr_linear_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout,
                            const double *inp, const double *weight, int64_t N, int64_t C,
                            int64_t OC);

#ifdef __cplusplus
}
#endif
#endif
