/* rnn.h — Elman RNN (one layer): forward over a whole sequence and full BPTT (see rnn.c).
 *
 *   h_t = act(x_t @ w_ih^T + b_ih + h_{t-1} @ w_hh^T + b_hh),   t = 1..T,  act = CR_ACT_*
 *
 * Shapes (row-major, contiguous): x (T, N, I), h0 (N, H), w_ih (H, I), w_hh (H, H),
 * b_ih, b_hh (H) or NULL, hs = h_1..h_T (T, N, H).
 * Backward ACCUMULATES into dx (T,N,I), dh0 (N,H), dw_ih (H,I), dw_hh (H,H), db_ih, db_hh
 * (H, each may be NULL); dh_norms (T, may be NULL) is WRITTEN with ||dL/dh_t||_F.
 * Both return 0, or -1 if a work buffer could not be allocated (outputs then undefined).
 */
#ifndef CHAINRULE_RNN_H
#define CHAINRULE_RNN_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

int cr_rnn_forward_f32(float *hs, const float *x, const float *h0, const float *w_ih,
                       const float *w_hh, const float *b_ih, const float *b_hh, int act,
                       int64_t T, int64_t N, int64_t I, int64_t H);
int cr_rnn_forward_f64(double *hs, const double *x, const double *h0, const double *w_ih,
                       const double *w_hh, const double *b_ih, const double *b_hh, int act,
                       int64_t T, int64_t N, int64_t I, int64_t H);

int cr_rnn_backward_f32(float *dx, float *dh0, float *dw_ih, float *dw_hh, float *db_ih,
                        float *db_hh, double *dh_norms, const float *dhs, const float *x,
                        const float *h0, const float *hs, const float *w_ih, const float *w_hh,
                        int act, int64_t T, int64_t N, int64_t I, int64_t H);
int cr_rnn_backward_f64(double *dx, double *dh0, double *dw_ih, double *dw_hh, double *db_ih,
                        double *db_hh, double *dh_norms, const double *dhs, const double *x,
                        const double *h0, const double *hs, const double *w_ih,
                        const double *w_hh, int act, int64_t T, int64_t N, int64_t I, int64_t H);

/* The step-kernel path follows the CPU runtime's ISA level (cpu.h: cr_isa). */

#ifdef __cplusplus
}
#endif
#endif
