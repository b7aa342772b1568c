/* gemm_kit.c — the kernels of gemm_kit.h for the active ISA level; the same choices and
 * block sizes as gemm.c's paths (generic, avx2, avx512). */
#include "chainrule.h"
#include "gemm_kit.h"

void cr_gemm_kit_get_f32(cr_gemm_kit_f32 *kit) {
#ifdef CR_X86
    if (cr_isa() == CR_ISA_AVX512) {
        *kit = (cr_gemm_kit_f32){CR_AVX512_MR_F32, CR_AVX512_NR_F32, 512, 144, 4096,
                                 cr_ukr_f32_avx512_packed, cr_pack_t_f32_avx512,
                                 cr_ukr_f32_avx512_strided};
        return;
    }
    if (cr_isa() == CR_ISA_AVX2) {
        *kit = (cr_gemm_kit_f32){CR_AVX2_MR_F32, CR_AVX2_NR_F32, 256, 144, 4096,
                                 cr_ukr_f32_avx2_packed, NULL, NULL};
        return;
    }
#endif
    *kit = (cr_gemm_kit_f32){CR_GENERIC_MR, CR_GENERIC_NR_F32, 256, 128, 2048,
                             cr_ukr_f32_generic, NULL, cr_ukr_f32_generic};
}

void cr_gemm_kit_get_f64(cr_gemm_kit_f64 *kit) {
#ifdef CR_X86
    if (cr_isa() == CR_ISA_AVX512) {
        *kit = (cr_gemm_kit_f64){CR_AVX512_MR_F64, CR_AVX512_NR_F64, 512, 96, 2048,
                                 cr_ukr_f64_avx512_packed, cr_pack_t_f64_avx512,
                                 cr_ukr_f64_avx512_strided};
        return;
    }
    if (cr_isa() == CR_ISA_AVX2) {
        *kit = (cr_gemm_kit_f64){CR_AVX2_MR_F64, CR_AVX2_NR_F64, 256, 96, 2048,
                                 cr_ukr_f64_avx2_packed, NULL, NULL};
        return;
    }
#endif
    *kit = (cr_gemm_kit_f64){CR_GENERIC_MR, CR_GENERIC_NR_F64, 256, 64, 2048,
                             cr_ukr_f64_generic, NULL, cr_ukr_f64_generic};
}
