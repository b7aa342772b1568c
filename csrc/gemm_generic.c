/* gemm_generic.c — portable C micro-kernel (any CPU; the compiler vectorizes the j loop
 * with whatever the baseline ISA offers). Works on packed and in-place operands alike:
 * it never reads rows >= m of a nor columns >= n of b.
 *
 *   acc[i][j] = sum_p a[i*rsa + p*csa] * b[p*rsb + j]        MR x NR tile, i < m, j < n
 *   C[i, j]   = alpha * acc + beta * C + bias_n[j] + bias_m[i]
 */
#include <math.h>
#include <string.h>
#include "cpu.h"
#include "gemm_ukr.h"

#define T float
#define SUF f32
#define NR CR_GENERIC_NR_F32
#define S_FMA fmaf
#include "gemm_generic_tmpl.h"
#undef T
#undef SUF
#undef NR
#undef S_FMA

#define T double
#define SUF f64
#define NR CR_GENERIC_NR_F64
#define S_FMA fma
#include "gemm_generic_tmpl.h"
#undef T
#undef SUF
#undef NR
#undef S_FMA
