/* dropout.h — dropout with a counter-based generator (Philox4x32-10, see dropout.c).
 *
 * Elements go in groups of 64: element i = 64 g + 16 q + k (q < 4, k < 16) gets word q of
 * Philox4x32-10 applied to the counter j = 16 g + k, i.e.
 *   (lo32(j), hi32(j), lo32(offset), hi32(offset))  with key (lo32(seed), hi32(seed)),
 * so each counter serves 4 elements and the mask depends only on (seed, offset, i):
 * bitwise the same for any thread count or schedule; different offsets give disjoint
 * counters (independent streams).
 * Element i is kept iff its word u satisfies u >= floor(p * 2^32) (p = 1 keeps nothing).
 * Kept elements are scaled by s = (T)1 / (T)(1 - p):
 *   mask[i] = kept,  y[i] = x[i] * (kept ? s : 0),  dx[i] = dy[i] * (mask[i] ? s : 0)
 * (a NaN or inf input stays NaN where dropped, as in PyTorch's x * mask).
 */
#ifndef CHAINRULE_DROPOUT_H
#define CHAINRULE_DROPOUT_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Below this many elements a call runs on one thread. */
#define CR_DROPOUT_PARALLEL_MIN 65536

/* One Philox4x32-10 block: out = philox(ctr, key) (Random123's philox4x32, 10 rounds). */
void cr_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

/* mask[i] = 1 if element i is kept else 0, for i in [0, n); p in [0, 1]. */
void cr_dropout_mask(uint8_t *mask, int64_t n, double p, uint64_t seed, uint64_t offset);

/* y (n) and mask (n) from x (n) in one pass; y may equal x (in place). */
void cr_dropout_forward_f32(float *y, uint8_t *mask, const float *x, int64_t n, double p,
                            uint64_t seed, uint64_t offset);
void cr_dropout_forward_f64(double *y, uint8_t *mask, const double *x, int64_t n, double p,
                            uint64_t seed, uint64_t offset);

/* dx = dy * (mask ? s : 0) (WRITES dx; dx may equal dy). */
void cr_dropout_backward_f32(float *dx, const float *dy, const uint8_t *mask, int64_t n,
                             double p);
void cr_dropout_backward_f64(double *dx, const double *dy, const uint8_t *mask, int64_t n,
                             double p);

#ifdef __cplusplus
}
#endif
#endif
