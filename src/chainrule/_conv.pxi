# _conv.pxi — bindings for csrc/conv.h (conv_*.c; included by _kernels.pyx)
# Shapes are checked in chainrule.ops; here we only re-derive the sizes from the arrays and
# refuse anything that would make the C code step out of bounds.

def conv_set_workspace_limit(int64_t nbytes):
    if nbytes < 1:
        raise ValueError(f"set_workspace_limit: nbytes must be >= 1, got {nbytes}")
    cr_conv_set_workspace_limit(nbytes)


def conv_get_workspace_limit():
    return cr_conv_get_workspace_limit()


cdef cr_conv2d_dims _conv_dims(str fn, tuple xshape, tuple wshape, tuple stride, tuple padding,
                               tuple dilation) except *:
    cdef cr_conv2d_dims d
    d.N, d.C, d.H, d.W = xshape
    d.K, d.R, d.S = wshape[0], wshape[2], wshape[3]
    d.sh, d.sw = stride
    d.ph, d.pw = padding
    d.dh, d.dw = dilation
    if wshape[1] != d.C or cr_conv2d_dims_init(&d) != 0:
        raise ValueError(f"{fn}: invalid convolution sizes: x {xshape}, w {wshape}, "
                         f"stride {stride}, padding {padding}, dilation {dilation}")
    return d


def conv2d_dims(tuple xshape, tuple wshape, tuple stride, tuple padding, tuple dilation):
    """(P, Q) of the output, or ValueError."""
    cdef cr_conv2d_dims d = _conv_dims("conv2d", xshape, wshape, stride, padding, dilation)
    return d.P, d.Q


def conv2d_workspace_bytes(tuple xshape, tuple wshape, tuple stride, tuple padding,
                           tuple dilation, int which, int elsize):
    cdef cr_conv2d_dims d = _conv_dims("conv2d", xshape, wshape, stride, padding, dilation)
    return cr_conv2d_workspace_bytes(&d, which, elsize)


_CONV_PATHS = ("im2col", "pointwise", "implicit", "implicit_dw", "implicit_conv", "winograd",
               "winograd_conv", "phase", "winograd_dw", "implicit_s2",
               "direct", "implicit_rows", "rows_dw", "rows_conv",
               "winograd4_small", "winograd4_small_conv", "winograd4_small_dw", "direct_s2",
               "winograd_c16", "g5_skip", "direct_s2_dx", "pointwise_dot",
               "winograd_5x5")


def conv_algo():
    """The convolution algorithm setting: "auto", "im2col", "implicit", "winograd" or
    "pointwise"."""
    return cr_conv_algo_name(cr_conv_algo()).decode()


def conv_set_algo(name=None):
    """Force a convolution algorithm ("auto", "im2col", "implicit", "winograd", "pointwise"; None = the default:
    CHAINRULE_CONV_ALGO, else auto). ValueError for an unknown name."""
    if name is None:
        cr_conv_set_algo(-1)
        return
    cdef int a = cr_conv_algo_from_name(str(name).encode())
    if a < 0:
        raise ValueError(f"set_conv_algo: unknown algorithm {name!r} "
                         f"(expected 'auto', 'im2col', 'implicit', 'winograd' or 'pointwise')")
    cr_conv_set_algo(a)


def conv2d_plan_info(tuple xshape, tuple wshape, tuple stride, tuple padding, tuple dilation,
                     int which, int elsize):
    """The plan of one forward (which=0) or backward (1) call, as a dict of C's figures."""
    cdef cr_conv2d_dims d = _conv_dims("conv2d_plan", xshape, wshape, stride, padding, dilation)
    cdef cr_conv2d_plan_info info
    cr_conv2d_plan_info_get(&info, &d, which, elsize)
    return dict(path=_CONV_PATHS[info.path], dx_path=_CONV_PATHS[info.dx_path],
                dw_path=_CONV_PATHS[info.dw_path], threads=info.threads, G=info.G,
                rows=info.rows, cols=info.cols, blocks=info.blocks, ws_bytes=info.ws_bytes)


