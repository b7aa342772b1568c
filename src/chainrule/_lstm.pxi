# _lstm.pxi — bindings for csrc/gates.c, LSTM and GRU (included by _kernels.pyx; the C
# declarations are in _kernels.pxd)
#
# chainrule.ops validates every shape and dtype; here the sizes are re-derived from the
# arrays and re-checked so that the C code stays in bounds whatever is passed.

cdef inline void _gt_check(str fn, str name, tuple got, tuple want):
    if got != want:
        raise ValueError(f"{fn}: '{name}' has shape {got}, expected {want}")


cdef inline void _gt_sizes(str fn, int G, x, w_ih, w_hh, int64_t *T, int64_t *N, int64_t *I,
                           int64_t *H):
    """T, N, I from x (T, N, I) and H from w_hh (G*H, H); checks w_ih (G*H, I)."""
    T[0], N[0], I[0] = x.shape[0], x.shape[1], x.shape[2]
    H[0] = w_hh.shape[1]
    _gt_check(fn, "w_hh", (w_hh.shape[0], w_hh.shape[1]), (G * H[0], H[0]))
    _gt_check(fn, "w_ih", (w_ih.shape[0], w_ih.shape[1]), (G * H[0], I[0]))


cdef struct _gt_call:
    int op          # 0: LSTM forward, 1: LSTM backward
    int f64
    void *p[20]
    double *norms
    int64_t T, N, I, H


cdef int _gt_run_one(void *ctx, int64_t i) noexcept nogil:
    """Runs call i of the _gt_call array ctx (one of the C entry points of gates.h)."""
    cdef _gt_call *c = (<_gt_call *>ctx) + i
    cdef void **p = c.p
    if c.T == 0 or c.N == 0 or c.H == 0:
        return 0
    if c.op == 0 and c.f64 == 0:
        return cr_lstm_forward_f32(<float *>p[0], <float *>p[1], <float *>p[2],
                                   <const float *>p[3], <const float *>p[4],
                                   <const float *>p[5], <const float *>p[6],
                                   <const float *>p[7], <const float *>p[8],
                                   <const float *>p[9], c.T, c.N, c.I, c.H)
    if c.op == 0:
        return cr_lstm_forward_f64(<double *>p[0], <double *>p[1], <double *>p[2],
                                   <const double *>p[3], <const double *>p[4],
                                   <const double *>p[5], <const double *>p[6],
                                   <const double *>p[7], <const double *>p[8],
                                   <const double *>p[9], c.T, c.N, c.I, c.H)
    if c.f64 == 0:
        return cr_lstm_backward_f32(<float *>p[0], <float *>p[1], <float *>p[2],
                                    <float *>p[3], <float *>p[4], <float *>p[5],
                                    <float *>p[6], c.norms, <const float *>p[7],
                                    <const float *>p[8], <const float *>p[9],
                                    <const float *>p[10], <const float *>p[11],
                                    <const float *>p[12], <const float *>p[13],
                                    <const float *>p[14], <const float *>p[15],
                                    <const float *>p[16], c.T, c.N, c.I, c.H)
    return cr_lstm_backward_f64(<double *>p[0], <double *>p[1], <double *>p[2],
                                <double *>p[3], <double *>p[4], <double *>p[5],
                                <double *>p[6], c.norms, <const double *>p[7],
                                <const double *>p[8], <const double *>p[9],
                                <const double *>p[10], <const double *>p[11],
                                <const double *>p[12], <const double *>p[13],
                                <const double *>p[14], <const double *>p[15],
                                <const double *>p[16], c.T, c.N, c.I, c.H)


