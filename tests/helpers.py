"""Test helpers shared by every test file: tolerances, comparisons, finite differences.

Tolerances are per dtype and tight in float64; a comparison failure prints where the
worst element is, so a failing test says *where*, not just *that*.
"""
import numpy as np

try:  # PyTorch is an optional extra oracle
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:  # pragma: no cover
    torch = None
    HAVE_TORCH = False

# (rtol, atol) by dtype. Scaled by the magnitude of the reference values in assert_close.
TOL = {np.dtype(np.float32): (2e-4, 2e-5), np.dtype(np.float64): (1e-10, 1e-12)}


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, name="value", scale=None):
    """|actual - expected| <= atol*scale + rtol*|expected| elementwise; prints the worst element.

    ``scale`` (default max(1, max|expected|)) lets atol follow the size of the data,
    because GEMM error grows with the values summed, not with each output element.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != expected {expected.shape}"
    dt = np.dtype(dtype) if dtype is not None else expected.dtype
    r, a = TOL.get(dt, TOL[np.dtype(np.float64)])
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    if expected.size == 0:
        return
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(expected))))
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bound = atol * scale + rtol * np.abs(expected.astype(np.float64))
    bad = ~(err <= bound)  # NaN counts as bad
    if bad.any():
        idx = np.unravel_index(np.argmax(np.where(bad, err - bound, -np.inf)), err.shape) \
            if err.ndim else ()
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {err.size} elements differ; worst at {idx}: "
            f"actual {actual[idx]!r}, expected {expected[idx]!r}, |diff| {err[idx]:.3g} "
            f"> bound {bound[idx]:.3g} (rtol {rtol}, atol {atol}, scale {scale:.3g})")


def rel_error(x, y):
    """CS231n's relative error, max over elements."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_grad(f, x, dout, h=1e-6):
    """d<f(x), dout>/dx by central differences (x is modified in place and restored).

    ``f`` maps the array x to an output array of dout's shape; pushing a random upstream
    dout checks the whole Jacobian, not only a scalar loss (CS231n).
    """
    grad = np.zeros_like(x, dtype=np.float64)
    if not x.size:  # an empty argument (a graph without edges) has an empty gradient
        return grad
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = np.sum(f(x) * dout)
        x[i] = old - h
        fm = np.sum(f(x) * dout)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def assert_grad_close(analytic, numeric, tol=1e-6, name="grad"):
    """Finite-difference comparison with a tolerance scaled by max(|a|, |n|, 1) (Caffe)."""
    analytic = np.asarray(analytic, np.float64)
    numeric = np.asarray(numeric, np.float64)
    assert analytic.shape == numeric.shape, f"{name}: shape {analytic.shape} != {numeric.shape}"
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1.0)
    err = np.abs(analytic - numeric) / scale
    if err.size and not (err.max() <= tol):
        idx = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{name}: worst at {idx}: analytic {analytic[idx]:.8g}, numeric "
                             f"{numeric[idx]:.8g}, scaled error {err[idx]:.3g} > {tol}")


def assert_op_matches_torch(torch, arrays, dtype, run_cr, run_torch):
    """Forward and gradients of one op against PyTorch: ``run_cr(*tensors)`` on chainrule
    Tensors and ``run_torch(*tensors)`` on torch tensors made from the same ``arrays``
    (all requiring grad); the backward seeds both outputs with the same random weights.
    float32 to rtol 2e-5 / atol 2e-6, float64 to 1e-12."""
    import chainrule as cr
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = run_cr(*xs), run_torch(*ts)
    assert out.shape == tuple(tout.shape) and out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **tol)
    w = np.random.default_rng(1).standard_normal(tuple(tout.shape)).astype(dtype)
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol)


def assert_conv_matches_torch(torch, x, w, b, stride, padding, dilation=1, rng=None):
    """ops.conv2d_forward / conv2d_backward (float32) against PyTorch in float64: y, dx, dw
    and db for a random dy, each within float32's tolerance (assert_close); padding is an int
    or an (h, w) pair, as PyTorch's conv2d takes it."""
    from chainrule import ops
    rng = np.random.default_rng(0) if rng is None else rng
    y = ops.conv2d_forward(x, w, b, stride, padding, dilation)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = ops.conv2d_backward(dy, x, w, stride, padding, dilation)
    tx, tw, tb = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b))
    pad = padding if isinstance(padding, tuple) else (padding, padding)
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, pad, dilation)
    ty.backward(torch.tensor(dy.astype(np.float64)))
    for name, a, e in (("y", y, ty), ("dx", dx, tx.grad), ("dw", dw, tw.grad),
                       ("db", db, tb.grad)):
        assert_close(a, e.detach().numpy(), dtype=np.float32, name=name)


