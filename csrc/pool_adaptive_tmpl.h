/* pool_adaptive_tmpl.h — adaptive pooling for one dtype; included by pool_adaptive.c with T
 * and SUF defined (the template idiom of cpu.h). */

/* Sum of n contiguous values in 8 interleaved partial sums, added pairwise at the end
 * (inlined into its cloned callers: one ISA dispatch per call of theirs, not per plane). */
static inline T CR_FN(plane_sum)(const T *restrict x, int64_t n) {
    T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[i + k];
    for (int k = 0; i < n; i++, k++) acc[k] += x[i];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* Global average pooling of planes [p0, p1) of n values each; its backward (dx += dy / n). */
ADAPTIVE_CLONES static void CR_FN(global_avg)(T *restrict out, const T *restrict inp, int64_t p0,
                                            int64_t p1, int64_t n, T div) {
    for (int64_t pl = p0; pl < p1; pl++) out[pl] = CR_FN(plane_sum)(inp + pl * n, n) / div;
}

ADAPTIVE_CLONES static void CR_FN(global_avg_back)(T *restrict dinp, const T *restrict dout,
                                                 int64_t p0, int64_t p1, int64_t n, T div) {
    for (int64_t pl = p0; pl < p1; pl++) {
        const T g = dout[pl] / div;
        T *restrict dx = dinp + pl * n;
        for (int64_t i = 0; i < n; i++) dx[i] += g;
    }
}

/* Global average pooling (back = 0: out = plane means of inp) or its backward (back = 1:
 * out = dx += dy / n, inp = dy) over all planes, one static range of planes per thread. */
static void CR_FN(global_run)(T *out, const T *inp, int64_t planes, int64_t n, int back,
                              int nt) {
    const T div = (T)n;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int64_t t = CR_THREAD_NUM(), team = CR_TEAM_SIZE();
        const int64_t p0 = planes * t / team, p1 = planes * (t + 1) / team;
        if (back)
            CR_FN(global_avg_back)(out, inp, p0, p1, n, div);
        else
            CR_FN(global_avg)(out, inp, p0, p1, n, div);
    }
}

/* y[p, q] = max of the window, idx = ih*W + iw of the first maximum (row-major; strict >,
 * the first NaN wins), the rule of cr_max_pool2d_forward. */
void CR_FN(cr_adaptive_max_pool2d_forward)(T *restrict out, int64_t *restrict idx,
                                           const T *restrict inp, const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int nt = adaptive_threads(planes * H * W);
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *x = inp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            int64_t h0, h1;
            adaptive_window(p, P, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                adaptive_window(q, Q, W, &w0, &w1);
                T m = x[h0 * W + w0];
                int64_t at = h0 * W + w0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) {
                        const T v = x[ih * W + iw];
                        if ((v > m) | ((v != v) & (m == m))) {
                            m = v;
                            at = ih * W + iw;
                        }
                    }
                out[(pl * P + p) * Q + q] = m;
                idx[(pl * P + p) * Q + q] = at;
            }
        }
    }
}

/* y[p, q] = window sum / window size (the size an exact int64, rounded once). */
void CR_FN(cr_adaptive_avg_pool2d_forward)(T *restrict out, const T *restrict inp,
                                           const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int nt = adaptive_threads(planes * H * W);
    if (P == 1 && Q == 1) { /* global average pooling */
        CR_FN(global_run)(out, inp, planes, H * W, 0, nt);
        return;
    }
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *x = inp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            int64_t h0, h1;
            adaptive_window(p, P, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                adaptive_window(q, Q, W, &w0, &w1);
                T s = 0;
                for (int64_t ih = h0; ih < h1; ih++) s += CR_FN(plane_sum)(x + ih * W + w0, w1 - w0);
                out[(pl * P + p) * Q + q] = s / (T)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

/* dx[ih, iw] += dy[p, q] / window size for every window covering (ih, iw). */
void CR_FN(cr_adaptive_avg_pool2d_backward)(T *restrict dinp, const T *restrict dout,
                                            const cr_pool2d_dims *d) {
    const int64_t H = d->H, W = d->W, P = d->P, Q = d->Q, planes = d->N * d->C;
    const int nt = adaptive_threads(planes * H * W);
    if (P == 1 && Q == 1) { /* global average pooling */
        CR_FN(global_run)(dinp, dout, planes, H * W, 1, nt);
        return;
    }
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t pl = 0; pl < planes; pl++) {
        T *dx = dinp + pl * H * W;
        for (int64_t p = 0; p < P; p++) {
            int64_t h0, h1;
            adaptive_window(p, P, H, &h0, &h1);
            for (int64_t q = 0; q < Q; q++) {
                int64_t w0, w1;
                adaptive_window(q, Q, W, &w0, &w1);
                const T g = dout[(pl * P + p) * Q + q] / (T)((h1 - h0) * (w1 - w0));
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) dx[ih * W + iw] += g;
            }
        }
    }
}
