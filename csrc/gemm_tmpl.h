/* gemm_tmpl.h — the BLIS-style loops around a micro-kernel, included by gemm.c once per
 * dtype with T (float/double) and SUF (f32/f64) defined (the template idiom of cpu.h).
 *
 * Notation: op(A)(i, p) = A[i*rs_a + p*cs_a] is M x K, op(B)(p, j) = B[p*rs_b + j*cs_b] is
 * K x N, C(i, j) = C[i*rsc + j*csc] is M x N (csc != 1 only for the transposed problem).
 */

static inline T CR_FN(act)(T v, int act) {
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
static void CR_FN(gemm_naive)(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha,
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
            *cij = CR_FN(act)(v, act);
        }
    }
}

/* Activation over one written tile (after the last K block). */
static void CR_FN(act_tile)(T *c, int64_t rsc, int64_t csc, int64_t m, int64_t n, int act) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * rsc + j * csc] = CR_FN(act)(c[i * rsc + j * csc], act);
}

/* Pack rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels:
 * panel r at dst + r*MR*kc holds dst[p*MR + i] = op(A)(i0 + r*MR + i, p0 + p), zero-padded. */
static void CR_FN(pack_a)(T *restrict dst, const T *restrict A, int64_t rs_a, int64_t cs_a,
                        int64_t i0, int64_t p0, int64_t mc, int64_t kc, int MR, CR_FN(cr_pack_t) pack_t) {
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
        } else if (pack_t) { /* rows contiguous: SIMD transpose */
            pack_t(d, MR, src, rs_a, mr, kc);
        } else { /* rows contiguous: read each row in order (reading mr rows side by side
                  * would hit one L1 set when lda is a multiple of 4 KiB) */
            for (int64_t i = 0; i < mr; i++) {
                const T *s = src + i * rs_a;
                for (int64_t p = 0; p < kc; p++) d[p * MR + i] = s[p];
            }
            for (int64_t i = mr; i < MR; i++)
                for (int64_t p = 0; p < kc; p++) d[p * MR + i] = 0;
        }
    }
}

/* Pack one NR-column panel: dst[p*NR + j] = op(B)(p0 + p, j0 + j), j < nr, zero-padded. */
static void CR_FN(pack_b_panel)(T *restrict dst, const T *restrict B, int64_t rs_b, int64_t cs_b,
                              int64_t p0, int64_t j0, int64_t kc, int64_t nr, int NR,
                              CR_FN(cr_pack_t) pack_t) {
    const T *src = B + p0 * rs_b + j0 * cs_b;
    if (cs_b == 1) { /* rows of op(B) contiguous: straight copies */
        for (int64_t p = 0; p < kc; p++) {
            const T *s = src + p * rs_b;
            for (int64_t j = 0; j < nr; j++) dst[p * NR + j] = s[j];
            for (int64_t j = nr; j < NR; j++) dst[p * NR + j] = 0;
        }
    } else if (pack_t) { /* B transposed: SIMD transpose */
        pack_t(dst, NR, src, cs_b, nr, kc);
    } else { /* B transposed: read each column of op(B) (a row of B) in order */
        for (int64_t j = 0; j < nr; j++) {
            const T *s = src + j * cs_b;
            for (int64_t p = 0; p < kc; p++) dst[p * NR + j] = s[p];
        }
        for (int64_t j = nr; j < NR; j++)
            for (int64_t p = 0; p < kc; p++) dst[p * NR + j] = 0;
    }
}

/* Everything one GEMM call needs, shared by its threads. */
typedef struct {
    int64_t M, N, K;
    const T *A, *B;
    int64_t rs_a, cs_a, rs_b, cs_b;
    T alpha, beta;
    T *C;
    int64_t rsc, csc;
    const T *bias_n, *bias_m;
    int act, MR, NR, direct;
    int a_inplace; /* the strided kernel reads op(A) in place (rows contiguous), B packed */
    int64_t KC, MC, NC;
    const gemm_path *P;
} CR_FN(job);

/* The naive loop on strided operands, for the rows [i0, i1) and columns [j0, j1) of C:
 * the fallback when no packing memory can be had. */
