# _gemm.pxi — bindings for csrc/gemm.c (included by _kernels.pyx)

def gemm_path():
    """The micro-kernel path in use: "avx512", "avx2" or "generic" (= isa())."""
    return isa()


def gemm_set_path(name=None):
    """Force a micro-kernel path (None = the default) for every kernel family, as set_isa.
    For tests and benchmarks.

    Raises ValueError if the name is unknown or this CPU cannot run it."""
    if name is None or name == "" or name == "auto":
        set_isa(None)
        return
    if _isa_level(name) < 0 or _isa_level(name) > cr_isa_detected():
        raise ValueError(f"gemm_set_path: unknown or unsupported path {name!r} on this CPU "
                         f"(best available: {cr_isa_name(cr_isa_detected()).decode()!r})")
    set_isa(name)


def gemm_set_blocks(kc=0, mc=0, nc=0):
    """Override the GEMM cache blocks (0 = the path's default). For tests and tuning."""
    cr_gemm_set_blocks(int(kc), int(mc), int(nc))


def gemm_set_skinny(mode=None):
    """The skinny path (a side of C <= 32, read like a GEMV): None = chosen by size (the
    default), False = never, True = whenever a side is <= 32. For tests and benchmarks."""
    cr_gemm_set_skinny(-1 if mode is None else (1 if mode else 0))


cdef inline int _rowmajor(int64_t s0, int64_t s1, int64_t rows, int64_t cols, int itemsize,
                          int64_t *ld) noexcept:
    """Return 0 with *ld set if a (rows, cols) view with byte strides (s0, s1) is row-major with
    unit inner stride (then element (i, j) is at i*ld + j); else 1."""
    if cols <= 1 or s1 == itemsize:
        if rows <= 1:
            ld[0] = cols if cols > 0 else 1
            return 0
        if s0 > 0 and s0 % itemsize == 0 and s0 // itemsize >= (cols if cols > 0 else 1):
            ld[0] = s0 // itemsize
            return 0
    return 1


cdef inline int _layout(int64_t s0, int64_t s1, int64_t rows, int64_t cols, int itemsize,
                        int64_t *ld) noexcept:
    """0: row-major (ld = row stride), 1: column-major (the view is the transpose of a row-major
    (cols, rows) matrix, ld = column stride), -1: neither (caller must copy)."""
    if rows == 0 or cols == 0:  # an empty view is never read
        ld[0] = cols if cols > 0 else 1
        return 0
    if _rowmajor(s0, s1, rows, cols, itemsize, ld) == 0:
        return 0
    if _rowmajor(s1, s0, cols, rows, itemsize, ld) == 0:
        return 1
    return -1


def gemm(bint trans_a, bint trans_b, const floating[:, :] a, const floating[:, :] b,
         floating[:, :] c, double alpha=1.0, double beta=0.0,
         const floating[::1] bias_n=None, const floating[::1] bias_m=None, int act=0):
    """c = act(alpha * op(a) @ op(b) + beta * c + bias_n + bias_m[:, None]) in place.

    a, b and c may be any 2-D views whose rows or columns are contiguous (slices, transposes,
    Fortran order): they are passed as leading dimensions, never copied. c must be row-major
    (unit column stride) and must not overlap a or b. act: ACT_NONE/TANH/RELU/SIGMOID.
    Raises ValueError for disagreeing shapes or unsupported strides.
    """
    cdef int64_t M = c.shape[0], N = c.shape[1]
    cdef int64_t K = a.shape[0] if trans_a else a.shape[1]
    cdef int64_t am = a.shape[1] if trans_a else a.shape[0]
    cdef int64_t bk = b.shape[1] if trans_b else b.shape[0]
    cdef int64_t bn = b.shape[0] if trans_b else b.shape[1]
    if am != M or bn != N or bk != K:
        raise ValueError(f"gemm: shapes do not agree: a ({a.shape[0]}, {a.shape[1]}), "
                         f"b ({b.shape[0]}, {b.shape[1]}), c ({M}, {N}), "
                         f"trans_a={trans_a}, trans_b={trans_b}")
    if bias_n is not None and bias_n.shape[0] != N:
        raise ValueError(f"gemm: bias_n has length {bias_n.shape[0]}, expected {N}")
    if bias_m is not None and bias_m.shape[0] != M:
        raise ValueError(f"gemm: bias_m has length {bias_m.shape[0]}, expected {M}")
    if act < 0 or act > 3:
        raise ValueError(f"gemm: act must be one of ACT_NONE/TANH/RELU/SIGMOID (0..3), got {act}")
    cdef int isz = sizeof(floating)
    cdef int64_t lda = 1, ldb = 1, ldc = 1
    cdef int la = _layout(a.strides[0], a.strides[1], a.shape[0], a.shape[1], isz, &lda)
    cdef int lb = _layout(b.strides[0], b.strides[1], b.shape[0], b.shape[1], isz, &ldb)
    if la < 0 or lb < 0:
        bad = (a.strides[0], a.strides[1]) if la < 0 else (b.strides[0], b.strides[1])
        raise ValueError(f"gemm: {'a' if la < 0 else 'b'} has byte strides {bad} with no "
                         f"contiguous dimension; pass a copy (np.ascontiguousarray)")
    if _rowmajor(c.strides[0], c.strides[1], M, N, isz, &ldc) != 0:
        raise ValueError(f"gemm: c must be row-major with unit column stride, got strides "
                         f"({c.strides[0]}, {c.strides[1]}) for shape ({M}, {N})")
    if M == 0 or N == 0:
        return
    cdef bint ta = (not trans_a) if la == 1 else trans_a
    cdef bint tb = (not trans_b) if lb == 1 else trans_b
    cdef const floating *pa = &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL
    cdef const floating *pb = &b[0, 0] if b.shape[0] * b.shape[1] > 0 else NULL
    cdef const floating *pbn = &bias_n[0] if bias_n is not None and N > 0 else NULL
    cdef const floating *pbm = &bias_m[0] if bias_m is not None and M > 0 else NULL
    with nogil:
        if floating is float:
            cr_gemm_f32(ta, tb, M, N, K, <float>alpha, pa, lda, pb, ldb,
                        <float>beta, &c[0, 0], ldc, pbn, pbm, act)
        else:
            cr_gemm_f64(ta, tb, M, N, K, alpha, pa, lda, pb, ldb,
                        beta, &c[0, 0], ldc, pbn, pbm, act)


