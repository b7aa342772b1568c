/* conv_avx512.c — AVX-512 float32 kernels for the matrix products of a convolution whose
 * shapes the general GEMM handles poorly (few output channels, short reductions: LeNet, a
 * net's first layer) or where its packing is the cost (dw). Compiled with -mavx512f/vl/bw/dq
 * -mfma, called only when the CPU has all of them (see conv_plan.c). The kernels read their
 * operands in place (no packing) and sum every output in a fixed order, so results do not
 * depend on the thread count.
 *
 *   cr_conv_bcast_f32_avx512:  C[i][j] = (acc ? C[i][j] : 0) + bias[i] + sum_p A(i, p) * B[p][j]
 *       A(i, p) = A[i*rsa + p*csa] (broadcast); row p of B starts at B + p*ldb, or at
 *       B + boff[p] if boff is given; row i of C at C + i*ldc, or C + coff[i] (rows given
 *       by offsets may overlap when accumulating: they are updated one after another).
 *       Register tile: MB (<= 8) rows x 48 columns = up to 24 accumulators.
 *   cr_conv_dot_f32_avx512:    C[i][j] += sum_l A[i*lda + l] * B[j*ldb + l]  (or B[boff[j] + l])
 *       Each output is a dot product of two contiguous rows; tile 4 x 4 outputs, 16-wide
 *       vector partial sums, one horizontal sum per output at the end.
 */
#include <immintrin.h>
#include <stdint.h>

#define NV 3 /* vectors of 16 columns per tile */

/* One MB x (NV*16) tile (columns masked to ncol), MB a compile-time constant. The
 * accumulators are named variables, not an array: GCC then keeps all of them in registers
 * (with an array it spilled every accumulator on every step, halving the speed). */
#define ACC_DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0;
#define ACC_FMA(i)                                                                         \
    if (i < mb_rows) {                                                                     \
        const __m512 a = _mm512_set1_ps(A[i * rsa + p * csa]);                             \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);                                         \
        c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);                                         \
        c##i##2 = _mm512_fmadd_ps(a, b2, c##i##2);                                         \
    }
#define ACC_STORE1(i, v)                                                                   \
    {                                                                                      \
        __m512 r = c##i##v;                                                                \
        float *ci = C + (coff ? coff[i] : i * ldc) + 16 * v;                              \
        if (acc) r = _mm512_add_ps(_mm512_maskz_loadu_ps(m##v, ci), r);                    \
        if (bias) r = _mm512_add_ps(r, _mm512_set1_ps(bias[i]));                           \
        _mm512_mask_storeu_ps(ci, m##v, r); /* zero mask: no access */                     \
    }
#define ACC_STORE(i) if (i < mb_rows) { ACC_STORE1(i, 0) ACC_STORE1(i, 1) ACC_STORE1(i, 2) }
#define COL_MASK(v) (ncol - 16 * (v) >= 16 ? (__mmask16)0xFFFF : ncol - 16 * (v) <= 0 ? \
                     (__mmask16)0 : (__mmask16)((1u << (ncol - 16 * (v))) - 1))

#define BCAST_TILE(MB)                                                                     \
static void bcast_tile_##MB(int64_t kd, const float *A, int64_t rsa, int64_t csa,          \
                            const float *B, int64_t ldb, const int64_t *boff, float *C,    \
                            int64_t ldc, const int64_t *coff, int64_t ncol, int acc,       \
                            const float *bias) {                                           \
    const int mb_rows = MB; /* a constant: the unused rows compile away */              \
    const __mmask16 m0 = COL_MASK(0), m1 = COL_MASK(1), m2 = COL_MASK(2);                  \
    ACC_DECL(0) ACC_DECL(1) ACC_DECL(2) ACC_DECL(3)                                        \
    ACC_DECL(4) ACC_DECL(5) ACC_DECL(6) ACC_DECL(7)                                        \
    for (int64_t p = 0; p < kd; p++) {                                                     \
        const float *b = B + (boff ? boff[p] : p * ldb);                                   \
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);                                    \
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);                               \
        const __m512 b2 = _mm512_maskz_loadu_ps(m2, b + 32);                               \
        ACC_FMA(0) ACC_FMA(1) ACC_FMA(2) ACC_FMA(3)                                        \
        ACC_FMA(4) ACC_FMA(5) ACC_FMA(6) ACC_FMA(7)                                        \
    }                                                                                      \
    ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3)                                    \
    ACC_STORE(4) ACC_STORE(5) ACC_STORE(6) ACC_STORE(7)                                    \
}
BCAST_TILE(1) BCAST_TILE(2) BCAST_TILE(3) BCAST_TILE(4)
BCAST_TILE(5) BCAST_TILE(6) BCAST_TILE(7) BCAST_TILE(8)

