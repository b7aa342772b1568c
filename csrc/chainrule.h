/* chainrule.h — the one public header of chainrule's C kernels.
 *
 * Conventions (all families):
 *   - row-major, contiguous buffers unless a leading dimension is passed;
 *   - outputs first, inputs next, sizes last (llm.c style);
 *   - every backward ACCUMULATES (+=) into its gradient buffers; callers zero them;
 *   - sizes are int64_t; the Python layer validates every shape before calling;
 *   - no Python API in here. Threads come from cr_get_num_threads().
 */
#ifndef CHAINRULE_H
#define CHAINRULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads (threads.c) ---------------------------------------------------- */
void cr_set_num_threads(int n);    /* n >= 1 */
int cr_get_num_threads(void);      /* initialised from OMP_NUM_THREADS / omp_get_max_threads */
int cr_in_parallel(void);          /* 1 inside an OpenMP parallel region */

/* ---- activations shared by the GEMM epilogue and the RNN ------------------- */
enum { CR_ACT_NONE = 0, CR_ACT_TANH = 1, CR_ACT_RELU = 2, CR_ACT_SIGMOID = 3 };

#ifdef __cplusplus
}
#endif

#include "gemm.h"
#include "linear.h"
#include "conv.h"
#include "pool.h"
#include "rnn.h"
#include "optim.h"

#endif
