/* conv_winograd_avx512.c — the Winograd transforms of conv_winograd_xf.h compiled for
 * AVX-512 (plain C: the compiler vectorises the loops over tiles 16 wide); called by
 * conv_winograd.c when the CPU runs AVX-512 (cpu.h). Same operations, same bits. */
#include <stdint.h>
#include "conv_internal.h"

#define WINO_FN(name) name##_avx512_impl
#include "conv_winograd_xf.h"
#undef WINO_FN

void conv_wino_input_row_avx512(float *V, int64_t lde, const float *x_c, int64_t H, int64_t W,
                                int64_t h0, int64_t pw, int64_t TQ, float *buf) {
    wino_input_row_avx512_impl(V, lde, x_c, H, W, h0, pw, TQ, buf);
}

void conv_wino_output_row_avx512(float *y0, float *y1, const float *M, int64_t lde, int64_t TQ,
                                 int64_t Q, float b, int accumulate, float *buf) {
    wino_output_row_avx512_impl(y0, y1, M, lde, TQ, Q, b, accumulate, buf);
}
