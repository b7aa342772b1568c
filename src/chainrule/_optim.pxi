# _optim.pxi — bindings for csrc/optim.c (included by _kernels.pyx)
#
# The optimizer calls these once per parameter per step, so they take the arrays through
# the buffer protocol directly (any rank, C-contiguous, float32 or float64) instead of
# reshaping to 1-D memoryviews: a step on a small network is dominated by call overhead.
# chainrule.optim validates the arguments; these re-check dtype, contiguity, writability
# and lengths so the C code can never run out of bounds.

# steps on buffers with at least this many elements run on cr_get_num_threads() threads
OPTIM_PARALLEL_MIN = CR_OPTIM_PARALLEL_MIN


def sgd_step(param, momentum_buf, grad, double lr, double momentum, double dampening,
             double weight_decay, bint nesterov, bint first, bint maximize=False):
    """In place: one SGD step on param (and momentum_buf unless momentum == 0).

    param, grad, momentum_buf: C-contiguous arrays of one float dtype and equal size
    (any shape); momentum_buf may be None when momentum == 0.
    """
    cdef Py_buffer bp, bg, bm
    cdef bint have_m = momentum != 0.0
    cdef int kind
    cdef int64_t n
    if have_m and momentum_buf is None:
        raise ValueError("sgd_step: momentum_buf is required when momentum != 0")
    _get(b"sgd_step", "param", param, &bp, True)
    try:
        _get(b"sgd_step", "grad", grad, &bg, False)
        try:
            kind = _buf_kind(b"sgd_step", "param", &bp)
            if _buf_kind(b"sgd_step", "grad", &bg) != kind:
                raise TypeError("sgd_step: 'param' and 'grad' have different float dtypes")
            n = bp.len // bp.itemsize
            if bg.len != bp.len:
                raise ValueError(f"sgd_step: 'grad' has {bg.len // bg.itemsize} elements, "
                                 f"'param' has {n}")
            _no_overlap(b"sgd_step", "param", &bp, "grad", &bg)
            if have_m:
                _get(b"sgd_step", "momentum_buf", momentum_buf, &bm, True)
                try:
                    if _buf_kind(b"sgd_step", "momentum_buf", &bm) != kind:
                        raise TypeError("sgd_step: 'momentum_buf' and 'param' have different "
                                        "float dtypes")
                    if bm.len != bp.len:
                        raise ValueError(f"sgd_step: 'momentum_buf' has {bm.len // bm.itemsize}"
                                         f" elements, 'param' has {n}")
                    _no_overlap(b"sgd_step", "param", &bp, "momentum_buf", &bm)
                    _no_overlap(b"sgd_step", "grad", &bg, "momentum_buf", &bm)
                    with nogil:
                        if kind == 1:
                            cr_sgd_step_f32(<float *>bp.buf, <float *>bm.buf, <const float *>bg.buf,
                                            n, lr, momentum, dampening, weight_decay, nesterov, first,
                                            maximize)
                        else:
                            cr_sgd_step_f64(<double *>bp.buf, <double *>bm.buf,
                                            <const double *>bg.buf, n, lr, momentum, dampening,
                                            weight_decay, nesterov, first, maximize)
                finally:
                    PyBuffer_Release(&bm)
            else:
                with nogil:
                    if kind == 1:
                        cr_sgd_step_f32(<float *>bp.buf, NULL, <const float *>bg.buf, n, lr,
                                        0.0, dampening, weight_decay, nesterov, first, maximize)
                    else:
                        cr_sgd_step_f64(<double *>bp.buf, NULL, <const double *>bg.buf, n, lr,
                                        0.0, dampening, weight_decay, nesterov, first, maximize)
        finally:
            PyBuffer_Release(&bg)
    finally:
        PyBuffer_Release(&bp)


# ---- the generic path: up to _OPT_MAX buffers, None for an absent optional state ----------
DEF _OPT_MAX = 6


