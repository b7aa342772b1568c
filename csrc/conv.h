/* conv.h — 2-D convolution (NCHW, weight (K, C, R, S)) by im2col + GEMM (conv_gemm.c; the
 * plan of a call in conv_plan.c, im2col in conv_im2col.c, float32 paths without im2col in
 * conv_implicit.c).
 *
 *   y[n,k,p,q] = b[k] + sum_{c,r,s} w[k,c,r,s] * x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]
 *   (x is zero outside [0,H) x [0,W));  P = (H + 2ph - dh(R-1) - 1)/sh + 1, same for Q.
 *
 * Memory: im2col is never built for a whole batch. Each thread owns one scratch buffer
 * for a block of output rows of one image (or a few small images side by side), sized so
 * it stays under the per-thread workspace limit (cr_conv_set_workspace_limit, default
 * CR_CONV_DEFAULT_WORKSPACE bytes); the limit is only exceeded when a single output row
 * does not fit ((C*R*S + K)*Q values). Stride-1 float32 layers with K <= 128 on AVX-512
 * CPUs skip im2col ("implicit im2col": a zero-padded copy of one image per thread) when
 * that copy fits the limit. cr_conv2d_workspace_bytes reports exactly what a call takes.
 * Kernels return 0 on success and -1 if the scratch allocation failed.
 */
#ifndef CHAINRULE_CONV_H
#define CHAINRULE_CONV_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* All sizes of one convolution; P and Q are filled by cr_conv2d_dims_init. */
typedef struct {
    int64_t N, C, H, W;     /* input  (N, C, H, W) */
    int64_t K, R, S;        /* weight (K, C, R, S) */
    int64_t sh, sw;         /* stride   >= 1 */
    int64_t ph, pw;         /* padding  >= 0 */
    int64_t dh, dw;         /* dilation >= 1 */
    int64_t P, Q;           /* output (N, K, P, Q) */
} cr_conv2d_dims;

/* 64 MiB per thread: the transformed weights of Winograd layers up to 512->512 (F(2x2):
 * 16 MiB) fit half of it; at 8 MiB ResNet-18/50's 256->256 14x14 and VGG-16's 128-512 channel
 * layers fell back to smaller Winograd blocks or im2col, 1.2-1.9x slower at batch 8. */
#define CR_CONV_DEFAULT_WORKSPACE ((int64_t)64 << 20)

/* Fill d->P, d->Q; return 0, or -1 if the sizes are invalid (P or Q < 1, bad stride...). */
int cr_conv2d_dims_init(cr_conv2d_dims *d);

/* Per-thread scratch cap in bytes (>= 1); the getter returns the current value. One scratch
 * buffer is kept between calls for reuse; setting the limit frees it. */
void cr_conv_set_workspace_limit(int64_t bytes);
int64_t cr_conv_get_workspace_limit(void);
/* Total scratch bytes (all threads) that forward (which = 0) or backward (which = 1)
 * allocates for these sizes with the current thread count, workspace limit and elsize. */
int64_t cr_conv2d_workspace_bytes(const cr_conv2d_dims *d, int which, int64_t elsize);

/* Algorithm override (conv_plan.c; the one place that reads CHAINRULE_CONV_ALGO, at the
 * first call, like CHAINRULE_ISA in cpu.c): CR_CONV_ALGO_AUTO picks the path per shape;
 * IM2COL forces im2col + matrix products everywhere; IMPLICIT takes the float32 paths
 * without im2col wherever they can run (AVX-512, stride 1, not 1x1, the padded copy under
 * the workspace limit; the size heuristics of AUTO are dropped; and dx of 3x3 stride-2
 * layers by phases, conv_s2dx.c, where it applies), im2col elsewhere;
 * WINOGRAD runs the forward (and dx) of float32 stride-1 undilated 3x3 layers as Winograd
 * F(2x2, 3x3) (more rounding: see conv_winograd.c), the rest as AUTO; AUTO takes Winograd
 * only for large images on AVX-512 CPUs (conv_plan.c: winograd_auto). POINTWISE runs every
 * 1x1 layer without padding (any stride) as one product over the batch's pixels
 * (conv_pointwise.c), the rest as AUTO; AUTO takes it for small images and strided 1x1.
 * cr_conv_set_algo(-1) restores the default (the environment, else auto). Results of every
 * algorithm agree with the definition within rounding. 1x1 layers without padding run their
 * pointwise paths (per image, or POINTWISE's batched one by size) under AUTO and IM2COL alike. */
