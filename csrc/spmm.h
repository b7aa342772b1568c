/* spmm.h — sparse (CSR) x dense matmul for graph layers (see spmm.c).
 *
 * A is an R x C sparse matrix in CSR form: row i holds the entries j in
 * [indptr[i], indptr[i+1]) with column indices[j] and value values[perm[j]] (perm NULL:
 * values[j]). perm lets the values stay in the caller's edge order, so one edge-weight
 * vector serves A and its transpose, and d(values) comes back in that order.
 *
 *   cr_spmm:   y (R, F) = A x,            x (C, F)        WRITES y
 *   cr_sddmm:  dvalues[perm[j]] = <dy[i], x[indices[j]]>  for every entry j of row i
 *              (the gradient of sum(dy * (A x)) w.r.t. the values; WRITES dvalues)
 *   dx = A^T dy is cr_spmm on the CSR of A^T (built by cr_csr_from_coo with the roles of
 *   rows and columns swapped, its perm pointing at the same edge values): no atomics.
 *
 * Threads split the ROWS into contiguous ranges of equal nonzeros + rows (a binary search
 * in indptr), so a power-law graph's hub rows do not leave one thread with most of the
 * work. Each row is computed by one thread in a fixed order: results are bitwise the same
 * for any thread count. The Python layer validates indptr/indices/perm before calling.
 */
#ifndef CHAINRULE_SPMM_H
#define CHAINRULE_SPMM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Below this many multiply-adds (nnz * F) a call runs serially. */
#define CR_SPMM_PARALLEL_MIN 65536

/* Stable counting sort of E (row, col) pairs into CSR: indptr (n_rows + 1), indices (E)
 * = the cols, perm (E) = the edge ids in CSR order (increasing within a row). Returns the
 * number of rows outside [0, n_rows) or cols outside [0, n_cols); then nothing is
 * written beyond indptr's counts. Serial, O(E + n_rows). */
int64_t cr_csr_from_coo(int64_t *indptr, int64_t *indices, int64_t *perm,
                        const int64_t *rows, const int64_t *cols, int64_t n_rows,
                        int64_t n_cols, int64_t E);

void cr_spmm_f32(float *y, const int64_t *indptr, const int64_t *indices,
                 const float *values, const int64_t *perm, const float *x, int64_t R,
                 int64_t F);
void cr_spmm_f64(double *y, const int64_t *indptr, const int64_t *indices,
                 const double *values, const int64_t *perm, const double *x, int64_t R,
                 int64_t F);

void cr_sddmm_f32(float *dvalues, const int64_t *indptr, const int64_t *indices,
                  const int64_t *perm, const float *dy, const float *x, int64_t R, int64_t F);
void cr_sddmm_f64(double *dvalues, const int64_t *indptr, const int64_t *indices,
                  const int64_t *perm, const double *dy, const double *x, int64_t R,
                  int64_t F);

#ifdef __cplusplus
}
#endif
#endif