cdef int64_t _opt_acquire(const char *fn, tuple names, tuple objs, tuple writable,
                          Py_buffer *bufs, bint *have, int *kind) except -1:
    """Get every non-None buffer (C-contiguous, writable where asked), one float dtype and
    one element count, pairwise disjoint; on error everything acquired is released.
    Returns the element count; kind is 1 (float32) or 2 (float64)."""
    cdef int i, j, ki, k = len(objs)
    cdef int64_t n = -1
    for i in range(k):
        have[i] = False
    try:
        for i in range(k):
            if objs[i] is None:
                continue
            _get(fn, names[i], objs[i], &bufs[i], writable[i])
            have[i] = True
            ki = _buf_kind(fn, names[i], &bufs[i])
            if n < 0:
                kind[0] = ki
                n = bufs[i].len // bufs[i].itemsize
            elif ki != kind[0]:
                raise TypeError(f"{fn.decode()}: {', '.join(repr(x) for x in names)} must "
                                f"share one float dtype")
            elif bufs[i].len // bufs[i].itemsize != n:
                raise ValueError(f"{fn.decode()}: element counts differ: '{names[0]}' has {n}, "
                                 f"'{names[i]}' has {bufs[i].len // bufs[i].itemsize}")
            for j in range(i):
                if have[j]:
                    _no_overlap(fn, names[j], &bufs[j], names[i], &bufs[i])
    except BaseException:
        _opt_release(bufs, have, k)
        raise
    return n


cdef void _opt_release(Py_buffer *bufs, bint *have, int k):
    cdef int i
    for i in range(k):
        if have[i]:
            PyBuffer_Release(&bufs[i])
            have[i] = False


cdef inline void *_ptr(Py_buffer *bufs, bint *have, int i) nogil:
    return bufs[i].buf if have[i] else NULL


def adam_step(param, exp_avg, exp_avg_sq, grad, double lr, double beta1, double beta2,
              double eps, double weight_decay, bint decoupled, int64_t step,
              max_exp_avg_sq=None, bint maximize=False):
    """In place: one Adam (decoupled=False) or AdamW (decoupled=True) step, step >= 1;
    with max_exp_avg_sq (amsgrad) that buffer too.

    param, exp_avg, exp_avg_sq, grad (and max_exp_avg_sq): C-contiguous arrays of one
    float dtype and equal size (any shape).
    """
    cdef Py_buffer bufs[_OPT_MAX]
    cdef bint have[_OPT_MAX]
    cdef int kind = 0
    cdef int64_t n
    if step < 1:
        raise ValueError(f"adam_step: step must be >= 1, got {step}")
    n = _opt_acquire(b"adam_step", ("param", "exp_avg", "exp_avg_sq", "grad", "max_exp_avg_sq"),
                     (param, exp_avg, exp_avg_sq, grad, max_exp_avg_sq),
                     (True, True, True, False, True), bufs, have, &kind)
    try:
        with nogil:
            if kind == 1:
                cr_adam_step_f32(<float *>bufs[0].buf, <float *>bufs[1].buf,
                                 <float *>bufs[2].buf, <float *>_ptr(bufs, have, 4),
                                 <const float *>bufs[3].buf, n, lr, beta1, beta2, eps,
                                 weight_decay, decoupled, maximize, step)
            else:
                cr_adam_step_f64(<double *>bufs[0].buf, <double *>bufs[1].buf,
                                 <double *>bufs[2].buf, <double *>_ptr(bufs, have, 4),
                                 <const double *>bufs[3].buf, n, lr, beta1, beta2, eps,
                                 weight_decay, decoupled, maximize, step)
    finally:
        _opt_release(bufs, have, 5)


