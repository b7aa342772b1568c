# _act.pxi — bindings for csrc/act.c and heap.c (included by _kernels.pyx; the buffer
# helpers _get/_buf_kind/_same_or_disjoint live there).
#
# Called once per activation per step by the autograd layer, so like the optimizer these
# take arrays of any rank through the buffer protocol (C-contiguous, float32/float64) and
# re-check dtype, contiguity, writability and sizes so the C loops stay in bounds.

# activations with at least this many elements run on cr_get_num_threads() threads
ACT_PARALLEL_MIN = CR_ACT_PARALLEL_MIN


def relu_forward(out, inp):
    """out = max(inp, 0) elementwise; out and inp: C-contiguous arrays of one float dtype
    and equal size (any shape); out may be inp (in place)."""
    cdef Py_buffer bo, bi
    cdef int kind
    cdef int64_t n
    _get(b"relu_forward", "out", out, &bo, True)
    try:
        _get(b"relu_forward", "inp", inp, &bi, False)
        try:
            kind = _buf_kind(b"relu_forward", "out", &bo)
            if _buf_kind(b"relu_forward", "inp", &bi) != kind:
                raise TypeError("relu_forward: 'out' and 'inp' have different float dtypes")
            if bi.len != bo.len:
                raise ValueError(f"relu_forward: 'inp' has {bi.len // bi.itemsize} elements, "
                                 f"'out' has {bo.len // bo.itemsize}")
            _same_or_disjoint(b"relu_forward", "out", &bo, "inp", &bi)
            n = bo.len // bo.itemsize
            with nogil:
                if kind == 1:
                    cr_relu_forward_f32(<float *>bo.buf, <const float *>bi.buf, n)
                else:
                    cr_relu_forward_f64(<double *>bo.buf, <const double *>bi.buf, n)
        finally:
            PyBuffer_Release(&bi)
    finally:
        PyBuffer_Release(&bo)


def relu_backward(dinp, dout, out):
    """dinp = dout * (out > 0) elementwise (WRITES dinp); out is the forward's output.
    All three: C-contiguous arrays of one float dtype and equal size (any shape); dinp
    may be dout (in place)."""
    _act_backward(b"relu_backward", 0, dinp, dout, out)


def sigmoid_backward(dinp, dout, out):
    """dinp = dout * out * (1 - out) (WRITES dinp); out = sigmoid(x). Arrays as for
    relu_backward."""
    _act_backward(b"sigmoid_backward", 1, dinp, dout, out)


def tanh_backward(dinp, dout, out):
    """dinp = dout * (1 - out * out) (WRITES dinp); out = tanh(x). Arrays as for
    relu_backward."""
    _act_backward(b"tanh_backward", 2, dinp, dout, out)


cdef _act_backward(const char *fn, int which, dinp, dout, out):
    cdef Py_buffer bd, bg, bo
    cdef int kind
    cdef int64_t n
    _get(fn, "dinp", dinp, &bd, True)
    try:
        _get(fn, "dout", dout, &bg, False)
        try:
            _get(fn, "out", out, &bo, False)
            try:
                kind = _buf_kind(fn, "dinp", &bd)
                if _buf_kind(fn, "dout", &bg) != kind or _buf_kind(fn, "out", &bo) != kind:
                    raise TypeError(f"{fn.decode()}: 'dinp', 'dout' and 'out' must share one "
                                    f"float dtype")
                if bg.len != bd.len or bo.len != bd.len:
                    raise ValueError(f"{fn.decode()}: element counts differ: dinp "
                                     f"{bd.len // bd.itemsize}, dout {bg.len // bg.itemsize}, "
                                     f"out {bo.len // bo.itemsize}")
                _same_or_disjoint(fn, "dinp", &bd, "dout", &bg)
                _same_or_disjoint(fn, "dinp", &bd, "out", &bo)
                n = bd.len // bd.itemsize
                with nogil:
                    if kind == 1:
                        if which == 0:
                            cr_relu_backward_f32(<float *>bd.buf, <const float *>bg.buf,
                                                 <const float *>bo.buf, n)
                        elif which == 1:
                            cr_sigmoid_backward_f32(<float *>bd.buf, <const float *>bg.buf,
                                                    <const float *>bo.buf, n)
                        else:
                            cr_tanh_backward_f32(<float *>bd.buf, <const float *>bg.buf,
                                                 <const float *>bo.buf, n)
                    else:
                        if which == 0:
                            cr_relu_backward_f64(<double *>bd.buf, <const double *>bg.buf,
                                                 <const double *>bo.buf, n)
                        elif which == 1:
                            cr_sigmoid_backward_f64(<double *>bd.buf, <const double *>bg.buf,
                                                    <const double *>bo.buf, n)
                        else:
                            cr_tanh_backward_f64(<double *>bd.buf, <const double *>bg.buf,
                                                 <const double *>bo.buf, n)
            finally:
                PyBuffer_Release(&bo)
        finally:
            PyBuffer_Release(&bg)
    finally:
        PyBuffer_Release(&bd)