def conv2d_forward(floating[:, :, :, ::1] y, const floating[:, :, :, ::1] x,
                   const floating[:, :, :, ::1] w, const floating[::1] b,
                   tuple stride, tuple padding, tuple dilation):
    """y (N, K, P, Q) = conv(x (N, C, H, W), w (K, C, R, S)) + b (K,) or None."""
    cdef tuple xs = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), ws = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    cdef cr_conv2d_dims d = _conv_dims("conv2d_forward", xs, ws, stride, padding, dilation)
    if (y.shape[0], y.shape[1], y.shape[2], y.shape[3]) != (d.N, d.K, d.P, d.Q) or (b is not None and b.shape[0] != d.K):
        raise ValueError("conv2d_forward: output or bias shape does not match the inputs")
    if d.N == 0:
        return
    cdef const floating *pb = &b[0] if b is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_conv2d_forward_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], pb, &d)
        else:
            rc = cr_conv2d_forward_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], pb, &d)
    if rc != 0:
        raise MemoryError("conv2d_forward: could not allocate the im2col workspace")


def conv2d_backward(floating[:, :, :, ::1] dx, floating[:, :, :, ::1] dw, floating[::1] db,
                    const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] x,
                    const floating[:, :, :, ::1] w, tuple stride, tuple padding, tuple dilation,
                    bint write=False):
    """dx += dL/dx, dw += dL/dw, db += dL/db (each may be None) from dy (N, K, P, Q);
    write: dx = dL/dx and dw = dL/dw instead (never read: they may come from np.empty)."""
    cdef tuple xs = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), ws = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    cdef cr_conv2d_dims d = _conv_dims("conv2d_backward", xs, ws, stride, padding, dilation)
    if ((dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]) != (d.N, d.K, d.P, d.Q)
            or (dx is not None and (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]) != xs)
            or (dw is not None and (dw.shape[0], dw.shape[1], dw.shape[2], dw.shape[3]) != ws)
            or (db is not None and db.shape[0] != d.K)):
        raise ValueError("conv2d_backward: gradient shapes do not match the inputs")
    if d.N == 0:
        if write and dw is not None:  # written: the sum over no images is 0
            dw[...] = 0
        return
    cdef floating *pdx = &dx[0, 0, 0, 0] if dx is not None else NULL
    cdef floating *pdw = &dw[0, 0, 0, 0] if dw is not None else NULL
    cdef floating *pdb = &db[0] if db is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            if write:
                rc = cr_conv2d_backward_set_f32(pdx, pdw, pdb, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                &w[0, 0, 0, 0], &d)
            else:
                rc = cr_conv2d_backward_f32(pdx, pdw, pdb, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                            &w[0, 0, 0, 0], &d)
        else:
            if write:
                rc = cr_conv2d_backward_set_f64(pdx, pdw, pdb, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                &w[0, 0, 0, 0], &d)
            else:
                rc = cr_conv2d_backward_f64(pdx, pdw, pdb, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                            &w[0, 0, 0, 0], &d)
    if rc != 0:
        raise MemoryError("conv2d_backward: could not allocate the im2col workspace")


def im2col(floating[:, ::1] col, const floating[:, :, ::1] im, tuple wshape, tuple stride,
           tuple padding, tuple dilation, int64_t p0=0, int64_t p1=-1):
    """col (C*R*S, (p1-p0)*Q) = im2col of one image im (C, H, W), output rows [p0, p1)."""
    cdef tuple xs = (1,) + (im.shape[0], im.shape[1], im.shape[2])
    cdef cr_conv2d_dims d = _conv_dims("im2col", xs, wshape, stride, padding, dilation)
    if p1 < 0:
        p1 = d.P
    if not (0 <= p0 < p1 <= d.P) or col.shape[0] != d.C * d.R * d.S or col.shape[1] != (p1 - p0) * d.Q:
        raise ValueError("im2col: col shape or row range does not match")
    with nogil:
        if floating is float:
            cr_im2col_f32(&col[0, 0], &im[0, 0, 0], &d, p0, p1)
        else:
            cr_im2col_f64(&col[0, 0], &im[0, 0, 0], &d, p0, p1)


def col2im(floating[:, :, ::1] im, const floating[:, ::1] col, tuple wshape, tuple stride,
           tuple padding, tuple dilation, int64_t p0=0, int64_t p1=-1):
    """im (C, H, W) += col2im(col), the adjoint of im2col."""
    cdef tuple xs = (1,) + (im.shape[0], im.shape[1], im.shape[2])
    cdef cr_conv2d_dims d = _conv_dims("col2im", xs, wshape, stride, padding, dilation)
    if p1 < 0:
        p1 = d.P
    if not (0 <= p0 < p1 <= d.P) or col.shape[0] != d.C * d.R * d.S or col.shape[1] != (p1 - p0) * d.Q:
        raise ValueError("col2im: col shape or row range does not match")
    with nogil:
        if floating is float:
            cr_col2im_f32(&im[0, 0, 0], &col[0, 0], &d, p0, p1)
        else:
            cr_col2im_f64(&im[0, 0, 0], &col[0, 0], &d, p0, p1)


