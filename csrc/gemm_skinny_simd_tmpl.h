/* gemm_skinny_simd_tmpl.h — the SIMD kernels of the skinny GEMM path (gemm_skinny_tmpl.h),
 * included once per dtype by gemm_avx512.c and gemm_avx2.c with these macros defined:
 *   T, VT (vector type), LANES, V_ZERO, V_LOADU, V_STOREU, V_SET1, V_FMADD, V_HSUM (vector ->
 *   T, a fixed reduction tree), S_FMA (scalar fma), FN_DOT, FN_AXPY.
 * Contract (gemm_ukr.h, cr_skinny_*): out(i, j) = sum_p a(i, p) * b(p, j), i < rows, j < n.
 *
 * Every output element is computed by the same arithmetic whichever block it falls in, so
 * results do not depend on how the rows are split between threads:
 *   dot  (a(i, p) = a[i*lda + p], b(p, j) = b[j*ldb + p]): LANES partial sums over p (lane l
 *        takes p = l mod LANES, in order), reduced by V_HSUM, then the K % LANES tail in order;
 *        4 rows x 4 columns of accumulators share their loads.
 *   axpy (a(i, p) = a[i + p*lda], b(p, j) = b[p*ldb + j]): one fused sum per element over p in
 *        order (vector lanes = rows; the row tail uses S_FMA, the same operation); 4 vectors of
 *        rows x 4 columns of accumulators. out must have ors == 1 (column-major tile); with
 *        accum the sums continue from out.
 * The accumulators are named variables (gcc keeps large vector arrays in memory). */
