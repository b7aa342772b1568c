/* conv_depthwise.c — depthwise 2-D convolution (groups == C == K, one filter per channel):
 *     y[n, c, p, q] = b[c] + sum_{r,s} w[c, r, s] * x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]
 * A plane at a time: each (n, c) plane is copied zero-padded into a per-thread scratch
 * (Hp x Wp), then every output row is a sum of R*S scaled row slices -- plain loops over q
 * the compiler vectorises (contiguous for stride 1). No im2col, no GEMM.
 *
 * Threads: the forward splits the N*C planes statically; the backward splits the channels,
 * and one thread runs all of a channel's images in order (dw[c] and db[c] are summed in one
 * fixed order, dx planes are independent), so results are bitwise the same for any thread
 * count. Serial below CONV_DW_MIN_WORK multiply-adds (cr_threads_for).
 */
#include <stdlib.h>
#include <string.h>
#include "chainrule.h"
#include "split.h"

#define CONV_DW_MIN_WORK 65536.0

#define T float
#define SUF f32
#include "conv_depthwise_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "conv_depthwise_tmpl.h"
#undef T
#undef SUF
