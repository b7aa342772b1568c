/* act_tmpl.h — the activation kernels for one dtype; included by act.c with T and SUF
 * defined (the template idiom of cpu.h). */

/* out[i] = inp[i] <= 0 ? 0 : inp[i]  (NaN <= 0 is false: NaN passes; -0 gives +0) */
CR_CLONES static void CR_FN(relu_forward_range)(T *out, const T *inp, int64_t lo,
                                                int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        const T v = inp[i];
        out[i] = v <= (T)0 ? (T)0 : v;
    }
}

/* dinp[i] = dout[i] * (out[i] > 0 ? 1 : 0) */
CR_CLONES static void CR_FN(relu_backward_range)(T *dinp, const T *dout, const T *out,
                                                 int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++)
        dinp[i] = dout[i] * (T)(out[i] > (T)0);
}

void CR_FN(cr_relu_forward)(T *out, const T *inp, int64_t n) {
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(relu_forward_range)(out, inp, lo, hi));
}

void CR_FN(cr_relu_backward)(T *dinp, const T *dout, const T *out, int64_t n) {
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(relu_backward_range)(dinp, dout, out, lo, hi));
}

/* dinp = dout * y * (1 - y) (sigmoid) and dout * (1 - y * y) (tanh), in NumPy's order */
CR_CLONES static void CR_FN(sigmoid_backward_range)(T *dinp, const T *dout, const T *out,
                                                   int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        const T y = out[i];
        dinp[i] = dout[i] * y * ((T)1 - y);
    }
}
void CR_FN(cr_sigmoid_backward)(T *dinp, const T *dout, const T *out, int64_t n) {
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(sigmoid_backward_range)(dinp, dout, out, lo, hi));
}

CR_CLONES static void CR_FN(tanh_backward_range)(T *dinp, const T *dout, const T *out,
                                                   int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        const T y = out[i];
        dinp[i] = dout[i] * ((T)1 - y * y);
    }
}
void CR_FN(cr_tanh_backward)(T *dinp, const T *dout, const T *out, int64_t n) {
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(tanh_backward_range)(dinp, dout, out, lo, hi));
}

/* Softmax cross-entropy (see act.h). Serial: one step has a few hundred rows of ~10
 * classes, where the loop is ~1 us and a thread team would cost more than it saves. */
int64_t CR_FN(cr_softmax_xent_forward)(T *prob, T *loss, const T *logits,
                                      const int64_t *target, int64_t N, int64_t C) {
    int64_t bad = 0;
    for (int64_t n = 0; n < N; n++) {
        const T *a_n = logits + n * C;
        T *p_n = prob + n * C;
        T m = a_n[0];
        for (int64_t c = 1; c < C; c++)
            m = (a_n[c] > m || a_n[c] != a_n[c]) && m == m ? a_n[c] : m; /* NaN wins */
        double sum = 0.0;
        for (int64_t c = 0; c < C; c++) {
            const double e = exp((double)a_n[c] - (double)m);
            p_n[c] = (T)e;
            sum += e;
        }
        const double inv = 1.0 / sum;
        for (int64_t c = 0; c < C; c++)
            p_n[c] = (T)((double)p_n[c] * inv);
        const int64_t t = target[n];
        if (t < 0 || t >= C) {
            loss[n] = (T)NAN;
            bad++;
        } else {
            loss[n] = (T)(log(sum) - ((double)a_n[t] - (double)m));
        }
    }
    return bad;
}

int64_t CR_FN(cr_softmax_xent_backward)(T *dlogits, const T *prob, const int64_t *target,
                                       const T *scale, int64_t scale_stride, int64_t N,
                                       int64_t C) {
    int64_t bad = 0;
    for (int64_t n = 0; n < N; n++) {
        const T s = scale[n * scale_stride];
        const T *p_n = prob + n * C;
        T *d_n = dlogits + n * C;
        const int64_t t = target[n];
        bad += t < 0 || t >= C;
        for (int64_t c = 0; c < C; c++)
            d_n[c] = s * (p_n[c] - (c == t ? (T)1 : (T)0));
    }
    return bad;
}
