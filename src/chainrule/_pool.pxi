# _pool.pxi — bindings for csrc/pool.c (included by _kernels.pyx)
# Shapes are checked in chainrule.ops; here we only re-derive the sizes from the arrays and
# refuse anything that would make the C code step out of bounds.

cdef cr_pool2d_dims _pool_dims(str fn, tuple xshape, tuple kernel, tuple stride,
                               tuple padding) except *:
    cdef cr_pool2d_dims d
    d.N, d.C, d.H, d.W = xshape
    d.kh, d.kw = kernel
    d.sh, d.sw = stride
    d.ph, d.pw = padding
    if cr_pool2d_dims_init(&d) != 0:
        raise ValueError(f"{fn}: invalid pooling sizes: input {xshape}, kernel_size {kernel}, "
                         f"stride {stride}, padding {padding}")
    return d


def pool2d_dims(tuple xshape, tuple kernel, tuple stride, tuple padding):
    """(P, Q) of the output, or ValueError."""
    cdef cr_pool2d_dims d = _pool_dims("pool2d", xshape, kernel, stride, padding)
    return d.P, d.Q


def max_pool2d_forward(floating[:, :, :, ::1] y, int64_t[:, :, :, ::1] idx,
                       const floating[:, :, :, ::1] x, tuple kernel, tuple stride, tuple padding):
    cdef cr_pool2d_dims d = _pool_dims("max_pool2d_forward", (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), kernel, stride,
                                       padding)
    cdef tuple ys = (d.N, d.C, d.P, d.Q)
    if (y.shape[0], y.shape[1], y.shape[2], y.shape[3]) != ys or (idx.shape[0], idx.shape[1], idx.shape[2], idx.shape[3]) != ys:
        raise ValueError("max_pool2d_forward: output shapes do not match the input")
    if d.N * d.C == 0:
        return
    with nogil:
        if floating is float:
            cr_max_pool2d_forward_f32(&y[0, 0, 0, 0], &idx[0, 0, 0, 0], &x[0, 0, 0, 0], &d)
        else:
            cr_max_pool2d_forward_f64(&y[0, 0, 0, 0], &idx[0, 0, 0, 0], &x[0, 0, 0, 0], &d)


def max_pool2d_backward(floating[:, :, :, ::1] dx, const floating[:, :, :, ::1] dy,
                        const int64_t[:, :, :, ::1] idx):
    """dx (N, C, H, W) += scatter of dy (N, C, P, Q) at idx; returns the count of bad indices."""
    if ((dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]) != (idx.shape[0], idx.shape[1], idx.shape[2], idx.shape[3]) or dx.shape[0] != dy.shape[0]
            or dx.shape[1] != dy.shape[1]):
        raise ValueError("max_pool2d_backward: shapes of dx, dy and indices do not match")
    cdef cr_pool2d_dims d
    d.N, d.C, d.H, d.W = dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]
    d.P, d.Q = dy.shape[2], dy.shape[3]
    if d.N * d.C * d.P * d.Q == 0 or d.H * d.W == 0:
        return 0 if d.N * d.C * d.P * d.Q == 0 else d.N * d.C * d.P * d.Q
    cdef int64_t bad
    with nogil:
        if floating is float:
            bad = cr_max_pool2d_backward_f32(&dx[0, 0, 0, 0], &dy[0, 0, 0, 0], &idx[0, 0, 0, 0], &d)
        else:
            bad = cr_max_pool2d_backward_f64(&dx[0, 0, 0, 0], &dy[0, 0, 0, 0], &idx[0, 0, 0, 0], &d)
    return bad


def avg_pool2d_forward(floating[:, :, :, ::1] y, const floating[:, :, :, ::1] x, tuple kernel,
                       tuple stride, tuple padding):
    cdef cr_pool2d_dims d = _pool_dims("avg_pool2d_forward", (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), kernel, stride,
                                       padding)
    if (y.shape[0], y.shape[1], y.shape[2], y.shape[3]) != (d.N, d.C, d.P, d.Q):
        raise ValueError("avg_pool2d_forward: output shape does not match the input")
    if d.N * d.C == 0:
        return
    with nogil:
        if floating is float:
            cr_avg_pool2d_forward_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &d)
        else:
            cr_avg_pool2d_forward_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &d)


def avg_pool2d_backward(floating[:, :, :, ::1] dx, const floating[:, :, :, ::1] dy, tuple kernel,
                        tuple stride, tuple padding):
    cdef cr_pool2d_dims d = _pool_dims("avg_pool2d_backward", (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]), kernel, stride,
                                       padding)
    if (dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]) != (d.N, d.C, d.P, d.Q):
        raise ValueError("avg_pool2d_backward: dy shape does not match the input shape")
    if d.N * d.C == 0:
        return
    with nogil:
        if floating is float:
            cr_avg_pool2d_backward_f32(&dx[0, 0, 0, 0], &dy[0, 0, 0, 0], &d)
        else:
            cr_avg_pool2d_backward_f64(&dx[0, 0, 0, 0], &dy[0, 0, 0, 0], &d)
