# _actfn.pxi — bindings for csrc/actfn.c (included by _kernels.pyx; the buffer helpers
# _get/_buf_kind/_same_or_disjoint live there). Arrays of any rank through the buffer
# protocol (C-contiguous, float32/float64), re-checked so the C loops stay in bounds.

# kind codes of actfn.h, by ops name
ACTFN_KINDS = {"leaky_relu": 0, "elu": 1, "gelu": 2, "silu": 3, "softplus": 4, "hardtanh": 5}


def actfn_forward(int kind, out, inp, double p0=0.0, double p1=0.0):
    """out = f_kind(inp; p0, p1) elementwise (see actfn.h); out may be inp (in place)."""
    cdef Py_buffer bo, bi
    cdef int dt, rc = 0
    cdef int64_t n
    _get(b"actfn_forward", "out", out, &bo, True)
    try:
        _get(b"actfn_forward", "inp", inp, &bi, False)
        try:
            dt = _buf_kind(b"actfn_forward", "out", &bo)
            if _buf_kind(b"actfn_forward", "inp", &bi) != dt:
                raise TypeError("actfn_forward: 'out' and 'inp' have different float dtypes")
            if bi.len != bo.len:
                raise ValueError(f"actfn_forward: 'inp' has {bi.len // bi.itemsize} elements, "
                                 f"'out' has {bo.len // bo.itemsize}")
            _same_or_disjoint(b"actfn_forward", "out", &bo, "inp", &bi)
            n = bo.len // bo.itemsize
            with nogil:
                if dt == 1:
                    rc = cr_actfn_forward_f32(kind, <float *>bo.buf, <const float *>bi.buf, n,
                                              p0, p1)
                else:
                    rc = cr_actfn_forward_f64(kind, <double *>bo.buf, <const double *>bi.buf,
                                              n, p0, p1)
        finally:
            PyBuffer_Release(&bi)
    finally:
        PyBuffer_Release(&bo)
    if rc:
        raise ValueError(f"actfn_forward: unknown kind {kind}")


def actfn_backward(int kind, dinp, dout, inp, double p0=0.0, double p1=0.0):
    """dinp = dout * f_kind'(inp; p0, p1) (WRITES dinp; dinp may be dout)."""
    cdef Py_buffer bd, bg, bi
    cdef int dt, rc = 0
    cdef int64_t n
    _get(b"actfn_backward", "dinp", dinp, &bd, True)
    try:
        _get(b"actfn_backward", "dout", dout, &bg, False)
        try:
            _get(b"actfn_backward", "inp", inp, &bi, False)
            try:
                dt = _buf_kind(b"actfn_backward", "dinp", &bd)
                if _buf_kind(b"actfn_backward", "dout", &bg) != dt or \
                        _buf_kind(b"actfn_backward", "inp", &bi) != dt:
                    raise TypeError("actfn_backward: 'dinp', 'dout' and 'inp' must share one "
                                    "float dtype")
                if bg.len != bd.len or bi.len != bd.len:
                    raise ValueError(f"actfn_backward: element counts differ: dinp "
                                     f"{bd.len // bd.itemsize}, dout {bg.len // bg.itemsize}, "
                                     f"inp {bi.len // bi.itemsize}")
                _same_or_disjoint(b"actfn_backward", "dinp", &bd, "dout", &bg)
                _same_or_disjoint(b"actfn_backward", "dinp", &bd, "inp", &bi)
                n = bd.len // bd.itemsize
                with nogil:
                    if dt == 1:
                        rc = cr_actfn_backward_f32(kind, <float *>bd.buf, <const float *>bg.buf,
                                                   <const float *>bi.buf, n, p0, p1)
                    else:
                        rc = cr_actfn_backward_f64(kind, <double *>bd.buf,
                                                   <const double *>bg.buf,
                                                   <const double *>bi.buf, n, p0, p1)
            finally:
                PyBuffer_Release(&bi)
        finally:
            PyBuffer_Release(&bg)
    finally:
        PyBuffer_Release(&bd)
    if rc:
        raise ValueError(f"actfn_backward: unknown kind {kind}")


def softmax_rows(floating[:, ::1] out, const floating[:, ::1] inp, bint log):
    """out = softmax (log=False) or log_softmax (log=True) of each row of inp (N, C)."""
    cdef int64_t N = inp.shape[0], C = inp.shape[1]
    if out.shape[0] != N or out.shape[1] != C:
        raise ValueError(f"softmax_rows: out ({out.shape[0]}, {out.shape[1]}) and inp "
                         f"({N}, {C}) differ")
    if N == 0 or C == 0:
        return
    with nogil:
        if floating is float:
            cr_softmax_rows_f32(&out[0, 0], &inp[0, 0], N, C, log)
        else:
            cr_softmax_rows_f64(&out[0, 0], &inp[0, 0], N, C, log)


def softmax_rows_backward(floating[:, ::1] dinp, const floating[:, ::1] dout,
                          const floating[:, ::1] out, bint log):
    """dinp (WRITTEN) from dout and the forward output out, rows of C (see actfn.h)."""
    cdef int64_t N = out.shape[0], C = out.shape[1]
    if (dinp.shape[0] != N or dinp.shape[1] != C or dout.shape[0] != N
            or dout.shape[1] != C):
        raise ValueError(f"softmax_rows_backward: dinp, dout and out must all be ({N}, {C})")
    if N == 0 or C == 0:
        return
    with nogil:
        if floating is float:
            cr_softmax_rows_backward_f32(&dinp[0, 0], &dout[0, 0], &out[0, 0], N, C, log)
        else:
            cr_softmax_rows_backward_f64(&dinp[0, 0], &dout[0, 0], &out[0, 0], N, C, log)