def conv_data(rng, xs, ws, dtype=np.float32, w_scale=0.5):
    """(x, w, b) for a conv test: x of shape xs, w of shape ws (scaled by w_scale), b (K,),
    standard normal, in dtype."""
    x = rng.standard_normal(xs).astype(dtype)
    w = (w_scale * rng.standard_normal(ws)).astype(dtype)
    return x, w, rng.standard_normal(ws[0]).astype(dtype)


def assert_conv_matches_reference(rng, x, w, b, stride, padding, dilation=1, groups=1):
    """ops.conv2d_forward and conv2d_backward (with a standard normal dy drawn from rng after
    the forward) against chainrule.reference: y, dx, dw and db (b None: no bias, db None).
    Returns (dy, (dx, dw, db))."""
    from chainrule import ops, reference as ref
    dtype, bias = x.dtype, b is not None
    y = ops.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    assert_close(y, ref.conv2d_forward(x, w, b, stride, padding, dilation, groups), dtype=dtype,
                 name="y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    got = ops.conv2d_backward(dy, x, w, stride, padding, dilation, groups, bias=bias)
    want = ref.conv2d_backward(dy, x, w, stride, padding, dilation, groups, bias=bias)
    for name, a, e in zip(("dx", "dw", "db"), got, want):
        if e is None:
            assert a is None, name
        else:
            assert_close(a, e, dtype=dtype, name=name)
    return dy, got


def winograd_err(y, want, terms):
    """The largest |y - want| in units of eps32 x the sum of |terms| (a Winograd path's error
    measure: terms is the same convolution of the absolute values, in float64)."""
    return (np.abs(y - want) / (np.finfo(np.float32).eps * terms + 1e-30)).max()


def assert_winograd_layer(ops, cr, ref, x, w, b, pad, tol, tol_dw, fortran_dy=False):
    """Forward, dx, dw, db of a stride-1 float32 layer: the same bits on 2, 1 and 2 threads and
    with a Fortran-ordered x (the backward's dy instead with fortran_dy), within tol (dw: tol_dw) eps32 x sum|terms| of the
    float64 reference (db to 1e-5). Returns (dy, (y, dx, dw, db))."""
    y = ops.conv2d_forward(x, w, b, 1, pad)
    dy = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    assert winograd_err(y, ref.conv2d_forward(x64, w64, b64, 1, pad),
                        ref.conv2d_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, pad)) <= tol
    dx64, dw64, db64 = ref.conv2d_backward(dy64, x64, w64, 1, pad)
    dx_terms = ref.conv2d_backward(np.abs(dy64), x64, np.abs(w64), 1, pad)[0]
    dw_terms = ref.conv2d_backward(np.abs(dy64), np.abs(x64), w64, 1, pad)[1]
    outs = []
    for threads in (2, 1, 2):
        cr.set_num_threads(threads)
        outs.append((ops.conv2d_forward(x, w, b, 1, pad),) + tuple(ops.conv2d_backward(dy, x, w, 1, pad)))
    xf = np.asfortranarray(x)
    xb, dyb = (x, np.asfortranarray(dy)) if fortran_dy else (xf, dy)
    outs.append((ops.conv2d_forward(xf, w, b, 1, pad),) + tuple(ops.conv2d_backward(dyb, xb, w, 1, pad)))
    for o in outs[1:]:
        for a, c in zip(o, outs[0]):
            np.testing.assert_array_equal(a, c)
    _, dx, dw, db = outs[0]
    assert winograd_err(dx, dx64, dx_terms) <= tol
    assert winograd_err(dw, dw64, dw_terms) <= tol_dw
    np.testing.assert_allclose(db, db64, rtol=1e-5, atol=1e-3)
    return dy, outs[0]
