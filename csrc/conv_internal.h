/* conv_internal.h — what the convolution files share (internal; the API is conv.h).
 *
 *   conv_plan.c     the plan of one call (path, threads, blocking, scratch bytes) and the
 *                   cached scratch buffer; cr_conv2d_workspace_bytes reports the plan
 *   conv_im2col.c   im2col / col2im (conv_im2col_tmpl.h, float and double)
 *   conv_gemm.c     the entry points and the im2col + matrix-product path
 *                   (conv_gemm_tmpl.h, float and double)
 *   conv_implicit.c the float32 paths without im2col (x86 only; their inner products are
 *                   the AVX-512 kernels of conv_avx512.c)
 */
#ifndef CHAINRULE_CONV_INTERNAL_H
#define CHAINRULE_CONV_INTERNAL_H
#include <stdint.h>
#include "chainrule.h"

/* How work is cut into blocks: G images per block (whole images) when G > 1, else
 * `rows` output rows of one image. Depends on the sizes and the limit, never on threads. */
typedef struct { int64_t G, rows, cols; } conv_blocking;

enum {
    CONV_GEMM = 0,        /* im2col + matrix products, both dtypes */
    CONV_IMPLICIT = 1,    /* forward: implicit im2col; backward: dx, dw, db in place (small dw) */
    CONV_IMPLICIT_DW = 2, /* backward: dw, db in place (dx as a convolution, see dx_as_conv) */
    CONV_WINOGRAD = 3,    /* forward: Winograd F(2x2, 3x3), float32 (conv_winograd.c) */
    CONV_POINTWISE = 4,   /* 1x1, no padding: one product over the batch (conv_pointwise.c) */
    CONV_PHASE = 5,       /* strided float32: one stride-1 conv of the phase image (conv_phase.c) */
    CONV_WINO_DW = 6,     /* backward: dw by Winograd, small images (conv_wino_small.c) */
    CONV_S2 = 7,          /* stride 2 on its stride-phase image, no im2col (conv_s2.c) */
    CONV_DIRECT = 8,      /* few channels: direct forward, dx and dw (conv_direct.c) */
    CONV_ROWS = 9,        /* forward: row segments, large kernels (conv_rows.c) */
    CONV_ROWS_DW = 10,     /* backward: dw, db over the valid pixels (conv_rows.c) */
    CONV_WINO4S = 11,      /* forward: F(4x4, 3x3), G small images per block (conv_wino4s.c) */
    CONV_WINO4S_DW = 12,   /* backward: dw of those layers (conv_wino4s_dw.c) */
    CONV_S2B = 13,         /* forward: strided, channels in the lanes (conv_s2b.c) */
    CONV_C16 = 14,         /* 16 -> 16 3x3: F(4x4) over 16 images, forward and dx (conv_c16.c) */
    CONV_G5 = 15,          /* forward: large kernels on small images, padding taps skipped
                            * (conv_g5.c); dx of such layers: dx_as_conv == 4 */
    CONV_WINO25 = 16,      /* forward: Winograd F(2x2, 5x5), small images (conv_wino25.c);
                            * dx of such layers: dx_as_conv == 6 */
    CONV_S2B_DW = 17,      /* backward: strided layers' dw (and db), output channels in the
                            * lanes (conv_s2b.c), dx by conv_s2dx.c (dx_as_conv 5) */
};

/* Everything a call decides before it runs, from the sizes, the dtype, the ISA level, the
 * workspace limit and the thread count: computed once per call by conv_plan_make, and
 * reported by cr_conv2d_workspace_bytes. */
