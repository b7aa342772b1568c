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


def lstm_forward(floating[:, :, ::1] hs not None, floating[:, :, ::1] cs not None,
                 floating[:, :, ::1] gates not None,
                 const floating[:, :, ::1] x not None, const floating[:, ::1] h0 not None,
                 const floating[:, ::1] c0 not None, const floating[:, ::1] w_ih not None,
                 const floating[:, ::1] w_hh not None, const floating[::1] b_ih,
                 const floating[::1] b_hh):
    """hs, cs (T,N,H), gates (T,N,4H) = LSTM over x (T,N,I); b_ih / b_hh may be None."""
    cdef int64_t T, N, I, H
    fn = "lstm_forward"
    _gt_sizes(fn, 4, x, w_ih, w_hh, &T, &N, &I, &H)
    for name, a in (("hs", hs), ("cs", cs)):
        _gt_check(fn, name, (a.shape[0], a.shape[1], a.shape[2]), (T, N, H))
    _gt_check(fn, "gates", (gates.shape[0], gates.shape[1], gates.shape[2]), (T, N, 4 * H))
    for name, a in (("h0", h0), ("c0", c0)):
        _gt_check(fn, name, (a.shape[0], a.shape[1]), (N, H))
    for name, a in (("b_ih", b_ih), ("b_hh", b_hh)):
        if a is not None:
            _gt_check(fn, name, (a.shape[0],), (4 * H,))
    if T == 0 or N == 0 or H == 0:
        return
    cdef const floating *px = &x[0, 0, 0] if I > 0 else NULL
    cdef const floating *pw = &w_ih[0, 0] if I > 0 else NULL
    cdef const floating *pbi = &b_ih[0] if b_ih is not None else NULL
    cdef const floating *pbh = &b_hh[0] if b_hh is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_lstm_forward_f32(&hs[0, 0, 0], &cs[0, 0, 0], &gates[0, 0, 0], px,
                                     &h0[0, 0], &c0[0, 0], pw, &w_hh[0, 0], pbi, pbh,
                                     T, N, I, H)
        else:
            rc = cr_lstm_forward_f64(&hs[0, 0, 0], &cs[0, 0, 0], &gates[0, 0, 0], px,
                                     &h0[0, 0], &c0[0, 0], pw, &w_hh[0, 0], pbi, pbh,
                                     T, N, I, H)
    if rc != 0:
        raise MemoryError("lstm_forward: could not allocate a work buffer")


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
    cdef int64_t T, N, I, H
    fn = "lstm_backward"
    _gt_sizes(fn, 4, x, w_ih, w_hh, &T, &N, &I, &H)
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
    if T == 0 or N == 0 or H == 0:
        if pn != NULL:
            for t in range(T):
                pn[t] = 0.0
        if T == 0 and dc_n is not None:  # no step: c_n is c0
            for i in range(N):
                for j in range(H):
                    dc0[i, j] += dc_n[i, j]
        return
    cdef floating *pdx = &dx[0, 0, 0] if I > 0 else NULL
    cdef floating *pdwi = &dw_ih[0, 0] if I > 0 else NULL
    cdef const floating *px = &x[0, 0, 0] if I > 0 else NULL
    cdef const floating *pwi = &w_ih[0, 0] if I > 0 else NULL
    cdef floating *pdbi = &db_ih[0] if db_ih is not None else NULL
    cdef floating *pdbh = &db_hh[0] if db_hh is not None else NULL
    cdef const floating *pdcn = &dc_n[0, 0] if dc_n is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_lstm_backward_f32(pdx, &dh0[0, 0], &dc0[0, 0], pdwi, &dw_hh[0, 0], pdbi,
                                      pdbh, pn, &dhs[0, 0, 0], pdcn, px, &h0[0, 0], &c0[0, 0],
                                      pwi, &w_hh[0, 0], &hs[0, 0, 0], &cs[0, 0, 0],
                                      &gates[0, 0, 0], T, N, I, H)
        else:
            rc = cr_lstm_backward_f64(pdx, &dh0[0, 0], &dc0[0, 0], pdwi, &dw_hh[0, 0], pdbi,
                                      pdbh, pn, &dhs[0, 0, 0], pdcn, px, &h0[0, 0], &c0[0, 0],
                                      pwi, &w_hh[0, 0], &hs[0, 0, 0], &cs[0, 0, 0],
                                      &gates[0, 0, 0], T, N, I, H)
    if rc != 0:
        raise MemoryError("lstm_backward: could not allocate a work buffer")


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
