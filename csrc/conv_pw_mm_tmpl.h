/* conv_pw_mm_tmpl.h — the product of the pointwise path for the forward and dx, for one dtype
 * (included by conv_pointwise.c with T and SUF defined; see pw_prob there for the notation).
 *
 *   O (M x L) [+]= A (M x Kd) @ B (Kd x L) [+ bias_m]      column j = (image n, pixel)
 *
 * The loops are the GEMM's (gemm_tmpl.h: slices of Kd, blocks of rows, MR x NR tiles on the
 * GEMM's packed micro-kernel, gemm_kit.h), but B's panels are packed straight from the images
 * (no copy of X to a (C, L) matrix first), A (the weights) is packed once per call, and a
 * tile is written straight into the output when its columns are one run of output pixels
 * (else into a per-thread panel buffer, copied out after the last slice).
 * Threads own column panels (A packed by all of them, one barrier) or, when the images hold
 * fewer values than the weights (L < M), blocks of MR rows (each packs its rows of A and all
 * of B). Every output sums its Kd products in the same order (the same slices, one
 * accumulator chain each) whatever the split: results do not depend on the thread count.
 */

/* Pack slice [pc, pc + kc) of A's MR-row panels: dst[(ir/MR)*MR*kc + p*MR + i]. */
static void CR_FN(pw_pack_a_panel)(T *dst, const CR_FN(pw_prob) *pb, const CR_FN(cr_gemm_kit) *kit,
                                   int64_t ir, int64_t pc, int64_t kc) {
    const int MR = kit->mr;
    const int64_t mr = pb->M - ir < MR ? pb->M - ir : MR;
    const T *a = pb->a + ir * pb->a_rs + pc * pb->a_cs;
    if (pb->a_rs == 1) { /* columns of A contiguous (W^T): runs of mr */
        for (int64_t p = 0; p < kc; p++) {
            const T *s = a + p * pb->a_cs;
            for (int64_t i = 0; i < mr; i++) dst[p * MR + i] = s[i];
            for (int64_t i = mr; i < MR; i++) dst[p * MR + i] = 0;
        }
    } else if (kit->pack_t) {
        kit->pack_t(dst, MR, a, pb->a_rs, mr, kc);
    } else {
        for (int64_t i = 0; i < mr; i++)
            for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = a[i * pb->a_rs + p];
        for (int64_t i = mr; i < MR; i++)
            for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = 0;
    }
}

/* The runs of panel [g0, g0 + nr) of the L columns; returns 1 when the panel's output is one
 * run of unit stride (its tiles then go straight into the output). */
static int CR_FN(pw_panel)(pw_panel_t *pn, const CR_FN(pw_prob) *pb, int64_t g0, int64_t nr) {
    const int64_t Q = pb->Q, PQ = pb->P * Q;
    pn->nseg = 0;
    pn->nr = nr;
    pw_segments(pn, g0, nr, PQ, Q, &pb->s, &pb->d);
    pn->direct = pn->nseg == 1 && pb->d.step == 1;
    return pn->direct;
}

/* B panels of a group, rows [pc, pc + kc): panel g at dst + g*NR*kc holds
 * dst[p*NR + j] = B(pc + p, column j of panel g), zero-padded. Row by row over the group's
 * panels: one channel's pixels of neighbouring panels are neighbours in memory. */
static void CR_FN(pw_pack_b)(T *restrict dst, const CR_FN(pw_prob) *pb, const pw_panel_t *pns,
                             int64_t gp, int NR, int64_t pc, int64_t kc) {
    const int64_t step = pb->s.step;
    for (int64_t p = 0; p < kc; p++) {
        const T *restrict s = pb->src + (pc + p) * pb->s.ch;
        for (int64_t g = 0; g < gp; g++) {
            const pw_panel_t *pn = &pns[g];
            T *restrict row = dst + g * NR * kc + p * NR;
            if (pn->nseg == 1 && pn->nr == NR && step == 1 && NR == PW_MAX_NR) {
                const T *restrict sp = s + pn->seg[0].soff;
                for (int t = 0; t < PW_MAX_NR; t++) row[t] = sp[t];
                continue;
            }
            for (int e = 0; e < pn->nseg; e++) {
                const pw_seg *g_ = &pn->seg[e];
                T *restrict r = row + g_->j;
                const T *restrict sp = s + g_->soff;
                if (step == 1)
                    for (int64_t t = 0; t < g_->len; t++) r[t] = sp[t];
                else
                    for (int64_t t = 0; t < g_->len; t++) r[t] = sp[t * step];
            }
            for (int64_t j = pn->nr; j < NR; j++) row[j] = 0;
        }
    }
}

/* The panel buffer (M x NR, row stride NR) into the output, = or += (pb->acc). */
static void CR_FN(pw_unpack)(const CR_FN(pw_prob) *pb, const pw_panel_t *pn, const T *buf, int NR,
                             int64_t i0, int64_t i1) {
    const int64_t step = pb->d.step;
    for (int64_t i = i0; i < i1; i++) {
        T *drow = pb->dst + i * pb->d.ch;
        const T *brow = buf + i * NR;
        for (int e = 0; e < pn->nseg; e++) {
            const pw_seg *g = &pn->seg[e];
            T *dp = drow + g->doff;
            const T *bp = brow + g->j;
            if (step == 1 && !pb->acc)
                for (int64_t t = 0; t < g->len; t++) dp[t] = bp[t];
            else if (step == 1)
                for (int64_t t = 0; t < g->len; t++) dp[t] += bp[t];
            else if (!pb->acc)
                for (int64_t t = 0; t < g->len; t++) dp[t * step] = bp[t];
            else
                for (int64_t t = 0; t < g->len; t++) dp[t * step] += bp[t];
        }
    }
}