typedef struct {
    int path;           /* CONV_GEMM, CONV_IMPLICIT or CONV_IMPLICIT_DW */
    int nt;             /* threads */
    int dx_as_conv;     /* backward, not CONV_IMPLICIT: dx is the forward of dd, 1 implicit
                         * (its dw may then run CONV_IMPLICIT_DW), 2 Winograd, 3 CONV_ROWS,
                         * 4 CONV_G5, 5 conv_s2dx.c (stride 2: dd unused),
                         * 6 CONV_WINO25 */
    cr_conv2d_dims dd;  /* its sizes (dy as input, flipped weights) */
    conv_blocking bl;   /* CONV_GEMM: the blocks; CONV_WINOGRAD: rows = tile rows per block,
                         * cols = tiles per block */
    int64_t nblocks;    /* CONV_GEMM: number of blocks of bl.G images */
    int by_block;       /* CONV_GEMM forward and dx, CONV_IMPLICIT forward: threads take whole
                         * blocks / images (else they work inside each one in turn) */
    int64_t ws_elems;   /* scratch elements per thread */
    int64_t ws_threads; /* threads that get a scratch slice */
    int64_t ws_bytes;   /* all scratch of the call (max over its phases), in bytes */
    int64_t wino_kb;    /* CONV_WINOGRAD by F(4x4, 3x3) (conv_winograd4.c): output channels
                         * per block of transformed weights; 0: F(2x2, 3x3) */
} conv_plan;

/* which: 0 forward, 1 backward; elsize: 4 (float32) or 8 (float64). d->N > 0. */
void conv_plan_make(conv_plan *pl, const cr_conv2d_dims *d, int which, int64_t elsize);

#define WINO_LD_PAD 16 /* floats between the 16 matrices of the one-image Winograd path */
/* conv_winograd.c: the Winograd forward (plan path CONV_WINOGRAD). */
int conv_forward_winograd_f32(float *out, const float *inp, const float *w, const float *bias,
                              const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
/* dx (+=) as that forward of dy (sizes dd, plan dx_plan with wino_kb == 0) by w flipped in
 * space and transposed in channels, read in place (see dx_as_conv_ok in conv_plan.c) */
int conv_winograd_backward_input_f32(float *dinp, const float *dout, const float *w,
                                     const cr_conv2d_dims *dd, const conv_plan *dx_plan);

/* conv_pointwise.c: the batched 1x1 path (plan path CONV_POINTWISE), both dtypes. */
void conv_pointwise_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize,
                         int64_t ws_limit);
int conv_pointwise_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                               const cr_conv2d_dims *d, const conv_plan *pl);
int conv_pointwise_forward_f64(double *out, const double *inp, const double *w,
                               const double *bias, const cr_conv2d_dims *d, const conv_plan *pl);
int conv_pointwise_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                                const float *inp, const float *w, const cr_conv2d_dims *d,
                                const conv_plan *pl);
int conv_pointwise_backward_f64(double *dinp, double *dweight, double *dbias,
                                const double *dout, const double *inp, const double *w,
                                const cr_conv2d_dims *d, const conv_plan *pl);

