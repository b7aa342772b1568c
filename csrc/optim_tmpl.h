/* optim_tmpl.h — the optimizer steps for one dtype; included by optim.c with T, SUF and
 * SQRT (sqrtf / sqrt) defined (the template idiom of cpu.h). */
/* SGD on [lo, hi): g = grad + wd*p; buf = first ? g : mom*buf + (1-damp)*g;
 * g = nesterov ? g + mom*buf : buf; p -= lr*g. momentum == 0 skips the buffer. */
CR_CLONES static void CR_FN(sgd_range)(T *restrict param, T *restrict buf,
                                      const T *restrict grad, int64_t lo, int64_t hi,
                                      T lr, T mom, T damp1, T wd, int nesterov, int first) {
    if (buf == NULL) {
        for (int64_t i = lo; i < hi; i++) {
            T g = grad[i] + wd * param[i];
            param[i] = param[i] - lr * g;
        }
    } else if (first) {
        for (int64_t i = lo; i < hi; i++) {
            T g = grad[i] + wd * param[i];
            buf[i] = g;
            T d = nesterov ? g + mom * g : g;
            param[i] = param[i] - lr * d;
        }
    } else {
        for (int64_t i = lo; i < hi; i++) {
            T g = grad[i] + wd * param[i];
            T b = buf[i] * mom + damp1 * g;
            buf[i] = b;
            T d = nesterov ? g + mom * b : b;
            param[i] = param[i] - lr * d;
        }
    }
}

void CR_FN(cr_sgd_step)(T *param, T *momentum_buf, const T *grad, int64_t n,
                       double lr, double momentum, double dampening, double weight_decay,
                       int nesterov, int first) {
    T *buf = momentum != 0.0 ? momentum_buf : NULL;
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN, CR_FN(sgd_range)(param, buf, grad, lo, hi, (T)lr, (T)momentum,
                                      (T)(1.0 - dampening), (T)weight_decay, nesterov,
                                      first));
}

/* Adam on [lo, hi): (AdamW: p *= 1 - lr*wd) (Adam: g += wd*p); m += (1-b1)*(g-m);
 * v = b2*v + (1-b2)*g*g; p += (-step_size*m) / (sqrt(v)/bc2_sqrt + eps). */
CR_CLONES static void CR_FN(adam_range)(T *restrict param, T *restrict m, T *restrict v,
                                       const T *restrict grad, int64_t lo, int64_t hi,
                                       T one_b1, T b2, T one_b2, T eps, T l2, T decay,
                                       T neg_step_size, T bc2_sqrt) {
    for (int64_t i = lo; i < hi; i++) {
        T p = param[i] * decay;
        T g = grad[i] + l2 * p;
        T mi = m[i] + one_b1 * (g - m[i]);
        T vi = v[i] * b2 + (one_b2 * g) * g;
        m[i] = mi;
        v[i] = vi;
        T denom = SQRT(vi) / bc2_sqrt + eps;
        param[i] = p + (neg_step_size * mi) / denom;
    }
}

void CR_FN(cr_adam_step)(T *param, T *exp_avg, T *exp_avg_sq, const T *grad, int64_t n,
                        double lr, double beta1, double beta2, double eps,
                        double weight_decay, int decoupled, int64_t step) {
    double bc1 = 1.0 - pow(beta1, (double)step);
    double bc2_sqrt = sqrt(1.0 - pow(beta2, (double)step));
    T decay = decoupled ? (T)(1.0 - lr * weight_decay) : (T)1;
    T l2 = decoupled ? (T)0 : (T)weight_decay;
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN, CR_FN(adam_range)(param, exp_avg, exp_avg_sq, grad, lo, hi,
                                       (T)(1.0 - beta1), (T)beta2, (T)(1.0 - beta2), (T)eps,
                                       l2, decay, (T)(-(lr / bc1)), (T)bc2_sqrt));
}
