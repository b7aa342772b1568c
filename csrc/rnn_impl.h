/* rnn_impl.h — the RNN kernels for one element type; included by rnn.c only, with
 * REAL, SUF(name), GEMM, VREAL/VREALU/VINT (64-byte vectors), VL (lanes) and the exp
 * constants defined. NR = 2*VL columns per packed panel of w_hh. */
#define NR (2 * VL)

/* ---- elementwise math on vectors ------------------------------------------------------ */
RNN_INLINE VREAL SUF(vsplat)(REAL c) { VREAL v = {0}; return v + c; }
RNN_INLINE VREAL SUF(vload)(const REAL *p) { return *(const VREALU *)p; }
RNN_INLINE void SUF(vstore)(REAL *p, VREAL v) { *(VREALU *)p = v; }
/* m ? a : b, with m a lane mask (all ones / all zeros) from a vector comparison */
RNN_INLINE VREAL SUF(vselect)(VINT m, VREAL a, VREAL b) {
    return (VREAL)(((VINT)a & m) | ((VINT)b & ~m));
}

/* exp(x) for x <= 0: x = n ln2 + r, |r| <= ln2/2, exp(r) by Taylor (Horner), times 2^n
 * built in the exponent bits. Inputs below EXP_LO are clamped (result ~1e-38 / 1e-308). */
RNN_INLINE VREAL SUF(vexp_nonpos)(VREAL x) {
    const VREAL lo = SUF(vsplat)(EXP_LO);
    x = SUF(vselect)(x < lo, lo, x);
    VREAL y = x * (REAL)1.4426950408889634 - (REAL)0.5;   /* n = round(x / ln2), x <= 0 */
    VINT n = __builtin_convertvector(y, VINT);               /* truncation toward 0 */
    VREAL nf = __builtin_convertvector(n, VREAL);
    VREAL r = x - nf * (REAL)LN2_HI - nf * (REAL)LN2_LO;
    /* Horner with 1/k!, k = EXP_DEG .. 0 */
    REAL inv_fact[EXP_DEG + 1];
    inv_fact[0] = 1;
    for (int k = 1; k <= EXP_DEG; k++) inv_fact[k] = inv_fact[k - 1] / (REAL)k;
    VREAL p = SUF(vsplat)(inv_fact[EXP_DEG]);
    for (int k = EXP_DEG - 1; k >= 0; k--) p = p * r + inv_fact[k];
    VINT bits = (n + EXP_BIAS) << EXP_MANT;
    return p * (VREAL)bits;
}

/* act(v) for CR_ACT_TANH / RELU / SIGMOID, on whole vectors */
RNN_INLINE VREAL SUF(vact)(VREAL v, int act) {
    const VREAL zero = SUF(vsplat)(0), one = SUF(vsplat)(1);
    if (act == CR_ACT_RELU) return SUF(vselect)(v > zero, v, zero);
    VINT sign = {0};
    sign += SIGN_BIT;
    VREAL ax = (VREAL)((VINT)v & ~sign);
    if (act == CR_ACT_TANH) {
        /* tanh|v| = (1 - e^{-2|v|}) / (1 + e^{-2|v|}), sign put back */
        VREAL t = SUF(vexp_nonpos)(ax * (REAL)-2);
        VREAL y = (one - t) / (one + t);
        return (VREAL)((VINT)y | ((VINT)v & sign));
    }
    if (act == CR_ACT_SIGMOID) {
        /* sigmoid(v) = 1 / (1 + e^{-|v|}) for v >= 0, e^{-|v|} / (1 + e^{-|v|}) below */
        VREAL t = SUF(vexp_nonpos)(-ax);
        VREAL s = one / (one + t);
        return SUF(vselect)(v < zero, t * s, s);
    }
    return v;
}

