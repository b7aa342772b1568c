/* conv_pw_dw_tmpl.h — dw of the pointwise path for one dtype (included by conv_pointwise.c
 * with T and SUF defined):
 *
 *   dw (K x C) += dY (K x L) @ X^T (L x C)        L = N*P*Q pixels of the whole batch
 *
 * on the GEMM's packed micro-kernel (gemm_kit.h): A panels packed from dY and B panels from X
 * straight out of the images (transposing packs, per run of pixels of one image), in slices
 * of at most kc pixels. The L pixels fall into nch fixed chunks (pw_dw_chunks: by the sizes
 * only, never by threads); chunk 0 sums into dw, chunk c > 0 into its own partial, and the
 * partials are added to dw in chunk order after all chunks: threads take whole chunks, or
 * with a single chunk, blocks of MR rows of dw (each thread then packs all of B). Every
 * element of dw is summed in the same order whatever the thread count.
 */

typedef struct {
    const T *dy, *x;
    int64_t K, C, PQ, Q, KPQ;
    pw_side s; /* x's side (stride of the layer) */
} CR_FN(pw_dw_prob);

/* Runs of pixels [l0, l0 + kc) (within one image and, when x is strided, one output row). */
static int64_t CR_FN(pw_dw_runs)(pw_seg *runs, const CR_FN(pw_dw_prob) *pb, int64_t l0, int64_t kc) {
    int64_t nrun = 0;
    for (int64_t j = 0; j < kc;) {
        const int64_t g = l0 + j, n = g / pb->PQ, pix = g % pb->PQ, p = pix / pb->Q, q = pix % pb->Q;
        int64_t len = pb->s.flat ? pb->PQ - pix : pb->Q - q;
        if (len > kc - j) len = kc - j;
        pw_seg *e = &runs[nrun++];
        e->j = j;
        e->len = len;
        e->doff = n * pb->KPQ + pix; /* dY */
        e->soff = n * pb->s.img + (pb->s.flat ? pix : p * pb->s.sh * pb->s.W + q * pb->s.sw);
        j += len;
    }
    return nrun;
}

/* dst[p*W + r] = src[r*ld + p*step] for r < R (0 up to W), p < len. */
static void CR_FN(pw_dw_pack_t)(T *dst, int W, const T *src, int64_t ld, int64_t step, int64_t R,
                                int64_t len, const CR_FN(cr_gemm_kit) *kit) {
    if (step == 1 && kit->pack_t) {
        kit->pack_t(dst, W, src, ld, R, len);
        return;
    }
    for (int64_t p = 0; p < len; p++) {
        for (int64_t r = 0; r < R; r++) dst[p * W + r] = src[r * ld + p * step];
        for (int64_t r = R; r < W; r++) dst[p * W + r] = 0;
    }
}

/* Pixels [l0, l0 + len) of one chunk into out (beta: 0 = write, 1 = add), rows [i0, i1). */
static void CR_FN(pw_dw_chunk)(const CR_FN(pw_dw_prob) *pb, const CR_FN(cr_gemm_kit) *kit,
                               int64_t l0, int64_t len, int64_t kcmax, int64_t mc, T *out,
                               T beta, int64_t i0, int64_t i1, T *abuf, T *bbuf, pw_seg *runs) {
    const int MR = kit->mr, NR = kit->nr;
    const int64_t C = pb->C, ns = (len + kcmax - 1) / kcmax, kcb = (len + ns - 1) / ns;
    for (int64_t pc = 0; pc < len; pc += kcb) {
        const int64_t kc = len - pc < kcb ? len - pc : kcb;
        const int64_t nrun = CR_FN(pw_dw_runs)(runs, pb, l0 + pc, kc);
        const T b = pc == 0 ? beta : (T)1;
        for (int64_t jr = 0; jr < C; jr += NR) { /* B: all columns (channels of x) */
            const int64_t nr = C - jr < NR ? C - jr : NR;
            for (int64_t e = 0; e < nrun; e++)
                CR_FN(pw_dw_pack_t)(bbuf + jr * kc + runs[e].j * NR, NR,
                                    pb->x + runs[e].soff + jr * pb->s.ch, pb->s.ch, pb->s.step,
                                    nr, runs[e].len, kit);
        }
        for (int64_t ic = i0; ic < i1; ic += mc) {
            const int64_t ie = i1 - ic < mc ? i1 : ic + mc;
            for (int64_t ir = ic; ir < ie; ir += MR) { /* A: rows [ic, ie) of dY */
                const int64_t mr = ie - ir < MR ? ie - ir : MR;
                for (int64_t e = 0; e < nrun; e++)
                    CR_FN(pw_dw_pack_t)(abuf + (ir - ic) * kc + runs[e].j * MR, MR,
                                        pb->dy + runs[e].doff + ir * pb->PQ, pb->PQ, 1, mr,
                                        runs[e].len, kit);
            }
            for (int64_t jr = 0; jr < C; jr += NR) {
                const int64_t nr = C - jr < NR ? C - jr : NR;
                for (int64_t ir = ic; ir < ie; ir += MR) {
                    const int64_t mr = ie - ir < MR ? ie - ir : MR;
                    kit->ukr(kc, abuf + (ir - ic) * kc, 1, MR, bbuf + jr * kc, NR,
                             out + ir * C + jr, C, 1, mr, nr, 1, b, NULL, NULL);
                }
            }
        }
    }
}

/* ws: pw_dw_ws_elems; nch chunks (pw_dw_chunks); beta: 1 = dw +=, 0 = dw = (never read). */
static void CR_FN(pw_dw)(T *dw, const CR_FN(pw_dw_prob) *pb, const CR_FN(cr_gemm_kit) *kit,
                         const pw_dw_sizes *z, T *ws, int nt, T beta) {
    const int MR = kit->mr;
    const int64_t K = pb->K, KC = K * pb->C, nch = z->nch, tm = (K + MR - 1) / MR;
    T *partials = ws;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), team = CR_TEAM_SIZE();
        T *abuf = ws + z->part_elems + (int64_t)t * z->thread_elems, *bbuf = abuf + z->a_elems;
        pw_seg *runs = (pw_seg *)(bbuf + z->b_elems);
        if (nch == 1) {
            const int64_t r0 = tm * t / team, r1 = tm * (t + 1) / team;
            const int64_t i0 = r0 * MR, i1 = r1 * MR < K ? r1 * MR : K;
            if (i0 < i1)
                CR_FN(pw_dw_chunk)(pb, kit, 0, z->L, z->kc, z->mc, dw, beta, i0, i1, abuf, bbuf,
                                   runs);
        } else {
            for (int64_t c = t; c < nch; c += team) {
                const int64_t l0 = z->L * c / nch, l1 = z->L * (c + 1) / nch;
                T *out = c == 0 ? dw : partials + (c - 1) * KC;
                CR_FN(pw_dw_chunk)(pb, kit, l0, l1 - l0, z->kc, z->mc, out, c == 0 ? beta : 0, 0, K,
                                   abuf, bbuf, runs);
            }
            #pragma omp barrier
            const int64_t e0 = KC * t / team, e1 = KC * (t + 1) / team;
            for (int64_t c = 1; c < nch; c++) {
                const T *pp = partials + (c - 1) * KC;
                for (int64_t e = e0; e < e1; e++) dw[e] += pp[e];
            }
        }
    }
}
