/* cpu.c — the CPU runtime (see cpu.h): ISA level, thread counts, clock measurement.
 * The only file that probes CPU features or reads CHAINRULE_ISA. */
#ifdef __linux__
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
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

int cr_num_threads_setting(void) {
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

/* ---- contention probe ----------------------------------------------------------------
 * An OpenMP region waits for every thread of its team: when another process (or another
 * library's spinning BLAS threads) holds a core, a descheduled worker stalls each region
 * for a scheduler time slice (measured on a loaded 2-core VM: an MLP step from 0.6 ms to
 * 100+ ms at 2 threads, 2 ms at 1). So now and then (every PROBE_OK_NS while fine) the
 * caller times an empty region: if the last worker needs more than g_bad_ns to start,
 * the kernels run on half the threads (down to 1) for a while, and more again when a
 * probe finds them starting at once (see threads_now), each increase confirmed by a
 * second probe PROBE_CONFIRM_NS later (a worker woken from sleep gets a core at once;
 * whether it keeps one shows only when it is running). A worker can also start at once
 * and then share its core with another process for the whole region (measured: LeNet
 * steps at 2 threads 7 ms against 4.5 at 1, while every start took 0-2 us), so the probe
 * at the count in use also reads the team's run-queue waits (team_wait_share): a thread
 * that spent WAIT_BAD_SHARE (35%) of its runnable time since the last probe waiting for a core
 * counts as contended, like a late start. Every kernel computes the same bits on any
 * thread count (tests/test_threads.py), so this changes speed, never results.
 * CHAINRULE_ADAPTIVE_THREADS=0 turns it off. */
#define PROBE_OK_NS 20000000LL      /* 20 ms between probes while the team starts at once */
#define PROBE_CONFIRM_NS 2000000LL  /* 2 ms: re-check right after restoring the team */
#define PROBE_RENEW_NS 5000000LL    /* 5 ms: judge the waits from a just-taken baseline */
#define PROBE_BAD_NS 50000000LL     /* 50 ms on fewer threads after a slow probe */
#define PROBE_MAX_NS 1000000000LL   /* the back-off doubles up to 1 s */
#define PROBE_BAD_DEFAULT_NS 250000LL /* a worker 250 us late = descheduled (a futex wake-up
                                       * from sleep takes ~10-80 us) */
#define WAIT_BAD_SHARE 0.35 /* measured: 0.5 for a thread sharing its core with a busy process
                            * (pinned or not), 0.25-0.27 for an idle worker spinning while
                            * NumPy's OpenBLAS team computes, 0-0.06 alone */
#define WAIT_MIN_NS 1000000LL        /* judge a thread only after 1 ms of runnable time */
#define WAIT_STALE_NS 200000000LL    /* an older baseline may describe other load: renew it */
#define TEAM_MAX 64                  /* threads whose waits are read */

static volatile int g_adaptive = -1;   /* -1 = read CHAINRULE_ADAPTIVE_THREADS on first use */
static volatile int g_eff = 0;         /* threads now; 0 = the configured count */
static volatile int g_probing = 0;     /* one probe at a time (Python threads call kernels) */
static volatile int64_t g_next_ns = 0; /* time of the next probe */
static volatile int64_t g_backoff_ns = PROBE_BAD_NS;
static volatile int64_t g_bad_ns = PROBE_BAD_DEFAULT_NS;
static volatile int64_t g_last_ns = -1; /* the last probe's latency */
static volatile int g_confirming = 0;  /* the next probe verifies the count in use */
static volatile int g_raised = 0;      /* the count in use was just raised */
static double g_bad_share = WAIT_BAD_SHARE;
static double g_last_share = -1;       /* the last probe's largest wait share; -1 = none */

static int64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The team's thread ids (Linux), by thread number: written by team_start_ns's region,
 * read by team_wait_share. */
static volatile int g_tid[TEAM_MAX];
static volatile int g_tid_n = 0;

