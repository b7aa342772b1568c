/* embed.h — embedding lookup (gather of table rows) and its gradient (see embed.c).
 *
 * forward : out[i][:] = weight[idx[i]][:] for i < n; out (n, dim), weight (num, dim).
 * backward: dweight (num, dim) is WRITTEN (not accumulated): row r = the sum of dout[i]
 *           over the i with idx[i] == r, in increasing i, times 1/count(r) when
 *           scale_by_freq; rows that no index names, and row padding_idx (if >= 0), are 0.
 *           zeroed != 0 says dweight is already all zeros (e.g. fresh from calloc): then
 *           only the rows with lookups are written, and memory no lookup names is never
 *           touched (a fresh calloc'd table stays unfaulted there).
 * Indices must be in [0, num) (chainrule.ops checks). The backward returns 0, or -1 if a
 * work buffer could not be allocated. Both are bitwise identical for any thread count.
 */
#ifndef CHAINRULE_EMBED_H
#define CHAINRULE_EMBED_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#define CR_EMBED_DECLARE(T, SUF)                                                         \
    void cr_embedding_forward_##SUF(T *out, const T *weight, const int64_t *idx,        \
                                    int64_t n, int64_t dim);                            \
    int cr_embedding_backward_##SUF(T *dweight, const T *dout, const int64_t *idx,      \
                                    int64_t n, int64_t num, int64_t dim,                \
                                    int64_t padding_idx, int scale_by_freq, int zeroed);

CR_EMBED_DECLARE(float, f32)
CR_EMBED_DECLARE(double, f64)
#undef CR_EMBED_DECLARE

#ifdef __cplusplus
}
#endif
#endif
