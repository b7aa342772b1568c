/* conv_wino4s_avx512.c — the F(4x4, 3x3) transforms of conv_wino4s.c for images of at most
 * 4 tiles a row (Q <= 16), AVX-512 intrinsics: m = 16 / TQ tile rows at once, tile tq of the
 * group's tile row u in lane L = u TQ + tq, so a 16x16 plane (TQ = 4) is one vector per
 * position of the 6x6 tile and an 8x8 one (TQ = 2) fills 16 lanes with up to 8 tile rows.
 * Each value is computed with the operations, in the order, of conv_winograd4_xf.h
 * (WINO4_BT, WINO4_AT, WINO4_A: down the rows first, then along the columns; every
 * multiplication by a power of two, so exact).
 *
 * Lanes are gathered from the plane read in place: a row loaded at column offset o (lanes
 * outside the plane masked off, never read), then one two-source permute per pair of tile
 * rows (index 4 tq, + 16 for the pair's second row), blended (wino4s_tab). Outputs go back
 * the same way: output row 4 u + i of the group is one vector, lane q from the tile column
 * q % 4 of lane u TQ + q / 4 (two permutes and a blend). */
#include <immintrin.h>
#include <stdint.h>
#include "conv_wino4s.h"

/* the gather table of m = 16 / TQ units (tile rows): pair p (units 2p, 2p + 1) */
typedef struct {
    __m512i ix[8];
    __mmask16 bm[8];
    int np;
} tab;

static void tab_make(tab *t, int64_t TQ) {
    const int64_t m = 16 / TQ;
    t->np = (int)((m + 1) / 2);
    for (int p = 0; p < t->np; p++) {
        int32_t ix[16];
        unsigned bm = 0;
        for (int L = 0; L < 16; L++) {
            const int64_t u = L / TQ, tq = L % TQ;
            const int in = u == 2 * p || u == 2 * p + 1;
            ix[L] = in ? (int32_t)(4 * tq + (u == 2 * p + 1 ? 16 : 0)) : 0;
            if (in) bm |= 1u << L;
        }
        t->ix[p] = _mm512_loadu_si512(ix);
        t->bm[p] = (__mmask16)bm;
    }
}

/* The rows a group of m units reads: unit u (tile row tp of plane j) row i at rp[u][i]
 * (column 0 of the padded plane, i.e. x column -pw), a row of zeros outside the plane;
 * cm[o]: the lanes of columns o - pw .. inside [0, W). */
typedef struct {
    const float *rp[16][6];
    __mmask16 cm[6];
} rows;

static const float zeros[32]; /* the zero row: lanes o + l <= 20 read */

static void col_masks(rows *r, int64_t W, int64_t pw) {
    for (int o = 0; o < 6; o++) {
        const int64_t lo = pw - o, hi = W + pw - o; /* lanes [lo, hi) inside */
        unsigned m = 0;
        for (int64_t l = lo < 0 ? 0 : lo; l < (hi < 16 ? hi : 16); l++) m |= 1u << l;
        r->cm[o] = (__mmask16)m;
    }
}

/* units s0 .. s0 + m - 1 of planes x + j ps (j = s / TP, tile row s % TP), nr rows each */
static void rows_make(rows *r, const float *x, int64_t ps, int64_t H, int64_t W, int64_t ph,
                      int64_t pw, int64_t TP, int64_t s0, int64_t m, int64_t units, int nr) {
    int64_t j = s0 / TP, tp = s0 % TP;
    for (int64_t u = 0; u < (m + 1) / 2 * 2; u++) { /* units past m or the planes: none */
        const int any = u < m && s0 + u < units;
        for (int i = 0; i < nr; i++) {
            const int64_t h = 4 * tp + i - ph;
            r->rp[u][i] = any && h >= 0 && h < H ? x + j * ps + h * W - pw : zeros;
        }
        if (++tp == TP) { tp = 0; j++; }
    }
}

static inline __m512 rload(const rows *r, int64_t u, int i, int o) {
    return _mm512_maskz_loadu_ps(r->cm[o], r->rp[u][i] + o);
}

/* lanes of the group: row i of each unit, column 4 tq + o of the padded plane (NP pairs) */
static inline __attribute__((always_inline)) __m512 pick(const tab *t, const rows *r, int i,
                                                          int o, int NP) {
    __m512 v = _mm512_setzero_ps();
    for (int p = 0; p < NP; p++) {
        const __m512 w = _mm512_permutex2var_ps(rload(r, 2 * p, i, o), t->ix[p],
                                                rload(r, 2 * p + 1, i, o));
        v = p ? _mm512_mask_blend_ps(t->bm[p], v, w) : w;
    }
    return v;
}