#define SK_CAT_(a, b) a##b
#define SK_CAT(a, b) SK_CAT_(a, b)
#define SK_FIN SK_CAT(FN_DOT, _fin)
#define SK_D(r, c) VT d##r##c = V_ZERO();
#define SK_DROW(r) SK_D(r, 0) SK_D(r, 1) SK_D(r, 2) SK_D(r, 3)
#define SK_DFMA(r, c) d##r##c = V_FMADD(va##r, vb##c, d##r##c);
#define SK_DFMAROW(r) SK_DFMA(r, 0) SK_DFMA(r, 1) SK_DFMA(r, 2) SK_DFMA(r, 3)
#define SK_DOUT(r, c) out[(i + r) * ors + (j + c) * ocs] = \
    SK_FIN(d##r##c, a##r, b##c, kv, k);
#define SK_DOUTROW(r) SK_DOUT(r, 0) SK_DOUT(r, 1) SK_DOUT(r, 2) SK_DOUT(r, 3)
/* the lane sums of row r, column j + c between K chunks (acc[r][j + c]) */
#define SK_L(r, c) VT d##r##c = p0 ? acc[r][j + c] : V_ZERO();
#define SK_LROW(r) SK_L(r, 0) SK_L(r, 1) SK_L(r, 2) SK_L(r, 3)
#define SK_S(r, c) acc[r][j + c] = d##r##c;
#define SK_SROW(r) SK_S(r, 0) SK_S(r, 1) SK_S(r, 2) SK_S(r, 3)
/* K chunk of the 4-row dot kernel: 4 rows x SK_KCH of the big operand and up to 32 rows of
 * the thin one stay in L1 (4 KiB + 32 KiB) */
#define SK_KCH ((int64_t)(1024 / sizeof(T)))
#define SK_DSTEP44                                                                        \
    { VT va0 = V_LOADU(a0 + p), va1 = V_LOADU(a1 + p), va2 = V_LOADU(a2 + p),              \
         va3 = V_LOADU(a3 + p);                                                           \
      VT vb0 = V_LOADU(b0 + p), vb1 = V_LOADU(b1 + p), vb2 = V_LOADU(b2 + p),              \
         vb3 = V_LOADU(b3 + p);                                                           \
      SK_DFMAROW(0) SK_DFMAROW(1) SK_DFMAROW(2) SK_DFMAROW(3) }

/* reduce the lanes, then add the K tail in order */
static inline T SK_FIN(VT acc, const T *ar, const T *bc, int64_t kv, int64_t k) {
    T s = V_HSUM(acc);
    for (int64_t p = kv; p < k; p++) s = S_FMA(ar[p], bc[p], s);
    return s;
}

void FN_DOT(CR_SKINNY_ARGS(T)) {
    (void)accum;
    (void)pf;
    const int64_t kv = k - k % LANES;
    int64_t i = 0;
    /* Four rows at a time, K in chunks of SK_KCH: the chunk of the four rows stays in L1
     * while every column group passes over it, so the big operand streams from memory once,
     * evenly (not in bursts, one per column group); the lane sums wait in acc between
     * chunks. SK_KCH is a multiple of LANES, so each lane still sums its p in order. */
    VT acc[4][32];
    for (; i + 4 <= rows; i += 4) {
        const T *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        for (int64_t p0 = 0; p0 < kv || p0 == 0; p0 += SK_KCH) {
            const int64_t pe = kv - p0 < SK_KCH ? kv : p0 + SK_KCH;
            int64_t j = 0;
            for (; j + 4 <= n; j += 4) {
                const T *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
                SK_LROW(0) SK_LROW(1) SK_LROW(2) SK_LROW(3)
                int64_t p = p0;
                if (j == 0) /* the first pass fetches the four rows' next chunk into L1 */
                    for (; p < pe && p + SK_KCH < kv; p += LANES) {
                        __builtin_prefetch(a0 + p + SK_KCH, 0, 3);
                        __builtin_prefetch(a1 + p + SK_KCH, 0, 3);
                        __builtin_prefetch(a2 + p + SK_KCH, 0, 3);
                        __builtin_prefetch(a3 + p + SK_KCH, 0, 3);
                        SK_DSTEP44
                    }
                for (; p < pe; p += LANES) SK_DSTEP44
                SK_SROW(0) SK_SROW(1) SK_SROW(2) SK_SROW(3)
            }
            for (; j < n; j++) { /* one column, four rows */
                const T *b0 = b + j * ldb;
                SK_L(0, 0) SK_L(1, 0) SK_L(2, 0) SK_L(3, 0)
                for (int64_t p = p0; p < pe; p += LANES) {
                    VT vb0 = V_LOADU(b0 + p);
                    VT va0 = V_LOADU(a0 + p), va1 = V_LOADU(a1 + p), va2 = V_LOADU(a2 + p),
                       va3 = V_LOADU(a3 + p);
                    SK_DFMA(0, 0) SK_DFMA(1, 0) SK_DFMA(2, 0) SK_DFMA(3, 0)
                }
                SK_S(0, 0) SK_S(1, 0) SK_S(2, 0) SK_S(3, 0)
            }
        }
        for (int64_t r = 0; r < 4; r++)
            for (int64_t j = 0; j < n; j++)
                out[(i + r) * ors + j * ocs] = SK_FIN(acc[r][j], a0 + r * lda, b + j * ldb, kv, k);
    }
    for (; i < rows; i++) { /* one row, four columns at a time */
        const T *a0 = a + i * lda;
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const T *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            SK_DROW(0)
            for (int64_t p = 0; p < kv; p += LANES) {
                VT va0 = V_LOADU(a0 + p);
                VT vb0 = V_LOADU(b0 + p), vb1 = V_LOADU(b1 + p), vb2 = V_LOADU(b2 + p),
                   vb3 = V_LOADU(b3 + p);
                SK_DFMAROW(0)
            }
            SK_DOUTROW(0)
        }
        for (; j < n; j++) {
            const T *b0 = b + j * ldb;
            SK_D(0, 0)
            for (int64_t p = 0; p < kv; p += LANES) {
                VT va0 = V_LOADU(a0 + p), vb0 = V_LOADU(b0 + p);
                SK_DFMA(0, 0)
            }
            SK_DOUT(0, 0)
        }
    }
}

#define SK_X(v, c) VT x##v##c = accum ? V_LOADU(out + i + (v) * LANES + (j + c) * ocs) : V_ZERO();
#define SK_XROW(v) SK_X(v, 0) SK_X(v, 1) SK_X(v, 2) SK_X(v, 3)
#define SK_XFMA(v, c) x##v##c = V_FMADD(va##v, vb##c, x##v##c);
#define SK_XFMAROW(v) SK_XFMA(v, 0) SK_XFMA(v, 1) SK_XFMA(v, 2) SK_XFMA(v, 3)
#define SK_XOUT(v, c) V_STOREU(out + i + (v) * LANES + (j + c) * ocs, x##v##c);
#define SK_XOUTROW(v) SK_XOUT(v, 0) SK_XOUT(v, 1) SK_XOUT(v, 2) SK_XOUT(v, 3)

/* the 4 vectors of rows (256 bytes) of the same columns in the next K chunk, into L2: a
 * chunk is kc short runs in kc memory rows (pages), too short for the hardware prefetcher
 * (measured on the Xeon, 1 thread: 16x7680x2560 and 32x4096x4096 f32 1.1x); GCC's
 * builtin (locality 2 = prefetcht1, 3 = prefetcht0) keeps this header free of intrinsics */
