/* conv_gemm_tmpl.h — the convolution entry points and the im2col + matrix-product path
 * for one dtype; included by conv_gemm.c with T, SUF and CONV_F32 (1 for float) defined. */

/* C (m, n) = op(A) (m, kd) @ B (kd, n) [+ C if acc] [+ bias[i]]; op(A)(i, p) is
 * A[i*lda + p] or, if trans_a, A[p*lda + i]. `small` picks the unpacked AVX-512 kernel
 * for float32 (a decision made from the shapes only). */
void CR_FN(conv_mm)(int small, int trans_a, int64_t m, int64_t n, int64_t kd, const T *A,
                       int64_t lda, const T *B, int64_t ldb, T *C, int64_t ldc, int acc,
                       const T *bias) {
#if CONV_F32 && defined(CR_X86)
    if (small && conv_avx512()) {
        cr_conv_bcast_f32_avx512(m, n, kd, (const float *)A, trans_a ? 1 : lda,
                                 trans_a ? lda : 1, (const float *)B, ldb, NULL, (float *)C, ldc,
                                 NULL, acc, (const float *)bias);
        return;
    }
#endif
    (void)small;
    CR_FN(cr_gemm)(trans_a, 0, m, n, kd, 1, A, lda, B, ldb, acc ? 1 : 0, C, ldc, NULL, bias,
              CR_ACT_NONE);
}

/* C (m, n) += A (m, L) @ B (n, L)^T, rows of A and B contiguous (the dw product). */
void CR_FN(conv_mm_nt)(int small, int64_t m, int64_t n, int64_t L, const T *A, int64_t lda,
                          const T *B, int64_t ldb, T *C, int64_t ldc) {
#if CONV_F32 && defined(CR_X86)
    if (small && conv_avx512()) {
        cr_conv_dot_f32_avx512(m, n, L, (const float *)A, lda, (const float *)B, ldb, NULL,
                               (float *)C, ldc);
        return;
    }
#endif
    (void)small;
    CR_FN(cr_gemm)(0, 1, m, n, L, 1, A, lda, B, ldb, 1, C, ldc, NULL, NULL, CR_ACT_NONE);
}

/* When the unpacked float32 kernels beat the packed GEMM (measured on the LeNet and CIFAR
 * layers of the conv bench): forward up to K = 128 output channels; dx only for a short
 * reduction (K <= 32); both only while C*R*S < 1024 (beyond, the GEMM's packed tiles win:
 * 15-20% on the speech 10x5 stride-2 layers, C*R*S = 1600); dw for K < 64 (no packing of
 * the im2col matrix). From 64 output channels on, the packed GEMM's dw is 1.1-2.3x faster (ResNet/VGG layers, 1 thread: its
 * register tile reuses each loaded value, the dot kernel's 4x4 tile reduces per output). */
static int CR_FN(small_fwd)(const cr_conv2d_dims *d) {
    return d->K <= 128 && d->C * d->R * d->S < 1024;
}
static int CR_FN(small_dx)(const cr_conv2d_dims *d) {
    return d->K <= 32 && d->C * d->R * d->S < 1024;
}
static int CR_FN(small_dw)(const cr_conv2d_dims *d) { return d->K < 64; }

/* db[k] += sum_n sum_pq dy[n, k, pq] for k in [k0, k1). 16 independent partial sums (lane
 * l takes pq = l mod 16) added up in a fixed order at the end: vectorisable, deterministic,
 * and 4x faster than one serial chain of additions. */
void CR_FN(conv_bias_grad_rows)(T *dbias, const T *dout, const cr_conv2d_dims *d,
                                   int64_t k0, int64_t k1) {
    const int64_t PQ = d->P * d->Q, KPQ = d->K * PQ;
    for (int64_t k = k0; k < k1; k++) {
        T lane[16] = {0};
        for (int64_t n = 0; n < d->N; n++) {
            const T *dy_nk = dout + n * KPQ + k * PQ;
            int64_t i = 0;
            for (; i + 16 <= PQ; i += 16)
                for (int l = 0; l < 16; l++) lane[l] += dy_nk[i + l];
            for (int l = 0; i + l < PQ; l++) lane[l] += dy_nk[i + l];
        }
        T acc = 0;
        for (int l = 0; l < 16; l++) acc += lane[l];
        dbias[k] += acc;
    }
}

