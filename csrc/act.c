/* act.c — fused elementwise ReLU forward/backward (see act.h for the math).
 *
 * numpy needs two passes and a bool temporary for a ReLU backward (mask, then multiply)
 * and np.maximum is slow on float32 (~0.3 ns/element, it checks for NaN per element);
 * these are one vectorised pass each. Each kernel is a range loop [lo, hi) compiled for
 * AVX-512, AVX2+FMA and baseline x86-64 (target_clones); a call splits the buffer into one
 * contiguous chunk per thread when it is large enough. One body for both dtypes:
 * act_tmpl.h, included twice.
 */
#include <math.h>
#include "chainrule.h"
#include "act.h"
#include "split.h"

#define T float
#define SUF f32
#include "act_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "act_tmpl.h"
#undef T
#undef SUF
