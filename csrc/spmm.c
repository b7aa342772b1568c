/* spmm.c — CSR sparse x dense matmul and its sampled dense-dense backward (spmm.h).
 *
 * Rows are split between threads by nonzero count (row_range); each row's output is
 * accumulated in a block of at most SPMM_FB features held in registers while the row's
 * edges stream by, so y is written once. One body for both dtypes: spmm_tmpl.h. */
#include "chainrule.h"
#include "split.h"

/* Thread t of nt gets rows [lo, hi): the cost of rows [0, i) is indptr[i] + i (nonzeros
 * plus a per-row overhead, so empty rows count too); ranges cut it into equal shares. */
static int64_t row_cut(const int64_t *indptr, int64_t R, double target) {
    int64_t lo = 0, hi = R; /* smallest i in [0, R] with indptr[i] + i >= target */
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if ((double)(indptr[mid] + mid) >= target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void row_range(const int64_t *indptr, int64_t R, int t, int nt, int64_t *lo,
                      int64_t *hi) {
    const double total = (double)(indptr[R] + R);
    *lo = t == 0 ? 0 : row_cut(indptr, R, total * t / nt);
    *hi = t == nt - 1 ? R : row_cut(indptr, R, total * (t + 1) / nt);
}

int64_t cr_csr_from_coo(int64_t *indptr, int64_t *indices, int64_t *perm,
                        const int64_t *rows, const int64_t *cols, int64_t n_rows,
                        int64_t n_cols, int64_t E) {
    int64_t bad = 0;
    for (int64_t i = 0; i <= n_rows; i++)
        indptr[i] = 0;
    for (int64_t e = 0; e < E; e++) {
        const int64_t r = rows[e], c = cols[e];
        if (r < 0 || r >= n_rows || c < 0 || c >= n_cols)
            bad++;
        else
            indptr[r + 1]++;
    }
    if (bad)
        return bad;
    for (int64_t i = 0; i < n_rows; i++)
        indptr[i + 1] += indptr[i];
    /* place each edge at its row's next free slot (indptr[r] walks forward), then shift */
    for (int64_t e = 0; e < E; e++) {
        const int64_t p = indptr[rows[e]]++;
        indices[p] = cols[e];
        perm[p] = e;
    }
    for (int64_t i = n_rows; i > 0; i--)
        indptr[i] = indptr[i - 1];
    indptr[0] = 0;
    return 0;
}

#define SPMM_FB 32

#define T float
#define SUF f32
#include "spmm_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "spmm_tmpl.h"
#undef T
#undef SUF
