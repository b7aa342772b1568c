/* gates_tmpl.h — the LSTM / GRU kernels for one element type; included by gates.c only,
 * with T, SUF (names via CR_FN), ITYPE (same-width int), GEMM, VREAL (64-byte vector), VL
 * (its lanes), FABS, COPYSIGN and the exp constants defined (cpu.h's template idiom). */

/* ---- scalar gate math, written so that `omp simd` loops vectorize it ---------------------
 * (GCC 12 does not if-convert float selects in these loops: clamps are integer min/max on
 * the bit patterns and the remaining choices are products with 0/1.)
 * e^{-u} for u >= 0 as 2^n (1 + q): -u = n ln2 + r, |r| <= ln2/2, q = e^r - 1 by Taylor
 * (Horner, without the leading 1), 2^n built in the exponent bits. u is clamped to
 * -EXP_LO (e^{-u} ~ 1e-38 / 1e-308 there, where the result no longer matters); a NaN u
 * gives a NaN q. *big is 1 where u was clamped, else 0. */
GT_INLINE T CR_FN(gt_expneg_parts)(T u, T *q, T *big) {
    const T lo = -(T)EXP_LO, inf = (T)INFINITY;
    ITYPE b, lob, infb;
    memcpy(&b, &u, sizeof b);
    memcpy(&lob, &lo, sizeof b);
    memcpy(&infb, &inf, sizeof b);
    const ITYPE cl = b < lob ? b : lob;                 /* min(u, lo); a NaN becomes lo */
    const ITYPE nanb = b & -(ITYPE)(b > infb);          /* u's bits if NaN, else 0 */
    const ITYPE keepb = cl > nanb ? cl : nanb;          /* min(u, lo), NaN kept */
    T uf, uc;
    memcpy(&uf, &cl, sizeof b);
    memcpy(&uc, &keepb, sizeof b);
    *big = (T)(ITYPE)(b > lob);
    const ITYPE n = (ITYPE)(uf * (T)-1.4426950408889634 - (T)0.5); /* toward 0 */
    const T nf = (T)n;
    const T r = -uc - nf * (T)LN2_HI - nf * (T)LN2_LO;
    T p;
#if EXP_DEG > 7
    p = (T)(1.0 / 6227020800.0);
    p = p * r + (T)(1.0 / 479001600.0);
    p = p * r + (T)(1.0 / 39916800.0);
    p = p * r + (T)(1.0 / 3628800.0);
    p = p * r + (T)(1.0 / 362880.0);
    p = p * r + (T)(1.0 / 40320.0);
    p = p * r + (T)(1.0 / 5040.0);
#else
    p = (T)(1.0 / 5040.0);
#endif
    p = p * r + (T)(1.0 / 720.0);
    p = p * r + (T)(1.0 / 120.0);
    p = p * r + (T)(1.0 / 24.0);
    p = p * r + (T)(1.0 / 6.0);
    p = p * r + (T)0.5;
    p = p * r + (T)1;
    *q = p * r;
    const ITYPE bits = (ITYPE)(n + EXP_BIAS) << EXP_MANT; /* n + BIAS >= 1 */
    T scale;
    memcpy(&scale, &bits, sizeof scale);
    return scale;
}

/* sigmoid(v) = 1 / (1 + e^{-|v|}) for v >= 0, e^{-|v|} / (1 + e^{-|v|}) below */
GT_INLINE T CR_FN(gt_sigmoid)(T v) {
    T q, big;
    const T scale = CR_FN(gt_expneg_parts)(FABS(v), &q, &big);
    const T t = (scale * q + scale) * ((T)1 - big);  /* e^{-|v|}, 0 when tiny */
    const T s = (T)1 / ((T)1 + t);
    ITYPE vb;
    memcpy(&vb, &v, sizeof vb);
    const T neg = (T)(ITYPE)(vb < 0);                 /* sign bit */
    return s * (t * neg + ((T)1 - neg));
}

