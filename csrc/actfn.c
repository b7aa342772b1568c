/* actfn.c — fused parameterised activations (see actfn.h for the math).
 *
 * NumPy needs 3-8 passes and temporaries for each of these (GELU's erf is not even in
 * NumPy); here each direction is one pass computing in the array's dtype with libm
 * (expf/erff/... for float32, as PyTorch's CPU kernels). A range loop per function and
 * direction, compiled for AVX-512, AVX2+FMA and baseline x86-64 (target_clones); a call
 * splits the buffer into one contiguous chunk per thread when it is large enough.
 * One body for both dtypes: actfn_tmpl.h, included twice.
 */
#include <math.h>
#include "chainrule.h"
#include "act.h"
#include "actfn.h"
#include "split.h"

#define T float
#define SUF f32
#define EXP expf
#define EXPM1 expm1f
#define LOG1P log1pf
#define ERF erff
#define TANH tanhf
#include "actfn_tmpl.h"
#undef T
#undef SUF
#undef EXP
#undef EXPM1
#undef LOG1P
#undef ERF
#undef TANH

#define T double
#define SUF f64
#define EXP exp
#define EXPM1 expm1
#define LOG1P log1p
#define ERF erf
#define TANH tanh
#include "actfn_tmpl.h"
#undef T
#undef SUF
#undef EXP
#undef EXPM1
#undef LOG1P
#undef ERF
#undef TANH
