/* gemm_driver.h — the BLIS-style loops around a micro-kernel, included by gemm.c once
 * per dtype with T (float/double), SUF (f32/f64) and UKR (cr_ukr_f32/cr_ukr_f64) defined.
 *
 * Notation: op(A)(i, p) = A[i*rs_a + p*cs_a] is M x K, op(B)(p, j) = B[p*rs_b + j*cs_b] is
 * K x N, C(i, j) = C[i*rsc + j*csc] is M x N (csc != 1 only for the transposed problem).
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

static inline T FN(act_)(T v, int act) {
    switch (act) {
    case CR_ACT_TANH: return sizeof(T) == 4 ? (T)tanhf((float)v) : (T)tanh((double)v);
    case CR_ACT_RELU: return v < 0 ? (T)0 : v; /* NaN stays NaN, as in PyTorch */
    case CR_ACT_SIGMOID:
        return (T)1 / ((T)1 + (sizeof(T) == 4 ? (T)expf(-(float)v) : (T)exp(-(double)v)));
    default: return v;
    }
}

/* The naive twin: the definition, one output at a time, serial. Used for tiny problems,
 * for K == 0 and if scratch memory cannot be allocated. */
static void FN(gemm_naive_)(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha,
                            const T *A, int64_t lda, const T *B, int64_t ldb, T beta, T *C,
                            int64_t ldc, const T *bias_n, const T *bias_m, int act) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            T s = 0;
            for (int64_t p = 0; p < K; p++) {
                T a = ta ? A[p * lda + i] : A[i * lda + p];
                T b = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += a * b;
            }
            T *cij = C + i * ldc + j;
            T v = alpha * s;
            if (beta != 0) v += beta * *cij;
            if (bias_n) v += bias_n[j];
            if (bias_m) v += bias_m[i];
            *cij = FN(act_)(v, act);
        }
    }
}

/* Activation over one written tile (after the last K block). */
static void FN(act_tile_)(T *c, int64_t rsc, int64_t csc, int64_t m, int64_t n, int act) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * rsc + j * csc] = FN(act_)(c[i * rsc + j * csc], act);
}

/* Pack rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels:
 * panel r at dst + r*MR*kc holds dst[p*MR + i] = op(A)(i0 + r*MR + i, p0 + p), zero-padded. */
static void FN(pack_a_)(T *restrict dst, const T *restrict A, int64_t rs_a, int64_t cs_a,
                        int64_t i0, int64_t p0, int64_t mc, int64_t kc, int MR) {
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = mc - ir < MR ? mc - ir : MR;
        T *d = dst + ir * kc;
        const T *src = A + (i0 + ir) * rs_a + p0 * cs_a;
        if (rs_a == 1) { /* op(A) columns contiguous (A transposed): copy runs of mr */
            for (int64_t p = 0; p < kc; p++) {
                const T *s = src + p * cs_a;
                for (int64_t i = 0; i < mr; i++) d[p * MR + i] = s[i];
                for (int64_t i = mr; i < MR; i++) d[p * MR + i] = 0;
            }
        } else { /* rows contiguous: read mr row streams, write the panel in order */
            for (int64_t p = 0; p < kc; p++) {
                for (int64_t i = 0; i < mr; i++) d[p * MR + i] = src[i * rs_a + p * cs_a];
                for (int64_t i = mr; i < MR; i++) d[p * MR + i] = 0;
            }
        }
    }
}

/* Pack one NR-column panel: dst[p*NR + j] = op(B)(p0 + p, j0 + j), j < nr, zero-padded. */
static void FN(pack_b_panel_)(T *restrict dst, const T *restrict B, int64_t rs_b, int64_t cs_b,
                              int64_t p0, int64_t j0, int64_t kc, int64_t nr, int NR) {
    const T *src = B + p0 * rs_b + j0 * cs_b;
    if (cs_b == 1) { /* rows of op(B) contiguous: straight copies */
        for (int64_t p = 0; p < kc; p++) {
            const T *s = src + p * rs_b;
            for (int64_t j = 0; j < nr; j++) dst[p * NR + j] = s[j];
            for (int64_t j = nr; j < NR; j++) dst[p * NR + j] = 0;
        }
    } else { /* B transposed: nr column streams */
        for (int64_t p = 0; p < kc; p++) {
            for (int64_t j = 0; j < nr; j++) dst[p * NR + j] = src[j * cs_b + p * rs_b];
            for (int64_t j = nr; j < NR; j++) dst[p * NR + j] = 0;
        }
    }
}

