/* spmm_tmpl.h — SpMM and SDDMM for one dtype; included by spmm.c with T and SUF defined
 * (the template idiom of cpu.h). */

/* acc[0:SPMM_FB] += sum over entries j in [j0, j1) of value_j * x[indices[j], f0:f0+FB]
 * (two loops so the perm test is not in the inner one; the k loop is one vector op). */
static inline void CR_FN(spmm_block)(T *restrict acc, const int64_t *restrict indices,
                                     const T *restrict values, const int64_t *restrict perm,
                                     const T *restrict x, int64_t F, int64_t f0, int64_t j0,
                                     int64_t j1) {
    if (perm) {
        for (int64_t j = j0; j < j1; j++) {
            const T v = values[perm[j]];
            const T *restrict xr = x + indices[j] * F + f0;
#pragma GCC unroll 32
            for (int k = 0; k < SPMM_FB; k++)
                acc[k] += v * xr[k];
        }
    } else {
        for (int64_t j = j0; j < j1; j++) {
            const T v = values[j];
            const T *restrict xr = x + indices[j] * F + f0;
#pragma GCC unroll 32
            for (int k = 0; k < SPMM_FB; k++)
                acc[k] += v * xr[k];
        }
    }
}

/* y[i] = sum_j values[perm[j]] * x[indices[j]] for rows [lo, hi), in blocks of SPMM_FB
 * features kept in a local accumulator (registers) across the row's edges. */
CR_CLONES static void CR_FN(spmm_rows)(T *restrict y, const int64_t *indptr,
                                       const int64_t *indices, const T *values,
                                       const int64_t *perm, const T *restrict x, int64_t F,
                                       int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        const int64_t j0 = indptr[i], j1 = indptr[i + 1];
        T *yi = y + i * F;
        int64_t f0 = 0;
        for (; f0 + SPMM_FB <= F; f0 += SPMM_FB) {
            T acc[SPMM_FB];
            for (int k = 0; k < SPMM_FB; k++)
                acc[k] = (T)0;
            CR_FN(spmm_block)(acc, indices, values, perm, x, F, f0, j0, j1);
            for (int k = 0; k < SPMM_FB; k++)
                yi[f0 + k] = acc[k];
        }
        if (f0 < F) {
            for (int64_t f = f0; f < F; f++)
                yi[f] = (T)0;
            for (int64_t j = j0; j < j1; j++) {
                const T v = values[perm ? perm[j] : j];
                const T *xr = x + indices[j] * F;
                for (int64_t f = f0; f < F; f++)
                    yi[f] += v * xr[f];
            }
        }
    }
}

void CR_FN(cr_spmm)(T *y, const int64_t *indptr, const int64_t *indices, const T *values,
                    const int64_t *perm, const T *x, int64_t R, int64_t F) {
    if (R <= 0 || F <= 0)
        return;
    const int nt = cr_threads_for((double)(indptr[R] + R) * (double)F, CR_SPMM_PARALLEL_MIN);
    if (nt <= 1) {
        CR_FN(spmm_rows)(y, indptr, indices, values, perm, x, F, 0, R);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t lo, hi;
        row_range(indptr, R, CR_THREAD_NUM(), CR_TEAM_SIZE(), &lo, &hi);
        if (lo < hi)
            CR_FN(spmm_rows)(y, indptr, indices, values, perm, x, F, lo, hi);
    }
}

/* dvalues[perm[j]] = <dy[i], x[indices[j]]>, the dot product in SPMM_FB partial sums
 * (summed by a fixed pairwise tree at the end) so it vectorises without reassociation. */
CR_CLONES static void CR_FN(sddmm_rows)(T *restrict dvalues, const int64_t *indptr,
                                        const int64_t *indices, const int64_t *perm,
                                        const T *restrict dy, const T *restrict x, int64_t F,
                                        int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        const T *gi = dy + i * F;
        for (int64_t j = indptr[i]; j < indptr[i + 1]; j++) {
            const T *xr = x + indices[j] * F;
            T acc[SPMM_FB] = {0};
            int64_t f0 = 0;
            for (; f0 + SPMM_FB <= F; f0 += SPMM_FB)
                for (int k = 0; k < SPMM_FB; k++)
                    acc[k] += gi[f0 + k] * xr[f0 + k];
            for (int64_t f = f0; f < F; f++)
                acc[f - f0] += gi[f] * xr[f];
            for (int w = SPMM_FB / 2; w >= 1; w /= 2) /* a fixed pairwise tree: short */
                for (int k = 0; k < w; k++)
                    acc[k] += acc[k + w];
            dvalues[perm ? perm[j] : j] = acc[0];
        }
    }
}

void CR_FN(cr_sddmm)(T *dvalues, const int64_t *indptr, const int64_t *indices,
                     const int64_t *perm, const T *dy, const T *x, int64_t R, int64_t F) {
    if (R <= 0)
        return;
    const int nt = cr_threads_for((double)(indptr[R] + R) * (double)(F + 1),
                                  CR_SPMM_PARALLEL_MIN);
    if (nt <= 1) {
        CR_FN(sddmm_rows)(dvalues, indptr, indices, perm, dy, x, F, 0, R);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int64_t lo, hi;
        row_range(indptr, R, CR_THREAD_NUM(), CR_TEAM_SIZE(), &lo, &hi);
        if (lo < hi)
            CR_FN(sddmm_rows)(dvalues, indptr, indices, perm, dy, x, F, lo, hi);
    }
}
