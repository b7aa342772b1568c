/* gemm_kit.h — the GEMM's micro-kernel, tile sizes, cache blocks and transposing pack of the
 * active ISA level (cpu.h), for drivers that pack their own panels (conv_pointwise.c packs
 * image pixels straight into B panels). The kernels are gemm_ukr.h's: the packed flavour
 * reads a[p*mr + i] and b[p*nr + j], zero-padded, 64-byte aligned panels.
 */
#ifndef CHAINRULE_GEMM_KIT_H
#define CHAINRULE_GEMM_KIT_H
#include "gemm_ukr.h"

typedef struct {
    int mr, nr;               /* register tile */
    int64_t kc, mc, nc;       /* the GEMM's cache blocks */
    cr_ukr_f32 ukr;           /* packed micro-kernel */
    cr_pack_t_f32 pack_t;     /* transposing pack, or NULL (then pack with scalar loops) */
    cr_ukr_f32 ukr_strided;   /* the same tile on operands in place (gemm_ukr.h), or NULL.
                               * With b packed (rsb = nr) and a read where it is (rows of a
                               * contiguous: csa = 1), it skips packing a; the GEMM does so
                               * for <= 256 columns of C (gemm.c A_INPLACE_MAX_N), same bits */
} cr_gemm_kit_f32;

typedef struct {
    int mr, nr;
    int64_t kc, mc, nc;
    cr_ukr_f64 ukr;
    cr_pack_t_f64 pack_t;
    cr_ukr_f64 ukr_strided;
} cr_gemm_kit_f64;

void cr_gemm_kit_get_f32(cr_gemm_kit_f32 *kit);
void cr_gemm_kit_get_f64(cr_gemm_kit_f64 *kit);
#endif
