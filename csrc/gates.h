/* gates.h — gated recurrent layers (one layer, one direction): LSTM and GRU forward over
 * a whole sequence and full BPTT (see gates.c). PyTorch's gate order and weight layouts.
 *
 * LSTM (G = 4 gates i, f, g, o; w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H) or NULL):
 *   [i f g o] = x_t @ w_ih^T + b_ih + h_{t-1} @ w_hh^T + b_hh,  i f o sigmoid, g tanh
 *   c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
 *   forward writes hs, cs (T, N, H) and gates (T, N, 4H) = the activated i, f, g, o.
 * GRU (G = 3 gates r, z, n; w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H) or NULL):
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}
 *   forward writes hs (T, N, H) and gates (T, N, 4H) = r, z, n, W_hn h_{t-1} + b_hn.
 * x (T, N, I), h0 / c0 (N, H); all row-major and contiguous.
 * Backward ACCUMULATES into dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh (db_* may be NULL;
 * the LSTM's dx may be NULL: no input gradient, one product less);
 * dhs (T, N, H) is dL/dh_t from outside the recurrence, dc_n (N, H) dL/dc_T or NULL;
 * dh_norms (T) or NULL is WRITTEN with ||dL/dh_t||_F. All return 0, or -1 if a work buffer
 * could not be allocated (outputs then undefined).
 */
#ifndef CHAINRULE_GATES_H
#define CHAINRULE_GATES_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#define CR_GATES_DECLARE(T, SUF)                                                           \
    int cr_lstm_forward_##SUF(T *hs, T *cs, T *gates, const T *x, const T *h0, const T *c0, \
                              const T *w_ih, const T *w_hh, const T *b_ih, const T *b_hh,  \
                              int64_t Ts, int64_t N, int64_t I, int64_t H);                \
    int cr_lstm_backward_##SUF(T *dx, T *dh0, T *dc0, T *dw_ih, T *dw_hh, T *db_ih,        \
                               T *db_hh, double *dh_norms, const T *dhs, const T *dc_n,   \
                               const T *x, const T *h0, const T *c0, const T *w_ih,        \
                               const T *w_hh, const T *hs, const T *cs, const T *gates,    \
                               int64_t Ts, int64_t N, int64_t I, int64_t H);               \
    int cr_gru_forward_##SUF(T *hs, T *gates, const T *x, const T *h0, const T *w_ih,      \
                             const T *w_hh, const T *b_ih, const T *b_hh, int64_t Ts,      \
                             int64_t N, int64_t I, int64_t H);                             \
    int cr_gru_backward_##SUF(T *dx, T *dh0, T *dw_ih, T *dw_hh, T *db_ih, T *db_hh,       \
                              double *dh_norms, const T *dhs, const T *x, const T *h0,     \
                              const T *w_ih, const T *w_hh, const T *hs, const T *gates,   \
                              int64_t Ts, int64_t N, int64_t I, int64_t H);

CR_GATES_DECLARE(float, f32)
CR_GATES_DECLARE(double, f64)
#undef CR_GATES_DECLARE

/* Runs fn(ctx, 0) .. fn(ctx, n-1), n independent calls of the entry points above (e.g.
 * the two directions of a bidirectional layer), at once: one thread per call (each call
 * then runs on one thread), up to the thread setting; one after the other on one thread.
 * The results are those of the calls run alone (every entry point above is bitwise
 * identical for any thread count). Returns -1 if any call did, else 0. */
int cr_gt_run_calls(int (*fn)(void *ctx, int64_t i), void *ctx, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
