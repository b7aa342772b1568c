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

/* rows [r0, r1) of dweight: the thread scans the lookups in order and takes those of its
 * rows, so dout is read in memory order (one pass, the hardware prefetcher follows it).
 * A row's first lookup copies its dout row (seen[r] marks it), later ones add, so every
 * row is its lookups' sum in increasing i whatever the thread count. Rows without lookups
 * (and the padding row) are zeroed by ONE memset per run (libc writes long runs without
 * reading the lines first), or left alone when the table is zeroed already: a calloc'd
 * table is fresh zero pages, and the rows no lookup names -- most of a big table -- are
 * then never touched. */
static void CR_FN(emb_rows)(T *dweight, const T *dout, const int64_t *idx,
                            const int64_t *start, unsigned char *seen, int64_t n, int64_t r0,
                            int64_t r1, int64_t dim, int64_t padding_idx, int scale_by_freq,
                            int zeroed) {
    if (!zeroed) {
        int64_t zero_from = r0;  /* the first row of the current run without lookups */
        for (int64_t r = r0; r < r1; r++) {
            if (r != padding_idx && start[r] != start[r + 1]) {
                if (zero_from < r)
                    memset(dweight + zero_from * dim, 0,
                           (size_t)((r - zero_from) * dim) * sizeof(T));
                zero_from = r + 1;
            }
        }
        if (zero_from < r1)
            memset(dweight + zero_from * dim, 0, (size_t)((r1 - zero_from) * dim) * sizeof(T));
    }
    for (int64_t i = 0; i < n; i++) {
        const int64_t r = idx[i];
        if (r < r0 || r >= r1 || r == padding_idx) continue;
        T *restrict g = dweight + r * dim;
        const T *restrict d = dout + i * dim;
        if (!seen[r]) {
            seen[r] = 1;
            memcpy(g, d, (size_t)dim * sizeof(T));
            continue;
        }
        #pragma omp simd
        for (int64_t j = 0; j < dim; j++) g[j] += d[j];
    }
    if (!scale_by_freq) return;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t c = start[r + 1] - start[r];
        if (r == padding_idx || c < 2) continue;
        T *restrict g = dweight + r * dim;
        const T inv = (T)1 / (T)c;
        for (int64_t j = 0; j < dim; j++) g[j] *= inv;
    }
}

int CR_FN(cr_embedding_backward)(T *dweight, const T *dout, const int64_t *idx, int64_t n,
                                 int64_t num, int64_t dim, int64_t padding_idx,
                                 int scale_by_freq, int zeroed) {
    if (num <= 0 || dim <= 0) return 0;
    int64_t *start = (int64_t *)malloc((size_t)(num + 1) * sizeof(int64_t));
    unsigned char *seen = (unsigned char *)calloc((size_t)num, 1);
    if (!start || !seen) {
        free(start);
        free(seen);
        return -1;
    }
    emb_count(start, idx, n, num);
    const int nt = cr_threads_for((double)(n + num) * (double)dim, EMB_PAR_MIN);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = CR_THREAD_NUM(), nthr = CR_TEAM_SIZE();
        const int64_t r0 = emb_cut(start, n, num, tid, nthr);
        const int64_t r1 = emb_cut(start, n, num, tid + 1, nthr);
        CR_FN(emb_rows)(dweight, dout, idx, start, seen, n, r0, r1, dim, padding_idx,
                        scale_by_freq, zeroed);
    }
    free(start);
    free(seen);
    return 0;
}
