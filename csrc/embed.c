/* embed.c — embedding forward (row gather) and backward (row scatter-add), see embed.h.
 *
 * The backward is a deterministic scatter-add without atomics: the lookups are counted
 * per table row (serial, O(n + num)), then each thread OWNS a contiguous range of table
 * rows; it zeroes those rows (unless the table is zeroed already) and scans the lookups in
 * increasing i, adding the dout rows of its own rows (dout is read in memory order).
 * Every row is summed by the same code in the same order (increasing i) whatever the
 * thread count, so the result is bitwise identical for 1 or many threads, and no two
 * threads touch one row. Row ranges are cut so each thread gets about the same number of
 * lookups + rows.
 * One body for both dtypes: embed_tmpl.h, included twice (cpu.h's template idiom).
 */
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#include "split.h"

/* run on several threads only from this many copied / summed elements */
#define EMB_PAR_MIN 65536.0

/* start[r] = the number of lookups of rows < r (num + 1 entries): row r has
 * start[r + 1] - start[r] lookups */
static void emb_count(int64_t *start, const int64_t *idx, int64_t n, int64_t num) {
    memset(start, 0, (size_t)(num + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) start[idx[i] + 1]++;
    for (int64_t r = 0; r < num; r++) start[r + 1] += start[r];
}

/* the first row of thread tid's range: balanced on lookups + rows (both cost a row pass) */
static int64_t emb_cut(const int64_t *start, int64_t n, int64_t num, int tid, int nthr) {
    const double goal = (double)(n + num) * tid / nthr;
    int64_t lo = 0, hi = num;  /* smallest r with start[r] + r >= goal */
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if ((double)(start[mid] + mid) >= goal) hi = mid;
        else lo = mid + 1;
    }
    return tid == 0 ? 0 : (tid == nthr ? num : lo);
}

#define T float
#define SUF f32
#include "embed_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "embed_tmpl.h"
#undef T
#undef SUF
