/* conv_wino_wt_avx512.c — the Winograd filter transforms of conv_wino_wt.h compiled for AVX-512
 * (the compiler vectorises the loops over filters 16 wide); called by conv_winograd.c's
 * dispatchers when the CPU runs AVX-512 (cpu.h). FMA contraction is off here, as in the
 * portable build (no -mfma there), so both give the same bits. */
#pragma GCC optimize("fp-contract=off")
#include <stdint.h>
#include "conv_internal.h"

#define WT_FN(name) name##_avx512
#include "conv_wino_wt.h"
#undef WT_FN