cdef int _lstm_fwd_prep(_gt_call *c, floating[:, :, ::1] hs, floating[:, :, ::1] cs,
                        floating[:, :, ::1] gates, const floating[:, :, ::1] x,
                        const floating[:, ::1] h0, const floating[:, ::1] c0,
                        const floating[:, ::1] w_ih, const floating[:, ::1] w_hh,
                        const floating[::1] b_ih, const floating[::1] b_hh) except -1:
    """Checks one LSTM forward's arrays and fills c with its pointers."""
    cdef int64_t T, N, I, H
    fn = "lstm_forward"
    for name, a in (("hs", hs), ("cs", cs), ("gates", gates), ("x", x), ("h0", h0),
                    ("c0", c0), ("w_ih", w_ih), ("w_hh", w_hh)):
        if a is None:
            raise TypeError(f"{fn}: '{name}' must be an array, not None")
    _gt_sizes(fn, 4, x, w_ih, w_hh, &T, &N, &I, &H)
    for name, a in (("hs", hs), ("cs", cs)):
        _gt_check(fn, name, (a.shape[0], a.shape[1], a.shape[2]), (T, N, H))
    _gt_check(fn, "gates", (gates.shape[0], gates.shape[1], gates.shape[2]), (T, N, 4 * H))
    for name, a in (("h0", h0), ("c0", c0)):
        _gt_check(fn, name, (a.shape[0], a.shape[1]), (N, H))
    for name, a in (("b_ih", b_ih), ("b_hh", b_hh)):
        if a is not None:
            _gt_check(fn, name, (a.shape[0],), (4 * H,))
    c.op, c.f64, c.T, c.N, c.I, c.H, c.norms = 0, floating is double, T, N, I, H, NULL
    if T == 0 or N == 0 or H == 0:
        return 0
    c.p[0], c.p[1], c.p[2] = &hs[0, 0, 0], &cs[0, 0, 0], &gates[0, 0, 0]
    c.p[3] = <void *>&x[0, 0, 0] if I > 0 else NULL
    c.p[4], c.p[5] = <void *>&h0[0, 0], <void *>&c0[0, 0]
    c.p[6] = <void *>&w_ih[0, 0] if I > 0 else NULL
    c.p[7] = <void *>&w_hh[0, 0]
    c.p[8] = <void *>&b_ih[0] if b_ih is not None else NULL
    c.p[9] = <void *>&b_hh[0] if b_hh is not None else NULL
    return 0