/* Nanoseconds until the last of n threads has entered an empty parallel region. */
static int64_t team_start_ns(int n) {
#ifdef _OPENMP
    const int64_t t0 = mono_ns();
    int64_t last = t0;
#pragma omp parallel num_threads(n) reduction(max : last)
    {
        last = mono_ns();
#ifdef __linux__
        const int i = omp_get_thread_num();
        if (i < TEAM_MAX) g_tid[i] = (int)syscall(SYS_gettid);
#endif
    }
    g_tid_n = n < TEAM_MAX ? n : TEAM_MAX;
    return last - t0;
#else
    (void)n;
    return 0;
#endif
}

/* A thread's nanoseconds on a cpu and waiting on a run queue (/proc/self/task/<tid>/
 * schedstat, the kernel's schedstats: "run wait slices"); 0 on success. */
static int read_schedstat(int tid, int64_t *run, int64_t *wait) {
#ifdef __linux__
    char path[64], buf[96];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) return -1;
    buf[got] = 0;
    long long r, w;
    if (sscanf(buf, "%lld %lld", &r, &w) != 2) return -1;
    *run = r;
    *wait = w;
    return 0;
#else
    (void)tid; (void)run; (void)wait;
    return -1;
#endif
}

/* The largest share of runnable time that a thread of the last probed team (of m) spent
 * waiting for a core since the previous reading: the caller reads the workers' counters,
 * so a descheduled worker costs nothing here. Idle (sleeping) time is neither, so a
 * baseline stays meaningful while the workers sleep. Unknown: -2 when a baseline was
 * just taken (none yet, an old one, or `renew`), -1 while no thread has WAIT_MIN_NS of
 * runnable time since the baseline (kept, so runnable time adds up over probes). */
static int64_t g_wait_t0 = -1; /* when team_wait_share's baseline was taken; -1 = none */

static double team_wait_share(int m, int renew) {
    static int tid0[TEAM_MAX];
    static int64_t run0[TEAM_MAX], wait0[TEAM_MAX];
    const int64_t t0 = g_wait_t0;
    const int n = g_tid_n < m ? g_tid_n : m;
    const int64_t now = mono_ns();
    int64_t run[TEAM_MAX], wait[TEAM_MAX];
    int tid[TEAM_MAX], have = 0;
    for (int i = 0; i < n; i++) {
        tid[i] = g_tid[i];
        if (read_schedstat(tid[i], &run[i], &wait[i]) != 0) tid[i] = run[i] = wait[i] = 0;
        else have = 1;
    }
    if (!have) return -1;
    double worst = -2;
    int judged = 0;
    if (!renew && t0 >= 0 && now - t0 < WAIT_STALE_NS) {
        for (int i = 0; i < n; i++) {
            if (tid[i] == 0 || tid[i] != tid0[i]) continue;
            const int64_t dr = run[i] - run0[i], dw = wait[i] - wait0[i];
            if (dr < 0 || dw < 0 || dr + dw < WAIT_MIN_NS) continue;
            const double share = (double)dw / (double)(dr + dw);
            if (share > worst) worst = share;
            judged = 1;
        }
        if (!judged) return -1; /* keep the baseline: runnable time adds up */
    }
    for (int i = 0; i < n; i++) {
        tid0[i] = tid[i];
        run0[i] = run[i];
        wait0[i] = wait[i];
    }
    for (int i = n; i < TEAM_MAX; i++) tid0[i] = 0;
    g_wait_t0 = now;
    return worst;
}

/* While on 1 thread (the workers asleep): are fewer than n cores free of other runnable
 * threads? From the kernel's count of runnable threads (/proc/loadavg, 4th field "r/t",
 * which includes the caller). Lets a probe be skipped while the machine stays busy: a
 * contended probe itself waits for a time slice. 0 where unknown. */