cdef cr_conv2d_dims _depthwise_dims(str fn, x, w, tuple stride, tuple padding,
                                    tuple dilation) except *:
    """Sizes of a depthwise conv: x (N, C, H, W), w (C, 1, R, S)."""
    if w.shape[0] != x.shape[1] or w.shape[1] != 1:
        raise ValueError(f"{fn}: w must be (C, 1, R, S) for C = {x.shape[1]}")
    return _conv_dims(fn, tuple(x.shape[:4]), (w.shape[0], x.shape[1], w.shape[2], w.shape[3]),
                      stride, padding, dilation)


def conv2d_depthwise_forward(floating[:, :, :, ::1] y, const floating[:, :, :, ::1] x,
                             const floating[:, :, :, ::1] w, const floating[::1] b,
                             tuple stride, tuple padding, tuple dilation):
    """y (N, C, P, Q) = depthwise conv(x (N, C, H, W), w (C, 1, R, S)) + b (C,) or None."""
    cdef cr_conv2d_dims d = _depthwise_dims("conv2d_depthwise_forward", x, w, stride, padding,
                                            dilation)
    if (y.shape[0], y.shape[1], y.shape[2], y.shape[3]) != (d.N, d.C, d.P, d.Q) or (b is not None and b.shape[0] != d.C):
        raise ValueError("conv2d_depthwise_forward: output or bias shape does not match")
    if d.N == 0:
        return
    cdef const floating *pb = &b[0] if b is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_conv2d_depthwise_forward_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], pb, &d)
        else:
            rc = cr_conv2d_depthwise_forward_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], pb, &d)
    if rc != 0:
        raise MemoryError("conv2d_depthwise_forward: could not allocate a plane")


def conv2d_depthwise_backward(floating[:, :, :, ::1] dx, floating[:, :, :, ::1] dw,
                              floating[::1] db, const floating[:, :, :, ::1] dy,
                              const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                              tuple stride, tuple padding, tuple dilation, bint write=False):
    """dx += dL/dx, dw += dL/dw, db += dL/db (each may be None) of a depthwise conv;
    write: dx = dL/dx and dw = dL/dw instead (never read: they may come from np.empty)."""
    cdef cr_conv2d_dims d = _depthwise_dims("conv2d_depthwise_backward", x, w, stride,
                                            padding, dilation)
    if ((dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]) != (d.N, d.C, d.P, d.Q)
            or (dx is not None and (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]) != (d.N, d.C, d.H, d.W))
            or (dw is not None and (dw.shape[0], dw.shape[1], dw.shape[2], dw.shape[3]) != (d.C, 1, d.R, d.S))
            or (db is not None and db.shape[0] != d.C)):
        raise ValueError("conv2d_depthwise_backward: gradient shapes do not match the inputs")
    if d.N == 0:
        if write and dw is not None:  # written: the sum over no images is 0
            dw[...] = 0
        return
    cdef floating *pdx = &dx[0, 0, 0, 0] if dx is not None else NULL
    cdef floating *pdw = &dw[0, 0, 0, 0] if dw is not None else NULL
    cdef floating *pdb = &db[0] if db is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            if write:
                rc = cr_conv2d_depthwise_backward_set_f32(pdx, pdw, pdb, &dy[0, 0, 0, 0],
                                                          &x[0, 0, 0, 0], &w[0, 0, 0, 0], &d)
            else:
                rc = cr_conv2d_depthwise_backward_f32(pdx, pdw, pdb, &dy[0, 0, 0, 0],
                                                      &x[0, 0, 0, 0], &w[0, 0, 0, 0], &d)
        else:
            if write:
                rc = cr_conv2d_depthwise_backward_set_f64(pdx, pdw, pdb, &dy[0, 0, 0, 0],
                                                          &x[0, 0, 0, 0], &w[0, 0, 0, 0], &d)
            else:
                rc = cr_conv2d_depthwise_backward_f64(pdx, pdw, pdb, &dy[0, 0, 0, 0],
                                                      &x[0, 0, 0, 0], &w[0, 0, 0, 0], &d)
    if rc != 0:
        raise MemoryError("conv2d_depthwise_backward: could not allocate a plane")


