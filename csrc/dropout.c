/* dropout.c — Philox4x32-10 dropout masks (see dropout.h for the stream definition).
 *
 * Philox (Salmon et al., SC'11): 10 rounds of two 32x32->64-bit multiplies and xors on a
 * 128-bit counter, with a Weyl-sequence key schedule. The range kernel runs the 16
 * counters of a 64-element group side by side in plain arrays so the compiler vectorises
 * the rounds (vpmuludq) and the 64 compares; a call splits [0, n) into per-thread chunks
 * (split.h). Each element's word depends only on its index, so chunking never changes a
 * result.
 */
#include <stdlib.h>
#include "chainrule.h"
#include "dropout.h"
#include "split.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define LANES 16 /* counters per vector batch: a group of 4 * LANES = 64 elements */

/* Clones for AVX2 and baseline only: for AVX-512 gcc 12 widens the 32x32->64-bit products
 * to vpmullq (3 uops on Intel) instead of vpmuludq, and the AVX-512 clone was slower. */
#if defined(CR_X86) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define PHILOX_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PHILOX_CLONES
#endif

void cr_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        const uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* One Philox round on LANES counters side by side (vectorises: vpmuludq) */
static inline void philox_round(uint32_t *restrict c0, uint32_t *restrict c1,
                                uint32_t *restrict c2, uint32_t *restrict c3, uint32_t k0,
                                uint32_t k1) {
    for (int k = 0; k < LANES; k++) {
        const uint64_t p0 = (uint64_t)PHILOX_M0 * c0[k], p1 = (uint64_t)PHILOX_M1 * c2[k];
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[k] ^ k0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[k] ^ k1;
        c0[k] = n0;
        c1[k] = (uint32_t)p1;
        c2[k] = n2;
        c3[k] = (uint32_t)p0;
    }
}

/* The random words of counters j0 .. j0+LANES-1: w[word][lane]. */
static inline void philox_lanes(uint32_t w[4][LANES], uint64_t j0, uint64_t seed,
                                uint64_t offset) {
    for (int k = 0; k < LANES; k++) {
        const uint64_t j = j0 + (uint64_t)k;
        w[0][k] = (uint32_t)j;
        w[1][k] = (uint32_t)(j >> 32);
        w[2][k] = (uint32_t)offset;
        w[3][k] = (uint32_t)(offset >> 32);
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        philox_round(w[0], w[1], w[2], w[3], k0, k1);
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
}

/* mask[i] = (word of element i) >= thr for i in [lo, hi). Element g*64 + q*16 + k is word
 * q of counter g*16 + k, so a group's 64 mask bytes are its 4 x 16 words in order; a range
 * may start or end inside a group. p == 1 (thr = 2^32) keeps nothing. */
PHILOX_CLONES static void mask_range(uint8_t *mask, int64_t lo, int64_t hi, uint64_t thr,
                                     uint64_t seed, uint64_t offset) {
    if (thr > 0xFFFFFFFFu) {
        for (int64_t i = lo; i < hi; i++) mask[i] = 0;
        return;
    }
    const uint32_t t = (uint32_t)thr;
    uint32_t w[4][LANES];
    const uint32_t *u = &w[0][0];
    for (int64_t g0 = lo - lo % (4 * LANES); g0 < hi; g0 += 4 * LANES) {
        philox_lanes(w, (uint64_t)g0 / 4, seed, offset);
        if (g0 >= lo && hi - g0 >= 4 * LANES) {
            for (int r = 0; r < 4 * LANES; r++) mask[g0 + r] = u[r] >= t;
        } else {
            const int64_t a = g0 > lo ? g0 : lo, b = hi - g0 < 4 * LANES ? hi : g0 + 4 * LANES;
            for (int64_t i = a; i < b; i++) mask[i] = u[i - g0] >= t;
        }
    }
}

static uint64_t threshold(double p) { return (uint64_t)(p * 4294967296.0); }

void cr_dropout_mask(uint8_t *mask, int64_t n, double p, uint64_t seed, uint64_t offset) {
    const uint64_t thr = threshold(p);
    CR_SPLIT_RANGE(n, CR_DROPOUT_PARALLEL_MIN, mask_range(mask, lo, hi, thr, seed, offset));
}

#define T float
#define SUF f32
#include "dropout_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "dropout_tmpl.h"
#undef T
#undef SUF