static void CR_FN(gemm_strided_naive)(const CR_FN(job) *J, int64_t i0, int64_t i1, int64_t j0,
                                    int64_t j1) {
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) {
            T s = 0;
            for (int64_t p = 0; p < J->K; p++)
                s += J->A[i * J->rs_a + p * J->cs_a] * J->B[p * J->rs_b + j * J->cs_b];
            T *cij = J->C + i * J->rsc + j * J->csc;
            T v = J->alpha * s;
            if (J->beta != 0) v += J->beta * *cij;
            if (J->bias_n) v += J->bias_n[j];
            if (J->bias_m) v += J->bias_m[i];
            *cij = CR_FN(act)(v, J->act);
        }
}

/* The five loops (BLIS) over the part C[i0:i1, j0:j1] of C, serially: jc over NC columns,
 * pc over KC (pack the KC x NC block of B), ic over MC rows (pack the MC x KC block of A),
 * then jr (NR) and ir (MR) over the micro-kernel. The K sum of every element runs in the
 * same order whatever part of C a thread owns, so results do not depend on the split.
 * direct = no packing of A (nor of B when its rows are contiguous): for small problems the
 * copies cost more than they save. a_inplace = A read in place, B packed (few columns of C).
 * Packing buffers are cached per thread (scratch). */
static void CR_FN(gemm_part)(const CR_FN(job) *J, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const int64_t K = J->K, MR = J->MR, NR = J->NR;
    const int pack_a = !J->direct && !J->a_inplace, pack_b = !J->direct || J->cs_b != 1;
    const CR_FN(cr_ukr) ukr = (pack_a && pack_b) ? J->P->CR_FN(packed) : J->P->CR_FN(strided);
    const int64_t M = i1 - i0, N = j1 - j0;
    /* balanced blocks: K in equal slices of at most KC (the same for every part: the K
     * split decides the rounding), M and N in MR / NR multiples */
    const int64_t kc_max = cdiv(K, cdiv(K, J->KC));
    const int64_t nc_max = round_up(cdiv(N, cdiv(N, J->NC)), NR);
    const int64_t mc_max = round_up(cdiv(M, cdiv(M, J->MC)), MR);
    T *bbuf = NULL, *abuf = NULL;
    if (pack_b) bbuf = (T *)scratch(0, (size_t)kc_max * (size_t)nc_max * sizeof(T));
    if (pack_a) abuf = (T *)scratch(1, (size_t)mc_max * (size_t)kc_max * sizeof(T));
    if ((pack_b && !bbuf) || (pack_a && !abuf)) {
        CR_FN(gemm_strided_naive)(J, i0, i1, j0, j1);
        return;
    }
    for (int64_t jc = j0; jc < j1; jc += nc_max) {
        const int64_t nc = j1 - jc < nc_max ? j1 - jc : nc_max;
        for (int64_t pc = 0; pc < K; pc += kc_max) {
            const int64_t kc = K - pc < kc_max ? K - pc : kc_max;
            const int first = pc == 0, last = pc + kc >= K;
            if (pack_b)
                for (int64_t jr = 0; jr < nc; jr += NR)
                    CR_FN(pack_b_panel)(bbuf + jr * kc, J->B, J->rs_b, J->cs_b, pc, jc + jr, kc,
                                      nc - jr < NR ? nc - jr : NR, NR, J->P->CR_FN(pack_t));
            for (int64_t ic = i0; ic < i1; ic += mc_max) {
                const int64_t mc = i1 - ic < mc_max ? i1 - ic : mc_max;
                if (pack_a)
                    CR_FN(pack_a)(abuf, J->A, J->rs_a, J->cs_a, ic, pc, mc, kc, MR, J->P->CR_FN(pack_t));
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int64_t nr = nc - jr < NR ? nc - jr : NR;
                    const T *b_p = pack_b ? bbuf + jr * kc : J->B + pc * J->rs_b + (jc + jr);
                    const int64_t rsb = pack_b ? NR : J->rs_b;
                    const T *bn = (last && J->bias_n) ? J->bias_n + jc + jr : NULL;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int64_t mr = mc - ir < MR ? mc - ir : MR;
                        const T *a_p = pack_a ? abuf + ir * kc
                                              : J->A + (ic + ir) * J->rs_a + pc * J->cs_a;
                        const int64_t rsa = pack_a ? 1 : J->rs_a, csa = pack_a ? MR : J->cs_a;
                        T *c_t = J->C + (ic + ir) * J->rsc + (jc + jr) * J->csc;
                        const T *bm = (last && J->bias_m) ? J->bias_m + ic + ir : NULL;
                        ukr(kc, a_p, rsa, csa, b_p, rsb, c_t, J->rsc, J->csc, mr, nr, J->alpha,
                            first ? J->beta : (T)1, bn, bm);
                        if (last && J->act != CR_ACT_NONE)
                            CR_FN(act_tile)(c_t, J->rsc, J->csc, mr, nr, J->act);
                    }
                }
            }
        }
    }
}

