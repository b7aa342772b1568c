/* actfn_tmpl.h — the actfn kernels for one dtype; included by actfn.c with T, SUF and the
 * libm names EXP, EXPM1, LOG1P, ERF, TANH defined (the template idiom of cpu.h). */

/* One range function per activation and direction: F(x) computes y (forward) or the
 * derivative factor (backward) from v = inp[i] with parameters a, b in type T. */
#define CR_ACTFN_RANGES(NAME, FWD, DER)                                                    \
    CR_CLONES static void CR_FN(NAME##_fwd)(T *out, const T *inp, int64_t lo, int64_t hi, \
                                            T a, T b) {                                   \
        (void)a; (void)b;                                                                 \
        for (int64_t i = lo; i < hi; i++) {                                               \
            const T v = inp[i];                                                           \
            out[i] = (FWD);                                                               \
        }                                                                                 \
    }                                                                                     \
    CR_CLONES static void CR_FN(NAME##_bwd)(T *dinp, const T *dout, const T *inp,         \
                                            int64_t lo, int64_t hi, T a, T b) {           \
        (void)a; (void)b;                                                                 \
        for (int64_t i = lo; i < hi; i++) {                                               \
            const T v = inp[i];                                                           \
            dinp[i] = (DER);                                                              \
        }                                                                                 \
    }

/* sqrt(2/pi), 1/sqrt(2), 1/sqrt(2 pi) and GELU-tanh's cubic coefficient */
#define CR_K_BETA ((T)0.7978845608028654)
#define CR_K_RSQRT2 ((T)0.7071067811865476)
#define CR_K_RSQRT2PI ((T)0.3989422804014327)
#define CR_K_KAPPA ((T)0.044715)

static inline T CR_FN(gelu_tanh_d)(T v) {
    const T inner = CR_K_BETA * (v + CR_K_KAPPA * v * v * v);
    const T t = TANH(inner);
    return (T)0.5 * ((T)1 + t) +
           (T)0.5 * v * ((T)1 - t * t) * CR_K_BETA * ((T)1 + (T)3 * CR_K_KAPPA * v * v);
}

static inline T CR_FN(silu_d)(T v) {
    const T s = (T)1 / ((T)1 + EXP(-v));
    return s * ((T)1 + v * ((T)1 - s));
}

static inline T CR_FN(softplus_d)(T v, T a, T b) {
    const T z = EXP(v * a);
    return v * a > b ? (T)1 : z / (z + (T)1);
}

CR_ACTFN_RANGES(leaky, v > (T)0 ? v : v * a, dout[i] * (v > (T)0 ? (T)1 : a))
CR_ACTFN_RANGES(elu, v <= (T)0 ? EXPM1(v) * a : v,
                v <= (T)0 ? dout[i] * a * EXP(v) : dout[i])
CR_ACTFN_RANGES(gelu, (T)0.5 * v * ((T)1 + ERF(v * CR_K_RSQRT2)),
                dout[i] * ((T)0.5 * ((T)1 + ERF(v * CR_K_RSQRT2)) +
                           v * CR_K_RSQRT2PI * EXP((T)-0.5 * v * v)))
CR_ACTFN_RANGES(gelu_tanh, (T)0.5 * v * ((T)1 + TANH(CR_K_BETA * (v + CR_K_KAPPA * v * v * v))),
                dout[i] * CR_FN(gelu_tanh_d)(v))
CR_ACTFN_RANGES(silu, v / ((T)1 + EXP(-v)), dout[i] * CR_FN(silu_d)(v))
CR_ACTFN_RANGES(softplus, v * a > b ? v : LOG1P(EXP(v * a)) / a,
                dout[i] * CR_FN(softplus_d)(v, a, b))
CR_ACTFN_RANGES(hardtanh, v < a ? a : (v > b ? b : v),
                (v <= a || v >= b) ? (T)0 : dout[i])

int CR_FN(cr_actfn_forward)(int kind, T *out, const T *inp, int64_t n, double p0, double p1) {
    const T a = (T)p0, b = (T)p1;
    switch (kind) {
    case CR_ACT_LEAKY_RELU:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(leaky_fwd)(out, inp, lo, hi, a, b)); break;
    case CR_ACT_ELU:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(elu_fwd)(out, inp, lo, hi, a, b)); break;
    case CR_ACT_GELU:
        if (p0 != 0.0)
            CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(gelu_tanh_fwd)(out, inp, lo, hi, a, b));
        else
            CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(gelu_fwd)(out, inp, lo, hi, a, b));
        break;
    case CR_ACT_SILU:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(silu_fwd)(out, inp, lo, hi, a, b)); break;
    case CR_ACT_SOFTPLUS:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(softplus_fwd)(out, inp, lo, hi, a, b));
        break;
    case CR_ACT_HARDTANH:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(hardtanh_fwd)(out, inp, lo, hi, a, b));
        break;
    default:
        return -1;
    }
    return 0;
}