/* The five loops (BLIS): jc over NC columns, pc over KC (pack a KC x NC block of B, shared),
 * then tasks = (MC row block, column chunk) split statically over the threads; each task
 * packs its MC x KC block of A (per thread) and runs jr (NR) and ir (MR) over the
 * micro-kernel. Every C tile is written by exactly one thread, and the K order of the sum
 * is fixed, so the result does not depend on timing. direct = no packing of A (and of B
 * when its rows are contiguous): for small problems the copies cost more than they save. */
static int FN(gemm_blocked_)(const gemm_path *P, int64_t M, int64_t N, int64_t K, T alpha,
                             const T *A, int64_t rs_a, int64_t cs_a, const T *B, int64_t rs_b,
                             int64_t cs_b, T beta, T *C, int64_t rsc, int64_t csc,
                             const T *bias_n, const T *bias_m, int act, int nt, int direct) {
    const int MR = P->FN(mr_), NR = P->FN(nr_);
    UKR packed = P->FN(packed_), strided = P->FN(strided_);
    int64_t KC = P->FN(kc_), MC = P->FN(mc_), NC = P->FN(nc_);
    block_override(&KC, &MC, &NC);
    const int pack_a = !direct, pack_b = !direct || cs_b != 1;
    const UKR ukr = (pack_a && pack_b) ? packed : strided;

    /* balanced blocks: K in equal KC-or-less slices, N in NR-rounded slices */
    int64_t nkb = cdiv(K, KC), kc_max = cdiv(K, nkb);
    int64_t njb = cdiv(N, NC), nc_max = round_up(cdiv(N, njb), NR);
    /* M blocks: a multiple of the thread count when M is large enough, else each block is
     * shared by nt column chunks */
    int64_t n_ic = cdiv(M, MC);
    if (nt > 1 && n_ic % nt != 0 && M >= (int64_t)nt * MR * 4) n_ic = round_up(n_ic, nt);
    int64_t mc = round_up(cdiv(M, n_ic), MR);
    n_ic = cdiv(M, mc);
    const int64_t n_jch = (n_ic % nt == 0) ? 1 : nt;
    const int64_t ntask = n_ic * n_jch;

    T *bbuf = NULL, *abuf = NULL;
    if (pack_b) bbuf = (T *)scratch(0, (size_t)kc_max * (size_t)nc_max * sizeof(T));
    if (pack_a) abuf = (T *)scratch(1, (size_t)nt * (size_t)mc * (size_t)kc_max * sizeof(T));
    if ((pack_b && !bbuf) || (pack_a && !abuf)) return -1;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        T *apack = pack_a ? abuf + (size_t)tid * (size_t)mc * (size_t)kc_max : NULL;
        const int64_t t0 = ntask * tid / nt, t1 = ntask * (tid + 1) / nt;
        for (int64_t jc = 0; jc < N; jc += nc_max) {
            const int64_t nc = N - jc < nc_max ? N - jc : nc_max;
            const int64_t np = cdiv(nc, NR);
            for (int64_t pc = 0; pc < K; pc += kc_max) {
                const int64_t kc = K - pc < kc_max ? K - pc : kc_max;
                const int first = pc == 0, last = pc + kc >= K;
                if (pack_b) {
#pragma omp for schedule(static)
                    for (int64_t jp = 0; jp < np; jp++) {
                        int64_t jr = jp * NR, nr = nc - jr < NR ? nc - jr : NR;
                        FN(pack_b_panel_)(bbuf + jr * kc, B, rs_b, cs_b, pc, jc + jr, kc, nr, NR);
                    } /* implicit barrier: B block ready */
                }
                int64_t packed_ic = -1;
                for (int64_t task = t0; task < t1; task++) {
                    const int64_t ib = task / n_jch, jch = task % n_jch;
                    const int64_t ic = ib * mc, mcur = M - ic < mc ? M - ic : mc;
                    if (pack_a && ib != packed_ic) {
                        FN(pack_a_)(apack, A, rs_a, cs_a, ic, pc, mcur, kc, MR);
                        packed_ic = ib;
                    }
                    const int64_t jp0 = np * jch / n_jch, jp1 = np * (jch + 1) / n_jch;
                    for (int64_t jp = jp0; jp < jp1; jp++) {
                        const int64_t jr = jp * NR, ncur = nc - jr < NR ? nc - jr : NR;
                        const T *b_p = pack_b ? bbuf + jr * kc : B + pc * rs_b + (jc + jr);
                        const int64_t rsb = pack_b ? NR : rs_b;
                        const T *bn = (last && bias_n) ? bias_n + jc + jr : NULL;
                        for (int64_t ir = 0; ir < mcur; ir += MR) {
                            const int64_t mr = mcur - ir < MR ? mcur - ir : MR;
                            const T *a_p = pack_a ? apack + ir * kc
                                                  : A + (ic + ir) * rs_a + pc * cs_a;
                            const int64_t rsa = pack_a ? 1 : rs_a, csa = pack_a ? MR : cs_a;
                            T *c_t = C + (ic + ir) * rsc + (jc + jr) * csc;
                            const T *bm = (last && bias_m) ? bias_m + ic + ir : NULL;
                            ukr(kc, a_p, rsa, csa, b_p, rsb, c_t, rsc, csc, mr, ncur, alpha,
                                first ? beta : (T)1, bn, bm);
                            if (last && act != CR_ACT_NONE)
                                FN(act_tile_)(c_t, rsc, csc, mr, ncur, act);
                        }
                    }
                }
                if (pack_b) {
#pragma omp barrier
                } /* nobody reads the B block any more: it may be repacked */
            }
        }
    }
    return 0;
}