/* act'(a) written through h = act(a): tanh 1-h^2, sigmoid h(1-h), relu [h > 0] */
RNN_INLINE VREAL SUF(vact_grad)(VREAL h, int act) {
    const VREAL zero = SUF(vsplat)(0), one = SUF(vsplat)(1);
    if (act == CR_ACT_TANH) return one - h * h;
    if (act == CR_ACT_SIGMOID) return h * (one - h);
    if (act == CR_ACT_RELU) return SUF(vselect)(h > zero, one, zero);
    return one;
}

/* ---- the step's matrix product ---------------------------------------------------------
 * tile[MR x NR] = A[rows i0 .. i0+MR) (row stride lda, K columns) @ panel (K x NR, packed).
 * Rows past N are clamped to row N-1 (computed, never stored), so every tile runs the same
 * code and each element's sum over k has one fixed order. */
RNN_INLINE void SUF(tile_mm)(REAL *tile, const REAL *A, int64_t lda, int64_t i0, int64_t N,
                             const REAL *panel, int64_t K) {
    const REAL *a[RNN_MR];
    for (int i = 0; i < RNN_MR; i++) a[i] = A + (i0 + i < N ? i0 + i : N - 1) * lda;
    VREAL c0[RNN_MR], c1[RNN_MR];
    for (int i = 0; i < RNN_MR; i++) { c0[i] = SUF(vsplat)(0); c1[i] = SUF(vsplat)(0); }
    for (int64_t k = 0; k < K; k++) {
        const VREAL b0 = *(const VREAL *)(panel + k * NR);
        const VREAL b1 = *(const VREAL *)(panel + k * NR + VL);
        for (int i = 0; i < RNN_MR; i++) {
            const REAL aik = a[i][k];
            c0[i] += b0 * aik;
            c1[i] += b1 * aik;
        }
    }
    for (int i = 0; i < RNN_MR; i++) {
        *(VREAL *)(tile + i * NR) = c0[i];
        *(VREAL *)(tile + i * NR + VL) = c1[i];
    }
}

/* Pack panels jb0..jb1 of B (K = H rows x H columns) into Bp: Bp[jb][k][c] = B[k][jb*NR+c],
 * zero past column H. B = w_hh^T (forward, trans = 1) or w_hh (backward, trans = 0). */
static void SUF(pack_panels)(REAL *Bp, const REAL *w_hh, int trans, int64_t jb0, int64_t jb1,
                             int64_t H) {
    for (int64_t jb = jb0; jb < jb1; jb++) {
        REAL *panel = Bp + jb * H * NR;
        for (int64_t k = 0; k < H; k++) {
            for (int64_t c = 0; c < NR; c++) {
                int64_t j = jb * NR + c;
                panel[k * NR + c] = j >= H ? 0 : trans ? w_hh[j * H + k] : w_hh[k * H + j];
            }
        }
    }
}

/* One forward step for n rows of the batch (all H columns):
 * h_t = act(h_prev @ w_hh^T + h_t + b_hh), h_t holding x_t @ w_ih^T + b_ih on entry.
 * h_prev, h_t (n x H), rows of a thread's slice; Bp all packed panels of w_hh^T. */
