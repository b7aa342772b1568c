/* split.h — internal: run an elementwise range kernel over [0, n) on the chainrule threads.
 *
 * CR_SPLIT_RANGE(n, min_n, CALL) evaluates CALL with int64_t lo, hi in scope: once with
 * [0, n) when n < min_n, one thread is configured or we are already inside a parallel
 * region; otherwise once per thread on a contiguous chunk. Chunks start on 16-element
 * boundaries so vectors stay aligned, and depend only on n and the thread count, so each
 * element is computed by the same code whatever the thread count (bitwise deterministic). */
#ifndef CHAINRULE_SPLIT_H
#define CHAINRULE_SPLIT_H
#include <stdint.h>
#include "chainrule.h"
/* This thread's number and its team's size, also when built without OpenMP. */
#ifdef _OPENMP
#include <omp.h>
#define CR_THREAD_NUM() omp_get_thread_num()
#define CR_TEAM_SIZE() omp_get_num_threads()
#else
#define CR_THREAD_NUM() 0
#define CR_TEAM_SIZE() 1
#endif

/* Range loops are short and run from L1/L2: compile them for AVX-512, AVX2+FMA and baseline
 * x86-64 and let the loader pick (ifunc). Not under ASan, whose runtime predates ifuncs. */
#if defined(CR_X86) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CR_CLONES
#endif

#define CR_SPLIT_RANGE(n, min_n, CALL)                                                \
    do {                                                                              \
        const int nt_ = cr_threads_for((double)(n), (double)(min_n));                 \
        if (nt_ <= 1) {                                                               \
            int64_t lo = 0, hi = (n);                                                 \
            CALL;                                                                     \
        } else {                                                                      \
            _Pragma("omp parallel num_threads(nt_)")                                  \
            {                                                                         \
                const int64_t t_ = CR_THREAD_NUM(), T_ = CR_TEAM_SIZE();             \
                int64_t per_ = (((n) + T_ - 1) / T_ + 15) / 16 * 16;                  \
                int64_t lo = t_ * per_, hi = lo + per_;                               \
                if (hi > (n)) hi = (n);                                               \
                if (lo < hi) CALL;                                                    \
            }                                                                         \
        }                                                                             \
    } while (0)

#endif
