# _linear.pxi — bindings for csrc/linear.c (included by _kernels.pyx)

def linear_forward(floating[:, ::1] out, const floating[:, ::1] x, const floating[:, ::1] w,
                   const floating[::1] b=None):
    """out (N, OC) = x (N, C) @ w (OC, C)^T + b (OC,), written into out."""
    cdef int64_t N = x.shape[0], C = x.shape[1], OC = w.shape[0]
    if w.shape[1] != C or out.shape[0] != N or out.shape[1] != OC:
        raise ValueError(f"linear_forward: shapes do not agree: out ({out.shape[0]}, "
                         f"{out.shape[1]}), x ({N}, {C}), w ({OC}, {w.shape[1]})")
    if b is not None and b.shape[0] != OC:
        raise ValueError(f"linear_forward: b has length {b.shape[0]}, expected {OC}")
    if N == 0 or OC == 0:
        return
    cdef const floating *px = &x[0, 0] if C > 0 else NULL
    cdef const floating *pw = &w[0, 0] if C > 0 else NULL
    cdef const floating *pb = &b[0] if b is not None else NULL
    with nogil:
        if floating is float:
            cr_linear_forward_f32(&out[0, 0], px, pw, pb, N, C, OC)
        else:
            cr_linear_forward_f64(&out[0, 0], px, pw, pb, N, C, OC)


def linear_backward(dx, dw, db, dy, x, w, bint accumulate=True):
    """dx += dy @ w, dw += dy^T @ x, db += dy.sum(0); dx, dw, db may be None (skipped).
    accumulate=False overwrites dx, dw, db instead (their old contents are ignored).

    dy (N, OC), x (N, C), w (OC, C); dx like x, dw like w, db (OC,), all C-contiguous and of
    dy's dtype."""
    # chosen by dy's dtype: Cython's fused dispatch would guess from the first argument,
    # which may be None
    cdef str ch = getattr(getattr(dy, "dtype", None), "char", "")
    if ch == "f":
        _linear_backward[float](dx, dw, db, dy, x, w, accumulate)
    elif ch == "d":
        _linear_backward[double](dx, dw, db, dy, x, w, accumulate)
    else:
        raise TypeError(f"linear_backward: dy must be a float32 or float64 array, got "
                        f"{type(dy).__name__} {getattr(dy, 'dtype', '')}")


cdef _linear_backward(floating[:, ::1] dx, floating[:, ::1] dw, floating[::1] db,
                      const floating[:, ::1] dy, const floating[:, ::1] x,
                      const floating[:, ::1] w, bint accumulate):
    cdef int64_t N = dy.shape[0], OC = dy.shape[1], C = x.shape[1]
    if x.shape[0] != N or w.shape[0] != OC or w.shape[1] != C:
        raise ValueError(f"linear_backward: shapes do not agree: dy ({N}, {OC}), "
                         f"x ({x.shape[0]}, {C}), w ({w.shape[0]}, {w.shape[1]})")
    if dx is not None and (dx.shape[0] != N or dx.shape[1] != C):
        raise ValueError(f"linear_backward: dx has shape ({dx.shape[0]}, {dx.shape[1]}), "
                         f"expected ({N}, {C})")
    if dw is not None and (dw.shape[0] != OC or dw.shape[1] != C):
        raise ValueError(f"linear_backward: dw has shape ({dw.shape[0]}, {dw.shape[1]}), "
                         f"expected ({OC}, {C})")
    if db is not None and db.shape[0] != OC:
        raise ValueError(f"linear_backward: db has length {db.shape[0]}, expected {OC}")
    # size-0 buffers are never dereferenced by C, pass NULL rather than &a[0]
    cdef floating *pdx = &dx[0, 0] if dx is not None and N * C > 0 else NULL
    cdef floating *pdw = &dw[0, 0] if dw is not None and OC * C > 0 else NULL
    cdef floating *pdb = &db[0] if db is not None and OC > 0 else NULL
    cdef const floating *pdy = &dy[0, 0] if N * OC > 0 else NULL
    cdef const floating *px = &x[0, 0] if N * C > 0 else NULL
    cdef const floating *pw = &w[0, 0] if OC * C > 0 else NULL
    if pdy == NULL:  # nothing flows back
        if not accumulate:
            if dx is not None: dx[:, :] = 0
            if dw is not None: dw[:, :] = 0
            if db is not None: db[:] = 0
        return
    with nogil:
        if floating is float:
            cr_linear_backward_f32(pdx, pdw, pdb, pdy, px, pw, N, C, OC, accumulate)
        else:
            cr_linear_backward_f64(pdx, pdw, pdb, pdy, px, pw, N, C, OC, accumulate)