enum { CR_CONV_ALGO_AUTO = 0, CR_CONV_ALGO_IM2COL = 1, CR_CONV_ALGO_IMPLICIT = 2,
       CR_CONV_ALGO_WINOGRAD = 3, CR_CONV_ALGO_POINTWISE = 4 };
int cr_conv_algo(void);
int cr_conv_set_algo(int algo);              /* returns the algorithm set */
const char *cr_conv_algo_name(int algo);     /* "auto", "im2col", "implicit", "winograd",
                                                "pointwise" */
int cr_conv_algo_from_name(const char *name); /* -1 for an unknown name */

/* What a forward (which = 0) or backward (1) call will run, from its plan: path of the
 * forward or of dx / dw (CR_CONV_PATH_*), threads, blocking of the im2col path (images per
 * block G, output rows per block, columns, blocks) and all scratch bytes. */
enum { CR_CONV_PATH_IM2COL = 0, CR_CONV_PATH_POINTWISE = 1, CR_CONV_PATH_IMPLICIT = 2,
       CR_CONV_PATH_IMPLICIT_DW = 3, CR_CONV_PATH_DX_AS_CONV = 4, CR_CONV_PATH_WINOGRAD = 5,
       CR_CONV_PATH_DX_WINOGRAD = 6 /* dx as the Winograd forward of the flipped kernel */,
       CR_CONV_PATH_PHASE = 7 /* strided: a stride-1 conv of the phase image (conv_phase.c) */,
       CR_CONV_PATH_WINO_DW = 8 /* dw by Winograd (small images, conv_wino_small.c) */,
       CR_CONV_PATH_S2 = 9 /* stride 2 on the stride-phase image (conv_s2.c) */,
       CR_CONV_PATH_DIRECT = 10 /* few channels: direct forward, dx, dw (conv_direct.c) */,
       CR_CONV_PATH_ROWS = 11 /* forward in output-row segments, large kernels (conv_rows.c) */,
       CR_CONV_PATH_ROWS_DW = 12 /* dw over the valid output pixels (conv_rows.c) */,
       CR_CONV_PATH_DX_ROWS = 13 /* dx as the CONV_ROWS forward of the flipped kernel */,
       CR_CONV_PATH_WINO4S = 14 /* F(4x4) with small images batched (conv_wino4s.c) */,
       CR_CONV_PATH_DX_WINO4S = 15 /* dx as that forward of the flipped kernel */,
       CR_CONV_PATH_WINO4S_DW = 16 /* dw by that path (conv_wino4s_dw.c) */,
       CR_CONV_PATH_S2B = 17 /* strided 3x3 forward, channels in the lanes (conv_s2b.c) */,
       CR_CONV_PATH_C16 = 18 /* 16 -> 16 3x3: F(4x4) over 16 images (conv_c16.c) */,
       CR_CONV_PATH_G5 = 19 /* large kernels, small images: padding taps skipped (conv_g5.c);
                             * also dx of such layers (the flipped kernel) */,
       CR_CONV_PATH_DX_S2 = 20 /* dx of strided 3x3 layers by phases, channels in the lanes
                                * (conv_s2dx.c) */,
       CR_CONV_PATH_PW_DOT = 21 /* dw of 1x1 stride-1 layers with few weights as dot
                                 * products along the pixels (conv_pw_dot_avx512.c) */,
       CR_CONV_PATH_WINO25 = 22 /* 5x5 stride 1, small images: Winograd F(2x2, 5x5)
                                 * (conv_wino25.c); also dx of such layers */ };