/* tanh|v| = -m / (2 + m), m = expm1(-2|v|) (no cancellation for small |v|); sign put back */
GT_INLINE T CR_FN(gt_tanh)(T v) {
    T q, big;
    const T scale = CR_FN(gt_expneg_parts)((T)2 * FABS(v), &q, &big);
    const T m = scale * q + (scale - (T)1);
    return COPYSIGN(-m / ((T)2 + m), v);
}

/* ---- the step products ---------------------------------------------------------------
 * tile[mr x G*VL] (+)= A[rows 0 .. mr) (row stride lda), columns k0 .. k1, @ panel rows
 * k0 .. k1 (packed G*VL wide). load = 0 starts from zero, 1 continues the sums in tile.
 * mr and G are compile-time constants at every call (always inlined): the mr*G
 * accumulators live in registers. Rows past `valid` are clamped to row valid-1 (computed,
 * never stored). Each element's sum runs over k in one fixed order whatever the tile
 * shape or the k blocking (a stored and reloaded partial sum is exact). */
GT_INLINE void CR_FN(gt_tile_mr)(T *tile, const T *A, int64_t lda, int64_t valid,
                               const T *panel, int64_t k0, int64_t k1, int load,
                               const int mr, const int G) {
    const T *a[GT_MR_MAX];
    for (int i = 0; i < mr; i++) a[i] = A + (i < valid ? i : valid - 1) * lda;
    VREAL c[GT_MR_MAX][4];
    for (int i = 0; i < mr; i++)
        for (int g = 0; g < G; g++)
            c[i][g] = load ? *(const VREAL *)(tile + (i * G + g) * VL) : (VREAL){0};
    for (int64_t k = k0; k < k1; k++) {
        VREAL b[4];
        for (int g = 0; g < G; g++) b[g] = *(const VREAL *)(panel + (k * G + g) * VL);
        for (int i = 0; i < mr; i++) {
            const T aik = a[i][k];
            for (int g = 0; g < G; g++) c[i][g] += b[g] * aik;
        }
    }
    for (int i = 0; i < mr; i++)
        for (int g = 0; g < G; g++) *(VREAL *)(tile + (i * G + g) * VL) = c[i][g];
}

/* one tile of `rows` rows (<= MR) starting at A; small heights get a tile of their own */
GT_INLINE void CR_FN(gt_tile)(T *tile, const T *A, int64_t lda, int64_t rows,
                            const T *panel, int64_t k0, int64_t k1, int load, const int G,
                            const int MR) {
    if (rows >= MR) CR_FN(gt_tile_mr)(tile, A, lda, MR, panel, k0, k1, load, MR, G);
    else if (rows > 4) CR_FN(gt_tile_mr)(tile, A, lda, rows, panel, k0, k1, load, MR, G);
    else if (rows > 2) CR_FN(gt_tile_mr)(tile, A, lda, rows, panel, k0, k1, load, 4, G);
    else if (rows == 2) CR_FN(gt_tile_mr)(tile, A, lda, rows, panel, k0, k1, load, 2, G);
    else CR_FN(gt_tile_mr)(tile, A, lda, rows, panel, k0, k1, load, 1, G);
}

/* Rows [r0, r1) (at most GT_RB) of A (K columns, row stride lda) @ one packed panel
 * (K x G*VL) -> tile, row r at tile + (r - r0) * G*VL. The k range is cut in blocks whose
 * part of the panel fits in L1 and each block is run over every row tile, so the panel is
 * read from L2 once per step instead of once per row tile. A == NULL gives zeros. A row
 * block that leaves 1-4 rows after its full MR tiles ends with two 4-row tiles instead. */
GT_INLINE void CR_FN(gt_rows_product)(T *tile, const T *A, int64_t lda, int64_t r0,
                                    int64_t r1, const T *panel, int64_t K, const int G,
                                    const int MR) {
    if (A == NULL) {
        memset(tile, 0, (size_t)((r1 - r0) * G * VL) * sizeof(T));
        return;
    }
    const int64_t KC = GT_L1_PANEL / (G * VL * (int64_t)sizeof(T));
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        const int64_t k1 = k0 + KC < K ? k0 + KC : K;
        for (int64_t i0 = r0, rows; i0 < r1; i0 += rows) {
            const int64_t left = r1 - i0;
            rows = left > MR && left <= MR + 4 && MR > 4 ? 4 : left < MR ? left : MR;
            CR_FN(gt_tile)(tile + (i0 - r0) * G * VL, A + i0 * lda, lda, rows, panel, k0, k1,
                         k0 > 0, G, MR);
        }
    }
}