static int cores_taken(int n) {
#ifdef __linux__
    /* the count is machine-wide: meaningless when this process may use only some CPUs
     * (a container's cpuset on a big host) */
    cpu_set_t mask;
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus <= 0 || sched_getaffinity(0, sizeof mask, &mask) != 0 || CPU_COUNT(&mask) != cpus)
        return 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return 0;
    double l1, l5, l15;
    long running = 0, total = 0;
    const int got = fscanf(f, "%lf %lf %lf %ld/%ld", &l1, &l5, &l15, &running, &total);
    fclose(f);
    return got == 5 && cpus - (running - 1) < n;
#else
    (void)n;
    return 0;
#endif
}

static int adaptive_on(void) {
    int a = g_adaptive;
    if (a < 0) {
        const char *e = getenv("CHAINRULE_ADAPTIVE_THREADS");
        a = !(e != NULL && strcmp(e, "0") == 0);
        g_adaptive = a;
    }
    return a;
}

static int eff_threads(int n) {
    const int e = g_eff;
    return e > 0 && e < n ? e : n;
}

/* The probe's state machine. cur = the threads in use. A probe times a team of m threads:
 * m = cur to verify it (at the full count, or right after a change), else 2 x cur to try
 * more. Slow at m = cur: halve (down to 1), verify the new count after PROBE_BAD_NS. Slow
 * at m > cur: stay, wait twice as long before trying again (up to PROBE_MAX_NS). Fast at
 * m > cur: take m, verify it PROBE_CONFIRM_NS later. Fast at m = cur: next probe after
 * PROBE_OK_NS at the full count, else after the back-off (to try more). */
static int threads_now(int n) {
    if (n <= 1 || !adaptive_on()) return n;
    const int64_t now = mono_ns();
    if (now < g_next_ns || __atomic_exchange_n(&g_probing, 1, __ATOMIC_ACQUIRE))
        return eff_threads(n);
    const int cur = eff_threads(n);
    int m = cur;
    if (cur < n && (!g_confirming || cur == 1)) m = 2 * cur < n ? 2 * cur : n;
    if (cur == 1 && cores_taken(m)) { /* still busy: no need to wait for a worker to know */
        g_next_ns = mono_ns() + PROBE_BAD_NS;
        __atomic_store_n(&g_probing, 0, __ATOMIC_RELEASE);
        return 1;
    }
    /* at the count in use, first the waits since the last probe (no region needed) */
    const double share = m == cur ? team_wait_share(cur, 0) : -1;
    g_last_share = share;
    int slow = share >= g_bad_share;
    if (!slow) {
        int64_t lat = team_start_ns(m);
        if (g_last_ns < 0) lat = team_start_ns(m); /* the first region creates the threads */
        g_last_ns = lat;
        slow = lat >= g_bad_ns;
    }
    if (slow && m == cur) {                     /* workers kept off the cores: halve */
        g_eff = cur / 2 > 1 ? cur / 2 : 1;
        g_confirming = 1;
        if (g_raised) {                         /* a fresh increase did not hold: back off */
            int64_t b = 2 * g_backoff_ns;
            g_backoff_ns = b > PROBE_MAX_NS ? PROBE_MAX_NS : b;
        }
        g_next_ns = mono_ns() + (g_raised ? g_backoff_ns : PROBE_BAD_NS);
        g_raised = 0;
    } else if (slow) {                          /* more threads do not fit yet: wait longer */
        int64_t b = 2 * g_backoff_ns;
        g_backoff_ns = b > PROBE_MAX_NS ? PROBE_MAX_NS : b;
        g_confirming = 0;
        g_next_ns = mono_ns() + g_backoff_ns;
    } else if (m > cur) {                       /* more fit: take them, verify soon */
        g_eff = m < n ? m : 0;
        g_confirming = g_raised = 1;
        team_wait_share(m, 1);                  /* the confirming probe reads waits from here */
        g_next_ns = mono_ns() + PROBE_CONFIRM_NS;
    } else if (share == -2) {                   /* fine to start; waits known next time */
        g_next_ns = mono_ns() + PROBE_RENEW_NS;
    } else {                                    /* the count in use is fine */
        g_confirming = g_raised = 0;
        if (cur == n) g_backoff_ns = PROBE_BAD_NS;
        g_next_ns = mono_ns() + (cur == n ? PROBE_OK_NS : g_backoff_ns);
    }
    __atomic_store_n(&g_probing, 0, __ATOMIC_RELEASE);
    return eff_threads(n);
}