/* db[k] += sum_n sum_pq dy[n, k, pq] for every k, the output channels split evenly over nt
 * threads (each k summed by one thread in one order: the same bits for any nt). */
void CR_FN(conv_bias_grad)(T *dbias, const T *dout, const cr_conv2d_dims *d, int nt) {
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = CR_THREAD_NUM(), nth = CR_TEAM_SIZE();
        CR_FN(conv_bias_grad_rows)(dbias, dout, d, d->K * t / nth, d->K * (t + 1) / nth);
    }
}

/* Forward of images [n0, n0 + g): y_n (K, PQ) = w @ im2col(x_n) + b.
 * ws: (CRS + K) x b.cols scratch; nt > 1: threads to use inside (im2col, copies, product). */
static void CR_FN(forward_block)(T *out, const T *inp, const T *w, const T *bias,
                                  const cr_conv2d_dims *d, const conv_blocking *bl,
                                  int64_t n0, int64_t g, T *ws, int nt) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q, CHW = d->C * d->H * d->W;
    const int64_t K = d->K, KPQ = K * PQ;
    const int small = CR_FN(small_fwd)(d);
    if (g == 1) {
        const T *x_n = inp + n0 * CHW;
        T *y_n = out + n0 * KPQ;
        for (int64_t p0 = 0; p0 < d->P; p0 += bl->rows) {
            const int64_t p1 = p0 + bl->rows < d->P ? p0 + bl->rows : d->P;
            const int64_t cols = (p1 - p0) * d->Q;
            CR_FN(conv_im2col_par)(ws, cols, x_n, d, p0, p1, nt);
            CR_FN(conv_mm)(small, 0, K, cols, CRS, w, CRS, ws, cols, y_n + p0 * d->Q, PQ, 0, bias);
        }
        return;
    }
    /* g whole images side by side: col (CRS, g*PQ), then y block (K, g*PQ) -> y_n */
    const int64_t ld = g * PQ;
    T *col = ws, *yb = ws + CRS * bl->cols;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t j = 0; j < g; j++)
        CR_FN(conv_im2col_rows)(col + j * PQ, ld, inp + (n0 + j) * CHW, d, 0, CRS, 0, d->P);
    CR_FN(conv_mm)(small, 0, K, ld, CRS, w, CRS, col, ld, yb, ld, 0, bias);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t j = 0; j < g; j++)
        for (int64_t k = 0; k < K; k++)
            memcpy(out + (n0 + j) * KPQ + k * PQ, yb + k * ld + j * PQ, (size_t)PQ * sizeof(T));
}

