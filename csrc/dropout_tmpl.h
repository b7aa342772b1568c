/* dropout_tmpl.h — dropout apply/forward/backward, the dtype template of dropout.c (cpu.h's
 * idiom: T, SUF, CR_FN(name)); uses dropout.c's mask_range and threshold. */
CR_CLONES static void CR_FN(apply_range)(T *y, const T *x, const uint8_t *mask, int64_t lo,
                                        int64_t hi, T s) {
    for (int64_t i = lo; i < hi; i++) y[i] = x[i] * (mask[i] ? s : (T)0);
}

/* mask then y in chunks of 4096 (the chunk's mask stays in L1) */
static void CR_FN(forward_range)(T *y, uint8_t *mask, const T *x, int64_t lo, int64_t hi,
                                uint64_t thr, uint64_t seed, uint64_t offset, T s) {
    for (int64_t i = lo; i < hi; i += 4096) {
        const int64_t e = hi - i < 4096 ? hi : i + 4096;
        mask_range(mask, i, e, thr, seed, offset);
        CR_FN(apply_range)(y, x, mask, i, e, s);
    }
}

void CR_FN(cr_dropout_forward)(T *y, uint8_t *mask, const T *x, int64_t n, double p,
                              uint64_t seed, uint64_t offset) {
    const uint64_t thr = threshold(p);
    const T s = (T)1 / (T)(1.0 - p);
    CR_SPLIT_RANGE(n, CR_DROPOUT_PARALLEL_MIN,
                   CR_FN(forward_range)(y, mask, x, lo, hi, thr, seed, offset, s));
}

void CR_FN(cr_dropout_backward)(T *dx, const T *dy, const uint8_t *mask, int64_t n,
                               double p) {
    const T s = (T)1 / (T)(1.0 - p);
    CR_SPLIT_RANGE(n, CR_DROPOUT_PARALLEL_MIN, CR_FN(apply_range)(dx, dy, mask, lo, hi, s));
}