/* 1x1 kernel, stride 1, no padding: the image itself is the im2col matrix. */
static inline int conv_is_pointwise(const cr_conv2d_dims *d) {
    return d->R == 1 && d->S == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* The AVX-512 kernels of conv_avx512.c run at ISA level avx512 (cpu.h). */
#ifdef CR_X86
static inline int conv_avx512(void) { return cr_isa() >= CR_ISA_AVX512; }
#else
static inline int conv_avx512(void) { return 0; }
#endif

/* The scratch buffer: one is cached across calls (see conv_plan.c). */
/* 1 when the pointwise path's dw runs as dot products (conv_pointwise.c pw_dot_ok) */
int conv_pointwise_dw_dot(const cr_conv2d_dims *d, int64_t elsize);
void *conv_ws_alloc(int64_t bytes);
void conv_ws_free(void *p);

/* im2col_rows / col2im_rows of CRS rows [row0, row1), output rows [p0, p1) of one image,
 * col with row stride ld; _par splits one image by channel over nt threads. */
void conv_im2col_rows_f32(float *col, int64_t ld, const float *im, const cr_conv2d_dims *d,
                          int64_t row0, int64_t row1, int64_t p0, int64_t p1);
void conv_im2col_rows_f64(double *col, int64_t ld, const double *im, const cr_conv2d_dims *d,
                          int64_t row0, int64_t row1, int64_t p0, int64_t p1);
void conv_col2im_rows_f32(float *im, const float *col, int64_t ld, const cr_conv2d_dims *d,
                          int64_t row0, int64_t row1, int64_t p0, int64_t p1);
void conv_col2im_rows_f64(double *im, const double *col, int64_t ld, const cr_conv2d_dims *d,
                          int64_t row0, int64_t row1, int64_t p0, int64_t p1);
void conv_im2col_par_f32(float *col, int64_t ld, const float *im, const cr_conv2d_dims *d,
                         int64_t p0, int64_t p1, int nt);
void conv_im2col_par_f64(double *col, int64_t ld, const double *im, const cr_conv2d_dims *d,
                         int64_t p0, int64_t p1, int nt);
void conv_col2im_par_f32(float *im, const float *col, int64_t ld, const cr_conv2d_dims *d,
                         int64_t p0, int64_t p1, int nt);
void conv_col2im_par_f64(double *im, const double *col, int64_t ld, const cr_conv2d_dims *d,
                         int64_t p0, int64_t p1, int nt);

/* db[k] += sum_n sum_pq dy[n, k, pq] for k in [k0, k1) (conv_gemm_tmpl.h). */
/* conv_gemm_tmpl.h: C = op(A) B [+ C] [+ bias] and C += A B^T, the products of the im2col
 * paths (small: the unpacked AVX-512 kernel for float32; the GEMM otherwise). */
void conv_mm_f32(int small, int trans_a, int64_t m, int64_t n, int64_t kd, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, int acc,
                 const float *bias);
void conv_mm_f64(int small, int trans_a, int64_t m, int64_t n, int64_t kd, const double *A,
                 int64_t lda, const double *B, int64_t ldb, double *C, int64_t ldc, int acc,
                 const double *bias);
void conv_mm_nt_f32(int small, int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc);
void conv_mm_nt_f64(int small, int64_t m, int64_t n, int64_t L, const double *A, int64_t lda,
                    const double *B, int64_t ldb, double *C, int64_t ldc);
void conv_bias_grad_rows_f32(float *dbias, const float *dout, const cr_conv2d_dims *d,
                             int64_t k0, int64_t k1);
void conv_bias_grad_rows_f64(double *dbias, const double *dout, const cr_conv2d_dims *d,
                             int64_t k0, int64_t k1);
void conv_bias_grad_f32(float *dbias, const float *dout, const cr_conv2d_dims *d, int nt);
void conv_bias_grad_f64(double *dbias, const double *dout, const cr_conv2d_dims *d, int nt);

/* conv_wino_wt.h: the Winograd filter transforms of one chunk of m <= CR_WT_CHUNK filters,
 * portable (conv_winograd.c) and AVX-512 (conv_wino_wt_avx512.c) builds, the same bits;
 * CR_WT_PICK(conv_wt2_chunk, ...) etc. call the one the CPU runs */
#define CR_WT_CHUNK 64
#define CR_WT_DECL(sfx)                                                                        \
    void conv_wt2_chunk##sfx(float *restrict U, int64_t ldu, const float *restrict w, int flip, \
                             int64_t K, int64_t C, int64_t j0, int64_t m);                    \
    void conv_adj2_chunk##sfx(float *restrict dw, const float *restrict dU, int64_t ldu,      \
                              int64_t np, int64_t j0, int64_t m);                             \
    void conv_wt4_chunk##sfx(float *restrict U, int64_t ldu, const float *restrict w, int flip, \
                             int64_t K, int64_t C, int64_t k0, int64_t j0, int64_t m);        \
    void conv_adj4_chunk##sfx(float *restrict dw, const float *restrict dU, int64_t ldu,      \
                              int64_t j0, int64_t m);                                         \
    void conv_wt4p_chunk##sfx(float *restrict Up, int64_t ldu, const float *restrict w,       \
                              int flip, int64_t K, int64_t C, int64_t k0, int64_t mk,         \
                              int64_t c0, int64_t mc);
