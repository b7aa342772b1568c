# _rnn.pxi — bindings for csrc/rnn.c (included by _kernels.pyx)
#
# chainrule.ops validates every shape and dtype; here the sizes are re-derived from the
# arrays and re-checked so that the C code stays in bounds whatever is passed.

def rnn_path():
    """The RNN step-kernel path in use: "avx512", "avx2" or "generic" (= isa())."""
    return isa()


def rnn_set_path(str name):
    """Force the step-kernel path ("avx512", "avx2", "generic" or "auto") for every kernel
    family, as set_isa; for tests."""
    if name == "" or name == "auto":
        set_isa(None)
        return
    if _isa_level(name) < 0 or _isa_level(name) > cr_isa_detected():
        raise ValueError(f"rnn_set_path: unknown path {name!r} or not supported by this CPU")
    set_isa(name)


cdef inline void _rnn_check(str fn, tuple got, tuple want, str name):
    if got != want:
        raise ValueError(f"{fn}: '{name}' has shape {got}, expected {want}")


def rnn_forward(floating[:, :, ::1] hs, const floating[:, :, ::1] x,
                const floating[:, ::1] h0, const floating[:, ::1] w_ih,
                const floating[:, ::1] w_hh, const floating[::1] b_ih,
                const floating[::1] b_hh, int act):
    """hs (T,N,H) = RNN over x (T,N,I) from h0 (N,H); b_ih / b_hh may be None."""
    cdef int64_t T = x.shape[0], N = x.shape[1], I = x.shape[2], H = w_hh.shape[0]
    _rnn_check("rnn_forward", (hs.shape[0], hs.shape[1], hs.shape[2]), (T, N, H), "hs")
    _rnn_check("rnn_forward", (h0.shape[0], h0.shape[1]), (N, H), "h0")
    _rnn_check("rnn_forward", (w_ih.shape[0], w_ih.shape[1]), (H, I), "w_ih")
    _rnn_check("rnn_forward", (w_hh.shape[0], w_hh.shape[1]), (H, H), "w_hh")
    if b_ih is not None:
        _rnn_check("rnn_forward", (b_ih.shape[0],), (H,), "b_ih")
    if b_hh is not None:
        _rnn_check("rnn_forward", (b_hh.shape[0],), (H,), "b_hh")
    if act not in (CR_ACT_TANH, CR_ACT_RELU, CR_ACT_SIGMOID):
        raise ValueError(f"rnn_forward: bad activation code {act}")
    if T == 0 or N == 0 or H == 0:
        return
    cdef const floating *px = &x[0, 0, 0] if I > 0 else NULL
    cdef const floating *pw = &w_ih[0, 0] if I > 0 else NULL
    cdef const floating *pbi = &b_ih[0] if b_ih is not None else NULL
    cdef const floating *pbh = &b_hh[0] if b_hh is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_rnn_forward_f32(&hs[0, 0, 0], px, &h0[0, 0], pw, &w_hh[0, 0], pbi, pbh,
                                    act, T, N, I, H)
        else:
            rc = cr_rnn_forward_f64(&hs[0, 0, 0], px, &h0[0, 0], pw, &w_hh[0, 0], pbi, pbh,
                                    act, T, N, I, H)
    if rc != 0:
        raise MemoryError("rnn_forward: could not allocate a work buffer")


def rnn_backward(floating[:, :, ::1] dx, floating[:, ::1] dh0, floating[:, ::1] dw_ih,
                 floating[:, ::1] dw_hh, floating[::1] db_ih, floating[::1] db_hh,
                 double[::1] dh_norms, const floating[:, :, ::1] dhs,
                 const floating[:, :, ::1] x, const floating[:, ::1] h0,
                 const floating[:, :, ::1] hs, const floating[:, ::1] w_ih,
                 const floating[:, ::1] w_hh, int act):
    """Full BPTT, accumulating into dx dh0 dw_ih dw_hh db_ih db_hh (db_* may be None);
    dh_norms (T,) float64 or None is written with ||dL/dh_t||."""
    cdef int64_t T = x.shape[0], N = x.shape[1], I = x.shape[2], H = w_hh.shape[0]
    fn = "rnn_backward"
    _rnn_check(fn, (dx.shape[0], dx.shape[1], dx.shape[2]), (T, N, I), "dx")
    _rnn_check(fn, (dh0.shape[0], dh0.shape[1]), (N, H), "dh0")
    _rnn_check(fn, (dw_ih.shape[0], dw_ih.shape[1]), (H, I), "dw_ih")
    _rnn_check(fn, (dw_hh.shape[0], dw_hh.shape[1]), (H, H), "dw_hh")
    _rnn_check(fn, (dhs.shape[0], dhs.shape[1], dhs.shape[2]), (T, N, H), "dhs")
    _rnn_check(fn, (hs.shape[0], hs.shape[1], hs.shape[2]), (T, N, H), "hs")
    _rnn_check(fn, (h0.shape[0], h0.shape[1]), (N, H), "h0")
    _rnn_check(fn, (w_ih.shape[0], w_ih.shape[1]), (H, I), "w_ih")
    _rnn_check(fn, (w_hh.shape[0], w_hh.shape[1]), (H, H), "w_hh")
    if db_ih is not None:
        _rnn_check(fn, (db_ih.shape[0],), (H,), "db_ih")
    if db_hh is not None:
        _rnn_check(fn, (db_hh.shape[0],), (H,), "db_hh")
    if dh_norms is not None:
        _rnn_check(fn, (dh_norms.shape[0],), (T,), "dh_norms")
    if act not in (CR_ACT_TANH, CR_ACT_RELU, CR_ACT_SIGMOID):
        raise ValueError(f"rnn_backward: bad activation code {act}")
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
            rc = cr_rnn_backward_f32(pdx, &dh0[0, 0], pdwi, &dw_hh[0, 0], pdbi, pdbh, pn,
                                     &dhs[0, 0, 0], px, &h0[0, 0], &hs[0, 0, 0], pwi,
                                     &w_hh[0, 0], act, T, N, I, H)
        else:
            rc = cr_rnn_backward_f64(pdx, &dh0[0, 0], pdwi, &dw_hh[0, 0], pdbi, pdbh, pn,
                                     &dhs[0, 0, 0], px, &h0[0, 0], &hs[0, 0, 0], pwi,
                                     &w_hh[0, 0], act, T, N, I, H)
    if rc != 0:
        raise MemoryError("rnn_backward: could not allocate a work buffer")
