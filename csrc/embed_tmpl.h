/* embed_tmpl.h — the embedding kernels for one element type; included by embed.c only,
 * with T and SUF defined (cpu.h's template idiom). */

static void CR_FN(emb_gather)(T *out, const T *weight, const int64_t *idx, int64_t lo,
                              int64_t hi, int64_t dim) {
    for (int64_t i = lo; i < hi; i++)
        memcpy(out + i * dim, weight + idx[i] * dim, (size_t)dim * sizeof(T));
}

void CR_FN(cr_embedding_forward)(T *out, const T *weight, const int64_t *idx, int64_t n,
                                 int64_t dim) {
    if (n <= 0 || dim <= 0) return;
    CR_SPLIT_RANGE(n, EMB_PAR_MIN / (double)dim, CR_FN(emb_gather)(out, weight, idx, lo, hi, dim));
}

/* rows [r0, r1) of dweight from the sorted lookups. Runs of rows without lookups (or the
 * padding row) are zeroed by ONE memset each: for a long run libc writes without reading
 * the lines first, which is most of the table when lookups are few or skewed. A row with
 * lookups starts as a copy of its first dout row and adds the rest in lookup order. */
static void CR_FN(emb_rows)(T *dweight, const T *dout, const int64_t *order,
                            const int64_t *start, int64_t r0, int64_t r1, int64_t dim,
                            int64_t padding_idx, int scale_by_freq) {
    int64_t zero_from = r0;  /* the first row of the current run without lookups */
    for (int64_t r = r0; r < r1; r++) {
        const int64_t s0 = start[r], s1 = start[r + 1];
        if (r == padding_idx || s0 == s1) continue;
        if (zero_from < r)
            memset(dweight + zero_from * dim, 0, (size_t)((r - zero_from) * dim) * sizeof(T));
        zero_from = r + 1;
        T *restrict g = dweight + r * dim;
        memcpy(g, dout + order[s0] * dim, (size_t)dim * sizeof(T));
        for (int64_t s = s0 + 1; s < s1; s++) {
            const T *restrict d = dout + order[s] * dim;
            #pragma omp simd
            for (int64_t j = 0; j < dim; j++) g[j] += d[j];
        }
        if (scale_by_freq && s1 - s0 > 1) {
            const T inv = (T)1 / (T)(s1 - s0);
            for (int64_t j = 0; j < dim; j++) g[j] *= inv;
        }
    }
    if (zero_from < r1)
        memset(dweight + zero_from * dim, 0, (size_t)((r1 - zero_from) * dim) * sizeof(T));
}

int CR_FN(cr_embedding_backward)(T *dweight, const T *dout, const int64_t *idx, int64_t n,
                                 int64_t num, int64_t dim, int64_t padding_idx,
                                 int scale_by_freq) {
    if (num <= 0 || dim <= 0) return 0;
    int64_t *order = (int64_t *)malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    int64_t *start = (int64_t *)malloc((size_t)(num + 1) * sizeof(int64_t));
    if (!order || !start) {
        free(order);
        free(start);
        return -1;
    }
    emb_sort(order, start, idx, n, num);
    const int nt = cr_threads_for((double)(n + num) * (double)dim, EMB_PAR_MIN);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = CR_THREAD_NUM(), nthr = CR_TEAM_SIZE();
        const int64_t r0 = emb_cut(start, n, num, tid, nthr);
        const int64_t r1 = emb_cut(start, n, num, tid + 1, nthr);
        CR_FN(emb_rows)(dweight, dout, order, start, r0, r1, dim, padding_idx, scale_by_freq);
    }
    free(order);
    free(start);
    return 0;
}
