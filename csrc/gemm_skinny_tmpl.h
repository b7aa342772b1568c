/* gemm_skinny_tmpl.h — the skinny path of the GEMM (gemm.c), included by gemm_tmpl.h once
 * per dtype (T, SUF, CR_FN: the idiom of cpu.h).
 *
 * When one side of C is thin (min(M, N) <= SKINNY_MAX_N) the packed BLIS loops spend their
 * time packing the big operand and padding the thin side to a full register tile. Here the
 * big operand is read in place, once, like a GEMV: C is seen as big x s (s = the thin side;
 * M thin means C^T = op(B)^T op(A)^T), the thin operand is repacked (s x K elements) only if
 * its layout does not suit the kernel, and a per-ISA kernel (gemm_ukr.h, cr_skinny_*) sums
 * blocks of rows into a small tile that the epilogue (alpha, beta, biases, act)
 * writes to C. Rows whose K stride is 1 use the "dot" kernel (vectors along K), rows that are
 * columns of memory the "axpy" kernel (vectors along the rows).
 * Threads split the big side into contiguous row ranges; each element's sum is the same
 * arithmetic whatever range or block it falls in, so results are bitwise identical for any
 * thread count. */

/* C' (i, j) for i < rows of block i0, from the raw sums out(r, j) = out[r*ors + j*ocs] */
static void CR_FN(skinny_write)(const T *out, int64_t ors, int64_t ocs, int64_t i0, int64_t rows,
                                int64_t s, int trans, T alpha, T beta, T *C, int64_t ldc,
                                const T *bias_n, const T *bias_m, int act) {
    for (int64_t u = 0; u < (trans ? s : rows); u++) /* C's rows, each written left to right */
        for (int64_t w = 0; w < (trans ? rows : s); w++) {
            const int64_t r = trans ? w : u, j = trans ? u : w; /* block row, thin column */
            const int64_t ci = trans ? j : i0 + r, cj = trans ? i0 + r : j; /* in C */
            T *c = C + ci * ldc + cj;
            T x = alpha * out[r * ors + j * ocs];
            if (beta != 0) x = beta * *c + x;
            if (bias_n) x = x + bias_n[cj];
            if (bias_m) x = x + bias_m[ci];
            *c = act != CR_ACT_NONE ? CR_FN(act)(x, act) : x;
        }
}