cdef int _lstm_bwd_prep(_gt_call *c, floating[:, :, ::1] dx, floating[:, ::1] dh0,
                        floating[:, ::1] dc0, floating[:, ::1] dw_ih,
                        floating[:, ::1] dw_hh, floating[::1] db_ih, floating[::1] db_hh,
                        double[::1] dh_norms, const floating[:, :, ::1] dhs,
                        const floating[:, ::1] dc_n, const floating[:, :, ::1] x,
                        const floating[:, ::1] h0, const floating[:, ::1] c0,
                        const floating[:, ::1] w_ih, const floating[:, ::1] w_hh,
                        const floating[:, :, ::1] hs, const floating[:, :, ::1] cs,
                        const floating[:, :, ::1] gates, bint dx_optional) except -1:
    """Checks one LSTM backward's arrays and fills c with its pointers; the cases without
    a step (T, N or H = 0) are done here (c.T = 0 then). dx None (if dx_optional): no dx."""
    cdef int64_t T, N, I, H
    fn = "lstm_backward"
    for name, a in (("dh0", dh0), ("dc0", dc0), ("dw_ih", dw_ih), ("dw_hh", dw_hh),
                    ("dhs", dhs), ("x", x), ("h0", h0), ("c0", c0), ("w_ih", w_ih),
                    ("w_hh", w_hh), ("hs", hs), ("cs", cs), ("gates", gates)) + (
                    () if dx_optional else (("dx", dx),)):
        if a is None:
            raise TypeError(f"{fn}: '{name}' must be an array, not None")
    _gt_sizes(fn, 4, x, w_ih, w_hh, &T, &N, &I, &H)
    if dx is not None:
        _gt_check(fn, "dx", (dx.shape[0], dx.shape[1], dx.shape[2]), (T, N, I))
    for name, a in (("dhs", dhs), ("hs", hs), ("cs", cs)):
        _gt_check(fn, name, (a.shape[0], a.shape[1], a.shape[2]), (T, N, H))
    _gt_check(fn, "gates", (gates.shape[0], gates.shape[1], gates.shape[2]), (T, N, 4 * H))
    for name, a in (("dh0", dh0), ("dc0", dc0), ("h0", h0), ("c0", c0)):
        _gt_check(fn, name, (a.shape[0], a.shape[1]), (N, H))
    if dc_n is not None:
        _gt_check(fn, "dc_n", (dc_n.shape[0], dc_n.shape[1]), (N, H))
    _gt_check(fn, "dw_ih", (dw_ih.shape[0], dw_ih.shape[1]), (4 * H, I))
    _gt_check(fn, "dw_hh", (dw_hh.shape[0], dw_hh.shape[1]), (4 * H, H))
    for name, a in (("db_ih", db_ih), ("db_hh", db_hh)):
        if a is not None:
            _gt_check(fn, name, (a.shape[0],), (4 * H,))
    if dh_norms is not None:
        _gt_check(fn, "dh_norms", (dh_norms.shape[0],), (T,))
    cdef double *pn = &dh_norms[0] if dh_norms is not None and T > 0 else NULL
    cdef int64_t i, j
    c.op, c.f64, c.T, c.N, c.I, c.H, c.norms = 1, floating is double, T, N, I, H, pn
    if T == 0 or N == 0 or H == 0:
        c.T = 0
        if pn != NULL:
            for t in range(T):
                pn[t] = 0.0
        if T == 0 and dc_n is not None:  # no step: c_n is c0
            for i in range(N):
                for j in range(H):
                    dc0[i, j] += dc_n[i, j]
        return 0
    c.p[0] = <void *>&dx[0, 0, 0] if I > 0 and dx is not None else NULL
    c.p[1], c.p[2] = &dh0[0, 0], &dc0[0, 0]
    c.p[3] = <void *>&dw_ih[0, 0] if I > 0 else NULL
    c.p[4] = &dw_hh[0, 0]
    c.p[5] = <void *>&db_ih[0] if db_ih is not None else NULL
    c.p[6] = <void *>&db_hh[0] if db_hh is not None else NULL
    c.p[7] = <void *>&dhs[0, 0, 0]
    c.p[8] = <void *>&dc_n[0, 0] if dc_n is not None else NULL
    c.p[9] = <void *>&x[0, 0, 0] if I > 0 else NULL
    c.p[10], c.p[11] = <void *>&h0[0, 0], <void *>&c0[0, 0]
    c.p[12] = <void *>&w_ih[0, 0] if I > 0 else NULL
    c.p[13], c.p[14] = <void *>&w_hh[0, 0], <void *>&hs[0, 0, 0]
    c.p[15], c.p[16] = <void *>&cs[0, 0, 0], <void *>&gates[0, 0, 0]
    return 0


cdef int _gt_run(str fn, _gt_call *calls, int64_t n) except -1:
    cdef int rc
    with nogil:
        rc = cr_gt_run_calls(_gt_run_one, calls, n) if n > 1 else _gt_run_one(calls, 0)
    if rc != 0:
        raise MemoryError(f"{fn}: could not allocate a work buffer")
    return 0