CR_WT_DECL()
#ifdef CR_X86
CR_WT_DECL(_avx512)
#define CR_WT_PICK(fn, ...) (conv_avx512() ? fn##_avx512(__VA_ARGS__) : fn(__VA_ARGS__))
#else
#define CR_WT_PICK(fn, ...) fn(__VA_ARGS__)
#endif
#undef CR_WT_DECL

/* conv_winograd.c: U[e * ldu + kc] = the transformed 3x3 filter kc = k*C + c, kc in [kc0, kc1)
 * (flip: of w (C, K, 3, 3) flipped and transposed, the forward of dx) */
void conv_wino_weight_transform(float *U, const float *w, int flip, int64_t ldu, int64_t K,
                                int64_t C, int64_t kc0, int64_t kc1);

#ifdef CR_X86
/* conv_wino_small.c: the Winograd forward with G > 1 whole small images per block (AVX-512) */
int conv_forward_wino_small_f32(float *out, const float *inp, const float *w, int flip,
                                const float *bias, const cr_conv2d_dims *d, const conv_plan *pl,
                                int accumulate);
int conv_backward_weight_wino_small_f32(float *dweight, float *dbias, const float *dout,
                                        const float *inp, const cr_conv2d_dims *d,
                                        const conv_plan *pl);
void conv_wino_small_grad_row_avx512(float *Mg, int64_t lde, const float *yr, int64_t ldy,
                                     int64_t TQ);
void conv_wino_small_input_row_avx512(float *V, int64_t lde, const float *xr, int64_t ldx,
                                      int64_t TQ);
void conv_wino_small_output_row_avx512(float *y0, float *y1, const float *M, int64_t lde,
                                       int64_t TQ, int64_t Q, float bias, int accumulate);
/* the same for 16 / TQ tile rows at once (TQ <= 8): lane L = u TQ + tq holds tile tq of the
 * group's tile row u, gathered from tile rows 2p, 2p + 1 by the permute indices ev / od[p]
 * (column 2 tq, 2 tq + 1 of the first row, + 16 of the second) on lanes mk[p] */
typedef struct {
    int32_t ev[8][16], od[8][16];
    uint32_t mk[8];
    int np;
    int64_t TQ;
} wino_pair_tab;
void conv_wino_small_input_rows_avx512(float *V, int64_t lde, const float *x_c, int64_t H,
                                       int64_t W, int64_t ph, int64_t pw, int64_t tp0,
                                       const wino_pair_tab *t, int64_t nrows);
void conv_wino_small_grad_rows_avx512(float *Mg, int64_t lde, const float *dy, int64_t P,
                                      int64_t Q, int64_t tp0, const wino_pair_tab *t,
                                      int64_t nrows);
void conv_wino_small_output_rows_avx512(float *y, const float *M, int64_t lde, int64_t TQ,
                                        int64_t tp0, int64_t nrows, int64_t P, int64_t Q,
                                        float bias, int accumulate);
#endif

/* The row stride of one of the 36 matrices (U, V, M) of F(4x4) holding `size` floats: an
 * odd number of 64-byte lines, so that the 36 values of one tile (one per matrix) fall in 36
 * different L1 sets at every size (a fixed pad of 16 floats leaves an even step, 2-32 sets,
 * for some odd channel counts and tile counts). */
static inline int64_t wino4_ld(int64_t size) { return ((size + 15) / 16 | 1) * 16; }
/* conv_winograd4.c: Winograd F(4x4, 3x3) of large images (CONV_WINOGRAD with wino_kb > 0);
 * conv_wino4_plan fills pl within limit bytes (0: not for these sizes; dw: for dw) */
int conv_wino4_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t limit,
                    int dw);