typedef struct {
    int path, dx_path, dw_path, threads;
    int64_t G, rows, cols, blocks, ws_bytes;
} cr_conv2d_plan_info;
void cr_conv2d_plan_info_get(cr_conv2d_plan_info *info, const cr_conv2d_dims *d, int which,
                             int64_t elsize);

/* im2col of one image for output rows [p0, p1):
 *   col[(c*R + r)*S + s][(p - p0)*Q + q] = x[c, p*sh - ph + r*dh, q*sw - pw + s*dw] (0 outside)
 * col: (C*R*S, (p1-p0)*Q); im: (C, H, W). col2im is its exact adjoint and ACCUMULATES. */
void cr_im2col_f32(float *col, const float *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1);
void cr_im2col_f64(double *col, const double *im, const cr_conv2d_dims *d, int64_t p0, int64_t p1);
void cr_col2im_f32(float *im, const float *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1);
void cr_col2im_f64(double *im, const double *col, const cr_conv2d_dims *d, int64_t p0, int64_t p1);

/* out (N, K, P, Q) = conv(inp (N, C, H, W), weight (K, C, R, S)) + bias (K,) or NULL. */
int cr_conv2d_forward_f32(float *out, const float *inp, const float *weight, const float *bias,
                          const cr_conv2d_dims *d);
int cr_conv2d_forward_f64(double *out, const double *inp, const double *weight,
                          const double *bias, const cr_conv2d_dims *d);

/* dinp (N,C,H,W) += dL/dinp, dweight (K,C,R,S) += dL/dweight, dbias (K,) += dL/dbias, from
 * dout (N,K,P,Q). Any of dinp, dweight, dbias may be NULL (not computed). */
int cr_conv2d_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const cr_conv2d_dims *d);
int cr_conv2d_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout,
                           const double *inp, const double *weight, const cr_conv2d_dims *d);

/* Depthwise convolution (conv_depthwise.c): groups == C == K, w (C, 1, R, S). Plane-wise
 * loops, no workspace limit (one padded plane per thread); return 0, or -1 if out of memory.
 * The backward ACCUMULATES into dx, dw, db (each may be NULL). */
int cr_conv2d_depthwise_forward_f32(float *out, const float *inp, const float *weight,
                                    const float *bias, const cr_conv2d_dims *d);
int cr_conv2d_depthwise_forward_f64(double *out, const double *inp, const double *weight,
                                    const double *bias, const cr_conv2d_dims *d);
int cr_conv2d_depthwise_backward_f32(float *dinp, float *dweight, float *dbias,
                                     const float *dout, const float *inp, const float *weight,
                                     const cr_conv2d_dims *d);
int cr_conv2d_depthwise_backward_f64(double *dinp, double *dweight, double *dbias,
                                     const double *dout, const double *inp,
                                     const double *weight, const cr_conv2d_dims *d);

/* As cr_conv2d_backward / cr_conv2d_depthwise_backward, but dinp and dweight (when given)
 * are WRITTEN (=), not accumulated (dbias still +=): the caller needs no zeroed arrays. The
 * pointwise path at stride 1 and the float32 AVX-512 depthwise kernels write them straight;
 * the others zero them and accumulate. Same values as the accumulating call into zeros. */
int cr_conv2d_backward_set_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const cr_conv2d_dims *d);
int cr_conv2d_backward_set_f64(double *dinp, double *dweight, double *dbias, const double *dout,
                               const double *inp, const double *weight, const cr_conv2d_dims *d);
int cr_conv2d_depthwise_backward_set_f32(float *dinp, float *dweight, float *dbias,
                                         const float *dout, const float *inp,
                                         const float *weight, const cr_conv2d_dims *d);
int cr_conv2d_depthwise_backward_set_f64(double *dinp, double *dweight, double *dbias,
                                         const double *dout, const double *inp,
                                         const double *weight, const cr_conv2d_dims *d);

#ifdef __cplusplus
}
#endif
#endif