/* C = act(beta*C + biases) when there is nothing to multiply (K == 0). */
static void FN(gemm_k0_)(int64_t M, int64_t N, T beta, T *C, int64_t ldc, const T *bias_n,
                         const T *bias_m, int act) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            T *cij = C + i * ldc + j;
            T v = beta != 0 ? beta * *cij : (T)0;
            if (bias_n) v += bias_n[j];
            if (bias_m) v += bias_m[i];
            *cij = FN(act_)(v, act);
        }
}

void FN(cr_gemm_)(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A,
                  int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc,
                  const T *bias_n, const T *bias_m, int act) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        FN(gemm_k0_)(M, N, beta, C, ldc, bias_n, bias_m, act);
        return;
    }
    const gemm_path *P = current_path();
    const double work = (double)M * (double)N * (double)K;
    if (work <= NAIVE_MAX_WORK) {
        FN(gemm_naive_)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias_n, bias_m, act);
        return;
    }
    int nt = cr_in_parallel() ? 1 : cr_get_num_threads();
    if (work < THREAD_MIN_WORK) nt = 1;
    /* the problem as strides: op(A)(i, p) = a[i*rs_a + p*cs_a], and so on */
    int64_t m = M, n = N, rsc = ldc, csc = 1;
    const T *a = A, *b = B, *bn = bias_n, *bm = bias_m;
    int64_t rs_a = ta ? 1 : lda, cs_a = ta ? lda : 1;
    int64_t rs_b = tb ? 1 : ldb, cs_b = tb ? ldb : 1;
    const int MR = P->FN(mr_), NR = P->FN(nr_);
    /* Few columns (e.g. a 10-class output layer): compute C^T = op(B)^T op(A)^T instead,
     * so the vector dimension of the tile runs along M and is not mostly padding. */
    if (K >= 16 && N < NR &&
        4 * round_up(M, MR) * round_up(N, NR) > 5 * round_up(N, MR) * round_up(M, NR)) {
        m = N; n = M;
        a = B; b = A;
        rs_a = tb ? ldb : 1; cs_a = tb ? 1 : ldb;   /* op(A')(j, p) = op(B)(p, j) */
        rs_b = ta ? lda : 1; cs_b = ta ? 1 : lda;   /* op(B')(p, i) = op(A)(i, p) */
        rsc = 1; csc = ldc;
        bn = bias_m; bm = bias_n;
    }
    const int direct = P->FN(strided_) != NULL && work <= DIRECT_MAX_WORK;
    if (FN(gemm_blocked_)(P, m, n, K, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, C, rsc, csc,
                          bn, bm, act, nt, direct) != 0) {
        /* no memory for the packing buffers: the naive loop needs none */
        FN(gemm_naive_)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias_n, bias_m, act);
    }
}

#undef FN
