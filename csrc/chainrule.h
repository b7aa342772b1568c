/* chainrule.h — the one public header of chainrule's C kernels.
 *
 * Conventions (all families):
 *   - row-major, contiguous buffers unless a leading dimension is passed;
 *   - outputs first, inputs next, sizes last (llm.c style);
 *   - every backward ACCUMULATES (+=) into its gradient buffers; callers zero them;
 *   - sizes are int64_t; the Python layer validates every shape before calling;
 *   - no Python API in here. ISA level and threads come from the CPU runtime (cpu.h).
 */
#ifndef CHAINRULE_H
#define CHAINRULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- activations shared by the GEMM epilogue and the RNN ------------------- */
enum { CR_ACT_NONE = 0, CR_ACT_TANH = 1, CR_ACT_RELU = 2, CR_ACT_SIGMOID = 3 };

#ifdef __cplusplus
}
#endif

#include "cpu.h"
#include "gemm.h"
#include "linear.h"
#include "conv.h"
#include "pool.h"
#include "rnn.h"
#include "gates.h"
#include "embed.h"
#include "optim.h"
#include "act.h"
#include "spmm.h"
#include "norm.h"
#include "dropout.h"

#endif
