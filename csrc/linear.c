/* linear.c — the dense (fully connected) layer on top of cr_gemm.
 *
 * Shapes: inp (N, C), weight (OC, C) (PyTorch layout), bias (OC), out (N, OC).
 */
#include "chainrule.h"

#define T float
#define SUF f32
#include "linear_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "linear_tmpl.h"
#undef T
#undef SUF