def lstm_forward(floating[:, :, ::1] hs not None, floating[:, :, ::1] cs not None,
                 floating[:, :, ::1] gates not None,
                 const floating[:, :, ::1] x not None, const floating[:, ::1] h0 not None,
                 const floating[:, ::1] c0 not None, const floating[:, ::1] w_ih not None,
                 const floating[:, ::1] w_hh not None, const floating[::1] b_ih,
                 const floating[::1] b_hh):
    """hs, cs (T,N,H), gates (T,N,4H) = LSTM over x (T,N,I); b_ih / b_hh may be None."""
    cdef _gt_call c
    _lstm_fwd_prep(&c, hs, cs, gates, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    _gt_run("lstm_forward", &c, 1)


def lstm_backward(floating[:, :, ::1] dx not None, floating[:, ::1] dh0 not None,
                  floating[:, ::1] dc0 not None, floating[:, ::1] dw_ih not None,
                  floating[:, ::1] dw_hh not None, floating[::1] db_ih, floating[::1] db_hh,
                  double[::1] dh_norms, const floating[:, :, ::1] dhs not None,
                  const floating[:, ::1] dc_n, const floating[:, :, ::1] x not None,
                  const floating[:, ::1] h0 not None, const floating[:, ::1] c0 not None,
                  const floating[:, ::1] w_ih not None, const floating[:, ::1] w_hh not None,
                  const floating[:, :, ::1] hs not None, const floating[:, :, ::1] cs not None,
                  const floating[:, :, ::1] gates not None):
    """Full BPTT, accumulating into dx dh0 dc0 dw_ih dw_hh db_ih db_hh (db_* may be None);
    dc_n may be None; dh_norms (T,) float64 or None is written with ||dL/dh_t||."""
    cdef _gt_call c
    _lstm_bwd_prep(&c, dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dh_norms, dhs, dc_n, x, h0,
                   c0, w_ih, w_hh, hs, cs, gates, False)
    _gt_run("lstm_backward", &c, 1)


def lstm_forward_dirs(tuple calls):
    """Several independent lstm_forward calls (tuples of its arguments, e.g. the two
    directions of a bidirectional layer) at once, one thread per call."""
    cdef _gt_call c[2]
    if len(calls) not in (1, 2):
        raise ValueError(f"lstm_forward_dirs: 1 or 2 calls, got {len(calls)}")
    for i, a in enumerate(calls):
        if len(a) != 10:
            raise TypeError(f"lstm_forward_dirs: a call has 10 arguments, got {len(a)}")
        if getattr(a[3], "dtype", None) == _np.float64:
            _lstm_fwd_prep[double](&c[i], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                                   a[8], a[9])
        else:
            _lstm_fwd_prep[float](&c[i], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                                  a[8], a[9])
    _gt_run("lstm_forward", c, len(calls))


def lstm_backward_dirs(tuple calls):
    """Several independent lstm_backward calls (tuples of its arguments; dx may be None:
    no dx) at once, one thread per call."""
    cdef _gt_call c[2]
    if len(calls) not in (1, 2):
        raise ValueError(f"lstm_backward_dirs: 1 or 2 calls, got {len(calls)}")
    for i, a in enumerate(calls):
        if len(a) != 18:
            raise TypeError(f"lstm_backward_dirs: a call has 18 arguments, got {len(a)}")
        if getattr(a[10], "dtype", None) == _np.float64:
            _lstm_bwd_prep[double](&c[i], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                                   a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16],
                                   a[17], True)
        else:
            _lstm_bwd_prep[float](&c[i], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                                  a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16],
                                  a[17], True)
    _gt_run("lstm_backward", c, len(calls))


def gru_forward(floating[:, :, ::1] hs not None, floating[:, :, ::1] gates not None,
                const floating[:, :, ::1] x not None, const floating[:, ::1] h0 not None,
                const floating[:, ::1] w_ih not None, const floating[:, ::1] w_hh not None,
                const floating[::1] b_ih, const floating[::1] b_hh):
    """hs (T,N,H), gates (T,N,4H) = GRU over x (T,N,I); b_ih / b_hh may be None."""
    cdef int64_t T, N, I, H
    fn = "gru_forward"
    _gt_sizes(fn, 3, x, w_ih, w_hh, &T, &N, &I, &H)
    _gt_check(fn, "hs", (hs.shape[0], hs.shape[1], hs.shape[2]), (T, N, H))
    _gt_check(fn, "gates", (gates.shape[0], gates.shape[1], gates.shape[2]), (T, N, 4 * H))
    _gt_check(fn, "h0", (h0.shape[0], h0.shape[1]), (N, H))
    for name, a in (("b_ih", b_ih), ("b_hh", b_hh)):
        if a is not None:
            _gt_check(fn, name, (a.shape[0],), (3 * H,))
    if T == 0 or N == 0 or H == 0:
        return
    cdef const floating *px = &x[0, 0, 0] if I > 0 else NULL
    cdef const floating *pw = &w_ih[0, 0] if I > 0 else NULL
    cdef const floating *pbi = &b_ih[0] if b_ih is not None else NULL
    cdef const floating *pbh = &b_hh[0] if b_hh is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_gru_forward_f32(&hs[0, 0, 0], &gates[0, 0, 0], px, &h0[0, 0], pw,
                                    &w_hh[0, 0], pbi, pbh, T, N, I, H)
        else:
            rc = cr_gru_forward_f64(&hs[0, 0, 0], &gates[0, 0, 0], px, &h0[0, 0], pw,
                                    &w_hh[0, 0], pbi, pbh, T, N, I, H)
    if rc != 0:
        raise MemoryError("gru_forward: could not allocate a work buffer")


