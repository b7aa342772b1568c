/* cpu.h — the CPU runtime every kernel family shares (cpu.c): which instruction set the
 * kernels use, how many threads they run on, and the clock for benchmark reports.
 *
 * ISA level. The CPU is probed once (AVX-512 = AVX-512F/VL/BW/DQ + x86-64-v4, AVX2 =
 * AVX2 + FMA + x86-64-v3; generic anywhere else), then capped by the environment variable
 * CHAINRULE_ISA=avx512|avx2|generic (read here and nowhere else; unknown names are
 * ignored). cr_set_isa switches every family at once, in-process, so tests can run each
 * path; it never goes above what the CPU runs. Each family maps the level to its own
 * kernels (gemm.c's path table, conv/pool's AVX-512 and AVX2 files, rnn's step clones).
 *
 * Threads. One process-wide count (cr_set_num_threads; OpenMP's own ICV is per Python
 * thread). cr_threads_for(work, min_work) is the one rule for "stay serial below N": 1
 * inside a parallel region or when work < min_work, else cr_get_num_threads(). Each call
 * site keeps its own min_work (measured where it was tuned). cr_get_num_threads drops to
 * 1 while other processes keep the workers off the cores (the contention probe, cpu.c):
 * kernels must therefore compute the same bits on any thread count (fixed chunk
 * boundaries, fixed-order reductions), which tests/test_threads.py checks.
 *
 * dtype templates (the one idiom of csrc/). A family whose float and double kernels share
 * a body keeps it in <family>_tmpl.h, written with T (the element type) and SUF (f32 or
 * f64), and CR_FN(name) to name things (name_f32 / name_f64). The family's .c file
 * includes it twice:
 *     #define T float
 *     #define SUF f32
 *     #include "act_tmpl.h"
 *     #undef T
 *     #undef SUF
 *     ... and again with double / f64.
 * Extra per-dtype constants (vector types, intrinsics) are defined next to T and SUF.
 */
#ifndef CHAINRULE_CPU_H
#define CHAINRULE_CPU_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* ---- instruction-set level -------------------------------------------------------- */
enum { CR_ISA_GENERIC = 0, CR_ISA_AVX2 = 1, CR_ISA_AVX512 = 2 };

int cr_isa(void);               /* the active level */
int cr_isa_detected(void);      /* the best level this CPU runs (CHAINRULE_ISA ignored) */
/* Switch the active level for every family: min(level, cr_isa_detected()); a negative
 * level restores the default (detected, capped by CHAINRULE_ISA). Returns the level set. */
int cr_set_isa(int level);
const char *cr_isa_name(int level);     /* "generic", "avx2", "avx512" */
int cr_isa_from_name(const char *name); /* the level, or -1 for an unknown name */

/* ---- threads ------------------------------------------------------------------------ */
void cr_set_num_threads(int n);    /* n >= 1 */
/* The configured count: cr_set_num_threads, else OMP_NUM_THREADS / omp_get_max_threads. */
int cr_num_threads_setting(void);
/* The threads a kernel starting now runs on: the configured count, or 1 while the
 * contention probe (cpu.c) finds workers descheduled by other processes or threads, or
 * 1 inside a parallel region. Kernels compute the same bits on any count, so this only
 * changes speed. */
int cr_get_num_threads(void);
int cr_in_parallel(void);          /* 1 inside an OpenMP parallel region */
/* Threads for a job of `work` units: 1 inside a parallel region or below min_work, else
 * cr_get_num_threads(). */
int cr_threads_for(double work, double min_work);
/* Contention probe controls (tests, benchmarks): enabled 1/0 (-1 = unchanged; default
 * on unless CHAINRULE_ADAPTIVE_THREADS=0), the worker start latency (-1 = default 250 us)
 * and the share of a team thread's runnable time spent waiting for a core (-1 = default
 * 0.35) that count as contended; resets the probe so the next parallel kernel probes. */
void cr_contention_config(int enabled, int64_t bad_latency_ns, double bad_wait_share);
void cr_contention_reset(void);
/* The threads kernels use now; *last_latency_ns = the last probe's start latency (-1:
 * none), *last_wait_share = its largest wait share (< 0: none), *enabled = whether the
 * probe is on (any pointer may be NULL). */
int cr_contention_state(int64_t *last_latency_ns, double *last_wait_share, int *enabled);

/* ---- clock ---------------------------------------------------------------------------- */
/* The core clock in GHz measured with a chain of dependent register adds (0 where not
 * available); for benchmark reports (% of peak). Takes ~25 ms. */
double cr_cpu_clock_ghz(void);
/* The measured vector FMA peak in GFLOP/s of `threads` threads running at once (f64: double,
 * else float), on the active ISA level's widest FMA (cr_isa): best of a few ~10 ms runs of
 * 16 independent FMA chains per thread, summed over the threads of the same run. Unlike
 * cores x clock x FLOP/cycle it includes the clock the cores hold with that ISA on all of
 * them (AVX-512 licence) and any VM overhead. 0 where not available (generic level). */
double cr_fma_peak_gflops(int f64, int threads);
#ifdef CR_X86
/* the per-ISA loops (peak_avx512.c, peak_avx2.c): iters x 16 FMAs; returns a sink value */
double cr_fma_loop_avx512(int64_t iters, int f64);
double cr_fma_loop_avx2(int64_t iters, int f64);
#endif

/* ---- dtype templates (see the header comment) ----------------------------------------- */
#define CR_CAT3_(a, b, c) a##b##c
#define CR_CAT3(a, b, c) CR_CAT3_(a, b, c)
#define CR_FN(name) CR_CAT3(name, _, SUF)

#ifdef __cplusplus
}
#endif
#endif