/* Rows [i0, i1) (MR-aligned start) x panels [t0, t1) of O, serially; A already packed
 * (pa), or read in place by the strided micro-kernel when pa is NULL. */
static void CR_FN(pw_part)(const CR_FN(pw_prob) *pb, const CR_FN(cr_gemm_kit) *kit,
                           const pw_sizes *z, const T *pa, int64_t i0, int64_t i1, int64_t t0,
                           int64_t t1, T *bbuf, T *cbuf, pw_panel_t *pns) {
    const int MR = kit->mr, NR = kit->nr;
    const int64_t Kd = pb->Kd, Mr = z->Mr;
    for (int64_t tg = t0; tg < t1; tg += z->gp) {
        const int64_t gp = t1 - tg < z->gp ? t1 - tg : z->gp;
        for (int64_t g = 0; g < gp; g++) {
            int64_t g0, nr;
            pw_panel_cols(z, tg + g, &g0, &nr);
            CR_FN(pw_panel)(&pns[g], pb, g0, nr);
        }
        for (int64_t pc = 0; pc < Kd; pc += z->kc) {
            const int64_t kc = Kd - pc < z->kc ? Kd - pc : z->kc;
            const int first = pc == 0, last = pc + kc >= Kd;
            CR_FN(pw_pack_b)(bbuf, pb, pns, gp, NR, pc, kc);
            for (int64_t ic = i0; ic < i1; ic += z->mc) {
                const int64_t ie = i1 - ic < z->mc ? i1 : ic + z->mc;
                for (int64_t g = 0; g < gp; g++) {
                    const pw_panel_t *pn = &pns[g];
                    const T *bp = bbuf + g * NR * kc;
                    const T beta = first ? (T)(pn->direct && pb->acc) : (T)1;
                    for (int64_t ir = ic; ir < ie; ir += MR) {
                        const int64_t mr = pb->M - ir < MR ? pb->M - ir : MR;
                        T *c = pn->direct ? pb->dst + pn->seg[0].doff + ir * pb->d.ch
                                          : cbuf + g * Mr * NR + ir * NR;
                        const int64_t rsc = pn->direct ? pb->d.ch : NR;
                        const T *bm = last && pb->bias ? pb->bias + ir : NULL;
                        if (pa)
                            kit->ukr(kc, pa + pc * Mr + ir * kc, 1, MR, bp, NR, c, rsc, 1, mr,
                                     pn->nr, 1, beta, NULL, bm);
                        else
                            kit->ukr_strided(kc, pb->a + ir * pb->a_rs + pc * pb->a_cs,
                                             pb->a_rs, pb->a_cs, bp, NR, c, rsc, 1, mr, pn->nr,
                                             1, beta, NULL, bm);
                    }
                }
            }
        }
        for (int64_t g = 0; g < gp; g++)
            if (!pns[g].direct) CR_FN(pw_unpack)(pb, &pns[g], cbuf + g * Mr * NR, NR, i0, i1);
    }
}

/* The product on nt threads; ws: pw_ws_elems(z, nt) elements, 64-byte aligned. */
static void CR_FN(pw_mm)(const CR_FN(pw_prob) *pb, const CR_FN(cr_gemm_kit) *kit,
                         const pw_sizes *z, T *ws, int nt) {
    const int MR = kit->mr;
    const int64_t M = pb->M, Kd = pb->Kd, Mr = z->Mr, tm = Mr / MR;
    const int64_t nslices = (Kd + z->kc - 1) / z->kc, npack = nslices * tm;
    /* few columns: A (the weights) is read in place instead of packed, as the GEMM does
     * (gemm.c A_INPLACE_MAX_N: packing A costs about 1/L of the product); same bits */
    T *pa = kit->ukr_strided && z->L <= PW_A_INPLACE_MAX_L ? NULL : ws;
    const int rowsplit = nt > 1 && z->L < M;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), team = CR_TEAM_SIZE();
        T *bbuf = ws + z->a_elems + (int64_t)t * z->thread_elems;
        T *cbuf = bbuf + z->b_elems;
        pw_panel_t pns[PW_MAX_GROUP];
        if (rowsplit) {
            const int64_t r0 = tm * t / team, r1 = tm * (t + 1) / team;
            const int64_t i0 = r0 * MR, i1 = r1 * MR < M ? r1 * MR : M;
            for (int64_t pc = 0; pa && pc < Kd; pc += z->kc) {
                const int64_t kc = Kd - pc < z->kc ? Kd - pc : z->kc;
                for (int64_t r = r0; r < r1; r++)
                    CR_FN(pw_pack_a_panel)(pa + pc * Mr + r * MR * kc, pb, kit, r * MR, pc, kc);
            }
            if (i0 < i1) CR_FN(pw_part)(pb, kit, z, pa, i0, i1, 0, z->npanels, bbuf, cbuf, pns);
        } else {
            #pragma omp for schedule(static)
            for (int64_t u = 0; u < (pa ? npack : 0); u++) {
                const int64_t pc = (u / tm) * z->kc, r = u % tm;
                const int64_t kc = Kd - pc < z->kc ? Kd - pc : z->kc;
                CR_FN(pw_pack_a_panel)(pa + pc * Mr + r * MR * kc, pb, kit, r * MR, pc, kc);
            }
            const int64_t t0 = z->npanels * t / team, t1 = z->npanels * (t + 1) / team;
            if (t0 < t1) CR_FN(pw_part)(pb, kit, z, pa, 0, M, t0, t1, bbuf, cbuf, pns);
        }
    }
}