int CR_FN(cr_conv2d_forward)(T *out, const T *inp, const T *weight, const T *bias,
                            const cr_conv2d_dims *d) {
    const int64_t N = d->N;
    if (N == 0) return 0;
    conv_plan pl;
    conv_plan_make(&pl, d, 0, sizeof(T));
    if (pl.path == CONV_POINTWISE) return CR_FN(conv_pointwise_forward)(out, inp, weight, bias, d, &pl);
#if CONV_F32
    if (pl.path == CONV_WINOGRAD) return conv_forward_winograd_f32(out, inp, weight, bias, d, &pl, 0);
#endif
#if CONV_F32 && defined(CR_X86)
    if (pl.path == CONV_IMPLICIT) return conv_forward_implicit_f32(out, inp, weight, bias, d, &pl, 0);
    if (pl.path == CONV_PHASE) return conv_phase_forward_f32(out, inp, weight, bias, d, &pl);
    if (pl.path == CONV_S2) return conv_s2_forward_f32(out, inp, weight, bias, d, &pl);
    if (pl.path == CONV_S2B) return conv_s2b_forward_f32(out, inp, weight, bias, d, &pl);
    if (pl.path == CONV_DIRECT) return conv_direct_forward_f32(out, inp, weight, bias, d, &pl, 0);
    if (pl.path == CONV_C16) return conv_c16_forward_f32(out, inp, weight, bias, d, &pl, 0);
    if (pl.path == CONV_ROWS) return conv_rows_forward_f32(out, inp, weight, bias, d, &pl, 0);
    if (pl.path == CONV_WINO4S) return conv_forward_wino4s_f32(out, inp, weight, bias, d, &pl, 0);
    if (pl.path == CONV_G5) return conv_g5_forward_f32(out, inp, weight, bias, d, &pl, 0, 0);
    if (pl.path == CONV_WINO25) return conv_wino25_forward_f32(out, inp, weight, bias, d, &pl, 0, 0);
#endif
    const conv_blocking bl = pl.bl;
    const int64_t ws_elems = pl.ws_elems, nblocks = pl.nblocks;
    const int nt = pl.nt;
    T *ws = (T *)conv_ws_alloc(pl.ws_threads * ws_elems * (int64_t)sizeof(T));
    if (ws_elems > 0 && !ws) return -1;
    if (pl.by_block) {
        #pragma omp parallel num_threads(nt)
        {
            const int t = CR_THREAD_NUM();
            T *ws_t = ws ? ws + t * ws_elems : NULL;
            #pragma omp for schedule(static)
            for (int64_t blk = 0; blk < nblocks; blk++) {
                const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                CR_FN(forward_block)(out, inp, weight, bias, d, &bl, n0, g, ws_t, 1);
            }
        }
    } else {
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
            CR_FN(forward_block)(out, inp, weight, bias, d, &bl, n0, g, ws, nt);
        }
    }
    conv_ws_free(ws);
    return 0;
}

/* dx_n += col2im(w^T @ dy_n) for images [n0, n0 + g). */
static void CR_FN(backward_input_block)(T *dinp, const T *dout, const T *w,
                                         const cr_conv2d_dims *d, const conv_blocking *bl,
                                         int64_t n0, int64_t g, T *ws, int nt) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q, CHW = d->C * d->H * d->W;
    const int64_t K = d->K, KPQ = K * PQ;
    const int small = CR_FN(small_dx)(d);
    if (g == 1) {
        T *dx_n = dinp + n0 * CHW;
        const T *dy_n = dout + n0 * KPQ;
        for (int64_t p0 = 0; p0 < d->P; p0 += bl->rows) {
            const int64_t p1 = p0 + bl->rows < d->P ? p0 + bl->rows : d->P;
            const int64_t cols = (p1 - p0) * d->Q;
            CR_FN(conv_mm)(small, 1, CRS, cols, K, w, CRS, dy_n + p0 * d->Q, PQ, ws, cols, 0, NULL);
            CR_FN(conv_col2im_par)(dx_n, ws, cols, d, p0, p1, nt);
        }
        return;
    }
    /* g whole images: gather dy (K, g*PQ), dcol (CRS, g*PQ) = w^T @ dy, col2im per image */
    const int64_t ld = g * PQ;
    T *dcol = ws, *dyb = ws + CRS * bl->cols;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t j = 0; j < g; j++)
        for (int64_t k = 0; k < K; k++)
            memcpy(dyb + k * ld + j * PQ, dout + (n0 + j) * KPQ + k * PQ, (size_t)PQ * sizeof(T));
    CR_FN(conv_mm)(small, 1, CRS, ld, K, w, CRS, dyb, ld, dcol, ld, 0, NULL);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t j = 0; j < g; j++) /* each image's own dx: no shared sums */
        CR_FN(conv_col2im_rows)(dinp + (n0 + j) * CHW, dcol + j * PQ, ld, d, 0, CRS, 0, d->P);
}

/* dw[:, r0:r1] (or dw^T[r0:r1, :] when transposed) += dy_blk @ col_blk[r0:r1]^T over
 * images [n0, n0 + g); ws: (CRS + K) x cols scratch of this thread. */