int conv_forward_wino4_f32(float *out, const float *inp, const float *w, const float *bias,
                           const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
int conv_wino4_backward_input_f32(float *dinp, const float *dout, const float *w,
                                  const conv_plan *pl);
void conv_wino4_input_tiles(float *V, int64_t ldv, const float *x_n, const cr_conv2d_dims *d,
                            int64_t tp0, int64_t tp1, int nt);
/* conv_winograd4_dw.c: dw by F(4x4, 3x3) (CONV_WINO_DW with wino_kb > 0) */
int conv_wino4_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t limit,
                       int64_t dx_bytes);
int conv_backward_weight_wino4_f32(float *dweight, float *dbias, const float *dout,
                                   const float *inp, const cr_conv2d_dims *d,
                                   const conv_plan *pl);
#ifdef CR_X86
void conv_wino4_grad_row_avx512(float *Mg, int64_t lde, const float *yr, int64_t ldy,
                                int64_t TQ, float *buf);
void conv_wino4_input_row_avx512(float *V, int64_t lde, const float *x_c, int64_t H, int64_t W,
                                 int64_t h0, int64_t pw, int64_t TQ, float *buf);
void conv_wino4_output_row_avx512(float *const y[4], const float *M, int64_t lde, int64_t TQ,
                                  int64_t Q, float b, int accumulate, float *buf);
#endif

#ifdef CR_X86
/* conv_winograd_avx512.c: conv_winograd_xf.h's transforms of one tile row, AVX-512 build */
void conv_wino_input_row_avx512(float *V, int64_t lde, const float *x_c, int64_t H, int64_t W,
                                int64_t h0, int64_t pw, int64_t TQ, float *buf);
void conv_wino_output_row_avx512(float *y0, float *y1, const float *M, int64_t lde, int64_t TQ,
                                 int64_t Q, float b, int accumulate, float *buf);
#endif

/* conv_phase.c (plan path CONV_PHASE): e = the stride-1 layer of column phase b (0; 1 if
 * the phase has no taps, -1 if not a phase layer); images per chunk (bl.G of the plan);
 * the forward and the backward. */
int conv_phase_dims(const cr_conv2d_dims *d, int64_t b, cr_conv2d_dims *e);
int64_t conv_phase_images(const cr_conv2d_dims *d, int which, int64_t elsize, int64_t limit);
int conv_phase_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                           const cr_conv2d_dims *d, const conv_plan *pl);
#ifdef CR_X86
/* conv_phase_avx512.c: dst[j] = src[2 j]; dst[2 j] += src[j] (j < n) */
void cr_phase_gather2_f32_avx512(float *dst, const float *src, int64_t n);
void cr_phase_scatter2_add_f32_avx512(float *dst, const float *src, int64_t n);
#endif
int conv_phase_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *w, const cr_conv2d_dims *d,
                            const conv_plan *pl);

/* conv_s2.c (plan path CONV_S2): the plan (pl->nt set; bl.G images per block), whether
 * one image fits the limit, and the forward and backward (x86, AVX-512 kernels). */
void conv_s2_plan(conv_plan *pl, const cr_conv2d_dims *d, int which, int64_t limit);
int conv_s2_fits(const cr_conv2d_dims *d, int which, int64_t limit);
#ifdef CR_X86
/* one input row to / from both column phases, padding pw (conv_s2_avx512.c) */
void cr_s2_split_row_f32_avx512(float *r0, float *r1, const float *src, int64_t W, int64_t pw,
                                int64_t Ws);
void cr_s2_merge_row_add_f32_avx512(float *dst, const float *r0, const float *r1, int64_t W,
                                    int64_t pw, int64_t Ws);
#endif
int conv_s2_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl);
/* conv_s2b.c (plan path CONV_S2B): whether one thread's slice fits the limit, the plan
 * (pl->nt set), the forward; the tile and packing of conv_s2b_avx512.c (its store:
 * cr_s2dx_store_f32_avx512) */