RNN_CLONES
static void SUF(forward_step)(REAL *h_t, const REAL *h_prev, const REAL *Bp, const REAL *b_hh,
                              int act, int64_t n_rows, int64_t H) {
    REAL tile[RNN_MR * NR] __attribute__((aligned(64)));
    REAL tmp[3][VL] __attribute__((aligned(64)));
    const int64_t nb = (H + NR - 1) / NR;
    for (int64_t jb = 0; jb < nb; jb++) {
        const REAL *panel = Bp + jb * H * NR;
        const int64_t j0 = jb * NR;
        for (int64_t i0 = 0; i0 < n_rows; i0 += RNN_MR) {
            SUF(tile_mm)(tile, h_prev, H, i0, n_rows, panel, H);
            const int64_t rows = n_rows - i0 < RNN_MR ? n_rows - i0 : RNN_MR;
            for (int64_t i = 0; i < rows; i++) {
                REAL *out = h_t + (i0 + i) * H;
                for (int64_t c0 = 0; c0 < NR && j0 + c0 < H; c0 += VL) {
                    const int64_t j = j0 + c0, n = H - j < VL ? H - j : VL;
                    VREAL v = *(const VREAL *)(tile + i * NR + c0);
                    if (n == VL) {
                        v += SUF(vload)(out + j);
                        if (b_hh) v += SUF(vload)(b_hh + j);
                        SUF(vstore)(out + j, SUF(vact)(v, act));
                    } else { /* last, partial vector of the row */
                        memset(tmp, 0, sizeof tmp);
                        memcpy(tmp[0], out + j, (size_t)n * sizeof(REAL));
                        if (b_hh) memcpy(tmp[1], b_hh + j, (size_t)n * sizeof(REAL));
                        v += *(const VREAL *)tmp[0];
                        if (b_hh) v += *(const VREAL *)tmp[1];
                        *(VREAL *)tmp[2] = SUF(vact)(v, act);
                        memcpy(out + j, tmp[2], (size_t)n * sizeof(REAL));
                    }
                }
            }
        }
    }
}

/* One backward step for n rows of the batch (all H columns):
 * dh = dhs_t + da_next @ w_hh  (da_next NULL at t = T: no recurrence yet),
 * rowsq[i] = sum_j dh[i][j]^2 (if rowsq), da_t = dh * act'(h_t).   All (n x H). */
RNN_CLONES
static void SUF(backward_step)(REAL *da_t, REAL *rowsq, const REAL *da_next, const REAL *dhs_t,
                               const REAL *h_t, const REAL *Bp, int act, int64_t n_rows,
                               int64_t H) {
    REAL tile[RNN_MR * NR] __attribute__((aligned(64)));
    REAL tmp[2][VL] __attribute__((aligned(64)));
    const int64_t nb = (H + NR - 1) / NR;
    if (rowsq) memset(rowsq, 0, (size_t)n_rows * sizeof(REAL));
    for (int64_t jb = 0; jb < nb; jb++) {
        const REAL *panel = Bp + jb * H * NR;
        const int64_t j0 = jb * NR;
        for (int64_t i0 = 0; i0 < n_rows; i0 += RNN_MR) {
            if (da_next) SUF(tile_mm)(tile, da_next, H, i0, n_rows, panel, H);
            else memset(tile, 0, sizeof tile);
            const int64_t rows = n_rows - i0 < RNN_MR ? n_rows - i0 : RNN_MR;
            for (int64_t i = 0; i < rows; i++) {
                const int64_t row = (i0 + i) * H;
                VREAL sq = SUF(vsplat)(0);
                for (int64_t c0 = 0; c0 < NR && j0 + c0 < H; c0 += VL) {
                    const int64_t j = j0 + c0, n = H - j < VL ? H - j : VL;
                    VREAL dh = *(const VREAL *)(tile + i * NR + c0), h;
                    if (n == VL) {
                        dh += SUF(vload)(dhs_t + row + j);
                        h = SUF(vload)(h_t + row + j);
                    } else { /* partial vector: lanes past H stay 0 (zero-padded panel) */
                        memset(tmp, 0, sizeof tmp);
                        memcpy(tmp[0], dhs_t + row + j, (size_t)n * sizeof(REAL));
                        memcpy(tmp[1], h_t + row + j, (size_t)n * sizeof(REAL));
                        dh += *(const VREAL *)tmp[0];
                        h = *(const VREAL *)tmp[1];
                    }
                    sq += dh * dh;
                    VREAL da = dh * SUF(vact_grad)(h, act);
                    if (n == VL) {
                        SUF(vstore)(da_t + row + j, da);
                    } else {
                        *(VREAL *)tmp[0] = da;
                        memcpy(da_t + row + j, tmp[0], (size_t)n * sizeof(REAL));
                    }
                }
                if (rowsq) {
                    REAL s = 0;
                    for (int c = 0; c < VL; c++) s += sq[c];
                    rowsq[i0 + i] += s;
                }
            }
        }
    }
}

