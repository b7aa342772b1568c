/* gemm.c — BLIS-style GEMM: cache blocking, packing, threads; the micro-kernels live in
 * gemm_avx512.c, gemm_avx2.c and gemm_generic.c and are chosen once at run time.
 *
 *   C[M x N] = act( alpha * op(A)[M x K] @ op(B)[K x N] + beta * C + bias_n[j] + bias_m[i] )
 *
 * Structure (see gemm_tmpl.h, included once per dtype):
 *   tiny (M*N*K <= NAIVE_MAX_WORK)   -> the naive triple loop (the definition);
 *   small (<= DIRECT_MAX_WORK)        -> micro-kernel on the operands in place, no packing;
 *   otherwise                         -> pack A (MC x KC, per thread) and B (KC x NC, shared)
 *                                        and run the micro-kernel over MR x NR tiles.
 * Results are bitwise reproducible for a fixed thread count: every C tile is owned by one
 * thread and its K sum always runs in the same order.
 *
 * Block sizes come from the caches of the target (Zen 4/5: L1d 48 KiB, L2 1 MiB per core,
 * L3 32 MiB) and were then tuned on Zen 5 (AVX-512, fp32): the MC x KC block of A stays in L2
 * (144*512*4 = 288 KiB), the KC x NC block of B in L3 (512*4096*4 = 8 MiB). The KC x NR
 * micro-panel of B (512*32*4 = 64 KiB) does not fit L1, but L2 feeds L1 fast enough, and a
 * long KC halves the passes over C compared with KC = 256 (measured: 1024^3 went from
 * 170 to 220 GFLOP/s on one core, with the C tile prefetched at the kernel start).
 *
 * The path follows the ISA level of cpu.h (CHAINRULE_ISA, cr_set_isa);
 * CHAINRULE_GEMM_BLOCKS=kc,mc,nc overrides the block sizes (for tuning only).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "chainrule.h"
#include "split.h"
#include "gemm_ukr.h"

/* below this many multiply-adds the naive loop wins (no setup at all) */
#define NAIVE_MAX_WORK (4.0 * 4 * 4)
/* below this, one thread: waking the second thread costs about a microsecond on an idle
 * machine (measured crossover on Zen 5: 48^3 is faster on one thread, 64^3 on two; far
 * more than a microsecond when the cores are busy with other processes) */
#define THREAD_MIN_WORK (60.0 * 60 * 60)
/* up to this, the micro-kernel reads A and B in place (packing costs more than it saves) */
#define DIRECT_MAX_WORK (96.0 * 96 * 96)
/* up to this many columns of C, the strided micro-kernel reads op(A) in place when its rows
 * are contiguous (B still packed): packing A costs about 1/N of the product, the in-place
 * broadcasts from MR rows cost nothing measurable once N is small. Measured on the Xeon
 * (AVX-512 f32, 1 thread, CPU time, under load): 1024x128x1024 1.11x, 512x128x512 1.11x,
 * 1000x100x1000 1.12x, 256x128x2304 1.12x, 2048x256x2048 1.05x, 1024x256x1024 1.05x;
 * 384 and 512 columns even, 2048 columns 0.95x. Same arithmetic, same bits. */
#define A_INPLACE_MAX_N 256

typedef struct {
    const char *name;
    int mr_f32, nr_f32, mr_f64, nr_f64;
    cr_ukr_f32 packed_f32, strided_f32;
    cr_ukr_f64 packed_f64, strided_f64;
    cr_pack_t_f32 pack_t_f32; /* NULL: scalar transposing packs */
    cr_pack_t_f64 pack_t_f64;
    int64_t kc_f32, mc_f32, nc_f32, kc_f64, mc_f64, nc_f64;
    cr_skinny_f32 skinny_dot_f32, skinny_axpy_f32; /* the skinny path (gemm_skinny_tmpl.h) */
    cr_skinny_f64 skinny_dot_f64, skinny_axpy_f64;
} gemm_path;

static const gemm_path PATH_GENERIC = {
    "generic", CR_GENERIC_MR, CR_GENERIC_NR_F32, CR_GENERIC_MR, CR_GENERIC_NR_F64,
    cr_ukr_f32_generic, cr_ukr_f32_generic, cr_ukr_f64_generic, cr_ukr_f64_generic, NULL, NULL,
    256, 128, 2048, 256, 64, 2048,
    cr_skinny_dot_f32_generic, cr_skinny_axpy_f32_generic,
    cr_skinny_dot_f64_generic, cr_skinny_axpy_f64_generic};
#ifdef CR_X86
static const gemm_path PATH_AVX2 = {
    "avx2", CR_AVX2_MR_F32, CR_AVX2_NR_F32, CR_AVX2_MR_F64, CR_AVX2_NR_F64,
    cr_ukr_f32_avx2_packed, NULL, cr_ukr_f64_avx2_packed, NULL, NULL, NULL,
    256, 144, 4096, 256, 96, 2048,
    cr_skinny_dot_f32_avx2, cr_skinny_axpy_f32_avx2, cr_skinny_dot_f64_avx2, cr_skinny_axpy_f64_avx2};