#define S2B_MAX_TAPS 64 /* R x S of the layers conv_s2b.c takes */
int conv_s2b_fits(const cr_conv2d_dims *d, int64_t limit);
void conv_s2b_plan(conv_plan *pl, const cr_conv2d_dims *d);
int conv_s2b_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                         const cr_conv2d_dims *d, const conv_plan *pl);
void cr_s2b_tile_f32_avx512(int64_t kv, int64_t np, const float *wp, int64_t cn, int64_t cst,
                            const int64_t *tof, int64_t ntap, const float *const *px, float *T,
                            int acc);
void cr_s2b_pack_f32_avx512(float *wp, const float *w, int64_t C, int64_t RS, int64_t KB);
void cr_s2b_dw_tile_f32_avx512(int64_t kv, int64_t nt, const float *dyT, int64_t n,
                               const float *xp, const int64_t *pof, const int64_t *off,
                               float *D, int acc);
void cr_s2b_transpose_f32_avx512(float *dyT, const float *dy, int64_t ldy, int64_t KB,
                                 int64_t n);
/* dw by the direct tile (conv_s2b.c), inside the implicit_s2 backward: scratch, and the call */
int64_t conv_s2b_dw_bytes(const cr_conv2d_dims *d, int nt);
int conv_s2b_dw_backward_f32(float *dweight, float *dbias, const float *dout, const float *inp,
                             const cr_conv2d_dims *d, const conv_plan *pl);
void conv_s2b_backward_weight_f32(float *dweight, const float *dout, const float *inp,
                                  const cr_conv2d_dims *d, int nt, char *ws);
void cr_s2b_copy_rows_f32_avx512(float *xp, int64_t cst, int64_t Wp, const float *x, int64_t H,
                                 int64_t W, int64_t c0, int64_t c1);
/* conv_s2dx.c (dx_as_conv 5): dx of strided layers (a stride above 1, 2 to S2B_MAX_TAPS taps,
 * R >= sh, S >= sw, C % 16 == 0), input channels in the lanes; whether it applies, its
 * scratch for nt threads, the call (dx +=) */
int conv_s2dx_applies(const cr_conv2d_dims *d);
int64_t conv_s2dx_bytes(const cr_conv2d_dims *d, int nt);
int conv_s2dx_backward_input_f32(float *dinp, const float *dout, const float *w,
                                 const cr_conv2d_dims *d, int nt);
void cr_s2dx_tile_f32_avx512(int64_t kv, int64_t np, int64_t ntap, const float *wp, int64_t kn,
                             int64_t kst, const int64_t *toff, const float *const *px,
                             float *const *tp, int acc);
void cr_s2dx_pack_f32_avx512(float *wp, const float *w, int64_t C, int64_t K, int64_t CB,
                             int64_t RS, const int64_t *dst, const int64_t *ntp, int64_t k0,
                             int64_t k1);
void cr_s2dx_store_f32_avx512(float *dx, int64_t ldx, const float *T, int64_t CB, int64_t n,
                              int acc, const float *bias);
int conv_s2_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *w, const cr_conv2d_dims *d,
                         const conv_plan *pl);

/* dx as the forward of pl->dd (dx_as_conv; conv_implicit.c, Winograd on any CPU) */
int conv_backward_input_as_conv_f32(float *dinp, const float *dout, const float *w,
                                    const cr_conv2d_dims *d, const conv_plan *pl);

#ifdef CR_X86
/* conv_avx512.c: the unpacked float32 products (see there). */
void cr_conv_bcast_f32_avx512(int64_t m, int64_t n, int64_t kd, const float *A, int64_t rsa,
                              int64_t csa, const float *B, int64_t ldb, const int64_t *boff,
                              float *C, int64_t ldc, const int64_t *coff, int acc,
                              const float *bias);
void cr_conv_dot_f32_avx512(int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                            const float *B, int64_t ldb, const int64_t *boff, float *C,
                            int64_t ldc);
void cr_conv_dot_acc_f32_avx512(int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                                const float *B, const int64_t *boff, float *acc);
void cr_conv_dot_reduce_f32_avx512(int64_t m, int64_t n, const float *acc, float *C, int64_t ldc);