def rmsprop_step(param, square_avg, grad_avg, momentum_buf, grad, double lr, double alpha,
                 double eps, double weight_decay, double momentum, bint maximize):
    """In place: one RMSprop step; grad_avg None unless centered, momentum_buf None unless
    momentum > 0. All arrays C-contiguous, one float dtype, equal size."""
    cdef Py_buffer bufs[_OPT_MAX]
    cdef bint have[_OPT_MAX]
    cdef int kind = 0
    cdef int64_t n
    if momentum > 0.0 and momentum_buf is None:
        raise ValueError("rmsprop_step: momentum_buf is required when momentum > 0")
    if not momentum > 0.0:
        momentum_buf = None
    n = _opt_acquire(b"rmsprop_step", ("param", "grad", "square_avg", "grad_avg", "momentum_buf"),
                     (param, grad, square_avg, grad_avg, momentum_buf),
                     (True, False, True, True, True), bufs, have, &kind)
    try:
        with nogil:
            if kind == 1:
                cr_rmsprop_step_f32(<float *>bufs[0].buf, <float *>bufs[2].buf,
                                    <float *>_ptr(bufs, have, 3), <float *>_ptr(bufs, have, 4),
                                    <const float *>bufs[1].buf, n, lr, alpha, eps,
                                    weight_decay, momentum, maximize)
            else:
                cr_rmsprop_step_f64(<double *>bufs[0].buf, <double *>bufs[2].buf,
                                    <double *>_ptr(bufs, have, 3), <double *>_ptr(bufs, have, 4),
                                    <const double *>bufs[1].buf, n, lr, alpha, eps,
                                    weight_decay, momentum, maximize)
    finally:
        _opt_release(bufs, have, 5)


def adagrad_step(param, state_sum, grad, double lr, double lr_decay, double eps,
                 double weight_decay, bint maximize, int64_t step):
    """In place: one Adagrad step (step >= 1 after increment) on param and state_sum."""
    cdef Py_buffer bufs[_OPT_MAX]
    cdef bint have[_OPT_MAX]
    cdef int kind = 0
    cdef int64_t n
    if step < 1:
        raise ValueError(f"adagrad_step: step must be >= 1, got {step}")
    n = _opt_acquire(b"adagrad_step", ("param", "grad", "state_sum"), (param, grad, state_sum),
                     (True, False, True), bufs, have, &kind)
    try:
        with nogil:
            if kind == 1:
                cr_adagrad_step_f32(<float *>bufs[0].buf, <float *>bufs[2].buf,
                                    <const float *>bufs[1].buf, n, lr, lr_decay, eps,
                                    weight_decay, maximize, step)
            else:
                cr_adagrad_step_f64(<double *>bufs[0].buf, <double *>bufs[2].buf,
                                    <const double *>bufs[1].buf, n, lr, lr_decay, eps,
                                    weight_decay, maximize, step)
    finally:
        _opt_release(bufs, have, 3)


def adadelta_step(param, square_avg, acc_delta, grad, double lr, double rho, double eps,
                  double weight_decay, bint maximize):
    """In place: one Adadelta step on param, square_avg and acc_delta."""
    cdef Py_buffer bufs[_OPT_MAX]
    cdef bint have[_OPT_MAX]
    cdef int kind = 0
    cdef int64_t n
    n = _opt_acquire(b"adadelta_step", ("param", "grad", "square_avg", "acc_delta"),
                     (param, grad, square_avg, acc_delta), (True, False, True, True),
                     bufs, have, &kind)
    try:
        with nogil:
            if kind == 1:
                cr_adadelta_step_f32(<float *>bufs[0].buf, <float *>bufs[2].buf,
                                     <float *>bufs[3].buf, <const float *>bufs[1].buf, n, lr,
                                     rho, eps, weight_decay, maximize)
            else:
                cr_adadelta_step_f64(<double *>bufs[0].buf, <double *>bufs[2].buf,
                                     <double *>bufs[3].buf, <const double *>bufs[1].buf, n, lr,
                                     rho, eps, weight_decay, maximize)
    finally:
        _opt_release(bufs, have, 4)