cdef cr_conv2d_dims _grouped_dims(str fn, x, w, int64_t groups, tuple stride, tuple padding,
                                  tuple dilation) except *:
    """Sizes of a grouped conv: x (N, C, H, W), w (K, C / groups, R, S), groups | C and K."""
    if groups < 2 or x.shape[1] % groups or w.shape[0] % groups or w.shape[1] * groups != x.shape[1]:
        raise ValueError(f"{fn}: w {tuple(w.shape)} does not fit x {tuple(x.shape)} with "
                         f"groups {groups}")
    cdef cr_conv2d_dims d = _conv_dims(fn, (x.shape[0], w.shape[1], x.shape[2], x.shape[3]),
                                       (w.shape[0], w.shape[1], w.shape[2], w.shape[3]),
                                       stride, padding, dilation)
    d.C = x.shape[1]
    return d


def conv2d_grouped_info(tuple xshape, tuple wshape, int64_t groups, tuple stride,
                        tuple padding, tuple dilation, int which, int elsize):
    """(forward or dx path, dw path, threads, workspace bytes) of a grouped call: paths
    0 = none (the ungrouped kernels once per group), 1 = implicit, 2 = im2col."""
    cdef cr_conv2d_dims d = _conv_dims("conv2d_plan", (xshape[0], wshape[1]) + tuple(xshape[2:]),
                                       wshape, stride, padding, dilation)
    d.C = xshape[1]
    if groups < 2 or d.C % groups or d.K % groups or wshape[1] * groups != d.C:
        raise ValueError(f"conv2d_plan: w {wshape} does not fit x {xshape} with groups {groups}")
    return (cr_conv2d_grouped_path(&d, groups, which, elsize),
            cr_conv2d_grouped_path(&d, groups, 2, elsize) if which else 0,
            cr_conv2d_grouped_threads(&d, groups),
            cr_conv2d_grouped_workspace_bytes(&d, groups, which, elsize) if d.N else 0)


def conv2d_grouped_forward(floating[:, :, :, ::1] y, const floating[:, :, :, ::1] x,
                           const floating[:, :, :, ::1] w, const floating[::1] b, int64_t groups,
                           tuple stride, tuple padding, tuple dilation):
    """y (N, K, P, Q) = grouped conv(x (N, C, H, W), w (K, C / groups, R, S)) + b (K,) or None."""
    cdef cr_conv2d_dims d = _grouped_dims("conv2d_grouped_forward", x, w, groups, stride,
                                          padding, dilation)
    if (y.shape[0], y.shape[1], y.shape[2], y.shape[3]) != (d.N, d.K, d.P, d.Q) or (b is not None and b.shape[0] != d.K):
        raise ValueError("conv2d_grouped_forward: output or bias shape does not match")
    if d.N == 0:
        return
    cdef const floating *pb = &b[0] if b is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_conv2d_grouped_forward_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], pb, &d, groups)
        else:
            rc = cr_conv2d_grouped_forward_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &w[0, 0, 0, 0], pb, &d, groups)
    if rc != 0:
        raise MemoryError("conv2d_grouped_forward: could not allocate the workspace")


def conv2d_grouped_backward(floating[:, :, :, ::1] dx, floating[:, :, :, ::1] dw,
                            floating[::1] db, const floating[:, :, :, ::1] dy,
                            const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                            int64_t groups, tuple stride, tuple padding, tuple dilation):
    """dx += dL/dx, dw += dL/dw, db += dL/db (each may be None) of a grouped conv."""
    cdef cr_conv2d_dims d = _grouped_dims("conv2d_grouped_backward", x, w, groups, stride,
                                          padding, dilation)
    if ((dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]) != (d.N, d.K, d.P, d.Q)
            or (dx is not None and (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]) != (d.N, d.C, d.H, d.W))
            or (dw is not None and (dw.shape[0], dw.shape[1], dw.shape[2], dw.shape[3]) != (w.shape[0], w.shape[1], w.shape[2], w.shape[3]))
            or (db is not None and db.shape[0] != d.K)):
        raise ValueError("conv2d_grouped_backward: gradient shapes do not match the inputs")
    if d.N == 0:
        return
    cdef floating *pdx = &dx[0, 0, 0, 0] if dx is not None else NULL
    cdef floating *pdw = &dw[0, 0, 0, 0] if dw is not None else NULL
    cdef floating *pdb = &db[0] if db is not None else NULL
    cdef int rc
    with nogil:
        if floating is float:
            rc = cr_conv2d_grouped_backward_f32(pdx, pdw, pdb, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                &w[0, 0, 0, 0], &d, groups)
        else:
            rc = cr_conv2d_grouped_backward_f64(pdx, pdw, pdb, &dy[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                &w[0, 0, 0, 0], &d, groups)
    if rc != 0:
        raise MemoryError("conv2d_grouped_backward: could not allocate the workspace")
