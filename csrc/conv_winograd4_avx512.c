/* conv_winograd4_avx512.c — the F(4x4, 3x3) transforms of conv_winograd4_xf.h compiled for
 * AVX-512 (plain C: the compiler vectorises the loops over tiles 16 wide); called by
 * conv_winograd4.c when the CPU runs AVX-512 (cpu.h). Same operations, same bits. */
#include <stdint.h>
#include "conv_internal.h"

#define WINO4_FN(name) name##_avx512_impl
#include "conv_winograd4_xf.h"
#undef WINO4_FN

void conv_wino4_input_row_avx512(float *V, int64_t lde, const float *x_c, int64_t H, int64_t W,
                                 int64_t h0, int64_t pw, int64_t TQ, float *buf) {
    wino4_input_row_avx512_impl(V, lde, x_c, H, W, h0, pw, TQ, buf);
}

void conv_wino4_output_row_avx512(float *const y[4], const float *M, int64_t lde, int64_t TQ,
                                  int64_t Q, float b, int accumulate, float *buf) {
    wino4_output_row_avx512_impl(y, M, lde, TQ, Q, b, accumulate, buf);
}

void conv_wino4_grad_row_avx512(float *Mg, int64_t lde, const float *yr, int64_t ldy,
                                int64_t TQ, float *buf) {
    wino4_grad_row_avx512_impl(Mg, lde, yr, ldy, TQ, buf);
}
