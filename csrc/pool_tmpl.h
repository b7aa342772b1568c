/* pool_tmpl.h — max and average pooling for one dtype; included by pool.c with T and SUF
 * defined (the template idiom of cpu.h). */

/* Kernel 2x2, stride 2, no padding, one (H, W) plane -> (P, Q) = (H/2, W/2):
 * y[p, q] = max of x[2p, 2q], x[2p, 2q+1], x[2p+1, 2q], x[2p+1, 2q+1] in that order, with
 * the same take rule as the general kernel below (strict >, the first NaN wins), so the
 * results are bitwise the same. This portable loop (gcc keeps it scalar) is the fallback
 * for CPUs without AVX2; pool_avx512.c is ~15x faster (64x6x28x28: 46 vs 800 us). */
static void CR_FN(max_pool2x2_plane)(T *restrict y, int64_t *restrict ix,
                                                  const T *restrict x, int64_t W,
                                                  int64_t P, int64_t Q) {
    for (int64_t p = 0; p < P; p++) {
        const T *r0 = x + 2 * p * W, *r1 = r0 + W;
        for (int64_t q = 0; q < Q; q++) {
            T m = r0[2 * q], v;
            int64_t off = 0, take;
            v = r0[2 * q + 1];
            take = (v > m) | ((v != v) & (m == m));
            m = take ? v : m;
            off = take ? 1 : off;
            v = r1[2 * q];
            take = (v > m) | ((v != v) & (m == m));
            m = take ? v : m;
            off = take ? W : off;
            v = r1[2 * q + 1];
            take = (v > m) | ((v != v) & (m == m));
            m = take ? v : m;
            off = take ? W + 1 : off;
            y[p * Q + q] = m;
            ix[p * Q + q] = 2 * p * W + 2 * q + off;
        }
    }
}

static void CR_FN(max_pool2x2_forward)(T *restrict out, int64_t *restrict idx,
                                        const T *restrict inp, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int nt = pool_threads(planes * H * W);
#ifdef CR_X86
    const int vec = W < ((int64_t)1 << 30) ? pool_isa() : 0; /* int32 offsets up to W + 1 */
#endif
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
#ifdef CR_X86
        if (vec == 2) {
            CR_CAT3(cr_max_pool2x2_plane_, SUF, _avx512)(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q);
            continue;
        }
        if (vec == 1) {
            CR_CAT3(cr_max_pool2x2_plane_, SUF, _avx2)(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q);
            continue;
        }
#endif
        CR_FN(max_pool2x2_plane)(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q);
    }
}

/* y[p, q] = max over the window, idx[p, q] = its flat index ih*W + iw (first maximum;
 * a NaN wins over every number and the first NaN is kept).
 * Loop order: for each output row, the window offsets (ih, s) in row-major order outside,
 * the output columns q inside. Each output still sees its window in row-major order (so
 * "first maximum" holds), and the q loop is branch-free and vectorises: a compare-and-
 * select per element instead of an unpredictable branch (~3x faster on random data). */
