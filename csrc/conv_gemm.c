/* conv_gemm.c — 2-D convolution by im2col + matrix products, forward and backward (see
 * conv.h): the entry points, which follow the plan of conv_plan.c.
 *
 * Shapes: x (N, C, H, W), w (K, C, R, S), b (K,), y (N, K, P, Q); CRS = C*R*S, PQ = P*Q.
 * Work is cut into blocks: a block of output rows [p0, p1) of one image (cols = (p1-p0)*Q
 * columns) or, when images are small (PQ < 512), a group of G whole images side by side
 * (cols = G*PQ), so the matrix products stay wide enough to run fast. Per block:
 *   forward   col = im2col(x)                        (CRS, cols)
 *             y[:, cols] = w (K, CRS) @ col + b      (bias in the product's epilogue)
 *   backward  dw (K, CRS) += dy[:, cols] @ col^T
 *             dcol (CRS, cols) = w^T @ dy[:, cols],  dx += col2im(dcol)
 *             db[k] += sum over n, p, q of dy[n, k, p, q]
 * A 1x1 / stride 1 / padding 0 convolution has col == x_n: no im2col, no scratch.
 *
 * The products go to cr_gemm (csrc/gemm.h), except in float32 on AVX-512 CPUs, where the
 * unpacked kernels of conv_avx512.c do dw for K < 64, the forward up to K = 128 and dx for
 * K <= 32 while C*R*S < 1024 (see small_fwd); the choice depends on the shapes only. A stride-1 float32
 * forward with K <= 128 skips im2col altogether ("implicit im2col", see implicit_fwd_ok),
 * and so does the backward of small layers and the dw of larger ones whose dx runs as a
 * convolution (conv_plan.c decides, conv_implicit.c runs them).
 *
 * Threads and determinism (bitwise identical run to run, and for any thread count, as
 * long as the GEMM sums each element in an order independent of its own threading):
 *   - forward and dx: whole blocks of images per thread (each writes its own y_n / dx_n;
 *     products run serially inside the region); with fewer image blocks than threads the
 *     blocks go one after another and the GEMM, im2col and col2im (split by channel, or
 *     by image in a block of several) use the threads instead.
 *   - dw and db: threads own disjoint column slices of dw (CRS rows of col) and rows of
 *     db, so no two threads write one address and every element is summed over images
 *     and blocks in the same order whatever the thread count.
 *   - block sizes depend only on the sizes and the workspace limit, never on threads.
 *
 * Memory: each thread owns one scratch buffer of (CRS + K) x cols values, with cols
 * chosen so that it stays under the per-thread workspace limit (one output row at least).
 *
 * The float32 and float64 kernels are one body, conv_gemm_tmpl.h, included twice.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "conv_wino4s.h"
#include "split.h"

#define T float
#define SUF f32
#define CONV_F32 1
#include "conv_gemm_tmpl.h"
#undef T
#undef SUF
#undef CONV_F32

#define T double
#define SUF f64
#define CONV_F32 0
#include "conv_gemm_tmpl.h"
#undef T
#undef SUF
#undef CONV_F32