int CR_FN(cr_actfn_backward)(int kind, T *dinp, const T *dout, const T *inp, int64_t n,
                             double p0, double p1) {
    const T a = (T)p0, b = (T)p1;
    switch (kind) {
    case CR_ACT_LEAKY_RELU:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(leaky_bwd)(dinp, dout, inp, lo, hi, a, b));
        break;
    case CR_ACT_ELU:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(elu_bwd)(dinp, dout, inp, lo, hi, a, b));
        break;
    case CR_ACT_GELU:
        if (p0 != 0.0)
            CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN,
                           CR_FN(gelu_tanh_bwd)(dinp, dout, inp, lo, hi, a, b));
        else
            CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(gelu_bwd)(dinp, dout, inp, lo, hi, a, b));
        break;
    case CR_ACT_SILU:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, CR_FN(silu_bwd)(dinp, dout, inp, lo, hi, a, b));
        break;
    case CR_ACT_SOFTPLUS:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN,
                       CR_FN(softplus_bwd)(dinp, dout, inp, lo, hi, a, b));
        break;
    case CR_ACT_HARDTANH:
        CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN,
                       CR_FN(hardtanh_bwd)(dinp, dout, inp, lo, hi, a, b));
        break;
    default:
        return -1;
    }
    return 0;
}

/* softmax / log-softmax rows [lo, hi) (see actfn.h) */
CR_CLONES static void CR_FN(softmax_rows_range)(T *out, const T *inp, int64_t C, int log,
                                               int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; n++) {
        const T *x = inp + n * C;
        T *y = out + n * C;
        T m = x[0];
        for (int64_t c = 1; c < C; c++)
            m = (x[c] > m || x[c] != x[c]) && m == m ? x[c] : m; /* NaN wins */
        double sum = 0.0;
        for (int64_t c = 0; c < C; c++)
            sum += (double)EXP(x[c] - m);
        if (log) {
            const T ls = (T)logl(sum);
            for (int64_t c = 0; c < C; c++)
                y[c] = x[c] - m - ls;
        } else {
            const T inv = (T)(1.0 / sum);
            for (int64_t c = 0; c < C; c++)
                y[c] = EXP(x[c] - m) * inv;
        }
    }
}

CR_CLONES static void CR_FN(softmax_rows_bwd_range)(T *dinp, const T *dout, const T *out,
                                                   int64_t C, int log, int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; n++) {
        const T *g = dout + n * C, *y = out + n * C;
        T *d = dinp + n * C;
        double s = 0.0;
        if (log) {
            for (int64_t c = 0; c < C; c++)
                s += (double)g[c];
            for (int64_t c = 0; c < C; c++)
                d[c] = g[c] - EXP(y[c]) * (T)s;
        } else {
            for (int64_t c = 0; c < C; c++)
                s += (double)g[c] * (double)y[c];
            for (int64_t c = 0; c < C; c++)
                d[c] = y[c] * (g[c] - (T)s);
        }
    }
}

void CR_FN(cr_softmax_rows)(T *out, const T *inp, int64_t N, int64_t C, int log) {
    if (C < 1)
        return;
    CR_SPLIT_RANGE(N, CR_ACT_PARALLEL_MIN / C + 1,
                   CR_FN(softmax_rows_range)(out, inp, C, log, lo, hi));
}

void CR_FN(cr_softmax_rows_backward)(T *dinp, const T *dout, const T *out, int64_t N,
                                     int64_t C, int log) {
    if (C < 1)
        return;
    CR_SPLIT_RANGE(N, CR_ACT_PARALLEL_MIN / C + 1,
                   CR_FN(softmax_rows_bwd_range)(dinp, dout, out, C, log, lo, hi));
}

#undef CR_ACTFN_RANGES
#undef CR_K_BETA
#undef CR_K_RSQRT2
#undef CR_K_RSQRT2PI
#undef CR_K_KAPPA