static const gemm_path PATH_AVX512 = {
    "avx512", CR_AVX512_MR_F32, CR_AVX512_NR_F32, CR_AVX512_MR_F64, CR_AVX512_NR_F64,
    cr_ukr_f32_avx512_packed, cr_ukr_f32_avx512_strided,
    cr_ukr_f64_avx512_packed, cr_ukr_f64_avx512_strided,
    cr_pack_t_f32_avx512, cr_pack_t_f64_avx512,
    512, 144, 4096, 512, 96, 2048,
    cr_skinny_dot_f32_avx512, cr_skinny_axpy_f32_avx512,
    cr_skinny_dot_f64_avx512, cr_skinny_axpy_f64_avx512};
#endif

/* The path for the CPU runtime's ISA level (cpu.h), switched with cr_set_isa. */
static const gemm_path *current_path(void) {
#ifdef CR_X86
    switch (cr_isa()) {
    case CR_ISA_AVX512: return &PATH_AVX512;
    case CR_ISA_AVX2: return &PATH_AVX2;
    default: break;
    }
#endif
    return &PATH_GENERIC;
}

/* Block-size override: CHAINRULE_GEMM_BLOCKS=kc,mc,nc (read at the first call) or
 * cr_gemm_set_blocks; values <= 0 keep the path's defaults. For tuning and for tests that
 * exercise every blocking edge with small matrices. */
static volatile int g_override_init = 0;
static int64_t g_override[3] = {0, 0, 0};

void cr_gemm_set_blocks(int64_t kc, int64_t mc, int64_t nc) {
    g_override[0] = kc;
    g_override[1] = mc;
    g_override[2] = nc;
    g_override_init = 1;
}

static void block_override(int64_t *kc, int64_t *mc, int64_t *nc) {
    if (!g_override_init) {
        int64_t v[3] = {0, 0, 0};
        const char *env = getenv("CHAINRULE_GEMM_BLOCKS");
        if (env) {
            char *end;
            for (int i = 0; i < 3 && *env; i++) {
                v[i] = strtoll(env, &end, 10);
                env = (*end == ',') ? end + 1 : end;
            }
        }
        cr_gemm_set_blocks(v[0], v[1], v[2]);
    }
    if (g_override[0] > 0) *kc = g_override[0];
    if (g_override[1] > 0) *mc = g_override[1];
    if (g_override[2] > 0) *nc = g_override[2];
}

/* The skinny path (gemm_skinny_tmpl.h): C with a side of at most SKINNY_MAX_N, in blocks of
 * rows of the other side. cr_gemm_set_skinny: -1 = by size (the default), 0 = never,
 * 1 = whenever the thin side fits (for tests). */
#define SKINNY_MAX_N 32
#define SKINNY_OUT 4096 /* elements of the per-thread raw-sum tile (blocks x thin side) */
#define SKINNY_AXPY_OUT (256 * 1024) /* bytes of the axpy raw-sum tile, per thread (in L2) */
#define SKINNY_AXPY_KC 8               /* axpy K chunk (rows of the big operand) ... */
#define SKINNY_AXPY_KC_CACHED 32       /* ... and when it fits the caches (bytes below:) */
#define SKINNY_AXPY_STREAM 8e6
static volatile int g_skinny = -1;

void cr_gemm_set_skinny(int mode) { g_skinny = mode < 0 ? -1 : mode > 0; }

static int skinny_wanted(int64_t big, int64_t s, int64_t K, size_t elem, int dot) {
    const int mode = g_skinny;
    if (s > SKINNY_MAX_N || mode == 0) return 0;
    if (mode > 0) return 1;
    if (K < 64 || big < 64 || (double)big * (double)s * (double)K <= DIRECT_MAX_WORK) return 0;
    /* measured (Xeon, AVX-512, 1 thread vs the packed path): rows of the big operand
     * contiguous (dot) win on every thin side up to 32 since the dot kernel streams them in
     * K chunks (4096x32x4096 f32 1.2x; 16x2048x2048 f64 with B^T 2.7x: the packed path
     * transposes the big operand and pads M = 16 to 12 + 4 rows); stored by columns (axpy)
     * up to 16, and up to 32 when the big operand is out of the caches */
    if (dot) return 1;
    return s <= 16 || (double)big * (double)K * (double)elem > 8e6;
}

static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

/* Packing buffers, cached per calling thread (slot 0: B block, slot 1: A blocks of all
 * threads), 64-byte aligned, freed when the thread exits. */
typedef struct {
    void *p[2];
    size_t cap[2];
} scratch_t;
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *v) {
    scratch_t *s = (scratch_t *)v;
    free(s->p[0]);
    free(s->p[1]);
    free(s);
}
static void scratch_key_init(void) { pthread_key_create(&g_scratch_key, scratch_free); }
static void *scratch(int slot, size_t bytes) {
    pthread_once(&g_scratch_once, scratch_key_init);
    scratch_t *s = (scratch_t *)pthread_getspecific(g_scratch_key);
    if (s == NULL) {
        s = (scratch_t *)calloc(1, sizeof *s);
        if (s == NULL || pthread_setspecific(g_scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap[slot] < bytes) {
        free(s->p[slot]);
        size_t sz = (bytes + 4095) & ~(size_t)4095;
        s->p[slot] = aligned_alloc(64, sz);
        s->cap[slot] = s->p[slot] ? sz : 0;
    }
    return s->p[slot];
}

#define T float
#define SUF f32
#include "gemm_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "gemm_tmpl.h"
#undef T
#undef SUF