#define FOUR _mm512_set1_ps(4.0f)
#define TWO _mm512_set1_ps(2.0f)
#define EIGHT _mm512_set1_ps(8.0f)
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps

/* B^T v on 6 vectors (conv_winograd4_xf.h WINO4_BT) */
static inline void bt6(const __m512 *v, __m512 *o) {
    const __m512 ec = SUB(v[4], MUL(FOUR, v[2])), db = SUB(v[3], MUL(FOUR, v[1]));
    const __m512 e_c = SUB(v[4], v[2]), d_b = SUB(v[3], v[1]);
    o[0] = ADD(MUL(FOUR, SUB(v[0], v[2])), e_c);
    o[1] = ADD(ec, db);
    o[2] = SUB(ec, db);
    o[3] = ADD(e_c, MUL(TWO, d_b));
    o[4] = SUB(e_c, MUL(TWO, d_b));
    o[5] = ADD(MUL(FOUR, SUB(v[1], v[3])), SUB(v[5], v[3]));
}

/* A^T v on 6 vectors (WINO4_AT) */
static inline void at6(const __m512 *v, __m512 *o) {
    const __m512 p = ADD(v[1], v[2]), q = SUB(v[1], v[2]), r = ADD(v[3], v[4]), t = SUB(v[3], v[4]);
    o[0] = ADD(ADD(v[0], p), r);
    o[1] = ADD(q, MUL(TWO, t));
    o[2] = ADD(p, MUL(FOUR, r));
    o[3] = ADD(ADD(q, MUL(EIGHT, t)), v[5]);
}

/* A v on 4 vectors (WINO4_A) */
static inline void a4(const __m512 *v, __m512 *o) {
    const __m512 ac = ADD(v[0], v[2]), bd = ADD(v[1], v[3]);
    const __m512 a4c = ADD(v[0], MUL(FOUR, v[2])), b2d8 = ADD(MUL(TWO, v[1]), MUL(EIGHT, v[3]));
    o[0] = v[0];
    o[1] = ADD(ac, bd);
    o[2] = SUB(ac, bd);
    o[3] = ADD(a4c, b2d8);
    o[4] = SUB(a4c, b2d8);
    o[5] = v[3];
}

static inline __mmask16 lanes(int64_t n) {
    return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1);
}

/* B^T d B of one group (NP pairs of units), stored at V + e lde (mask mk) */
static inline __attribute__((always_inline)) void input_group(float *V, int64_t lde,
                                                                const tab *t, const rows *r,
                                                                __mmask16 mk, int NP) {
    __m512 tt[6][6]; /* tt[i][o]: (B^T d)[i] of column o */
    for (int o = 0; o < 6; o++) {
        __m512 d[6], q[6];
        for (int a = 0; a < 6; a++) d[a] = pick(t, r, a, o, NP);
        bt6(d, q);
        for (int i = 0; i < 6; i++) tt[i][o] = q[i];
    }
    for (int i = 0; i < 6; i++) {
        __m512 q[6];
        bt6(tt[i], q);
        for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(V + (6 * i + j) * lde, mk, q[j]);
    }
}

/* A dY A^T of one group of dy units */
static inline __attribute__((always_inline)) void grad_group(float *Mg, int64_t lde,
                                                               const tab *t, const rows *r,
                                                               __mmask16 mk, int NP) {
    __m512 tt[6][4]; /* tt[i][l]: (A dY)[i] of column l */
    for (int l = 0; l < 4; l++) {
        __m512 d[4], q[6];
        for (int i = 0; i < 4; i++) d[i] = pick(t, r, i, l, NP);
        a4(d, q);
        for (int i = 0; i < 6; i++) tt[i][l] = q[i];
    }
    for (int i = 0; i < 6; i++) {
        __m512 q[6];
        a4(tt[i], q);
        for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(Mg + (6 * i + j) * lde, mk, q[j]);
    }
}

#define BY_PAIRS(F, ...)                         \
    switch (t.np) {                              \
    case 1: F(__VA_ARGS__, 1); break;            \
    case 2: F(__VA_ARGS__, 2); break;            \
    case 3: F(__VA_ARGS__, 3); break;            \
    case 4: F(__VA_ARGS__, 4); break;            \
    default: F(__VA_ARGS__, 8); break;           \
    }

/* V[e lde + s TQ + tq] = B^T d B of tile tq of unit s (tile row s % TP of the plane
 * x + (s / TP) ps: H x W, padding ph, pw), for the g TP units of g planes; TQ <= 4 */