static void CR_FN(backward_weight_block)(T *dw, const T *dout, const T *inp,
                                          const cr_conv2d_dims *d, const conv_blocking *bl,
                                          int64_t n0, int64_t g, int64_t r0, int64_t r1, T *ws) {
    const int64_t CRS = d->C * d->R * d->S, PQ = d->P * d->Q, CHW = d->C * d->H * d->W;
    const int64_t K = d->K, KPQ = K * PQ, nr = r1 - r0;
    const int small = CR_FN(small_dw)(d);
    /* one product: dy (K, L, row stride LDY) against col rows [r0, r1) (L, row stride LDC) */
#define DW_PRODUCT(DY, LDY, COL, LDC, L) \
    CR_FN(conv_mm_nt)(small, K, nr, L, DY, LDY, COL, LDC, dw + r0, CRS)
    if (g == 1) {
        const T *x_n = inp + n0 * CHW, *dy_n = dout + n0 * KPQ;
        for (int64_t p0 = 0; p0 < d->P; p0 += bl->rows) {
            const int64_t p1 = p0 + bl->rows < d->P ? p0 + bl->rows : d->P;
            const int64_t cols = (p1 - p0) * d->Q;
            CR_FN(conv_im2col_rows)(ws, cols, x_n, d, r0, r1, p0, p1);
            DW_PRODUCT(dy_n + p0 * d->Q, PQ, ws, cols, cols);
        }
        return;
    }
    const int64_t ld = g * PQ;
    T *col = ws, *dyb = ws + CRS * bl->cols;
    for (int64_t j = 0; j < g; j++) {
        CR_FN(conv_im2col_rows)(col + j * PQ, ld, inp + (n0 + j) * CHW, d, r0, r1, 0, d->P);
        for (int64_t k = 0; k < K; k++)
            memcpy(dyb + k * ld + j * PQ, dout + (n0 + j) * KPQ + k * PQ, (size_t)PQ * sizeof(T));
    }
    DW_PRODUCT(dyb, ld, col, ld, ld);
#undef DW_PRODUCT
}

