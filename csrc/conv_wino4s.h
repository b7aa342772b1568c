/* conv_wino4s.h — Winograd F(4x4, 3x3) with small images batched, G whole images per block
 * (conv_wino4s.c: plan, forward and dx; conv_wino4s_dw.c: dw). float32, AVX-512 (x86). */
#ifndef CHAINRULE_CONV_WINO4S_H
#define CHAINRULE_CONV_WINO4S_H
#include "conv_internal.h"

/* conv_winograd4.c / conv_winograd4_dw.c helpers shared with this path */
void conv_wino4_weight_transform(float *U, const float *w, int flip, int64_t ldu, int64_t K,
                                 int64_t C, int64_t k0, int64_t k1, int nt);
void conv_wino4_filter_adjoint(float *dw, const float *dU, int64_t ldu, int64_t n, int nt);

/* Images per block (1: not this path) and the plan (pl->nt set; dw: the CONV_WINO4S_DW plan,
 * at least dx_bytes of scratch). Returns 0 (pl untouched) when G < 2, or when U (dU) takes
 * more than half the limit and the scratch would pass the limit. */
int64_t conv_wino4s_G(const cr_conv2d_dims *d, int64_t limit);
/* dw of one block: rows of dU per round (conv_wino4s_dw.c; 64: 512 rows in 8 rounds, even
 * over 2 threads) */
#define WINO4S_DW_KROUND 64
/* floats of U (forward) / the dU of the groups (dw) the call allocates: conv_wino4s.c */
int64_t conv_wino4s_u_floats(const cr_conv2d_dims *d, int dw, int64_t nb, int64_t np,
                             int nt);
int conv_wino4s_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t limit, int dw,
                     int64_t dx_bytes);
/* forward (CONV_WINO4S); dx += the forward of dy by the flipped kernel when pl->dd plans
 * CONV_WINO4S (1 done, 0 not this path, -1 out of memory); dw, db (CONV_WINO4S_DW) */
int conv_forward_wino4s_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
int conv_wino4s_backward_input_f32(float *dinp, const float *dout, const float *w,
                                   const conv_plan *pl);
int conv_backward_weight_wino4s_f32(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const cr_conv2d_dims *d,
                                    const conv_plan *pl);
#ifdef CR_X86
/* V (36 x ldv) = B^T d B of every tile of images [n0, n0 + g) (conv_wino4s.c) */
void conv_wino4s_input_block(float *V, int64_t ldv, const float *inp, const cr_conv2d_dims *d,
                             int64_t n0, int64_t g, int nt);
/* conv_wino4s_avx512.c: the transforms of g planes x + j ps (one channel of g images) of
 * at most 4 tiles a row (TQ <= 4); tile tq of tile row tp of plane j at column
 * (j TP + tp) TQ + tq of V / Mg / M, e-th matrix at + e lde */
void conv_wino4s_input_planes_avx512(float *V, int64_t lde, const float *x, int64_t ps,
                                     int64_t g, int64_t H, int64_t W, int64_t ph, int64_t pw,
                                     int64_t TP, int64_t TQ);
void conv_wino4s_grad_planes_avx512(float *Mg, int64_t lde, const float *dy, int64_t ps,
                                    int64_t g, int64_t P, int64_t Q, int64_t TP, int64_t TQ);
void conv_wino4s_output_planes_avx512(float *y, int64_t ps, const float *M, int64_t lde,
                                      int64_t g, int64_t P, int64_t Q, int64_t TP, int64_t TQ,
                                      float bias, int accumulate);
#endif
#endif