def heap_keep_freed(int64_t trim_threshold, int64_t mmap_threshold):
    """glibc: keep up to trim_threshold bytes of freed heap mapped and serve blocks below
    mmap_threshold from the heap (mallopt); True on success, False elsewhere."""
    return bool(cr_heap_keep_freed(trim_threshold, mmap_threshold))


def softmax_xent_forward(floating[:, ::1] prob, floating[::1] loss,
                         const floating[:, ::1] logits, const int64_t[::1] target):
    """prob (N, C) = softmax(logits) by rows, loss (N,) = -log prob[n, target[n]].
    Returns the number of targets outside [0, C) (their loss is NaN)."""
    cdef int64_t N = logits.shape[0], C = logits.shape[1], bad
    if (prob.shape[0] != N or prob.shape[1] != C or loss.shape[0] != N
            or target.shape[0] != N):
        raise ValueError(f"softmax_xent_forward: shapes do not agree: prob ({prob.shape[0]}, "
                         f"{prob.shape[1]}), loss ({loss.shape[0]},), logits ({N}, {C}), "
                         f"target ({target.shape[0]},)")
    if N == 0:
        return 0
    if C == 0:
        raise ValueError("softmax_xent_forward: logits need at least one class")
    with nogil:
        if floating is float:
            bad = cr_softmax_xent_forward_f32(&prob[0, 0], &loss[0], &logits[0, 0], &target[0],
                                              N, C)
        else:
            bad = cr_softmax_xent_forward_f64(&prob[0, 0], &loss[0], &logits[0, 0], &target[0],
                                              N, C)
    return bad


def softmax_xent_backward(floating[:, ::1] dlogits, const floating[:, ::1] prob,
                          const int64_t[::1] target, const floating[::1] scale):
    """dlogits (N, C) = scale * (prob - onehot(target)) (WRITES; may be prob itself).
    scale has 1 element (one factor) or N (one per sample). Returns the number of targets
    outside [0, C) (their rows get no -1)."""
    cdef int64_t N = prob.shape[0], C = prob.shape[1]
    cdef int64_t ss = 1 if scale.shape[0] == N and N != 1 else 0
    if dlogits.shape[0] != N or dlogits.shape[1] != C or target.shape[0] != N:
        raise ValueError(f"softmax_xent_backward: shapes do not agree: dlogits "
                         f"({dlogits.shape[0]}, {dlogits.shape[1]}), prob ({N}, {C}), "
                         f"target ({target.shape[0]},)")
    if scale.shape[0] != 1 and scale.shape[0] != N:
        raise ValueError(f"softmax_xent_backward: scale must have 1 or {N} elements, got "
                         f"{scale.shape[0]}")
    if N == 0 or C == 0:
        return 0
    cdef int64_t bad
    cdef char *pd = <char *>&dlogits[0, 0]
    cdef const char *pp = <const char *>&prob[0, 0]
    cdef int64_t nbytes = N * C * sizeof(floating)
    if pd != pp and pd < pp + nbytes and pp < pd + nbytes:
        raise ValueError("softmax_xent_backward: 'dlogits' and 'prob' partly overlap")
    with nogil:
        if floating is float:
            bad = cr_softmax_xent_backward_f32(&dlogits[0, 0], &prob[0, 0], &target[0], &scale[0],
                                               ss, N, C)
        else:
            bad = cr_softmax_xent_backward_f64(&dlogits[0, 0], &prob[0, 0], &target[0], &scale[0],
                                               ss, N, C)
    return bad