int CR_FN(cr_conv2d_backward)(T *dinp, T *dweight, T *dbias, const T *dout,
                             const T *inp, const T *weight, const cr_conv2d_dims *d) {
    const int64_t N = d->N, K = d->K, CRS = d->C * d->R * d->S;
    if (N == 0) return 0;
    conv_plan pl;
    conv_plan_make(&pl, d, 1, sizeof(T));
    if (pl.path == CONV_POINTWISE)
        return CR_FN(conv_pointwise_backward)(dinp, dweight, dbias, dout, inp, weight, d, &pl);
#if CONV_F32
    if (dinp && pl.dx_as_conv == 2) { /* Winograd: any CPU (F(4x4): conv_winograd4.c) */
        int rc = conv_wino4s_backward_input_f32(dinp, dout, weight, &pl); /* small images */
        if (rc == 0) rc = conv_wino4_backward_input_f32(dinp, dout, weight, &pl);
        if (rc < 0 || (rc == 0 && conv_backward_input_as_conv_f32(dinp, dout, weight, d, &pl) != 0))
            return -1;
        dinp = NULL;
    }
#endif
#if CONV_F32
    if (pl.path == CONV_WINO_DW && pl.wino_kb > 0) /* large images: conv_winograd4_dw.c */
        return conv_backward_weight_wino4_f32(dweight, dbias, dout, inp, d, &pl);
#endif
#if CONV_F32 && defined(CR_X86)
    if (pl.path == CONV_PHASE) {
        if (dinp && pl.dx_as_conv == 5) { /* dx by conv_s2dx.c, dw and db by the phases */
            if (conv_s2dx_backward_input_f32(dinp, dout, weight, d, pl.nt) != 0) return -1;
            dinp = NULL;
        }
        return conv_phase_backward_f32(dinp, dweight, dbias, dout, inp, weight, d, &pl);
    }
    if (pl.path == CONV_S2)
        return conv_s2_backward_f32(dinp, dweight, dbias, dout, inp, weight, d, &pl);
    if (pl.path == CONV_IMPLICIT)
        return conv_backward_implicit_f32(dinp, dweight, dbias, dout, inp, weight, d, &pl);
    if (pl.path == CONV_DIRECT)
        return conv_direct_backward_f32(dinp, dweight, dbias, dout, inp, weight, d, &pl);
    if (pl.path == CONV_C16)
        return conv_c16_backward_f32(dinp, dweight, dbias, dout, inp, weight, d, &pl);
    if (dinp && pl.dx_as_conv == 5) { /* stride 2 by phases: conv_s2dx.c */
        if (conv_s2dx_backward_input_f32(dinp, dout, weight, d, pl.nt) != 0) return -1;
        dinp = NULL;
    }
    if (dinp && pl.dx_as_conv) {
        if (conv_backward_input_as_conv_f32(dinp, dout, weight, d, &pl) != 0) return -1;
        dinp = NULL; /* done: the rest computes dw and db */
    }
    if (pl.path == CONV_IMPLICIT_DW)
        return conv_backward_weight_implicit_f32(dweight, dbias, dout, inp, d, &pl);
    if (pl.path == CONV_WINO_DW)
        return conv_backward_weight_wino_small_f32(dweight, dbias, dout, inp, d, &pl);
    if (pl.path == CONV_ROWS_DW)
        return conv_rows_backward_weight_f32(dweight, dbias, dout, inp, d, &pl);
    if (pl.path == CONV_WINO4S_DW)
        return conv_backward_weight_wino4s_f32(dweight, dbias, dout, inp, d, &pl);
    if (pl.path == CONV_G5)
        return conv_g5_backward_weight_f32(dweight, dbias, dout, inp, d, &pl);
    if (pl.path == CONV_S2B_DW)
        return conv_s2b_dw_backward_f32(dweight, dbias, dout, inp, d, &pl);
    if (pl.path == CONV_WINO25)
        return conv_wino25_backward_weight_f32(dweight, dbias, dout, inp, d, &pl);
#endif
    const conv_blocking bl = pl.bl;
    const int64_t ws_elems = pl.ws_elems, nblocks = pl.nblocks;
    const int nt = pl.nt;
    T *ws = (T *)conv_ws_alloc(pl.ws_threads * ws_elems * (int64_t)sizeof(T));
    if (ws_elems > 0 && !ws) return -1;

    /* db[k] += sum_n sum_pq dy[n, k, pq]   and   dw[:, slice] += dy @ col[slice]^T.
     * Thread t owns rows [k0, k1) of db and CRS rows [r0, r1) of col (columns of dw). */
    if (dweight || dbias) {
        #pragma omp parallel num_threads(nt)
        {
            const int t = CR_THREAD_NUM(), nth = CR_TEAM_SIZE();
            if (dbias) CR_FN(conv_bias_grad_rows)(dbias, dout, d, K * t / nth, K * (t + 1) / nth);
            const int64_t r0 = CRS * t / nth, r1 = CRS * (t + 1) / nth;
            if (dweight && r1 > r0) {
                T *ws_t = ws ? ws + t * ws_elems : NULL;
                for (int64_t blk = 0; blk < nblocks; blk++) {
                    const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                    CR_FN(backward_weight_block)(dweight, dout, inp, d, &bl, n0, g, r0, r1,
                                                  ws_t);
                }
            }
        }
    }

    /* dx_n += col2im(w^T @ dy_n): whole blocks of images per thread, as in the forward. */
    if (dinp) {
        if (pl.by_block) {
            #pragma omp parallel num_threads(nt)
            {
                const int t = CR_THREAD_NUM();
                T *ws_t = ws ? ws + t * ws_elems : NULL;
                #pragma omp for schedule(static)
                for (int64_t blk = 0; blk < nblocks; blk++) {
                    const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                    CR_FN(backward_input_block)(dinp, dout, weight, d, &bl, n0, g, ws_t, 1);
                }
            }
        } else {
            for (int64_t blk = 0; blk < nblocks; blk++) {
                const int64_t n0 = blk * bl.G, g = N - n0 < bl.G ? N - n0 : bl.G;
                CR_FN(backward_input_block)(dinp, dout, weight, d, &bl, n0, g, ws, nt);
            }
        }
    }
    conv_ws_free(ws);
    return 0;
}