/* Split C between nt threads, each running the serial loops on its own part: along N in
 * NR-column chunks when there are more column tiles than row tiles, else along M in MR-row
 * chunks. No barrier anywhere (the team only joins at the end): on a busy machine a
 * descheduled thread then delays one join, not every block. */
static void CR_FN(gemm_threads)(const CR_FN(job) *J, int nt) {
    const int64_t tm = cdiv(J->M, J->MR), tn = cdiv(J->N, J->NR);
    const int by_cols = tn >= tm;
    const int64_t tiles = by_cols ? tn : tm;
    if (nt > tiles) nt = (int)tiles;
    if (nt <= 1) {
        CR_FN(gemm_part)(J, 0, J->M, 0, J->N);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int tid = CR_THREAD_NUM(), team = CR_TEAM_SIZE(); /* the runtime may give fewer threads than asked */
        const int64_t t0 = tiles * tid / team, t1 = tiles * (tid + 1) / team;
        if (by_cols) {
            const int64_t j0 = t0 * J->NR, j1 = t1 * J->NR < J->N ? t1 * J->NR : J->N;
            if (j0 < j1) CR_FN(gemm_part)(J, 0, J->M, j0, j1);
        } else {
            const int64_t i0 = t0 * J->MR, i1 = t1 * J->MR < J->M ? t1 * J->MR : J->M;
            if (i0 < i1) CR_FN(gemm_part)(J, i0, i1, 0, J->N);
        }
    }
}

/* C = act(beta*C + biases) when there is nothing to multiply (K == 0). */
static void CR_FN(gemm_k0)(int64_t M, int64_t N, T beta, T *C, int64_t ldc, const T *bias_n,
                         const T *bias_m, int act) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            T *cij = C + i * ldc + j;
            T v = beta != 0 ? beta * *cij : (T)0;
            if (bias_n) v += bias_n[j];
            if (bias_m) v += bias_m[i];
            *cij = CR_FN(act)(v, act);
        }
}

#include "gemm_skinny_tmpl.h"

void CR_FN(cr_gemm)(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A,
                  int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc,
                  const T *bias_n, const T *bias_m, int act) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        CR_FN(gemm_k0)(M, N, beta, C, ldc, bias_n, bias_m, act);
        return;
    }
    const gemm_path *P = current_path();
    const double work = (double)M * (double)N * (double)K;
    if (work <= NAIVE_MAX_WORK) {
        CR_FN(gemm_naive)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias_n, bias_m, act);
        return;
    }
    int nt = cr_in_parallel() ? 1 : cr_get_num_threads();
    if (work < THREAD_MIN_WORK) nt = 1;
    if (CR_FN(gemm_skinny)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias_n, bias_m,
                           act, P, nt))
        return;
    /* the problem as strides: op(A)(i, p) = a[i*rs_a + p*cs_a], and so on */
    int64_t m = M, n = N, rsc = ldc, csc = 1;
    const T *a = A, *b = B, *bn = bias_n, *bm = bias_m;
    int64_t rs_a = ta ? 1 : lda, cs_a = ta ? lda : 1;
    int64_t rs_b = tb ? 1 : ldb, cs_b = tb ? ldb : 1;
    const int MR = P->CR_FN(mr), NR = P->CR_FN(nr);
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
    CR_FN(job) J = {m, n, K, a, b, rs_a, cs_a, rs_b, cs_b, alpha, beta, C, rsc, csc, bn, bm,
                  act, MR, NR, P->CR_FN(strided) != NULL && work <= DIRECT_MAX_WORK,
                  P->CR_FN(strided) != NULL && P->CR_FN(strided) != P->CR_FN(packed) && cs_a == 1 &&
                      n <= A_INPLACE_MAX_N,
                  P->CR_FN(kc), P->CR_FN(mc), P->CR_FN(nc), P};
    block_override(&J.KC, &J.MC, &J.NC);
    CR_FN(gemm_threads)(&J, nt);
}