/* 1 if the skinny path ran the product; 0 if the caller must (not eligible, no memory). */
static int CR_FN(gemm_skinny)(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha,
                              const T *A, int64_t lda, const T *B, int64_t ldb, T beta, T *C,
                              int64_t ldc, const T *bias_n, const T *bias_m, int act,
                              const gemm_path *P, int nt) {
    const int trans = M < N; /* the thin side is M: work on C^T */
    const int64_t big = trans ? N : M, s = trans ? M : N;
    /* big(i, p) = ab[i*rs_a + p*cs_a] (big x K), thin(p, j) = bs[p*rs_b + j*cs_b] (K x s) */
    const T *ab = trans ? B : A, *bs = trans ? A : B;
    const int64_t rs_a = trans ? (tb ? ldb : 1) : (ta ? 1 : lda);
    const int64_t cs_a = trans ? (tb ? 1 : ldb) : (ta ? lda : 1);
    const int64_t rs_b = trans ? (ta ? lda : 1) : (tb ? 1 : ldb);
    const int64_t cs_b = trans ? (ta ? 1 : lda) : (tb ? ldb : 1);
    const int dot = cs_a == 1;
    if (!skinny_wanted(big, s, K, sizeof(T), dot)) return 0;
    const CR_FN(cr_skinny) kern = dot ? P->CR_FN(skinny_dot) : P->CR_FN(skinny_axpy);
    const int64_t lda_k = dot ? rs_a : cs_a;
    /* the thin operand as the kernel wants it: dot b[j*ldb + p], axpy b[p*ldb + j] */
    const T *b = bs;
    int64_t ldb_k = dot ? cs_b : rs_b;
    if (dot ? rs_b != 1 : cs_b != 1) {
        T *pk = (T *)scratch(0, (size_t)s * (size_t)K * sizeof(T));
        if (pk == NULL) return 0;
        const CR_FN(cr_pack_t) pack_t = P->CR_FN(pack_t);
        /* the SIMD transposing pack where the other stride is 1 (a plain copy; the scalar
         * loop's scattered stores were 3% of 4096x32x4096, before the threads start) */
        if (pack_t && dot && cs_b == 1)
            pack_t(pk, K, bs, rs_b, K, s);  /* pk[j*K + p] = bs[p*rs_b + j] */
        else if (pack_t && !dot && rs_b == 1)
            pack_t(pk, s, bs, cs_b, s, K);  /* pk[p*s + j] = bs[j*cs_b + p] */
        else
            for (int64_t p = 0; p < K; p++)
                for (int64_t j = 0; j < s; j++)
                    pk[dot ? j * K + p : p * s + j] = bs[p * rs_b + j * cs_b];
        b = pk;
        ldb_k = dot ? K : s;
    }
    /* rows per block. dot: the raw-sum tile (on the stack) holds SKINNY_OUT elements.
     * axpy: long blocks, so that each memory row of the big operand is read in one long run
     * per K chunk (DRAM pages, the L2 streamer and the TLB work on runs, not on the 512-byte
     * pieces of short blocks); the raw-sum tile (SKINNY_AXPY_OUT bytes, per thread, in L2)
     * bounds them. K in chunks: the 256-byte piece of each chunk row that the kernel's
     * vector block reads stays in L1 while every thin column passes over it. A big operand
     * streamed from memory takes chunks of SKINNY_AXPY_KC = 8 rows (8 concurrent streams for
     * the L2 streamer, and rows whose stride is a multiple of 4 KiB share L1 sets: 8 fit the
     * 12 ways); one that fits the caches chunks of SKINNY_AXPY_KC_CACHED = 32 (fewer reloads
     * of the raw sums). The chunk size does not change results (the sums continue in order,
     * one fused sum each). Measured on the Xeon, 1 thread, CPU time under load, vs 128-row
     * blocks and 32-row chunks: 32x4096x4096 f32 1.4x, 16x7680x2560 1.8x, f64 1.45-1.55x
     * (8-row chunks; 32 ran 0.8x / 0.65x), 32x1024x1024 f32 1.13x (32-row chunks; 8 ran 0.7x);
     * 2 threads (wall time, loaded machine) 32x4096x4096 1.7x.
     * cr_gemm_set_blocks' kc and mc (tests) override the chunk and the block rows. */
    int64_t rb = dot ? SKINNY_OUT / SKINNY_MAX_N
                     : SKINNY_AXPY_OUT / (s * (int64_t)sizeof(T)) / 64 * 64;
    int64_t kc = dot ? K
                     : (double)big * (double)K * (double)sizeof(T) > SKINNY_AXPY_STREAM
                         ? SKINNY_AXPY_KC
                         : SKINNY_AXPY_KC_CACHED;
    if (!dot) {
        int64_t nc_unused = 0;
        block_override(&kc, &rb, &nc_unused);
    }
    /* thread ranges in units of rb rows (dot) or vector blocks of 64 (axpy; of 8 when there
     * are too few) */
    const int64_t unit = dot && cdiv(big, rb) >= nt ? rb : !dot && cdiv(big, 64) >= nt ? 64 : 8;
    const int64_t units = cdiv(big, unit);
    if (nt > units) nt = (int)units;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int64_t tid = CR_THREAD_NUM(), team = CR_TEAM_SIZE();
        const int64_t r0 = units * tid / team * unit, r1e = units * (tid + 1) / team * unit;
        const int64_t r1 = r1e < big ? r1e : big;
        T out_stack[SKINNY_OUT] __attribute__((aligned(64)));
        /* axpy: columns of the tile one cache line apart from a multiple of 4 KiB (L1 sets) */
        int64_t rbt = rb < r1 - r0 ? rb : round_up(r1 - r0, 8);
        T *out = dot ? NULL : (T *)scratch(1, (size_t)(rbt + 64 / sizeof(T)) * s * sizeof(T));
        if (out == NULL) { /* dot, or no memory for the long tile: the stack one */
            out = out_stack;
            if (!dot) rbt = (SKINNY_OUT / s - 64 / (int64_t)sizeof(T)) / 8 * 8;
        }
        const int64_t ors = dot ? s : 1, ocs = dot ? 1 : rbt + 64 / (int64_t)sizeof(T);
        for (int64_t i0 = r0; i0 < r1; i0 += rbt) {
            const int64_t rows = r1 - i0 < rbt ? r1 - i0 : rbt;
            for (int64_t p0 = 0; p0 < K; p0 += kc) {
                const int64_t k = K - p0 < kc ? K - p0 : kc, rest = K - p0 - k;
                kern(rows, s, k, dot ? ab + i0 * lda_k : ab + i0 + p0 * lda_k, lda_k,
                     dot ? b : b + p0 * ldb_k, ldb_k, out, ors, ocs, p0 > 0,
                     rest < kc ? rest : kc);
            }
            CR_FN(skinny_write)(out, ors, ocs, i0, rows, s, trans, alpha, beta, C, ldc, bias_n,
                                bias_m, act);
        }
    }
    return 1;
}
