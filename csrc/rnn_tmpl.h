/* rnn_tmpl.h — the RNN kernels for one element type; included by rnn.c only, with T and
 * SUF (the template idiom of cpu.h), VREAL/VREALU/VINT (64-byte vectors), VL (lanes) and
 * the exp constants defined. NR = 2*VL columns per packed panel of w_hh. The sequence
 * length, T in rnn.h and in the comments, is `steps` in the code. */
#define NR (2 * VL)

/* ---- elementwise math on vectors ------------------------------------------------------ */
RNN_INLINE VREAL CR_FN(vsplat)(T c) { VREAL v = {0}; return v + c; }
RNN_INLINE VREAL CR_FN(vload)(const T *p) { return *(const VREALU *)p; }
RNN_INLINE void CR_FN(vstore)(T *p, VREAL v) { *(VREALU *)p = v; }
/* m ? a : b, with m a lane mask (all ones / all zeros) from a vector comparison */
RNN_INLINE VREAL CR_FN(vselect)(VINT m, VREAL a, VREAL b) {
    return (VREAL)(((VINT)a & m) | ((VINT)b & ~m));
}

/* e^x for x <= 0 as 2^n (1 + q): x = n ln2 + r, |r| <= ln2/2, q = e^r - 1 by Taylor
 * without its leading 1 (Horner), 2^n built in the exponent bits. Inputs below EXP_LO are
 * clamped (e^x ~ 1e-38 / 1e-308 there, where the result no longer matters). */
RNN_INLINE void CR_FN(vexp_parts)(VREAL x, VREAL *scale, VREAL *q) {
    const VREAL lo = CR_FN(vsplat)(EXP_LO);
    x = CR_FN(vselect)(x < lo, lo, x);                 /* a NaN stays NaN (and so does e^x) */
    const VREAL xf = CR_FN(vselect)(x >= lo, x, lo);   /* ... but never reaches the int cast */
    VREAL y = xf * (T)1.4426950408889634 - (T)0.5;  /* n = round(x / ln2), x <= 0 */
    VINT n = __builtin_convertvector(y, VINT);               /* truncation toward 0 */
    VREAL nf = __builtin_convertvector(n, VREAL);
    VREAL r = x - nf * (T)LN2_HI - nf * (T)LN2_LO;
    /* q = r (1 + r (1/2! + r (1/3! + ... + r / EXP_DEG!))) */
    T inv_fact[EXP_DEG + 1];
    inv_fact[0] = 1;
    for (int k = 1; k <= EXP_DEG; k++) inv_fact[k] = inv_fact[k - 1] / (T)k;
    VREAL p = CR_FN(vsplat)(inv_fact[EXP_DEG]);
    for (int k = EXP_DEG - 1; k >= 1; k--) p = p * r + inv_fact[k];
    *q = p * r;
    *scale = (VREAL)((n + EXP_BIAS) << EXP_MANT);
}

/* e^x, x <= 0: accurate relative to its value, also when tiny; 0 below EXP_LO (where
 * e^x would be subnormal) */
RNN_INLINE VREAL CR_FN(vexp_nonpos)(VREAL x) {
    VREAL scale, q;
    CR_FN(vexp_parts)(x, &scale, &q);
    return CR_FN(vselect)(x < CR_FN(vsplat)(EXP_LO), CR_FN(vsplat)(0), scale * q + scale);
}

/* e^x - 1, x <= 0: accurate relative to its value, also near x = 0 (n = 0 gives q) */
RNN_INLINE VREAL CR_FN(vexpm1_nonpos)(VREAL x) {
    VREAL scale, q;
    CR_FN(vexp_parts)(x, &scale, &q);
    return scale * q + (scale - (T)1);
}

/* act(v) for CR_ACT_TANH / RELU / SIGMOID, on whole vectors */
RNN_INLINE VREAL CR_FN(vact)(VREAL v, int act) {
    const VREAL zero = CR_FN(vsplat)(0), one = CR_FN(vsplat)(1);
    if (act == CR_ACT_RELU) return CR_FN(vselect)(v < zero, zero, v); /* NaN stays NaN */
    VINT sign = {0};
    sign += SIGN_BIT;
    VREAL ax = (VREAL)((VINT)v & ~sign);
    if (act == CR_ACT_TANH) {
        /* tanh|v| = (1 - e^{-2|v|}) / (1 + e^{-2|v|}) = -m / (2 + m), m = expm1(-2|v|)
         * (no cancellation for small |v|); the sign is put back */
        VREAL m = CR_FN(vexpm1_nonpos)(ax * (T)-2);
        VREAL y = -m / (one + one + m);
        return (VREAL)((VINT)y | ((VINT)v & sign));
    }
    if (act == CR_ACT_SIGMOID) {
        /* sigmoid(v) = 1 / (1 + e^{-|v|}) for v >= 0, e^{-|v|} / (1 + e^{-|v|}) below */
        VREAL t = CR_FN(vexp_nonpos)(-ax);
        VREAL s = one / (one + t);
        return CR_FN(vselect)(v < zero, t * s, s);
    }
    return v;
}

