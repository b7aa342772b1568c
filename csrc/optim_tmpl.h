/* optim_tmpl.h — the optimizer steps for one dtype; included by optim.c with T, SUF and
 * SQRT (sqrtf / sqrt) defined (the template idiom of cpu.h). */
/* SGD on [lo, hi): g = grad + wd*p; buf = first ? g : mom*buf + (1-damp)*g;
 * g = nesterov ? g + mom*buf : buf; p -= lr*g. momentum == 0 skips the buffer. */
CR_CLONES static void CR_FN(sgd_range)(T *restrict param, T *restrict buf,
                                      const T *restrict grad, int64_t lo, int64_t hi,
                                      T lr, T mom, T damp1, T wd, int nesterov, int first,
                                      int maximize) {
    if (maximize) { /* negation is exact: the same update as on -grad */
        for (int64_t i = lo; i < hi; i++) {
            T g = -grad[i] + wd * param[i];
            T b = buf == NULL ? g : first ? g : buf[i] * mom + damp1 * g;
            if (buf != NULL)
                buf[i] = b;
            T d = buf == NULL ? g : nesterov ? g + mom * b : b;
            param[i] = param[i] - lr * d;
        }
    } else if (buf == NULL) {
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
                       int nesterov, int first, int maximize) {
    T *buf = momentum != 0.0 ? momentum_buf : NULL;
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN, CR_FN(sgd_range)(param, buf, grad, lo, hi, (T)lr, (T)momentum,
                                      (T)(1.0 - dampening), (T)weight_decay, nesterov,
                                      first, maximize));
}

/* Adam on [lo, hi): (AdamW: p *= 1 - lr*wd) (Adam: g += wd*p); m += (1-b1)*(g-m);
 * v = b2*v + (1-b2)*g*g; (amsgrad: vmax = max(vmax, v), used instead of v);
 * p += (-step_size*m) / (sqrt(v)/bc2_sqrt + eps). */
CR_CLONES static void CR_FN(adam_range)(T *restrict param, T *restrict m, T *restrict v,
                                       T *restrict vmax, const T *restrict grad, int64_t lo,
                                       int64_t hi, T one_b1, T b2, T one_b2, T eps, T l2,
                                       T decay, T neg_step_size, T bc2_sqrt, int maximize) {
    if (vmax == NULL && !maximize) {
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
        return;
    }
    for (int64_t i = lo; i < hi; i++) {
        T p = param[i] * decay;
        T g = (maximize ? -grad[i] : grad[i]) + l2 * p;
        T mi = m[i] + one_b1 * (g - m[i]);
        T vi = v[i] * b2 + (one_b2 * g) * g;
        m[i] = mi;
        v[i] = vi;
        if (vmax != NULL) { /* torch.maximum: NaN propagates */
            T mx = vmax[i];
            vi = (vi > mx || vi != vi) ? vi : mx;
            vmax[i] = vi;
        }
        T denom = SQRT(vi) / bc2_sqrt + eps;
        param[i] = p + (neg_step_size * mi) / denom;
    }
}

void CR_FN(cr_adam_step)(T *param, T *exp_avg, T *exp_avg_sq, T *max_exp_avg_sq,
                        const T *grad, int64_t n, double lr, double beta1, double beta2,
                        double eps, double weight_decay, int decoupled, int maximize,
                        int64_t step) {
    double bc1 = 1.0 - pow(beta1, (double)step);
    double bc2_sqrt = sqrt(1.0 - pow(beta2, (double)step));
    T decay = decoupled ? (T)(1.0 - lr * weight_decay) : (T)1;
    T l2 = decoupled ? (T)0 : (T)weight_decay;
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN, CR_FN(adam_range)(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad,
                                       lo, hi, (T)(1.0 - beta1), (T)beta2, (T)(1.0 - beta2),
                                       (T)eps, l2, decay, (T)(-(lr / bc1)), (T)bc2_sqrt,
                                       maximize));
}

/* RMSprop on [lo, hi): g = (+-grad) + wd*p; sq = alpha*sq + (1-alpha)*g*g;
 * centered: ga += (1-alpha)*(g-ga), avg = sqrt(sq - ga*ga) + eps; else avg = sqrt(sq) + eps;
 * momentum: buf = mom*buf + g/avg, p -= lr*buf; else p -= lr*g/avg. */