def gru_backward(floating[:, :, ::1] dx not None, floating[:, ::1] dh0 not None,
                 floating[:, ::1] dw_ih not None,
                 floating[:, ::1] dw_hh not None, floating[::1] db_ih, floating[::1] db_hh,
                 double[::1] dh_norms, const floating[:, :, ::1] dhs not None,
                 const floating[:, :, ::1] x not None, const floating[:, ::1] h0 not None,
                 const floating[:, ::1] w_ih not None, const floating[:, ::1] w_hh not None,
                 const floating[:, :, ::1] hs not None, const floating[:, :, ::1] gates not None):
    """Full BPTT, accumulating into dx dh0 dw_ih dw_hh db_ih db_hh (db_* may be None);
    dh_norms (T,) float64 or None is written with ||dL/dh_t||."""
    cdef int64_t T, N, I, H
    fn = "gru_backward"
    _gt_sizes(fn, 3, x, w_ih, w_hh, &T, &N, &I, &H)
    _gt_check(fn, "dx", (dx.shape[0], dx.shape[1], dx.shape[2]), (T, N, I))
    for name, a in (("dhs", dhs), ("hs", hs)):
        _gt_check(fn, name, (a.shape[0], a.shape[1], a.shape[2]), (T, N, H))
    _gt_check(fn, "gates", (gates.shape[0], gates.shape[1], gates.shape[2]), (T, N, 4 * H))
    for name, a in (("dh0", dh0), ("h0", h0)):
        _gt_check(fn, name, (a.shape[0], a.shape[1]), (N, H))
    _gt_check(fn, "dw_ih", (dw_ih.shape[0], dw_ih.shape[1]), (3 * H, I))
    _gt_check(fn, "dw_hh", (dw_hh.shape[0], dw_hh.shape[1]), (3 * H, H))
    for name, a in (("db_ih", db_ih), ("db_hh", db_hh)):
        if a is not None:
            _gt_check(fn, name, (a.shape[0],), (3 * H,))
    if dh_norms is not None:
        _gt_check(fn, "dh_norms", (dh_norms.shape[0],), (T,))
    cdef double *pn = &dh_norms[0] if dh_norms is not None and T > 0 else NULL
    if T == 0 or N == 0 or H == 0:
        if pn != NULL:
            for t in range(T):
                pn[t] = 0.0
        return
    cdef floating *pdx = &dx[0, 0, 0] if I > 0 else NULL
    cdef floating *pdwi = &dw_ih[0, 0] if I > 0 else NULL
    cdef const floating *px = &x[0, 0, 0] if I > 0 else NULL
    cdef const floating *pwi = &w_ih[0, 0] if I > 0 else NULL
    cdef floating *pdbi = &db_ih[0] if db_ih is not None else NULL
    cdef floating *pdbh = &db_hh[0] if db_hh is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_gru_backward_f32(pdx, &dh0[0, 0], pdwi, &dw_hh[0, 0], pdbi, pdbh, pn,
                                     &dhs[0, 0, 0], px, &h0[0, 0], pwi, &w_hh[0, 0],
                                     &hs[0, 0, 0], &gates[0, 0, 0], T, N, I, H)
        else:
            rc = cr_gru_backward_f64(pdx, &dh0[0, 0], pdwi, &dw_hh[0, 0], pdbi, pdbh, pn,
                                     &dhs[0, 0, 0], px, &h0[0, 0], pwi, &w_hh[0, 0],
                                     &hs[0, 0, 0], &gates[0, 0, 0], T, N, I, H)
    if rc != 0:
        raise MemoryError("gru_backward: could not allocate a work buffer")