/* The recurrence is split over the batch: row i of h_t (and of da_t) needs only row i of
 * h_{t-1} (da_{t+1}), so each thread runs all T steps on its own rows with no barrier.
 * Slices are whole MR-row tiles; several threads only when there is enough work. */
static int SUF(recurrence_threads)(int64_t T, int64_t N, int64_t H) {
    if (cr_in_parallel()) return 1;
    int nt = cr_get_num_threads();
    if ((double)T * (double)N * (double)H * (double)H < RNN_PAR_MIN_FLOPS) nt = 1;
    const int64_t tiles = (N + RNN_MR - 1) / RNN_MR;
    if (nt > tiles) nt = (int)tiles;
    return nt < 1 ? 1 : nt;
}

static void SUF(thread_rows)(int64_t N, int tid, int nthr, int64_t *r0, int64_t *r1) {
    const int64_t tiles = (N + RNN_MR - 1) / RNN_MR;
    *r0 = tiles * tid / nthr * RNN_MR;
    *r1 = tiles * (tid + 1) / nthr * RNN_MR;
    if (*r1 > N) *r1 = N;
    if (*r0 > N) *r0 = N;
}

static REAL *SUF(alloc_panels)(int64_t nb, int64_t H) {
    size_t bytes = (size_t)(nb * H * NR) * sizeof(REAL);
    bytes = (bytes + 63) / 64 * 64;
    return (REAL *)aligned_alloc(64, bytes ? bytes : 64);
}

/* hs[t] = act(x[t] @ w_ih^T + b_ih + hs[t-1] @ w_hh^T + b_hh),  hs[-1] = h0.
 * x (T,N,I) h0 (N,H) w_ih (H,I) w_hh (H,H) b_ih b_hh (H or NULL) -> hs (T,N,H) */
int SUF(cr_rnn_forward)(REAL *hs, const REAL *x, const REAL *h0, const REAL *w_ih,
                        const REAL *w_hh, const REAL *b_ih, const REAL *b_hh, int act,
                        int64_t T, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H;
    if (T == 0 || NH == 0) return 0;
    const int64_t nb = (H + NR - 1) / NR; /* column panels */
    REAL *Bp = SUF(alloc_panels)(nb, H);
    if (!Bp) return -1;
    /* input projection of every step at once: hs (T*N x H) = x (T*N x I) @ w_ih^T + b_ih */
    GEMM(0, 1, T * N, H, I, 1, x, I > 0 ? I : 1, w_ih, I > 0 ? I : 1, 0, hs, H,
         b_ih, NULL, CR_ACT_NONE);
    SUF(pack_panels)(Bp, w_hh, 1, 0, nb, H);
    const int nt = SUF(recurrence_threads)(T, N, H);
    #pragma omp parallel num_threads(nt)
    {
        int tid = 0, nthr = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        nthr = omp_get_num_threads();
#endif
        int64_t r0, r1;
        SUF(thread_rows)(N, tid, nthr, &r0, &r1);
        for (int64_t t = 0; r1 > r0 && t < T; t++) {
            const REAL *h_prev = t > 0 ? hs + (t - 1) * NH : h0;
            SUF(forward_step)(hs + t * NH + r0 * H, h_prev + r0 * H, Bp, b_hh, act, r1 - r0, H);
        }
    }
    free(Bp);
    return 0;
}

/* Full BPTT; accumulates into dx (T,N,I) dh0 (N,H) dw_ih (H,I) dw_hh (H,H) db_* (H);
 * writes dh_norms[t] = ||dL/dh_t|| (Frobenius over N x H) when dh_norms is not NULL. */