/* act'(a) written through h = act(a): tanh 1-h^2, sigmoid h(1-h), relu [h > 0] */
RNN_INLINE VREAL CR_FN(vact_grad)(VREAL h, int act) {
    const VREAL zero = CR_FN(vsplat)(0), one = CR_FN(vsplat)(1);
    if (act == CR_ACT_TANH) return one - h * h;
    if (act == CR_ACT_SIGMOID) return h * (one - h);
    if (act == CR_ACT_RELU) return CR_FN(vselect)(h > zero, one, zero);
    return one;
}

/* ---- the step's matrix product ---------------------------------------------------------
 * tile[mr x NR] = A[rows 0 .. mr) (row stride lda, K columns) @ panel (K x NR, packed).
 * mr is a compile-time constant at every call (the function is always inlined), so the
 * 2*mr accumulators live in registers. Rows past `valid` are clamped to row valid-1
 * (computed, never stored). Each element's sum over k has one fixed order whatever the
 * tile shape, hence whatever the thread split. */
RNN_INLINE void CR_FN(tile_mm_mr)(T *tile, const T *A, int64_t lda, int64_t valid,
                                const T *panel, int64_t K, const int mr) {
    const T *a[RNN_MR];
    for (int i = 0; i < mr; i++) a[i] = A + (i < valid ? i : valid - 1) * lda;
    VREAL c0[RNN_MR], c1[RNN_MR];
    for (int i = 0; i < mr; i++) { c0[i] = CR_FN(vsplat)(0); c1[i] = CR_FN(vsplat)(0); }
    for (int64_t k = 0; k < K; k++) {
        const VREAL b0 = *(const VREAL *)(panel + k * NR);
        const VREAL b1 = *(const VREAL *)(panel + k * NR + VL);
        for (int i = 0; i < mr; i++) {
            const T aik = a[i][k];
            c0[i] += b0 * aik;
            c1[i] += b1 * aik;
        }
    }
    for (int i = 0; i < mr; i++) {
        *(VREAL *)(tile + i * NR) = c0[i];
        *(VREAL *)(tile + i * NR + VL) = c1[i];
    }
}

/* the tile for rows i0 .. i0+min(MR, N-i0): small batches (N = 1, 2, 3-4) get a tile of
 * their own height instead of MR rows of which most would be thrown away */
RNN_INLINE void CR_FN(tile_mm)(T *tile, const T *A, int64_t lda, int64_t i0, int64_t N,
                             const T *panel, int64_t K) {
    const int64_t rows = N - i0;
    const T *A0 = A + i0 * lda;
    if (rows >= RNN_MR) CR_FN(tile_mm_mr)(tile, A0, lda, RNN_MR, panel, K, RNN_MR);
    else if (rows > 4) CR_FN(tile_mm_mr)(tile, A0, lda, rows, panel, K, RNN_MR);
    else if (rows > 2) CR_FN(tile_mm_mr)(tile, A0, lda, rows, panel, K, 4);
    else if (rows == 2) CR_FN(tile_mm_mr)(tile, A0, lda, rows, panel, K, 2);
    else CR_FN(tile_mm_mr)(tile, A0, lda, rows, panel, K, 1);
}

/* Pack panels jb0..jb1 of B (K = H rows x H columns) into Bp: Bp[jb][k][c] = B[k][jb*NR+c],
 * zero past column H. B = w_hh^T (forward, trans = 1) or w_hh (backward, trans = 0). */
static void CR_FN(pack_panels)(T *Bp, const T *w_hh, int trans, int64_t jb0, int64_t jb1,
                             int64_t H) {
    for (int64_t jb = jb0; jb < jb1; jb++) {
        T *panel = Bp + jb * H * NR;
        for (int64_t k = 0; k < H; k++) {
            for (int64_t c = 0; c < NR; c++) {
                int64_t j = jb * NR + c;
                panel[k * NR + c] = j >= H ? 0 : trans ? w_hh[j * H + k] : w_hh[k * H + j];
            }
        }
    }
}

/* The step kernels, compiled once per instruction set: baseline (the 64-byte vectors
 * lowered to what the target has), x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512). */
#define STEP(name) CR_FN(name##_generic)
#define STEP_ATTR
#include "rnn_step.h"
#undef STEP
#undef STEP_ATTR
#ifdef CR_X86
#define STEP(name) CR_FN(name##_v3)
#define STEP_ATTR __attribute__((target("arch=x86-64-v3")))
#include "rnn_step.h"
#undef STEP
#undef STEP_ATTR
#define STEP(name) CR_FN(name##_v4)
#define STEP_ATTR __attribute__((target("arch=x86-64-v4")))
#include "rnn_step.h"
#undef STEP
#undef STEP_ATTR
#endif

