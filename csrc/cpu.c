/* cpu.c — the CPU runtime (see cpu.h): ISA level, thread counts, clock measurement.
 * The only file that probes CPU features or reads CHAINRULE_ISA. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "cpu.h"

/* ---- instruction-set level -------------------------------------------------------- */
static const char *const isa_names[] = {"generic", "avx2", "avx512"};
static volatile int g_detected = -1; /* probed once */
static volatile int g_isa = -1;      /* active level; -1 = not yet initialised */

const char *cr_isa_name(int level) {
    return level >= CR_ISA_GENERIC && level <= CR_ISA_AVX512 ? isa_names[level] : "unknown";
}

int cr_isa_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int l = CR_ISA_GENERIC; l <= CR_ISA_AVX512; l++)
        if (strcmp(name, isa_names[l]) == 0) return l;
    return -1;
}

/* AVX-512: the four subsets the *_avx512.c files are compiled with, FMA, and x86-64-v4
 * for rnn's target("arch=x86-64-v4") clones. AVX2: AVX2 + FMA and x86-64-v3 likewise. */
int cr_isa_detected(void) {
    int l = g_detected;
    if (l < 0) {
        l = CR_ISA_GENERIC;
#ifdef CR_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("x86-64-v3"))
            l = CR_ISA_AVX2;
        if (l == CR_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("x86-64-v4"))
            l = CR_ISA_AVX512;
#endif
        g_detected = l;
    }
    return l;
}

int cr_set_isa(int level) {
    const int best = cr_isa_detected();
    if (level < 0) { /* the default: the CPU's best, capped by CHAINRULE_ISA */
        level = cr_isa_from_name(getenv("CHAINRULE_ISA"));
        if (level < 0) level = best;
    }
    if (level > best) level = best;
    g_isa = level;
    return level;
}

int cr_isa(void) {
    int l = g_isa;
    return l >= 0 ? l : cr_set_isa(-1);
}

/* ---- threads ------------------------------------------------------------------------
 * Kept in C (not omp_set_num_threads) because OpenMP's ICV is per Python thread. */
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

int cr_threads_for(double work, double min_work) {
    if (cr_in_parallel() || work < min_work) return 1;
    return cr_get_num_threads();
}

/* ---- clock ----------------------------------------------------------------------------
 * Effective core clock in GHz, measured: a chain of dependent integer adds retires one add
 * per cycle, so adds per second = cycles per second. The addend is a register: recent
 * Intel cores (Golden Cove and later) fold `add $imm, reg` chains in the renamer and ran
 * the old immediate chain at ~19 "GHz"; `add reg, reg` must execute. Best of a few 5 ms
 * runs (a preempted run only reads low). For the benchmark's "% of peak", since the clock
 * a VM reports (/proc/cpuinfo) is the base clock, not the boost clock the kernels run at.
 * Returns 0 where not implemented (non-x86). */
double cr_cpu_clock_ghz(void) {
#if defined(CR_X86) && defined(__GNUC__)
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1;
        uint64_t x = 0, one = 1;
        const int64_t iters = 2000000; /* 8 dependent adds each: ~16M cycles, ~5 ms */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int64_t i = 0; i < iters; i++)
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                             : "+r"(x)
                             : "r"(one));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        double ghz = s > 0 ? 8.0 * (double)iters / s / 1e9 : 0;
        if (ghz > best) best = ghz;
    }
    return best;
#else
    return 0;
#endif
}