#define SK_PF(q) { const char *q_ = (const char *)(q);                                 \
    __builtin_prefetch(q_, 0, 2); __builtin_prefetch(q_ + 64, 0, 2);                   \
    __builtin_prefetch(q_ + 128, 0, 2); __builtin_prefetch(q_ + 192, 0, 2); }
#define SK_XSTEP4                                                                           \
    { VT va0 = V_LOADU(ap), va1 = V_LOADU(ap + LANES), va2 = V_LOADU(ap + 2 * LANES),      \
         va3 = V_LOADU(ap + 3 * LANES);                                                     \
      VT vb0 = V_SET1(bp[0]), vb1 = V_SET1(bp[1]), vb2 = V_SET1(bp[2]), vb3 = V_SET1(bp[3]); \
      SK_XFMAROW(0) SK_XFMAROW(1) SK_XFMAROW(2) SK_XFMAROW(3) }
#define SK_XSTEP1                                                                           \
    { VT va0 = V_LOADU(ap), va1 = V_LOADU(ap + LANES), va2 = V_LOADU(ap + 2 * LANES),      \
         va3 = V_LOADU(ap + 3 * LANES);                                                     \
      VT vb0 = V_SET1(bp[0]);                                                               \
      SK_XFMA(0, 0) SK_XFMA(1, 0) SK_XFMA(2, 0) SK_XFMA(3, 0) }

void FN_AXPY(CR_SKINNY_ARGS(T)) {
    (void)ors; /* == 1 */
    const int64_t npf = pf < k ? pf : k; /* rows prefetched by the first column pass */
    int64_t i = 0;
    for (; i + 4 * LANES <= rows; i += 4 * LANES) {
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            SK_XROW(0) SK_XROW(1) SK_XROW(2) SK_XROW(3)
            const T *ap = a + i, *bp = b + j;
            int64_t p = 0;
            if (j == 0)
                for (; p < npf; p++, ap += lda, bp += ldb) {
                    SK_PF(ap + k * lda)
                    SK_XSTEP4
                }
            for (; p < k; p++, ap += lda, bp += ldb) SK_XSTEP4
            SK_XOUTROW(0) SK_XOUTROW(1) SK_XOUTROW(2) SK_XOUTROW(3)
        }
        for (; j < n; j++) {
            SK_X(0, 0) SK_X(1, 0) SK_X(2, 0) SK_X(3, 0)
            const T *ap = a + i, *bp = b + j;
            int64_t p = 0;
            if (j == 0)
                for (; p < npf; p++, ap += lda, bp += ldb) {
                    SK_PF(ap + k * lda)
                    SK_XSTEP1
                }
            for (; p < k; p++, ap += lda, bp += ldb) SK_XSTEP1
            SK_XOUT(0, 0) SK_XOUT(1, 0) SK_XOUT(2, 0) SK_XOUT(3, 0)
        }
    }
    for (; i + LANES <= rows; i += LANES) {
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            SK_XROW(0)
            const T *ap = a + i, *bp = b + j;
            for (int64_t p = 0; p < k; p++, ap += lda, bp += ldb) {
                VT va0 = V_LOADU(ap);
                VT vb0 = V_SET1(bp[0]), vb1 = V_SET1(bp[1]), vb2 = V_SET1(bp[2]),
                   vb3 = V_SET1(bp[3]);
                SK_XFMAROW(0)
            }
            SK_XOUTROW(0)
        }
        for (; j < n; j++) {
            SK_X(0, 0)
            const T *ap = a + i, *bp = b + j;
            for (int64_t p = 0; p < k; p++, ap += lda, bp += ldb) {
                VT va0 = V_LOADU(ap), vb0 = V_SET1(bp[0]);
                SK_XFMA(0, 0)
            }
            SK_XOUT(0, 0)
        }
    }
    for (; i < rows; i++) /* the last rows, one element at a time (the same fused sum) */
        for (int64_t j = 0; j < n; j++) {
            T s = accum ? out[i + j * ocs] : (T)0;
            for (int64_t p = 0; p < k; p++) s = S_FMA(a[i + p * lda], b[p * ldb + j], s);
            out[i + j * ocs] = s;
        }
}

#undef SK_CAT_
#undef SK_DSTEP44
#undef SK_PF
#undef SK_XSTEP4
#undef SK_XSTEP1
#undef SK_KCH
#undef SK_SROW
#undef SK_S
#undef SK_LROW
#undef SK_L
#undef SK_CAT
#undef SK_FIN
#undef SK_D
#undef SK_DROW
#undef SK_DFMA
#undef SK_DFMAROW
#undef SK_DOUT
#undef SK_DOUTROW
#undef SK_X
#undef SK_XROW
#undef SK_XFMA
#undef SK_XFMAROW
#undef SK_XOUT
#undef SK_XOUTROW