typedef void (*CR_FN(forward_step_fn))(T *, const T *, const T *, const T *, int,
                                     int64_t, int64_t);
typedef void (*CR_FN(backward_step_fn))(T *, T *, const T *, const T *, const T *,
                                      const T *, int, int64_t, int64_t);

/* the step kernels for the path rnn_path() picked (see rnn.c) */
static void CR_FN(pick_steps)(CR_FN(forward_step_fn) *fwd, CR_FN(backward_step_fn) *bwd) {
    *fwd = CR_FN(forward_step_generic);
    *bwd = CR_FN(backward_step_generic);
#ifdef CR_X86
    const int path = rnn_path_id();
    if (path == RNN_PATH_V4) {
        *fwd = CR_FN(forward_step_v4);
        *bwd = CR_FN(backward_step_v4);
    } else if (path == RNN_PATH_V3) {
        *fwd = CR_FN(forward_step_v3);
        *bwd = CR_FN(backward_step_v3);
    }
#endif
}

/* The recurrence is split over the batch: row i of h_t (and of da_t) needs only row i of
 * h_{t-1} (da_{t+1}), so each thread runs all T steps on its own rows with no barrier.
 * Slices are whole MR-row tiles; several threads only when there is enough work. */
static int CR_FN(recurrence_threads)(int64_t steps, int64_t N, int64_t H) {
    int nt = cr_threads_for((double)steps * (double)N * (double)H * (double)H, RNN_PAR_MIN_FLOPS);
    const int64_t tiles = (N + RNN_MR - 1) / RNN_MR;
    if (nt > tiles) nt = (int)tiles;
    return nt < 1 ? 1 : nt;
}

static void CR_FN(thread_rows)(int64_t N, int tid, int nthr, int64_t *r0, int64_t *r1) {
    const int64_t tiles = (N + RNN_MR - 1) / RNN_MR;
    *r0 = tiles * tid / nthr * RNN_MR;
    *r1 = tiles * (tid + 1) / nthr * RNN_MR;
    if (*r1 > N) *r1 = N;
    if (*r0 > N) *r0 = N;
}

static T *CR_FN(alloc_panels)(int64_t nb, int64_t H) {
    size_t bytes = (size_t)(nb * H * NR) * sizeof(T);
    bytes = (bytes + 63) / 64 * 64;
    return (T *)aligned_alloc(64, bytes ? bytes : 64);
}

/* hs[t] = act(x[t] @ w_ih^T + b_ih + hs[t-1] @ w_hh^T + b_hh),  hs[-1] = h0.
 * x (T,N,I) h0 (N,H) w_ih (H,I) w_hh (H,H) b_ih b_hh (H or NULL) -> hs (T,N,H) */
int CR_FN(cr_rnn_forward)(T *hs, const T *x, const T *h0, const T *w_ih,
                        const T *w_hh, const T *b_ih, const T *b_hh, int act,
                        int64_t steps, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H;
    if (steps == 0 || NH == 0) return 0;
    const int64_t nb = (H + NR - 1) / NR; /* column panels */
    T *Bp = CR_FN(alloc_panels)(nb, H);
    if (!Bp) return -1;
    /* input projection of every step at once: hs (T*N x H) = x (T*N x I) @ w_ih^T + b_ih */
    CR_FN(cr_gemm)(0, 1, steps * N, H, I, 1, x, I > 0 ? I : 1, w_ih, I > 0 ? I : 1, 0, hs, H,
         b_ih, NULL, CR_ACT_NONE);
    CR_FN(pack_panels)(Bp, w_hh, 1, 0, nb, H);
    CR_FN(forward_step_fn) forward_step;
    CR_FN(backward_step_fn) backward_step;
    CR_FN(pick_steps)(&forward_step, &backward_step);
    const int nt = CR_FN(recurrence_threads)(steps, N, H);
    #pragma omp parallel num_threads(nt)
    {
        const int tid = CR_THREAD_NUM(), nthr = CR_TEAM_SIZE();
        int64_t r0, r1;
        CR_FN(thread_rows)(N, tid, nthr, &r0, &r1);
        for (int64_t t = 0; r1 > r0 && t < steps; t++) {
            const T *h_prev = t > 0 ? hs + (t - 1) * NH : h0;
            forward_step(hs + t * NH + r0 * H, h_prev + r0 * H, Bp, b_hh, act, r1 - r0, H);
        }
    }
    free(Bp);
    return 0;
}