int SUF(cr_rnn_backward)(REAL *dx, REAL *dh0, REAL *dw_ih, REAL *dw_hh, REAL *db_ih,
                         REAL *db_hh, double *dh_norms, const REAL *dhs, const REAL *x,
                         const REAL *h0, const REAL *hs, const REAL *w_ih, const REAL *w_hh,
                         int act, int64_t T, int64_t N, int64_t I, int64_t H) {
    const int64_t NH = N * H;
    if (T == 0 || NH == 0) {
        if (dh_norms) for (int64_t t = 0; t < T; t++) dh_norms[t] = 0;
        return 0;
    }
    const int64_t nb = (H + NR - 1) / NR;
    REAL *da = (REAL *)malloc((size_t)(T * NH) * sizeof(REAL)); /* dL/da_t, (T, N, H) */
    REAL *Bp = SUF(alloc_panels)(nb, H);
    /* per step and batch row: sum over the H columns of dh^2 (one fixed order) */
    REAL *rowsq = dh_norms ? (REAL *)malloc((size_t)(T * N) * sizeof(REAL)) : NULL;
    REAL *colsum = (REAL *)calloc((size_t)H, sizeof(REAL));
    if (!da || !Bp || !colsum || (dh_norms && !rowsq)) {
        free(da); free(Bp); free(rowsq); free(colsum);
        return -1;
    }

    /* the walk back through time, each thread on its own rows of the batch */
    SUF(pack_panels)(Bp, w_hh, 0, 0, nb, H);
    const int nt = SUF(recurrence_threads)(T, N, H);
    #pragma omp parallel num_threads(nt)
    {
        int tid = 0, nthr = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        nthr = omp_get_num_threads();
#endif
        int64_t r0, r1;
        SUF(thread_rows)(N, tid, nthr, &r0, &r1);
        const int64_t off = r0 * H;
        for (int64_t t = T - 1; r1 > r0 && t >= 0; t--) {
            SUF(backward_step)(da + t * NH + off, rowsq ? rowsq + t * N + r0 : NULL,
                               t < T - 1 ? da + (t + 1) * NH + off : NULL, dhs + t * NH + off,
                               hs + t * NH + off, Bp, act, r1 - r0, H);
        }
    }
    if (dh_norms) {
        for (int64_t t = 0; t < T; t++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += (double)rowsq[t * N + n];
            dh_norms[t] = sqrt(s);
        }
    }
    /* dh0 += da_1 @ w_hh */
    GEMM(0, 0, N, H, H, 1, da, H, w_hh, H, 1, dh0, H, NULL, NULL, CR_ACT_NONE);
    if (I > 0) {
        /* dw_ih += da^T (H x T*N) @ x (T*N x I);   dx += da (T*N x H) @ w_ih (H x I) */
        GEMM(1, 0, H, I, T * N, 1, da, H, x, I, 1, dw_ih, I, NULL, NULL, CR_ACT_NONE);
        GEMM(0, 0, T * N, I, H, 1, da, H, w_ih, I, 1, dx, I, NULL, NULL, CR_ACT_NONE);
    }
    /* dw_hh += da^T @ [h0, h_1 .. h_{T-1}]: the step-1 block against h0, the rest against hs */
    GEMM(1, 0, H, H, N, 1, da, H, h0, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    if (T > 1)
        GEMM(1, 0, H, H, (T - 1) * N, 1, da + NH, H, hs, H, 1, dw_hh, H, NULL, NULL, CR_ACT_NONE);
    /* db_ih = db_hh += column sums of da over the T*N rows. Each thread owns a column range
     * and walks the rows in order, so each sum has one order whatever the thread count. */
    if (db_ih || db_hh) {
        const int64_t R = T * N;
        int ntc = cr_in_parallel() ? 1 : cr_get_num_threads();
        if (R * H < 65536) ntc = 1;
        #pragma omp parallel num_threads(ntc)
        {
            int tid = 0, nthr = 1;
#ifdef _OPENMP
            tid = omp_get_thread_num();
            nthr = omp_get_num_threads();
#endif
            const int64_t j0 = H * tid / nthr, j1 = H * (tid + 1) / nthr;
            for (int64_t r = 0; r < R; r++) {
                const REAL *da_r = da + r * H;
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