/* conv_implicit.c: the float32 paths without im2col, by plan path. */
int conv_forward_implicit_f32(float *out, const float *inp, const float *w, const float *bias,
                              const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
int conv_backward_implicit_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *w, const cr_conv2d_dims *d,
                               const conv_plan *pl);
int conv_backward_weight_implicit_f32(float *dweight, float *dbias, const float *dout,
                                      const float *inp, const cr_conv2d_dims *d,
                                      const conv_plan *pl);
#endif

/* conv_direct.c (plan path CONV_DIRECT): the direct forward (dx: of pl->dd) and backward;
 * its register tile, conv_direct_avx512.c (x86). */
int conv_direct_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
int conv_direct_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                             const float *inp, const float *w, const cr_conv2d_dims *d,
                             const conv_plan *pl);
int64_t conv_direct_dw_bytes(const cr_conv2d_dims *d);
#ifdef CR_X86
void conv_direct_tile_avx512(float *y, int64_t ldy, int64_t Q, const float *x, const float *wt,
                             int64_t mb, int64_t C, int64_t H, int64_t W, int64_t R, int64_t S,
                             int64_t ph, int64_t pw, int64_t p, int64_t nr, int64_t q0,
                             int64_t ncol, const float *zrow, const float *bias, int acc);
void conv_direct_dw_avx512(float *g, const float *dy_k0, int64_t ldy, int64_t mb,
                           const float *xc, int64_t H, int64_t W, int64_t P, int64_t Q,
                           int64_t ph, int64_t pw);
void conv_direct_dw_reduce_avx512(float *dw, int64_t ldw, const float *g, int64_t mb);
#endif
/* conv_c16.c (plan path CONV_C16): scratch bytes with nt threads, the forward (dx: of
 * pl->dd, accumulated) and the backward (dw, db: the direct path's); its kernel (x86) */
int64_t conv_c16_ws_bytes(const cr_conv2d_dims *d, int nt);
int conv_c16_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                         const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
int conv_c16_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *w, const cr_conv2d_dims *d,
                          const conv_plan *pl);
#ifdef CR_X86
void conv_c16_tilerow_avx512(float *y, const float *x, const float *U, const float *bias,
                             int64_t nimg, int64_t C, int64_t H, int64_t W, int64_t tp,
                             int64_t wx, int64_t wy, float *ws, int acc, int reuse);
#endif
/* conv_rows.c (plan path CONV_ROWS): the predicate (any_k: dx as a convolution), the plan,
 * and the forward (x86 only; accumulate: add to out) */
int conv_rows_ok(const cr_conv2d_dims *d, int64_t elsize, int any_k);
void conv_rows_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize);
int conv_rows_dw_ok(const cr_conv2d_dims *d, int64_t elsize);
void conv_rows_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize, int64_t dx_bytes);
/* conv_k5.c: CONV_ROWS with a panel of the pixels of bl.G images (conv_rows_plan sends
 * small outputs there); flipped: dx as the convolution of dy with the flipped kernel */
void conv_k5_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t elsize);
int64_t conv_k5_dw_elems(const cr_conv2d_dims *d, int nt);
#ifdef CR_X86
int conv_k5_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                const float *inp, const cr_conv2d_dims *d, const conv_plan *pl);
int conv_k5_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                        int flipped);
void cr_conv_k5_f32_avx512(int64_t mb, int64_t nv, int64_t kd, const float *A, int64_t ai,
                           const int64_t *aoff, const float *B, const int64_t *boff,
                           const int64_t *so, const uint16_t *sm, float *C, int64_t ldc,
                           int acc, const float *bias);
void cr_conv_k5_gather_f32_avx512(float *dst, int64_t ldd, const float *src,
                                  const int64_t *offs, int64_t kd, const int64_t *runs,
                                  int64_t nr);
#endif
/* conv_g5.c (plan path CONV_G5): the predicate, scratch bytes with nt threads, the plan, and
 * the forward (flipped: dx of the layer whose forward weights are w; x86 only) */