/* Full BPTT; accumulates into dx (T,N,I) dh0 (N,H) dw_ih (H,I) dw_hh (H,H) db_* (H);
 * writes dh_norms[t] = ||dL/dh_t|| (Frobenius over N x H) when dh_norms is not NULL. */
int CR_FN(cr_rnn_backward)(T *dx, T *dh0, T *dw_ih, T *dw_hh, T *db_ih,
                         T *db_hh, double *dh_norms, const T *dhs, const T *x,
                         const T *h0, const T *hs, const T *w_ih, const T *w_hh,
                         int act, int64_t steps, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H;
    if (steps == 0 || NH == 0) {
        if (dh_norms) for (int64_t t = 0; t < steps; t++) dh_norms[t] = 0;
        return 0;
    }
    const int64_t nb = (H + NR - 1) / NR;
    T *da = (T *)malloc((size_t)(steps * NH) * sizeof(T)); /* dL/da_t, (T, N, H) */
    T *Bp = CR_FN(alloc_panels)(nb, H);
    /* per step and batch row: sum over the H columns of dh^2 (one fixed order) */
    T *rowsq = dh_norms ? (T *)malloc((size_t)(steps * N) * sizeof(T)) : NULL;
    T *colsum = (T *)calloc((size_t)H, sizeof(T));
    if (!da || !Bp || !colsum || (dh_norms && !rowsq)) {
        free(da); free(Bp); free(rowsq); free(colsum);
        return -1;
    }

    /* the walk back through time, each thread on its own rows of the batch */
    CR_FN(pack_panels)(Bp, w_hh, 0, 0, nb, H);
    CR_FN(forward_step_fn) forward_step;
    CR_FN(backward_step_fn) backward_step;
    CR_FN(pick_steps)(&forward_step, &backward_step);
    const int nt = CR_FN(recurrence_threads)(steps, N, H);
    #pragma omp parallel num_threads(nt)
    {
        const int tid = CR_THREAD_NUM(), nthr = CR_TEAM_SIZE();
        int64_t r0, r1;
        CR_FN(thread_rows)(N, tid, nthr, &r0, &r1);
        const int64_t off = r0 * H;
        for (int64_t t = steps - 1; r1 > r0 && t >= 0; t--) {
            backward_step(da + t * NH + off, rowsq ? rowsq + t * N + r0 : NULL,
                          t < steps - 1 ? da + (t + 1) * NH + off : NULL, dhs + t * NH + off,
                          hs + t * NH + off, Bp, act, r1 - r0, H);
        }
    }
    if (dh_norms) {
        for (int64_t t = 0; t < steps; t++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += (double)rowsq[t * N + n];
            dh_norms[t] = sqrt(s);
        }
    }
    /* dh0 += da_1 @ w_hh */
    CR_FN(cr_gemm)(0, 0, N, H, H, 1, da, H, w_hh, H, 1, dh0, H, NULL, NULL, CR_ACT_NONE);
    if (I > 0) {
        /* dw_ih += da^T (H x T*N) @ x (T*N x I);   dx += da (T*N x H) @ w_ih (H x I) */
        CR_FN(cr_gemm)(1, 0, H, I, steps * N, 1, da, H, x, I, 1, dw_ih, I, NULL, NULL, CR_ACT_NONE);
        CR_FN(cr_gemm)(0, 0, steps * N, I, H, 1, da, H, w_ih, I, 1, dx, I, NULL, NULL, CR_ACT_NONE);
    }
    /* dw_hh += da^T @ [h0, h_1 .. h_{T-1}]: the step-1 block against h0, the rest against hs */
    CR_FN(cr_gemm)(1, 0, H, H, N, 1, da, H, h0, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    if (steps > 1)
        CR_FN(cr_gemm)(1, 0, H, H, (steps - 1) * N, 1, da + NH, H, hs, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    /* db_ih = db_hh += column sums of da over the T*N rows. Each thread owns a column range
     * and walks the rows in order, so each sum has one order whatever the thread count. */
    if (db_ih || db_hh) {
        const int64_t R = steps * N;
        int ntc = cr_in_parallel() ? 1 : cr_get_num_threads();
        if (R * H < 65536) ntc = 1;
        #pragma omp parallel num_threads(ntc)
        {
            const int tid = CR_THREAD_NUM(), nthr = CR_TEAM_SIZE();
            const int64_t j0 = H * tid / nthr, j1 = H * (tid + 1) / nthr;
            for (int64_t r = 0; r < R; r++) {
                const T *da_r = da + r * H;
                for (int64_t j = j0; j < j1; j++) colsum[j] += da_r[j];
            }
        }
        for (int64_t j = 0; j < H; j++) {
            if (db_ih) db_ih[j] += colsum[j];
            if (db_hh) db_hh[j] += colsum[j];
        }
    }
    free(da); free(Bp); free(rowsq); free(colsum);
    return 0;
}

#undef NR