POOL_CLONES void CR_FN(cr_max_pool2d_forward)(T *restrict out, int64_t *restrict idx,
                                   const T *restrict inp, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int64_t sw = d->sw, pw = d->pw, kw = d->kw;
    if (d->kh == 2 && kw == 2 && d->sh == 2 && sw == 2 && d->ph == 0 && pw == 0) {
        CR_FN(max_pool2x2_forward)(out, idx, inp, d);
        return;
    }
    const int nt = pool_threads(planes * H * W);
#ifdef CR_X86
    /* no padding: every window is in range; gather 16/8 output columns at once (AVX-512) */
    if (d->ph == 0 && pw == 0 && H * W < ((int64_t)1 << 30) && sw < ((int64_t)1 << 25) &&
        pool_isa() == 2) {
        #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t pl = 0; pl < planes; pl++)
            CR_CAT3(cr_max_pool2d_plane_, SUF, _avx512)(out + pl * P * Q, idx + pl * P * Q, inp + pl * H * W, W, P, Q,
                              d->kh, kw, d->sh, sw);
        return;
    }
#endif
    int64_t s0, s1;
    kernel_cols(kw, sw, pw, Q, W, &s0, &s1);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *x = inp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            T *restrict y = out + (pl * P + p) * Q;
            int64_t *restrict ix = idx + (pl * P + p) * Q;
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) { /* padding is -inf: start at the first in-range */
                int64_t w0, w1;
                window(q, sw, pw, kw, W, &w0, &w1);
                y[q] = -(T)INFINITY;
                ix[q] = h0 * W + w0;
            }
            for (int64_t ih = h0; ih < h1; ih++) {
                const T *x_row = x + ih * W;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t qlo, qhi; /* columns q whose iw = q*sw + s - pw is in [0, W) */
                    in_range(s - pw, sw, Q, W, &qlo, &qhi);
                    for (int64_t q = qlo; q < qhi; q++) {
                        const int64_t iw = q * sw + s - pw;
                        const T v = x_row[iw], m = y[q];
                        const int64_t take = -(int64_t)((v > m) | ((v != v) & (m == m)));
                        y[q] = take ? v : m;
                        ix[q] = (ix[q] & ~take) | ((ih * W + iw) & take);
                    }
                }
            }
        }
    }
}

int64_t CR_FN(cr_max_pool2d_backward)(T *restrict dinp, const T *restrict dout,
                                       const int64_t *restrict idx, const cr_pool2d_dims *d) {
    const int64_t HW = d->H * d->W, PQ = d->P * d->Q, planes = d->N * d->C;
    const int nt = pool_threads(planes * PQ);
    int64_t bad = 0;
    #pragma omp parallel for num_threads(nt) schedule(static) reduction(+:bad) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        T *dx = dinp + pl * HW;
        const T *dy = dout + pl * PQ;
        const int64_t *ix = idx + pl * PQ;
        for (int64_t i = 0; i < PQ; i++) {
            const int64_t j = ix[i];
            if ((uint64_t)j < (uint64_t)HW) dx[j] += dy[i];
            else bad++;
        }
    }
    return bad;
}

/* y[p, q] = (sum of the in-range window) / (kh*kw); same loop order as the max. */
POOL_CLONES void CR_FN(cr_avg_pool2d_forward)(T *restrict out, const T *restrict inp,
                                   const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int64_t sw = d->sw, pw = d->pw, kw = d->kw;
    const T div = POOL_DIV(T, d);
    int64_t s0, s1;
    kernel_cols(kw, sw, pw, Q, W, &s0, &s1);
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *x = inp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            T *restrict y = out + (pl * P + p) * Q;
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) y[q] = 0;
            for (int64_t ih = h0; ih < h1; ih++) {
                const T *x_row = x + ih * W;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t qlo, qhi;
                    const int64_t off = s - pw;
                    in_range(off, sw, Q, W, &qlo, &qhi);
                    for (int64_t q = qlo; q < qhi; q++) y[q] += x_row[q * sw + off];
                }
            }
            for (int64_t q = 0; q < Q; q++) y[q] /= div;
        }
    }
}

/* dx[ih, iw] += dy[p, q] / (kh*kw) for every (p, q) whose window covers (ih, iw). */
POOL_CLONES void CR_FN(cr_avg_pool2d_backward)(T *restrict dinp, const T *restrict dout,
                                    const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int64_t sw = d->sw, pw = d->pw, kw = d->kw;
    const T div = POOL_DIV(T, d);
    int64_t s0, s1;
    kernel_cols(kw, sw, pw, Q, W, &s0, &s1);
    const int nt = pool_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        T *dx = dinp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            const T *restrict dy = dout + (pl * P + p) * Q;
            int64_t h0, h1;
            window(p, d->sh, d->ph, d->kh, H, &h0, &h1);
            for (int64_t ih = h0; ih < h1; ih++) {
                T *restrict dx_row = dx + ih * W;
                for (int64_t s = s0; s < s1; s++) {
                    int64_t qlo, qhi;
                    const int64_t off = s - pw;
                    in_range(off, sw, Q, W, &qlo, &qhi);
                    for (int64_t q = qlo; q < qhi; q++) dx_row[q * sw + off] += dy[q] / div;
                }
            }
        }
    }
}
