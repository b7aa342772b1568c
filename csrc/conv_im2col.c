/* conv_im2col.c — im2col and its adjoint col2im (see conv.h), for both dtypes
 * (conv_im2col_tmpl.h). The products of the convolution run on these matrices
 * (conv_gemm.c); the implicit float32 paths (conv_implicit.c) do without them. */
#include "conv_internal.h"

/* Output positions o in [0, n_out) whose input index o*stride + off lies in [0, size):
 * o in [*lo, *hi). */
static inline void valid_range(int64_t off, int64_t stride, int64_t n_out, int64_t size,
                               int64_t *lo, int64_t *hi) {
    int64_t l, h;
    if (stride == 1) { /* no divisions: this runs once per im2col row */
        l = off >= 0 ? 0 : -off;
        h = size - off <= 0 ? 0 : size - off;
    } else {
        l = off >= 0 ? 0 : (-off + stride - 1) / stride;
        h = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
    }
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* GCC turns short copy loops back into memcpy/memset calls; for im2col's rows of a few
 * dozen values the call costs more than the copy. */
#if defined(__GNUC__) && !defined(__clang__)
#define CONV_NO_MEMCPY __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define CONV_NO_MEMCPY
#endif

/* (c, r, s) -> the next im2col row's (c, r, s), s fastest (row = (c*R + r)*S + s). */
static inline void next_crs(int64_t *c, int64_t *r, int64_t *s, int64_t R, int64_t S) {
    if (++*s < S) return;
    *s = 0;
    if (++*r < R) return;
    *r = 0;
    ++*c;
}

#define T float
#define SUF f32
#include "conv_im2col_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "conv_im2col_tmpl.h"
#undef T
#undef SUF