void conv_wino4s_input_planes_avx512(float *V, int64_t lde, const float *x, int64_t ps,
                                     int64_t g, int64_t H, int64_t W, int64_t ph, int64_t pw,
                                     int64_t TP, int64_t TQ) {
    tab t;
    rows r;
    tab_make(&t, TQ);
    col_masks(&r, W, pw);
    const int64_t m = 16 / TQ, units = g * TP;
    for (int64_t s0 = 0; s0 < units; s0 += m) {
        rows_make(&r, x, ps, H, W, ph, pw, TP, s0, m, units, 6);
        const __mmask16 mk = lanes((units - s0 < m ? units - s0 : m) * TQ);
        BY_PAIRS(input_group, V + s0 * TQ, lde, &t, &r, mk)
    }
}

/* dw: Mg[e lde + s TQ + tq] = A dY A^T of the 4x4 tiles of the dy planes (P x Q, zeros
 * beyond), units as above */
void conv_wino4s_grad_planes_avx512(float *Mg, int64_t lde, const float *dy, int64_t ps,
                                    int64_t g, int64_t P, int64_t Q, int64_t TP, int64_t TQ) {
    tab t;
    rows r;
    tab_make(&t, TQ);
    col_masks(&r, Q, 0);
    const int64_t m = 16 / TQ, units = g * TP;
    for (int64_t s0 = 0; s0 < units; s0 += m) {
        rows_make(&r, dy, ps, P, Q, 0, 0, TP, s0, m, units, 4);
        const __mmask16 mk = lanes((units - s0 < m ? units - s0 : m) * TQ);
        BY_PAIRS(grad_group, Mg + s0 * TQ, lde, &t, &r, mk)
    }
}

/* y + j ps (P x Q) (+)= A^T M A + bias of the tiles of the g planes' units (M[e lde + s TQ
 * + tq]) */
void conv_wino4s_output_planes_avx512(float *y, int64_t ps, const float *M, int64_t lde,
                                      int64_t g, int64_t P, int64_t Q, int64_t TP, int64_t TQ,
                                      float bias, int accumulate) {
    const int64_t m = 16 / TQ, units = g * TP;
    const __m512 bv = _mm512_set1_ps(bias);
    const __mmask16 qm = lanes(Q);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    /* lane q of an output row: tile column q / 4, + 16 for odd q % 4 (second source) */
    const __m512i base = _mm512_add_epi32(_mm512_srli_epi32(lane, 2),
                                          _mm512_slli_epi32(_mm512_and_si512(lane, _mm512_set1_epi32(1)), 4));
    for (int64_t s0 = 0; s0 < units; s0 += m) {
        const int64_t nu = units - s0 < m ? units - s0 : m;
        const __mmask16 mk = lanes(nu * TQ);
        const float *mt = M + s0 * TQ;
        __m512 s[4][6]; /* s[i][j]: (A^T m)[i] of column j */
        for (int j = 0; j < 6; j++) {
            __m512 v[6], r[4];
            for (int i = 0; i < 6; i++) v[i] = _mm512_maskz_loadu_ps(mk, mt + (6 * i + j) * lde);
            at6(v, r);
            for (int i = 0; i < 4; i++) s[i][j] = r[i];
        }
        __m512 o[4][4];
        for (int i = 0; i < 4; i++) {
            at6(s[i], o[i]);
            for (int j = 0; j < 4; j++) o[i][j] = ADD(o[i][j], bv);
        }
        int64_t j = s0 / TP, tp = s0 % TP;
        for (int64_t u = 0; u < nu; u++, tp = tp + 1 == TP ? 0 : tp + 1, j += tp == 0) {
            float *yp = y + j * ps;
            const __m512i ix = _mm512_add_epi32(base, _mm512_set1_epi32((int)(u * TQ)));
            for (int i = 0; i < 4; i++) {
                const int64_t row = 4 * tp + i;
                if (row >= P) break;
                const __m512 lo = _mm512_permutex2var_ps(o[i][0], ix, o[i][1]);
                const __m512 hi = _mm512_permutex2var_ps(o[i][2], ix, o[i][3]);
                __m512 v = _mm512_mask_blend_ps((__mmask16)0xCCCC, lo, hi);
                float *yr = yp + row * Q;
                if (accumulate) v = ADD(_mm512_maskz_loadu_ps(qm, yr), v);
                _mm512_mask_storeu_ps(yr, qm, v);
            }
        }
    }
}