typedef void (*bcast_fn)(int64_t, const float *, int64_t, int64_t, const float *, int64_t,
                         const int64_t *, float *, int64_t, const int64_t *, int64_t, int,
                         const float *);
static const bcast_fn BCAST[9] = {0, bcast_tile_1, bcast_tile_2, bcast_tile_3, bcast_tile_4,
                                  bcast_tile_5, bcast_tile_6, bcast_tile_7, bcast_tile_8};

void cr_conv_bcast_f32_avx512(int64_t m, int64_t n, int64_t kd, const float *A, int64_t rsa,
                              int64_t csa, const float *B, int64_t ldb, const int64_t *boff,
                              float *C, int64_t ldc, const int64_t *coff, int acc,
                              const float *bias) {
    /* split m into near-equal row blocks of <= 8 (25 -> 7+6+6+6, not 8+8+8+1) */
    const int64_t nblk = (m + 7) / 8;
    for (int64_t j0 = 0; j0 < n; j0 += 16 * NV) {
        const int64_t ncol = n - j0 < 16 * NV ? n - j0 : 16 * NV;
        for (int64_t blk = 0, i0 = 0; blk < nblk; blk++) {
            const int64_t mb = (m - i0) / (nblk - blk) + ((m - i0) % (nblk - blk) != 0);
            BCAST[mb](kd, A + i0 * rsa, rsa, csa, B + j0, ldb, boff,
                      coff ? C + j0 : C + i0 * ldc + j0, ldc, coff ? coff + i0 : 0, ncol, acc,
                      bias ? bias + i0 : 0);
            i0 += mb;
        }
    }
}

/* The sums of four vectors' lanes, as one 4-vector: lanes paired within 128-bit blocks,
 * then the four blocks added (a fixed order; 3x fewer operations than four reductions). */
static inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512 v = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* C[i][j] += sum_l A[i*lda + l] * B_j[l] for i < m, j < n, l < L, where row j of B starts
 * at B + j*ldb, or at B + boff[j] if boff is given. */
