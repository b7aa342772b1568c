/* threads.c — one process-wide thread count used by every kernel's parallel region.
 * Kept in C (not omp_set_num_threads) because OpenMP's ICV is per Python thread. */
#include "chainrule.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static volatile int g_num_threads = 0; /* 0 = not yet initialised */

void cr_set_num_threads(int n) { g_num_threads = n < 1 ? 1 : n; }

int cr_get_num_threads(void) {
    int n = g_num_threads;
    if (n <= 0) {
#ifdef _OPENMP
        n = omp_get_max_threads();
#else
        n = 1;
#endif
        if (n < 1) n = 1;
        g_num_threads = n;
    }
    return n;
}

int cr_in_parallel(void) {
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return 0;
#endif
}
