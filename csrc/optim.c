/* optim.c — fused optimizer updates: SGD (momentum, dampening, Nesterov, L2) and
 * Adam / AdamW, one pass over each parameter buffer (see optim.h for the math).
 *
 * Each update is an elementwise range function [lo, hi) compiled for AVX-512, AVX2+FMA
 * and baseline x86-64 (target_clones, chosen at load time); a step splits the buffer into
 * one contiguous chunk per thread (static schedule) when it is large enough to pay for
 * the threads. Elementwise, so the result is the same for any thread count.
 * Float32 and float64 share one body, optim_tmpl.h, included twice.
 */
#include <math.h>
#include "chainrule.h"
#include "split.h"

#define T float
#define SUF f32
#define SQRT sqrtf
#include "optim_tmpl.h"
#undef T
#undef SUF
#undef SQRT

#define T double
#define SUF f64
#define SQRT sqrt
#include "optim_tmpl.h"
#undef T
#undef SUF
#undef SQRT
