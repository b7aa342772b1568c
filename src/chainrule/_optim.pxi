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
             double weight_decay, bint nesterov, bint first):
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
                                            n, lr, momentum, dampening, weight_decay, nesterov, first)
                        else:
                            cr_sgd_step_f64(<double *>bp.buf, <double *>bm.buf,
                                            <const double *>bg.buf, n, lr, momentum, dampening,
                                            weight_decay, nesterov, first)
                finally:
                    PyBuffer_Release(&bm)
            else:
                with nogil:
                    if kind == 1:
                        cr_sgd_step_f32(<float *>bp.buf, NULL, <const float *>bg.buf, n, lr,
                                        0.0, dampening, weight_decay, nesterov, first)
                    else:
                        cr_sgd_step_f64(<double *>bp.buf, NULL, <const double *>bg.buf, n, lr,
                                        0.0, dampening, weight_decay, nesterov, first)
        finally:
            PyBuffer_Release(&bg)
    finally:
        PyBuffer_Release(&bp)


def adam_step(param, exp_avg, exp_avg_sq, grad, double lr, double beta1, double beta2,
              double eps, double weight_decay, bint decoupled, int64_t step):
    """In place: one Adam (decoupled=False) or AdamW (decoupled=True) step, step >= 1.

    param, exp_avg, exp_avg_sq, grad: C-contiguous arrays of one float dtype and equal
    size (any shape).
    """
    cdef Py_buffer bp, bm, bv, bg
    cdef int kind
    cdef int64_t n
    if step < 1:
        raise ValueError(f"adam_step: step must be >= 1, got {step}")
    _get(b"adam_step", "param", param, &bp, True)
    try:
        _get(b"adam_step", "exp_avg", exp_avg, &bm, True)
        try:
            _get(b"adam_step", "exp_avg_sq", exp_avg_sq, &bv, True)
            try:
                _get(b"adam_step", "grad", grad, &bg, False)
                try:
                    kind = _buf_kind(b"adam_step", "param", &bp)
                    if (_buf_kind(b"adam_step", "exp_avg", &bm) != kind
                            or _buf_kind(b"adam_step", "exp_avg_sq", &bv) != kind
                            or _buf_kind(b"adam_step", "grad", &bg) != kind):
                        raise TypeError("adam_step: 'param', 'exp_avg', 'exp_avg_sq' and "
                                        "'grad' must share one float dtype")
                    n = bp.len // bp.itemsize
                    if bm.len != bp.len or bv.len != bp.len or bg.len != bp.len:
                        raise ValueError(
                            f"adam_step: element counts differ: param {n}, exp_avg "
                            f"{bm.len // bm.itemsize}, exp_avg_sq {bv.len // bv.itemsize}, "
                            f"grad {bg.len // bg.itemsize}")
                    _no_overlap(b"adam_step", "param", &bp, "exp_avg", &bm)
                    _no_overlap(b"adam_step", "param", &bp, "exp_avg_sq", &bv)
                    _no_overlap(b"adam_step", "param", &bp, "grad", &bg)
                    _no_overlap(b"adam_step", "exp_avg", &bm, "exp_avg_sq", &bv)
                    _no_overlap(b"adam_step", "exp_avg", &bm, "grad", &bg)
                    _no_overlap(b"adam_step", "exp_avg_sq", &bv, "grad", &bg)
                    with nogil:
                        if kind == 1:
                            cr_adam_step_f32(<float *>bp.buf, <float *>bm.buf, <float *>bv.buf,
                                             <const float *>bg.buf, n, lr, beta1, beta2, eps,
                                             weight_decay, decoupled, step)
                        else:
                            cr_adam_step_f64(<double *>bp.buf, <double *>bm.buf,
                                             <double *>bv.buf, <const double *>bg.buf, n, lr,
                                             beta1, beta2, eps, weight_decay, decoupled, step)
                finally:
                    PyBuffer_Release(&bg)
            finally:
                PyBuffer_Release(&bv)
        finally:
            PyBuffer_Release(&bm)
    finally:
        PyBuffer_Release(&bp)