/* Forward panel p of w_hh^T, gates interleaved: for the VL hidden units u = p*VL + c,
 * Bp[k][g*VL + c] = w_hh[g*H + u][k] (0 past H). K = H rows of G*VL. */
static void CR_FN(gt_pack_fwd)(T *Bp, const T *w_hh, int G, int64_t p, int64_t H) {
    T *panel = Bp + p * H * G * VL;
    for (int g = 0; g < G; g++) {
        for (int c = 0; c < VL; c++) {
            const int64_t u = p * VL + c;
            const T *w = w_hh + (g * H + u) * H;
            for (int64_t k = 0; k < H; k++) panel[(k * G + g) * VL + c] = u < H ? w[k] : 0;
        }
    }
}

/* Backward panel jb of w_hh itself (K = G*H rows x H columns), GT_BWD_G*VL columns:
 * Bp[k][c] = w_hh[k][jb*GT_BWD_G*VL + c] (0 past H). */
static void CR_FN(gt_pack_bwd)(T *Bp, const T *w_hh, int G, int64_t jb, int64_t H) {
    const int64_t K = G * H, NRB = GT_BWD_G * VL;
    T *panel = Bp + jb * K * NRB;
    for (int64_t k = 0; k < K; k++) {
        for (int64_t c = 0; c < NRB; c++) {
            const int64_t j = jb * NRB + c;
            panel[k * NRB + c] = j < H ? w_hh[k * H + j] : 0;
        }
    }
}

/* The step kernels, compiled once per instruction set. */
#define STEP(name) CR_FN(name##_generic)
#define STEP_ATTR
#include "gates_step.h"
#undef STEP
#undef STEP_ATTR
#ifdef CR_X86
#define STEP(name) CR_FN(name##_v3)
#define STEP_ATTR __attribute__((target("arch=x86-64-v3")))
#include "gates_step.h"
#undef STEP
#undef STEP_ATTR
#define STEP(name) CR_FN(name##_v4)
#define STEP_ATTR __attribute__((target("arch=x86-64-v4")))
#include "gates_step.h"
#undef STEP
#undef STEP_ATTR
#endif

typedef struct {
    void (*lstm_fwd)(T *, T *, T *, const T *, const T *, const T *,
                     const T *, int64_t, int64_t, int64_t, int64_t, int64_t);
    void (*lstm_bwd)(T *, T *, T *, const T *, const T *, const T *,
                     const T *, const T *, const T *, int64_t, int64_t, int64_t,
                     int64_t, int64_t);
    void (*gru_fwd)(T *, T *, const T *, const T *, const T *, int64_t, int64_t,
                    int64_t, int64_t, int64_t);
    void (*gru_bwd)(T *, T *, T *, const T *, const T *, const T *,
                    const T *, const T *, int64_t, int64_t, int64_t, int64_t, int64_t);
} CR_FN(gt_steps);

static CR_FN(gt_steps) CR_FN(gt_pick)(void) {
    CR_FN(gt_steps) s = {CR_FN(lstm_fwd_step_generic), CR_FN(lstm_bwd_step_generic),
                       CR_FN(gru_fwd_step_generic), CR_FN(gru_bwd_step_generic)};
#ifdef CR_X86
    const int path = gt_path();
    if (path == GT_V4) {
        s = (CR_FN(gt_steps)){CR_FN(lstm_fwd_step_v4), CR_FN(lstm_bwd_step_v4),
                            CR_FN(gru_fwd_step_v4), CR_FN(gru_bwd_step_v4)};
    } else if (path == GT_V3) {
        s = (CR_FN(gt_steps)){CR_FN(lstm_fwd_step_v3), CR_FN(lstm_bwd_step_v3),
                            CR_FN(gru_fwd_step_v3), CR_FN(gru_bwd_step_v3)};
    }
#endif
    return s;
}

#include "gates_drive.h"