void cr_conv_dot_f32_avx512(int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                            const float *B, int64_t ldb, const int64_t *boff, float *C,
                            int64_t ldc) {
    const int64_t Lv = L & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (L - Lv)) - 1);
    /* B rows in chunks that stay in L2 (~256 KiB) while every row of A passes over them */
    int64_t jc_len = (256 * 1024 / 4) / (L > 0 ? L : 1);
    jc_len = jc_len < 4 ? 4 : jc_len & ~(int64_t)3;
    for (int64_t jc = 0; jc < n; jc += jc_len)
    for (int64_t i0 = 0; i0 < m; i0 += 4) {
        const float *a[4];
        for (int i = 0; i < 4; i++) a[i] = A + (i0 + i < m ? i0 + i : m - 1) * lda; /* clamp */
        for (int64_t j0 = jc; j0 < n && j0 < jc + jc_len; j0 += 4) {
            const float *b[4];
            for (int j = 0; j < 4; j++) {
                const int64_t jj = j0 + j < n ? j0 + j : n - 1; /* clamp */
                b[j] = B + (boff ? boff[jj] : jj * ldb);
            }
            __m512 s[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) s[i][j] = _mm512_setzero_ps();
            for (int64_t l = 0; l < Lv; l += 16) {
                __m512 av[4], bv[4];
                for (int i = 0; i < 4; i++) av[i] = _mm512_loadu_ps(a[i] + l);
                for (int j = 0; j < 4; j++) bv[j] = _mm512_loadu_ps(b[j] + l);
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) s[i][j] = _mm512_fmadd_ps(av[i], bv[j], s[i][j]);
            }
            if (tail) {
                __m512 av[4], bv[4];
                for (int i = 0; i < 4; i++) av[i] = _mm512_maskz_loadu_ps(tail, a[i] + Lv);
                for (int j = 0; j < 4; j++) bv[j] = _mm512_maskz_loadu_ps(tail, b[j] + Lv);
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) s[i][j] = _mm512_fmadd_ps(av[i], bv[j], s[i][j]);
            }
            for (int i = 0; i < 4 && i0 + i < m; i++) {
                float r[4];
                _mm_storeu_ps(r, hsum4(s[i][0], s[i][1], s[i][2], s[i][3]));
                for (int j = 0; j < 4 && j0 + j < n; j++) C[(i0 + i) * ldc + j0 + j] += r[j];
            }
        }
    }
}

/* The dot kernel for many short sums in a row (one per image): instead of reducing each
 * 4 x 4 tile to scalars every call, keep the 16-wide partial sums in acc (m x n x 16
 * floats, zeroed by the caller) across calls, and reduce them once at the end with
 * cr_conv_dot_reduce_f32_avx512: C[i][j] += sum of acc[i][j][0..16) (a fixed order). */
void cr_conv_dot_acc_f32_avx512(int64_t m, int64_t n, int64_t L, const float *A, int64_t lda,
                                const float *B, const int64_t *boff, float *acc) {
    const int64_t Lv = L & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (L - Lv)) - 1);
    for (int64_t i0 = 0; i0 < m; i0 += 4) {
        const float *a[4];
        for (int i = 0; i < 4; i++) a[i] = A + (i0 + i < m ? i0 + i : m - 1) * lda; /* clamp */
        for (int64_t j0 = 0; j0 < n; j0 += 4) {
            const float *b[4];
            for (int j = 0; j < 4; j++) b[j] = B + boff[j0 + j < n ? j0 + j : n - 1];
            __m512 s[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) s[i][j] = _mm512_setzero_ps();
            for (int64_t l = 0; l < Lv; l += 16) {
                __m512 av[4], bv[4];
                for (int i = 0; i < 4; i++) av[i] = _mm512_loadu_ps(a[i] + l);
                for (int j = 0; j < 4; j++) bv[j] = _mm512_loadu_ps(b[j] + l);
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) s[i][j] = _mm512_fmadd_ps(av[i], bv[j], s[i][j]);
            }
            if (tail) {
                __m512 av[4], bv[4];
                for (int i = 0; i < 4; i++) av[i] = _mm512_maskz_loadu_ps(tail, a[i] + Lv);
                for (int j = 0; j < 4; j++) bv[j] = _mm512_maskz_loadu_ps(tail, b[j] + Lv);
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) s[i][j] = _mm512_fmadd_ps(av[i], bv[j], s[i][j]);
            }
            for (int i = 0; i < 4 && i0 + i < m; i++)
                for (int j = 0; j < 4 && j0 + j < n; j++) {
                    float *p = acc + ((i0 + i) * n + j0 + j) * 16;
                    _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), s[i][j]));
                }
        }
    }
}

void cr_conv_dot_reduce_f32_avx512(int64_t m, int64_t n, const float *acc, float *C, int64_t ldc) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            C[i * ldc + j] += _mm512_reduce_add_ps(_mm512_loadu_ps(acc + (i * n + j) * 16));
}