CR_CLONES static void CR_FN(rmsprop_range)(T *restrict param, T *restrict sq, T *restrict ga,
                                          T *restrict buf, const T *restrict grad, int64_t lo,
                                          int64_t hi, T lr, T alpha, T one_alpha, T eps, T wd,
                                          T mom, int maximize) {
    for (int64_t i = lo; i < hi; i++) {
        T g = (maximize ? -grad[i] : grad[i]) + wd * param[i];
        T s = sq[i] * alpha + one_alpha * g * g;
        sq[i] = s;
        T avg;
        if (ga != NULL) {
            T a = ga[i] + one_alpha * (g - ga[i]);
            ga[i] = a;
            avg = SQRT(s - a * a) + eps;
        } else {
            avg = SQRT(s) + eps;
        }
        if (buf != NULL) {
            T b = buf[i] * mom + g / avg;
            buf[i] = b;
            param[i] = param[i] - lr * b;
        } else {
            param[i] = param[i] - lr * (g / avg);
        }
    }
}

void CR_FN(cr_rmsprop_step)(T *param, T *square_avg, T *grad_avg, T *momentum_buf,
                           const T *grad, int64_t n, double lr, double alpha, double eps,
                           double weight_decay, double momentum, int maximize) {
    T *buf = momentum > 0.0 ? momentum_buf : NULL;
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN,
                   CR_FN(rmsprop_range)(param, square_avg, grad_avg, buf, grad, lo, hi, (T)lr,
                                        (T)alpha, (T)(1.0 - alpha), (T)eps, (T)weight_decay,
                                        (T)momentum, maximize));
}

/* Adagrad on [lo, hi): g = (+-grad) + wd*p; sum += g*g; p -= clr * g / (sqrt(sum) + eps). */
CR_CLONES static void CR_FN(adagrad_range)(T *restrict param, T *restrict sum,
                                          const T *restrict grad, int64_t lo, int64_t hi,
                                          T clr, T eps, T wd, int maximize) {
    for (int64_t i = lo; i < hi; i++) {
        T g = (maximize ? -grad[i] : grad[i]) + wd * param[i];
        T s = sum[i] + g * g;
        sum[i] = s;
        param[i] = param[i] - clr * (g / (SQRT(s) + eps));
    }
}

void CR_FN(cr_adagrad_step)(T *param, T *state_sum, const T *grad, int64_t n, double lr,
                           double lr_decay, double eps, double weight_decay, int maximize,
                           int64_t step) {
    double clr = lr / (1.0 + (double)(step - 1) * lr_decay);
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN,
                   CR_FN(adagrad_range)(param, state_sum, grad, lo, hi, (T)clr, (T)eps,
                                        (T)weight_decay, maximize));
}

/* Adadelta on [lo, hi): g = (+-grad) + wd*p; sq = rho*sq + (1-rho)*g*g;
 * d = sqrt(acc + eps) / sqrt(sq + eps) * g; acc = rho*acc + (1-rho)*d*d; p -= lr*d. */
CR_CLONES static void CR_FN(adadelta_range)(T *restrict param, T *restrict sq, T *restrict acc,
                                           const T *restrict grad, int64_t lo, int64_t hi,
                                           T lr, T rho, T one_rho, T eps, T wd, int maximize) {
    for (int64_t i = lo; i < hi; i++) {
        T g = (maximize ? -grad[i] : grad[i]) + wd * param[i];
        T s = sq[i] * rho + one_rho * g * g;
        sq[i] = s;
        T d = SQRT(acc[i] + eps) / SQRT(s + eps) * g;
        acc[i] = acc[i] * rho + one_rho * d * d;
        param[i] = param[i] - lr * d;
    }
}

void CR_FN(cr_adadelta_step)(T *param, T *square_avg, T *acc_delta, const T *grad, int64_t n,
                            double lr, double rho, double eps, double weight_decay,
                            int maximize) {
    CR_SPLIT_RANGE(n, CR_OPTIM_PARALLEL_MIN,
                   CR_FN(adadelta_range)(param, square_avg, acc_delta, grad, lo, hi, (T)lr,
                                         (T)rho, (T)(1.0 - rho), (T)eps, (T)weight_decay,
                                         maximize));
}
