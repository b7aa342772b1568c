/* act.c — fused elementwise ReLU forward/backward (see act.h for the math).
 *
 * numpy needs two passes and a bool temporary for a ReLU backward (mask, then multiply)
 * and np.maximum is slow on float32 (~0.3 ns/element, it checks for NaN per element);
 * these are one vectorised pass each. Each kernel is a range loop [lo, hi) compiled for
 * AVX-512, AVX2+FMA and baseline x86-64 (target_clones); a call splits the buffer into one
 * contiguous chunk per thread when it is large enough.
 */
#include <math.h>
#include "chainrule.h"
#include "act.h"
#include "split.h"



#define ACT_KERNELS(T, SUF)                                                                   \
/* out[i] = inp[i] <= 0 ? 0 : inp[i]  (NaN <= 0 is false: NaN passes; -0 gives +0) */       \
CR_CLONES static void relu_forward_range_##SUF(T *out, const T *inp, int64_t lo,           \
                                                int64_t hi) {                               \
    for (int64_t i = lo; i < hi; i++) {                                                       \
        const T v = inp[i];                                                                   \
        out[i] = v <= (T)0 ? (T)0 : v;                                                        \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* dinp[i] = dout[i] * (out[i] > 0 ? 1 : 0) */                                                \
CR_CLONES static void relu_backward_range_##SUF(T *dinp, const T *dout, const T *out,      \
                                                 int64_t lo, int64_t hi) {                  \
    for (int64_t i = lo; i < hi; i++)                                                         \
        dinp[i] = dout[i] * (out[i] > (T)0 ? (T)1 : (T)0);                                    \
}                                                                                             \
                                                                                              \
void cr_relu_forward_##SUF(T *out, const T *inp, int64_t n) {                                 \
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, relu_forward_range_##SUF(out, inp, lo, hi));                                 \
}                                                                                             \
                                                                                              \
void cr_relu_backward_##SUF(T *dinp, const T *dout, const T *out, int64_t n) {                \
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, relu_backward_range_##SUF(dinp, dout, out, lo, hi));                         \
}

ACT_KERNELS(float, f32)
ACT_KERNELS(double, f64)

/* dinp = dout * y * (1 - y) (sigmoid) and dout * (1 - y * y) (tanh), in NumPy's order */
#define ACT_BACKWARD(NAME, T, SUF, EXPR)                                                      \
CR_CLONES static void NAME##_backward_range_##SUF(T *dinp, const T *dout, const T *out,     \
                                                   int64_t lo, int64_t hi) {                 \
    for (int64_t i = lo; i < hi; i++) {                                                       \
        const T y = out[i];                                                                   \
        dinp[i] = EXPR;                                                                       \
    }                                                                                         \
}                                                                                             \
void cr_##NAME##_backward_##SUF(T *dinp, const T *dout, const T *out, int64_t n) {            \
    CR_SPLIT_RANGE(n, CR_ACT_PARALLEL_MIN, NAME##_backward_range_##SUF(dinp, dout, out, lo, hi));                       \
}

ACT_BACKWARD(sigmoid, float, f32, dout[i] * y * (1.0f - y))
ACT_BACKWARD(sigmoid, double, f64, dout[i] * y * (1.0 - y))
ACT_BACKWARD(tanh, float, f32, dout[i] * (1.0f - y * y))
ACT_BACKWARD(tanh, double, f64, dout[i] * (1.0 - y * y))

/* Softmax cross-entropy (see act.h). Serial: one step has a few hundred rows of ~10
 * classes, where the loop is ~1 us and a thread team would cost more than it saves. */
#define XENT_KERNELS(T, SUF)                                                                  \
int64_t cr_softmax_xent_forward_##SUF(T *prob, T *loss, const T *logits,                      \
                                      const int64_t *target, int64_t N, int64_t C) {          \
    int64_t bad = 0;                                                                          \
    for (int64_t n = 0; n < N; n++) {                                                         \
        const T *a_n = logits + n * C;                                                        \
        T *p_n = prob + n * C;                                                                \
        T m = a_n[0];                                                                         \
        for (int64_t c = 1; c < C; c++)                                                       \
            m = (a_n[c] > m || a_n[c] != a_n[c]) && m == m ? a_n[c] : m; /* NaN wins */    \
        double sum = 0.0;                                                                     \
        for (int64_t c = 0; c < C; c++) {                                                     \
            const double e = exp((double)a_n[c] - (double)m);                                 \
            p_n[c] = (T)e;                                                                    \
            sum += e;                                                                         \
        }                                                                                     \
        const double inv = 1.0 / sum;                                                         \
        for (int64_t c = 0; c < C; c++)                                                       \
            p_n[c] = (T)((double)p_n[c] * inv);                                               \
        const int64_t t = target[n];                                                          \
        if (t < 0 || t >= C) {                                                                \
            loss[n] = (T)NAN;                                                                 \
            bad++;                                                                            \
        } else {                                                                              \
            loss[n] = (T)(log(sum) - ((double)a_n[t] - (double)m));                           \
        }                                                                                     \
    }                                                                                         \
    return bad;                                                                               \
}                                                                                             \
                                                                                              \
void cr_softmax_xent_backward_##SUF(T *dlogits, const T *prob, const int64_t *target,        \
                                    const T *scale, int64_t scale_stride, int64_t N,         \
                                    int64_t C) {                                              \
    for (int64_t n = 0; n < N; n++) {                                                         \
        const T s = scale[n * scale_stride];                                                  \
        const T *p_n = prob + n * C;                                                          \
        T *d_n = dlogits + n * C;                                                             \
        const int64_t t = target[n];                                                          \
        for (int64_t c = 0; c < C; c++)                                                       \
            d_n[c] = s * (p_n[c] - (c == t ? (T)1 : (T)0));                                   \
    }                                                                                         \
}

XENT_KERNELS(float, f32)
XENT_KERNELS(double, f64)