int conv_g5_ok(const cr_conv2d_dims *d, int64_t elsize);
int64_t conv_g5_ws_bytes(const cr_conv2d_dims *d, int nt);
void conv_g5_plan(conv_plan *pl, const cr_conv2d_dims *d);
#ifdef CR_X86
int conv_g5_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                        const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                        int flipped);
void cr_conv_g5_tile_f32_avx512(float *buf, const float *x, int64_t cn, int64_t HW, int64_t W,
                                const float *wp, int64_t R, int64_t S, int64_t nr, int64_t ns,
                                int qb, int kv);
int conv_g5_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                const float *inp, const cr_conv2d_dims *d, const conv_plan *pl);
void cr_conv_g5_dw_f32_avx512(float *out, const float *x, int64_t HW, const int32_t *xo,
                              const int32_t *yo, int64_t np, const float *dyT, int cg, int kv);
#endif
int64_t conv_g5_dw_ws_bytes(const cr_conv2d_dims *d, int nt);
/* conv_wino25.c (plan path CONV_WINO25): the sizes it takes, the plan (0: scratch beyond the
 * limit or not AVX-512), the forward (flip: dx of the layer whose forward weights are w) */
int conv_wino25_applies(const cr_conv2d_dims *d);
int conv_wino25_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t limit);
int conv_wino25_dw_plan(conv_plan *pl, const cr_conv2d_dims *d, int64_t limit,
                        int64_t dx_bytes);
int conv_wino25_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                    const float *inp, const cr_conv2d_dims *d,
                                    const conv_plan *pl);
int conv_wino25_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                            const cr_conv2d_dims *d, const conv_plan *pl, int accumulate,
                            int flip);
#ifdef CR_X86
/* conv_wino25_avx512.c: the transforms of one plane, the weight transform of a 12-row panel */
void conv_wino25_input_plane_avx512(float *V, int64_t lde, const float *x, int64_t H,
                                    int64_t W, int64_t ph, int64_t pw, int64_t TP, int64_t TQ);
void conv_wino25_output_plane_avx512(float *y, const float *M, int64_t lde, int64_t P,
                                     int64_t Q, int64_t TP, int64_t TQ, float bias,
                                     int accumulate);
void conv_wino25_grad_plane_avx512(float *MgT, int64_t lde, int64_t ldk, const float *dy,
                                   int64_t P, int64_t Q, int64_t TP, int64_t TQ);
void conv_adj25_chunk_avx512(float *restrict dw, const float *restrict dUT, int64_t ldd,
                             int64_t K, int64_t C, int64_t j0, int64_t m);
void conv_wt25p_chunk_avx512(float *restrict Up, int64_t ldu, const float *restrict w, int flip,
                             int64_t K, int64_t C, int64_t k0, int64_t mk, int64_t c0,
                             int64_t mc);
#endif
#ifdef CR_X86
int conv_rows_backward_input_f32(float *dinp, const float *dout, const float *w,
                                 const cr_conv2d_dims *dd, int nt);
int conv_rows_backward_weight_f32(float *dweight, float *dbias, const float *dout,
                                  const float *inp, const cr_conv2d_dims *d,
                                  const conv_plan *pl);
void cr_conv_rows_dw_f32_avx512(int64_t mb, int64_t nk, const float *X, const int64_t *aoff,
                                int64_t P, int64_t Q, int64_t Wp, const float *B, int64_t ldb,
                                float *C, int64_t ldc);
int conv_rows_forward_f32(float *out, const float *inp, const float *w, const float *bias,
                          const cr_conv2d_dims *d, const conv_plan *pl, int accumulate);
void cr_conv_rows_f32_avx512(int64_t mb, int64_t nv, int64_t kd, const float *A, int64_t ai,
                             const int64_t *aoff, const float *B, const int64_t *boff,
                             const int64_t *sb, const int64_t *sc, const uint16_t *smask,
                             float *C, int64_t ldc, int acc, const float *bias);
#endif

#endif