_np_empty = _np.empty
_ndarray = _np.ndarray
_F32 = _np.dtype(_np.float32)
_F64 = _np.dtype(_np.float64)


def matmul_fast(a, b, bint trans_a=False, bint trans_b=False):
    """op(a) @ op(b) for the common case, with as little overhead as possible: two 2-D
    ndarrays of one native float dtype whose shapes agree and whose rows or columns are
    contiguous. Returns None for anything else (the caller then takes the checked path,
    which copies or raises the proper error). Raw buffers instead of typed memoryviews:
    at 32x32x32 the binding is a third of the run time."""
    if type(a) is not _ndarray or type(b) is not _ndarray:
        return None
    dt = a.dtype
    if b.dtype is not dt or (dt is not _F32 and dt is not _F64):
        return None
    cdef Py_buffer va, vb, vc
    if PyObject_GetBuffer(a, &va, PyBUF_STRIDES) != 0:
        return None
    try:
        if PyObject_GetBuffer(b, &vb, PyBUF_STRIDES) != 0:
            return None
        try:
            return _matmul_buffers(&va, &vb, dt, trans_a, trans_b)
        finally:
            PyBuffer_Release(&vb)
    finally:
        PyBuffer_Release(&va)


cdef object _matmul_buffers(Py_buffer *va, Py_buffer *vb, dt, bint trans_a, bint trans_b):
    if va.ndim != 2 or vb.ndim != 2:
        return None
    cdef int isz = <int>va.itemsize
    cdef int64_t M = va.shape[1] if trans_a else va.shape[0]
    cdef int64_t K = va.shape[0] if trans_a else va.shape[1]
    cdef int64_t N = vb.shape[0] if trans_b else vb.shape[1]
    cdef int64_t Kb = vb.shape[1] if trans_b else vb.shape[0]
    if K != Kb or M == 0 or N == 0 or K == 0:
        return None
    cdef int64_t lda = 1, ldb = 1
    cdef int la = _layout(va.strides[0], va.strides[1], va.shape[0], va.shape[1], isz, &lda)
    cdef int lb = _layout(vb.strides[0], vb.strides[1], vb.shape[0], vb.shape[1], isz, &ldb)
    if la < 0 or lb < 0:
        return None
    cdef bint ta = (not trans_a) if la == 1 else trans_a
    cdef bint tb = (not trans_b) if lb == 1 else trans_b
    c = _np_empty((M, N), dt)
    cdef Py_buffer vc
    if PyObject_GetBuffer(c, &vc, PyBUF_STRIDES | PyBUF_WRITABLE) != 0:
        return None
    try:
        with nogil:
            if isz == 4:
                cr_gemm_f32(ta, tb, M, N, K, 1.0, <const float *>va.buf, lda,
                            <const float *>vb.buf, ldb, 0.0, <float *>vc.buf, N, NULL, NULL, 0)
            else:
                cr_gemm_f64(ta, tb, M, N, K, 1.0, <const double *>va.buf, lda,
                            <const double *>vb.buf, ldb, 0.0, <double *>vc.buf, N, NULL, NULL, 0)
    finally:
        PyBuffer_Release(&vc)
    return c
