# _kernels.pxd — every C declaration the bindings use, in one place (Cython includes this
# file into _kernels.pyx automatically). Mirrors csrc/*.h; CMake re-runs Cython when this
# file, a .pxi or a C header changes.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "chainrule.h" nogil:
    # ---- CPU runtime (cpu.h) ----
    int cr_isa()
    int cr_isa_detected()
    int cr_set_isa(int level)
    const char *cr_isa_name(int level)
    int cr_isa_from_name(const char *name)
    double cr_cpu_clock_ghz()
    double cr_fma_peak_gflops(int f64, int threads)
    void cr_set_num_threads(int n)
    int cr_get_num_threads()
    int cr_num_threads_setting()
    void cr_contention_config(int enabled, int64_t bad_latency_ns, double bad_wait_share)
    void cr_contention_reset()
    int cr_contention_state(int64_t *last_latency_ns, double *last_wait_share, int *enabled)
    int CR_ACT_NONE, CR_ACT_TANH, CR_ACT_RELU, CR_ACT_SIGMOID

    # ---- gemm.h ----
    void cr_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float beta, float *C, int64_t ldc,
                     const float *bias_n, const float *bias_m, int act)
    void cr_gemm_f64(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                     double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
                     double beta, double *C, int64_t ldc,
                     const double *bias_n, const double *bias_m, int act)
    void cr_gemm_set_blocks(int64_t kc, int64_t mc, int64_t nc)
    void cr_gemm_set_skinny(int mode)

    # ---- linear.h ----
    void cr_linear_forward_f32(float *out, const float *inp, const float *weight,
                               const float *bias, int64_t N, int64_t C, int64_t OC)
    void cr_linear_forward_f64(double *out, const double *inp, const double *weight,
                               const double *bias, int64_t N, int64_t C, int64_t OC)
    void cr_linear_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                                const float *inp, const float *weight, int64_t N, int64_t C,
                                int64_t OC, int accumulate)
    void cr_linear_backward_f64(double *dinp, double *dweight, double *dbias,
                                const double *dout, const double *inp, const double *weight,
                                int64_t N, int64_t C, int64_t OC, int accumulate)

    # ---- conv.h ----
    ctypedef struct cr_conv2d_dims:
        int64_t N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, P, Q
    int cr_conv2d_dims_init(cr_conv2d_dims *d)
    void cr_conv_set_workspace_limit(int64_t nbytes)
    int64_t cr_conv_get_workspace_limit()
    int64_t cr_conv2d_workspace_bytes(const cr_conv2d_dims *d, int which, int64_t elsize)
    int cr_conv_algo()
    int cr_conv_set_algo(int algo)
    const char *cr_conv_algo_name(int algo)
    int cr_conv_algo_from_name(const char *name)
    ctypedef struct cr_conv2d_plan_info:
        int path, dx_path, dw_path, threads
        int64_t G, rows, cols, blocks, ws_bytes
    void cr_conv2d_plan_info_get(cr_conv2d_plan_info *info, const cr_conv2d_dims *d, int which,
                                 int64_t elsize)
    void cr_im2col_f32(float *col, const float *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1)
    void cr_im2col_f64(double *col, const double *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1)
    void cr_col2im_f32(float *im, const float *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1)
    void cr_col2im_f64(double *im, const double *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1)
    int cr_conv2d_forward_f32(float *out, const float *inp, const float *weight,
                              const float *bias, const cr_conv2d_dims *d)
    int cr_conv2d_forward_f64(double *out, const double *inp, const double *weight,
                              const double *bias, const cr_conv2d_dims *d)
    int cr_conv2d_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const cr_conv2d_dims *d)
    int cr_conv2d_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout,
                               const double *inp, const double *weight, const cr_conv2d_dims *d)
    int cr_conv2d_depthwise_forward_f32(float *out, const float *inp, const float *weight,
                                        const float *bias, const cr_conv2d_dims *d)
    int cr_conv2d_depthwise_forward_f64(double *out, const double *inp, const double *weight,
                                        const double *bias, const cr_conv2d_dims *d)
    int cr_conv2d_depthwise_backward_f32(float *dinp, float *dweight, float *dbias,
                                         const float *dout, const float *inp,
                                         const float *weight, const cr_conv2d_dims *d)
    int cr_conv2d_depthwise_backward_f64(double *dinp, double *dweight, double *dbias,
                                         const double *dout, const double *inp,
                                         const double *weight, const cr_conv2d_dims *d)
    int cr_conv2d_backward_set_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight, const cr_conv2d_dims *d)
    int cr_conv2d_backward_set_f64(double *dinp, double *dweight, double *dbias,
                                   const double *dout, const double *inp, const double *weight,
                                   const cr_conv2d_dims *d)
    int cr_conv2d_depthwise_backward_set_f32(float *dinp, float *dweight, float *dbias,
                                             const float *dout, const float *inp,
                                             const float *weight, const cr_conv2d_dims *d)
    int cr_conv2d_depthwise_backward_set_f64(double *dinp, double *dweight, double *dbias,
                                             const double *dout, const double *inp,
                                             const double *weight, const cr_conv2d_dims *d)

    # ---- pool.h ----
    ctypedef struct cr_pool2d_dims:
        int64_t N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q, dh, dw, ceil_mode
        int64_t count_include_pad, divisor
    int cr_pool2d_dims_init(cr_pool2d_dims *d)
    void cr_max_pool2d_forward_f32(float *out, int64_t *idx, const float *inp, const cr_pool2d_dims *d)
    void cr_max_pool2d_forward_f64(double *out, int64_t *idx, const double *inp, const cr_pool2d_dims *d)
    int64_t cr_max_pool2d_backward_f32(float *dinp, const float *dout, const int64_t *idx,
                                       const cr_pool2d_dims *d)
    int64_t cr_max_pool2d_backward_f64(double *dinp, const double *dout, const int64_t *idx,
                                       const cr_pool2d_dims *d)
    int cr_avg_pool2d_forward_f32(float *out, const float *inp, const cr_pool2d_dims *d)
    int cr_avg_pool2d_forward_f64(double *out, const double *inp, const cr_pool2d_dims *d)
    int cr_avg_pool2d_backward_f32(float *dinp, const float *dout, const cr_pool2d_dims *d)
    int cr_avg_pool2d_backward_f64(double *dinp, const double *dout, const cr_pool2d_dims *d)
    int64_t cr_max_unpool2d_forward_f32(float *out, const float *inp, const int64_t *idx,
                                        const cr_pool2d_dims *d)
    int64_t cr_max_unpool2d_forward_f64(double *out, const double *inp, const int64_t *idx,
                                        const cr_pool2d_dims *d)
    int64_t cr_max_unpool2d_backward_f32(float *dinp, const float *dout, const int64_t *idx,
                                         const cr_pool2d_dims *d)
    int64_t cr_max_unpool2d_backward_f64(double *dinp, const double *dout, const int64_t *idx,
                                         const cr_pool2d_dims *d)
    void cr_adaptive_max_pool2d_forward_f32(float *out, int64_t *idx, const float *inp,
                                            const cr_pool2d_dims *d)
    void cr_adaptive_max_pool2d_forward_f64(double *out, int64_t *idx, const double *inp,
                                            const cr_pool2d_dims *d)
    void cr_adaptive_avg_pool2d_forward_f32(float *out, const float *inp, const cr_pool2d_dims *d)
    void cr_adaptive_avg_pool2d_forward_f64(double *out, const double *inp,
                                            const cr_pool2d_dims *d)
    void cr_adaptive_avg_pool2d_backward_f32(float *dinp, const float *dout,
                                             const cr_pool2d_dims *d)
    void cr_adaptive_avg_pool2d_backward_f64(double *dinp, const double *dout,
                                             const cr_pool2d_dims *d)

    # ---- rnn.h ----
    int cr_rnn_forward_f32(float *hs, const float *x, const float *h0, const float *w_ih,
                           const float *w_hh, const float *b_ih, const float *b_hh, int act,
                           int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_rnn_forward_f64(double *hs, const double *x, const double *h0, const double *w_ih,
                           const double *w_hh, const double *b_ih, const double *b_hh, int act,
                           int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_rnn_backward_f32(float *dx, float *dh0, float *dw_ih, float *dw_hh, float *db_ih,
                            float *db_hh, double *dh_norms, const float *dhs, const float *x,
                            const float *h0, const float *hs, const float *w_ih,
                            const float *w_hh, int act, int64_t T, int64_t N, int64_t I,
                            int64_t H)
    int cr_rnn_backward_f64(double *dx, double *dh0, double *dw_ih, double *dw_hh,
                            double *db_ih, double *db_hh, double *dh_norms, const double *dhs,
                            const double *x, const double *h0, const double *hs,
                            const double *w_ih, const double *w_hh, int act, int64_t T,
                            int64_t N, int64_t I, int64_t H)

    # ---- gates.h (LSTM, GRU) ----
    int cr_lstm_forward_f32(float *hs, float *cs, float *gates, const float *x,
                            const float *h0, const float *c0, const float *w_ih,
                            const float *w_hh, const float *b_ih, const float *b_hh,
                            int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_lstm_forward_f64(double *hs, double *cs, double *gates, const double *x,
                            const double *h0, const double *c0, const double *w_ih,
                            const double *w_hh, const double *b_ih, const double *b_hh,
                            int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_lstm_backward_f32(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh,
                             float *db_ih, float *db_hh, double *dh_norms, const float *dhs,
                             const float *dc_n, const float *x, const float *h0,
                             const float *c0, const float *w_ih, const float *w_hh,
                             const float *hs, const float *cs, const float *gates, int64_t T,
                             int64_t N, int64_t I, int64_t H)
    int cr_lstm_backward_f64(double *dx, double *dh0, double *dc0, double *dw_ih,
                             double *dw_hh, double *db_ih, double *db_hh, double *dh_norms,
                             const double *dhs, const double *dc_n, const double *x,
                             const double *h0, const double *c0, const double *w_ih,
                             const double *w_hh, const double *hs, const double *cs,
                             const double *gates, int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_gru_forward_f32(float *hs, float *gates, const float *x, const float *h0,
                           const float *w_ih, const float *w_hh, const float *b_ih,
                           const float *b_hh, int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_gru_forward_f64(double *hs, double *gates, const double *x, const double *h0,
                           const double *w_ih, const double *w_hh, const double *b_ih,
                           const double *b_hh, int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_gru_backward_f32(float *dx, float *dh0, float *dw_ih, float *dw_hh, float *db_ih,
                            float *db_hh, double *dh_norms, const float *dhs, const float *x,
                            const float *h0, const float *w_ih, const float *w_hh,
                            const float *hs, const float *gates, int64_t T, int64_t N,
                            int64_t I, int64_t H)
    int cr_gru_backward_f64(double *dx, double *dh0, double *dw_ih, double *dw_hh,
                            double *db_ih, double *db_hh, double *dh_norms, const double *dhs,
                            const double *x, const double *h0, const double *w_ih,
                            const double *w_hh, const double *hs, const double *gates,
                            int64_t T, int64_t N, int64_t I, int64_t H)
    int cr_gt_run_calls(int (*fn)(void *ctx, int64_t i) noexcept nogil, void *ctx,
                        int64_t n)

    # ---- embed.h ----
    void cr_embedding_forward_f32(float *out, const float *weight, const int64_t *idx,
                                  int64_t n, int64_t dim)
    void cr_embedding_forward_f64(double *out, const double *weight, const int64_t *idx,
                                  int64_t n, int64_t dim)
    int cr_embedding_backward_f32(float *dweight, const float *dout, const int64_t *idx,
                                  int64_t n, int64_t num, int64_t dim, int64_t padding_idx,
                                  int scale_by_freq, int zeroed)
    int cr_embedding_backward_f64(double *dweight, const double *dout, const int64_t *idx,
                                  int64_t n, int64_t num, int64_t dim, int64_t padding_idx,
                                  int scale_by_freq, int zeroed)

    # ---- optim.h ----
    int CR_OPTIM_PARALLEL_MIN
    void cr_sgd_step_f32(float *param, float *momentum_buf, const float *grad, int64_t n,
                         double lr, double momentum, double dampening, double weight_decay,
                         int nesterov, int first, int maximize)
    void cr_sgd_step_f64(double *param, double *momentum_buf, const double *grad, int64_t n,
                         double lr, double momentum, double dampening, double weight_decay,
                         int nesterov, int first, int maximize)
    void cr_adam_step_f32(float *param, float *exp_avg, float *exp_avg_sq,
                          float *max_exp_avg_sq, const float *grad, int64_t n, double lr,
                          double beta1, double beta2, double eps, double weight_decay,
                          int decoupled, int maximize, int64_t step)
    void cr_adam_step_f64(double *param, double *exp_avg, double *exp_avg_sq,
                          double *max_exp_avg_sq, const double *grad, int64_t n, double lr,
                          double beta1, double beta2, double eps, double weight_decay,
                          int decoupled, int maximize, int64_t step)
    void cr_rmsprop_step_f32(float *param, float *square_avg, float *grad_avg,
                             float *momentum_buf, const float *grad, int64_t n, double lr,
                             double alpha, double eps, double weight_decay, double momentum,
                             int maximize)
    void cr_rmsprop_step_f64(double *param, double *square_avg, double *grad_avg,
                             double *momentum_buf, const double *grad, int64_t n, double lr,
                             double alpha, double eps, double weight_decay, double momentum,
                             int maximize)
    void cr_adagrad_step_f32(float *param, float *state_sum, const float *grad, int64_t n,
                             double lr, double lr_decay, double eps, double weight_decay,
                             int maximize, int64_t step)
    void cr_adagrad_step_f64(double *param, double *state_sum, const double *grad, int64_t n,
                             double lr, double lr_decay, double eps, double weight_decay,
                             int maximize, int64_t step)
    void cr_adadelta_step_f32(float *param, float *square_avg, float *acc_delta,
                              const float *grad, int64_t n, double lr, double rho, double eps,
                              double weight_decay, int maximize)
    void cr_adadelta_step_f64(double *param, double *square_avg, double *acc_delta,
                              const double *grad, int64_t n, double lr, double rho, double eps,
                              double weight_decay, int maximize)

    # ---- act.h ----
    int CR_ACT_PARALLEL_MIN
    void cr_relu_forward_f32(float *out, const float *inp, int64_t n)
    void cr_relu_forward_f64(double *out, const double *inp, int64_t n)
    void cr_relu_backward_f32(float *dinp, const float *dout, const float *out, int64_t n)
    void cr_relu_backward_f64(double *dinp, const double *dout, const double *out, int64_t n)
    int cr_heap_keep_freed(int64_t trim_threshold, int64_t mmap_threshold)
    void cr_sigmoid_backward_f32(float *dinp, const float *dout, const float *out, int64_t n)
    void cr_sigmoid_backward_f64(double *dinp, const double *dout, const double *out, int64_t n)
    void cr_tanh_backward_f32(float *dinp, const float *dout, const float *out, int64_t n)
    void cr_tanh_backward_f64(double *dinp, const double *dout, const double *out, int64_t n)
    int64_t cr_softmax_xent_forward_f32(float *prob, float *loss, const float *logits,
                                        const int64_t *target, int64_t N, int64_t C)
    int64_t cr_softmax_xent_forward_f64(double *prob, double *loss, const double *logits,
                                        const int64_t *target, int64_t N, int64_t C)
    int64_t cr_softmax_xent_backward_f32(float *dlogits, const float *prob, const int64_t *target,
                                      const float *scale, int64_t scale_stride, int64_t N,
                                      int64_t C)
    int64_t cr_softmax_xent_backward_f64(double *dlogits, const double *prob,
                                      const int64_t *target, const double *scale,
                                      int64_t scale_stride, int64_t N, int64_t C)

    # ---- spmm.h ----
    int CR_SPMM_PARALLEL_MIN
    int64_t cr_csr_from_coo(int64_t *indptr, int64_t *indices, int64_t *perm,
                            const int64_t *rows, const int64_t *cols, int64_t n_rows,
                            int64_t n_cols, int64_t E)
    void cr_spmm_f32(float *y, const int64_t *indptr, const int64_t *indices,
                     const float *values, const int64_t *perm, const float *x, int64_t R,
                     int64_t F)
    void cr_spmm_f64(double *y, const int64_t *indptr, const int64_t *indices,
                     const double *values, const int64_t *perm, const double *x, int64_t R,
                     int64_t F)
    void cr_sddmm_f32(float *dvalues, const int64_t *indptr, const int64_t *indices,
                      const int64_t *perm, const float *dy, const float *x, int64_t R,
                      int64_t F)
    void cr_sddmm_f64(double *dvalues, const int64_t *indptr, const int64_t *indices,
                      const int64_t *perm, const double *dy, const double *x, int64_t R,
                      int64_t F)
    # ---- norm.h ----
    int CR_NORM_PARALLEL_MIN
    void cr_batch_norm_forward_f32(float *y, float *mean, float *invstd, double *var,
                                   const float *x, const float *weight, const float *bias,
                                   int64_t N, int64_t C, int64_t L, double eps, int relu,
                                   const float *residual)
    void cr_batch_norm_forward_f64(double *y, double *mean, double *invstd, double *var,
                                   const double *x, const double *weight, const double *bias,
                                   int64_t N, int64_t C, int64_t L, double eps, int relu,
                                   const double *residual)
    void cr_batch_norm_apply_f32(float *y, const float *x, const float *mean,
                                 const float *invstd, const float *weight, const float *bias,
                                 int64_t N, int64_t C, int64_t L)
    void cr_batch_norm_apply_f64(double *y, const double *x, const double *mean,
                                 const double *invstd, const double *weight,
                                 const double *bias, int64_t N, int64_t C, int64_t L)
    void cr_batch_norm_backward_f32(float *dx, float *dweight, float *dbias, const float *dy,
                                    const float *x, const float *mean, const float *invstd,
                                    const float *weight, int64_t N, int64_t C, int64_t L,
                                    int training, const float *relu_out, int relu_x,
                                    const float *bias)
    void cr_batch_norm_backward_f64(double *dx, double *dweight, double *dbias,
                                    const double *dy, const double *x, const double *mean,
                                    const double *invstd, const double *weight, int64_t N,
                                    int64_t C, int64_t L, int training,
                                    const double *relu_out, int relu_x, const double *bias)
    void cr_row_norm_forward_f32(float *y, float *mean, float *rstd, double *var,
                                 const float *x, const float *weight, const float *bias,
                                 int64_t N, int64_t G, int64_t Cg, int64_t L, double eps)
    void cr_row_norm_forward_f64(double *y, double *mean, double *rstd, double *var,
                                 const double *x, const double *weight, const double *bias,
                                 int64_t N, int64_t G, int64_t Cg, int64_t L, double eps)
    int cr_row_norm_backward_f32(float *dx, float *dweight, float *dbias, const float *dy,
                                 const float *x, const float *mean, const float *rstd,
                                 const float *weight, int64_t N, int64_t G, int64_t Cg,
                                 int64_t L)
    int cr_row_norm_backward_f64(double *dx, double *dweight, double *dbias,
                                 const double *dy, const double *x, const double *mean,
                                 const double *rstd, const double *weight, int64_t N,
                                 int64_t G, int64_t Cg, int64_t L)

    # ---- dropout.h ----
    int CR_DROPOUT_PARALLEL_MIN
    void cr_philox4x32_10(uint32_t *out, const uint32_t *ctr, const uint32_t *key)
    void cr_dropout_mask(uint8_t *mask, int64_t n, double p, uint64_t seed, uint64_t offset)
    void cr_dropout_forward_f32(float *y, uint8_t *mask, const float *x, int64_t n, double p,
                                uint64_t seed, uint64_t offset)
    void cr_dropout_forward_f64(double *y, uint8_t *mask, const double *x, int64_t n,
                                double p, uint64_t seed, uint64_t offset)
    void cr_dropout_backward_f32(float *dx, const float *dy, const uint8_t *mask, int64_t n,
                                 double p)
    void cr_dropout_backward_f64(double *dx, const double *dy, const uint8_t *mask, int64_t n,
                                 double p)
cdef extern from "actfn.h" nogil:
    # ---- actfn.h ----
    int cr_actfn_forward_f32(int kind, float *out, const float *inp, int64_t n, double p0,
                             double p1)
    int cr_actfn_forward_f64(int kind, double *out, const double *inp, int64_t n, double p0,
                             double p1)
    int cr_actfn_backward_f32(int kind, float *dinp, const float *dout, const float *inp,
                              int64_t n, double p0, double p1)
    int cr_actfn_backward_f64(int kind, double *dinp, const double *dout, const double *inp,
                              int64_t n, double p0, double p1)
    void cr_softmax_rows_f32(float *out, const float *inp, int64_t N, int64_t C, int log)
    void cr_softmax_rows_f64(double *out, const double *inp, int64_t N, int64_t C, int log)
    void cr_softmax_rows_backward_f32(float *dinp, const float *dout, const float *out,
                                      int64_t N, int64_t C, int log)
    void cr_softmax_rows_backward_f64(double *dinp, const double *dout, const double *out,
                                      int64_t N, int64_t C, int log)

cdef extern from "conv_grouped.h" nogil:
    # ---- conv_grouped.h ----
    int cr_conv2d_grouped_path(const cr_conv2d_dims *d, int64_t groups, int which, int64_t elsize)
    int cr_conv2d_grouped_threads(const cr_conv2d_dims *d, int64_t groups)
    int64_t cr_conv2d_grouped_workspace_bytes(const cr_conv2d_dims *d, int64_t groups, int which,
                                              int64_t elsize)
    int cr_conv2d_grouped_forward_f32(float *out, const float *inp, const float *weight,
                                      const float *bias, const cr_conv2d_dims *d, int64_t groups)
    int cr_conv2d_grouped_forward_f64(double *out, const double *inp, const double *weight,
                                      const double *bias, const cr_conv2d_dims *d, int64_t groups)
    int cr_conv2d_grouped_backward_f32(float *dinp, float *dweight, float *dbias,
                                       const float *dout, const float *inp, const float *weight,
                                       const cr_conv2d_dims *d, int64_t groups)
    int cr_conv2d_grouped_backward_f64(double *dinp, double *dweight, double *dbias,
                                       const double *dout, const double *inp,
                                       const double *weight, const cr_conv2d_dims *d,
                                       int64_t groups)