int cr_get_num_threads(void) {
    const int n = cr_num_threads_setting();
    return n > 1 && !cr_in_parallel() ? threads_now(n) : n;
}

int cr_threads_for(double work, double min_work) {
    if (cr_in_parallel() || work < min_work) return 1;
    return cr_get_num_threads();
}

void cr_contention_reset(void) {
    g_eff = 0;
    g_wait_t0 = -1;
    g_confirming = g_raised = 0;
    g_backoff_ns = PROBE_BAD_NS;
    g_next_ns = 0;
}

void cr_contention_config(int enabled, int64_t bad_latency_ns, double bad_wait_share) {
    if (enabled >= 0) g_adaptive = enabled != 0;
    g_bad_ns = bad_latency_ns >= 0 ? bad_latency_ns : PROBE_BAD_DEFAULT_NS;
    g_bad_share = bad_wait_share >= 0 ? bad_wait_share : WAIT_BAD_SHARE;
    g_last_ns = -1;
    g_last_share = -1;
    cr_contention_reset();
}

int cr_contention_state(int64_t *last_latency_ns, double *last_wait_share, int *enabled) {
    if (last_latency_ns) *last_latency_ns = g_last_ns;
    if (last_wait_share) *last_wait_share = g_last_share;
    if (enabled) *enabled = adaptive_on();
    const int n = cr_num_threads_setting(), e = g_eff;
    return adaptive_on() && e > 0 && e < n ? e : n;
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

/* ---- measured FMA peak (cpu.h) ---------------------------------------------------------
 * Each thread of one parallel region times its own run of the FMA loop; the run's figure
 * is the sum of the threads' rates, and the best of a few runs is kept (a run where a thread
 * was preempted only reads low). */
double cr_fma_peak_gflops(int f64, int threads) {
#ifdef CR_X86
    const int isa = cr_isa();
    if (isa < CR_ISA_AVX2) return 0;
    const double lanes = (isa == CR_ISA_AVX512 ? 64.0 : 32.0) / (f64 ? 8.0 : 4.0);
    const int64_t iters = 1000000; /* 16M FMAs: ~8M cycles, ~3 ms */
    if (threads < 1) threads = 1;
    double best = 0;
    volatile double keep = 0; /* the loops' results, so they are not optimised away */
    /* at least 7 runs and 0.2 s: a freshly spawned worker can share its parent's core for the
     * first tens of milliseconds (until the scheduler balances), halving early runs' figures */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int rep = 0;; rep++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        const double spent = (double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec);
        if (rep >= 7 && spent >= 0.2) break;
        double sum = 0, sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum, sink)
        {
            struct timespec t0, t1;
            double s = 0;
            /* the first 10% settles the clock licence; the rest is timed */
            sink += isa == CR_ISA_AVX512 ? cr_fma_loop_avx512(iters / 10, f64)
                                         : cr_fma_loop_avx2(iters / 10, f64);
            clock_gettime(CLOCK_MONOTONIC, &t0);
            sink += isa == CR_ISA_AVX512 ? cr_fma_loop_avx512(iters, f64)
                                         : cr_fma_loop_avx2(iters, f64);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            if (s > 0) sum += 16.0 * 2.0 * lanes * (double)iters / s / 1e9;
        }
        keep = keep + sink;
        if (sum > best) best = sum;
    }
    (void)keep;
    return best;
#else
    (void)f64;
    (void)threads;
    return 0;
#endif
}
