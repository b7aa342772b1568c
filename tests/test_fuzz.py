"""Fuzzing of argument handling for every ``chainrule.ops`` function (hypothesis).

Random shapes (0-sized dims included), dtypes (float, int, complex, bool), layouts
(Fortran order, negative and zero strides, slices), extreme values (NaN/inf) and random
stride/padding/dilation/kernel combinations. Each call must either

  * return what ``chainrule.reference`` returns for the same arguments (NaN where it has NaN), or
  * raise ValueError / TypeError / MemoryError with a message naming the function,

and the reference must agree on whether the call is valid. No segfault, no hang, no
out-of-bounds access: .ci/sanitize runs this file against an ASan + UBSan build.
The number of generated cases is printed in pytest's summary ("fuzz cases run").
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule import ops, reference

CASES = {"n": 0}
# per test function; 12 functions over 23 ops -> > 3,000 cases per run. Raise it for a deep
# local hunt: CHAINRULE_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py
EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "260"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
ALLOWED = (ValueError, TypeError, MemoryError)
BAD_DTYPES = [np.int32, np.int64, np.complex128, np.bool_, np.float16]


def _layout(draw, arr):
    """Return arr in a random memory layout with the same values (or a broadcast view)."""
    kind = draw(st.sampled_from(["c", "c", "f", "neg", "slice", "bcast"]))
    if kind == "f":
        return np.asfortranarray(arr)
    if kind == "neg" and arr.ndim:
        ax = draw(st.integers(0, arr.ndim - 1))
        flipped = np.flip(arr, axis=ax).copy()
        return np.flip(flipped, axis=ax)  # a negative-stride view of the same values
    if kind == "slice" and arr.ndim:
        ax = draw(st.integers(0, arr.ndim - 1))
        shape = list(arr.shape)
        shape[ax] *= 2
        big = np.zeros(shape, arr.dtype)
        sl = [slice(None)] * arr.ndim
        sl[ax] = slice(None, None, 2)
        big[tuple(sl)] = arr
        return big[tuple(sl)]
    if kind == "bcast" and arr.ndim and arr.size:
        ax = draw(st.integers(0, arr.ndim - 1))
        first = np.take(arr, [0], axis=ax)
        return np.broadcast_to(first, arr.shape)  # zero stride along ax
    return arr


def _array(draw, shape, dtype, special=True):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal(shape)
    if special and a.size and draw(st.integers(0, 9)) == 0:
        idx = tuple(rng.integers(0, s) for s in shape)
        a[idx] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30]))
    if np.dtype(dtype).kind in "iub":
        a = np.nan_to_num(a * 3, nan=0.0, posinf=7, neginf=-7).astype(dtype)
    elif np.dtype(dtype).kind == "c":
        a = a.astype(dtype)
    else:
        a = a.astype(dtype)
    return _layout(draw, a)


def _dtype(draw, base):
    """Mostly the base float dtype; sometimes a wrong one."""
    if draw(st.integers(0, 12)) == 0:
        return draw(st.sampled_from(BAD_DTYPES))
    if draw(st.integers(0, 12)) == 0:
        return np.float64 if base == np.float32 else np.float32
    return base


def _maybe_perturb_shape(draw, shape):
    if draw(st.integers(0, 8)) == 0:
        shape = list(shape)
        op = draw(st.sampled_from(["grow", "drop", "add"]))
        if op == "grow" and shape:
            i = draw(st.integers(0, len(shape) - 1))
            shape[i] += draw(st.integers(1, 2))
        elif op == "drop" and shape:
            shape.pop()
        else:
            shape.append(draw(st.integers(0, 2)))
        return tuple(shape)
    return tuple(shape)


def _int_arg(draw, lo, hi):
    """An int, an (h, w) pair, or occasionally junk."""
    r = draw(st.integers(0, 20))
    if r == 0:
        return draw(st.sampled_from([None, 1.5, "2", (1, 2, 3), True]))
    if r < 8:
        return (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))
    return draw(st.integers(lo, hi))


def _same(a, b, dtype, finite_inputs=True):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, dtype, finite_inputs)
        return
    if a is None or b is None:
        assert a is None and b is None
        return
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if a.dtype.kind != "f":
        np.testing.assert_array_equal(a, b)
        return
    tol = 1e-3 if a.dtype == np.float32 else 1e-9
    fin = np.isfinite(b)
    if not finite_inputs:
        # with inf/NaN inputs, 0 * inf in padding or packing may give NaN where the
        # definition skips the term (as in BLAS or PyTorch); compare where both are finite
        fin &= np.isfinite(a)
    # NaN/inf propagate; where the reference is finite the fast result must be close
    if fin.any():
        scale = max(1.0, float(np.max(np.abs(b[fin]))))
        np.testing.assert_allclose(a[fin], b[fin], rtol=tol, atol=tol * scale)


def _check(name, args, kwargs=None, dtype=None, inplace=()):
    """Call ops.<name> and reference.<name>; both agree or both raise an allowed error.
    For in-place kernels (``inplace``: positions of the arguments they update) each side
    gets its own copies, and the updated arguments are what is compared."""
    kwargs = kwargs or {}
    CASES["n"] += 1
    fast = getattr(ops, name)
    ref = getattr(reference, name)
    if inplace:
        fast, ref = _in_place(fast, inplace), _in_place(ref, inplace)
    try:
        out = fast(*args, **kwargs)
    except ALLOWED as e:
        msg = str(e)
        assert msg, f"{name}: empty error message"
        if not isinstance(e, MemoryError):
            assert name.split("_")[0] in msg or name in msg, f"{name}: message does not name it: {msg}"
        # the reference must also reject it (same validation contract)
        try:
            ref(*args, **kwargs)
        except ALLOWED:
            return
        except Exception as e2:  # pragma: no cover
            raise AssertionError(f"reference.{name} raised {type(e2).__name__}: {e2}")
        raise AssertionError(f"ops.{name} raised {type(e).__name__} ({e}) but reference accepted")
    try:
        expected = ref(*args, **kwargs)
    except ALLOWED as e:
        raise AssertionError(f"reference.{name} raised {type(e).__name__} ({e}) but ops accepted")
    finite = all(np.isfinite(v).all() for v in list(args) + list(kwargs.values())
                 if isinstance(v, np.ndarray) and v.dtype.kind == "f")
    _same(out, expected, dtype, finite)


def _in_place(fn, inplace):
    """fn on copies of its arguments, returning the updated ones (and fn's result)."""
    def run(*args, **kwargs):
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        out = fn(*args, **kwargs)
        return tuple(args[i] for i in inplace) + (out,)
    return run


@FUZZ
@given(st.data())
def test_fuzz_matmul(data):
    d = data.draw
    M, N, K = d(st.integers(0, 9)), d(st.integers(0, 9)), d(st.integers(0, 9))
    ta, tb = d(st.booleans()), d(st.booleans())
    base = d(st.sampled_from([np.float32, np.float64]))
    a = _array(d, _maybe_perturb_shape(d, (K, M) if ta else (M, K)), _dtype(d, base))
    b = _array(d, _maybe_perturb_shape(d, (N, K) if tb else (K, N)), _dtype(d, base))
    _check("matmul", (a, b), dict(trans_a=ta, trans_b=tb), base)


@FUZZ
@given(st.data())
def test_fuzz_linear(data):
    d = data.draw
    N, I, O = d(st.integers(0, 6)), d(st.integers(0, 6)), d(st.integers(0, 6))
    base = d(st.sampled_from([np.float32, np.float64]))
    x = _array(d, _maybe_perturb_shape(d, (N, I)), _dtype(d, base))
    w = _array(d, _maybe_perturb_shape(d, (O, I)), _dtype(d, base))
    b = None if d(st.booleans()) else _array(d, _maybe_perturb_shape(d, (O,)), _dtype(d, base))
    if d(st.booleans()):
        _check("linear_forward", (x, w, b), None, base)
    else:
        dy = _array(d, _maybe_perturb_shape(d, (N, O)), _dtype(d, base))
        _check("linear_backward", (dy, x, w), dict(bias=d(st.booleans())), base)


def _conv_case(d):
    N, C, K = d(st.integers(0, 2)), d(st.integers(1, 3)), d(st.integers(1, 3))
    H, W = d(st.integers(0, 7)), d(st.integers(0, 7))
    R, S = d(st.integers(1, 4)), d(st.integers(1, 4))
    stride, padding, dilation = _int_arg(d, 0, 3), _int_arg(d, -1, 2), _int_arg(d, 0, 2)
    base = d(st.sampled_from([np.float32, np.float64]))
    x = _array(d, _maybe_perturb_shape(d, (N, C, H, W)), _dtype(d, base))
    w = _array(d, _maybe_perturb_shape(d, (K, C, R, S)), _dtype(d, base))
    return N, K, x, w, stride, padding, dilation, base


def _out_size(n, k, s, p, dl):
    return (n + 2 * p - dl * (k - 1) - 1) // s + 1


@FUZZ
@given(st.data())
def test_fuzz_conv2d_forward(data):
    d = data.draw
    N, K, x, w, stride, padding, dilation, base = _conv_case(d)
    b = None if d(st.booleans()) else _array(d, _maybe_perturb_shape(d, (K,)), _dtype(d, base))
    _check("conv2d_forward", (x, w, b, stride, padding, dilation), None, base)


def _pairish(v):
    return v if isinstance(v, tuple) and len(v) == 2 and all(isinstance(t, int) and not isinstance(t, bool) for t in v) \
        else (v, v) if isinstance(v, int) and not isinstance(v, bool) else (1, 1)


@FUZZ
@given(st.data())
def test_fuzz_conv2d_backward(data):
    d = data.draw
    N, K, x, w, stride, padding, dilation, base = _conv_case(d)
    st_, pd, dl = _pairish(stride), _pairish(padding), _pairish(dilation)
    if x.ndim == 4 and w.ndim == 4 and min(st_) > 0 and min(dl) > 0:
        OH = _out_size(x.shape[2], w.shape[2], st_[0], pd[0], dl[0])
        OW = _out_size(x.shape[3], w.shape[3], st_[1], pd[1], dl[1])
    else:
        OH, OW = 1, 1
    dy_shape = _maybe_perturb_shape(d, (x.shape[0] if x.ndim else 1, K, max(OH, 0), max(OW, 0)))
    dy = _array(d, dy_shape, _dtype(d, base))
    _check("conv2d_backward", (dy, x, w, stride, padding, dilation),
           dict(bias=d(st.booleans())), base)


@FUZZ
@given(st.data())
def test_fuzz_conv2d_groups(data):
    """groups (dividing or not), depthwise shapes and string paddings, forward and backward."""
    d = data.draw
    G = d(st.integers(1, 3))
    N, C, K = d(st.integers(0, 2)), G * d(st.integers(1, 2)), G * d(st.integers(1, 2))
    C += d(st.sampled_from([0, 0, 0, 1]))  # sometimes not divisible
    groups = d(st.sampled_from([G, G, G, 0, -1, "2", True, 2.0]))
    R, S = d(st.integers(1, 4)), d(st.integers(1, 4))
    H, W = d(st.integers(1, 7)), d(st.integers(1, 7))
    stride = d(st.sampled_from([1, 1, 2, (1, 2)]))
    padding = d(st.sampled_from([0, 1, (2, 1), "same", "valid", "full"]))
    dilation = d(st.sampled_from([1, 2]))
    base = d(st.sampled_from([np.float32, np.float64]))
    x = _array(d, _maybe_perturb_shape(d, (N, C, H, W)), _dtype(d, base))
    w = _array(d, _maybe_perturb_shape(d, (K, max(C // G, 1), R, S)), _dtype(d, base))
    if d(st.booleans()):
        b = None if d(st.booleans()) else _array(d, (K,), _dtype(d, base))
        _check("conv2d_forward", (x, w, b, stride, padding, dilation, groups), None, base)
        return
    try:
        dy_shape = reference.conv2d_forward(x, w, None, stride, padding, dilation, groups).shape
    except ALLOWED:
        dy_shape = (N, K, 1, 1)
    dy = _array(d, _maybe_perturb_shape(d, dy_shape), _dtype(d, base))
    _check("conv2d_backward", (dy, x, w, stride, padding, dilation, groups),
           dict(bias=d(st.booleans()), need_dx=d(st.booleans())), base)


def _pool_case(d):
    N, C, H, W = d(st.integers(0, 2)), d(st.integers(0, 3)), d(st.integers(0, 7)), d(st.integers(0, 7))
    base = d(st.sampled_from([np.float32, np.float64]))
    x = _array(d, _maybe_perturb_shape(d, (N, C, H, W)), _dtype(d, base))
    kernel = _int_arg(d, 0, 4)
    stride = None if d(st.booleans()) else _int_arg(d, 0, 3)
    padding = _int_arg(d, -1, 2)
    return x, kernel, stride, padding, base


@FUZZ
@given(st.data())
def test_fuzz_max_pool2d(data):
    d = data.draw
    x, kernel, stride, padding, base = _pool_case(d)
    if d(st.booleans()):
        opts = dict(dilation=_int_arg(d, 0, 3), ceil_mode=d(st.booleans())) if d(st.booleans()) else {}
        _check("max_pool2d_forward", (x, kernel, stride, padding), opts, base)
        return
    # backward: indices from a valid forward when possible, then perturbed
    try:
        y, idx = reference.max_pool2d_forward(x, kernel, stride, padding)
    except ALLOWED:
        y = _array(d, (1, 1, 2, 2), base)
        idx = np.zeros((1, 1, 2, 2), np.int64)
    dy = _array(d, _maybe_perturb_shape(d, y.shape), _dtype(d, base))
    idx = idx.copy()
    r = d(st.integers(0, 6))
    if r == 0 and idx.size:
        idx.flat[0] = d(st.sampled_from([-1, 10**6, 2**62, -(2**62)]))
    elif r == 1:
        idx = idx.astype(d(st.sampled_from([np.int32, np.float64])))
    shape = tuple(x.shape) if d(st.integers(0, 6)) else d(st.sampled_from(
        [(2**62, 2**62, 4, 4), (1, 1, -3, 4), (1, 2, 3), (2**31, 2**31, 2**31, 2**31), "abc"]))
    _check("max_pool2d_backward", (dy, idx, shape), None, base)


@FUZZ
@given(st.data())
def test_fuzz_avg_pool2d(data):
    d = data.draw
    x, kernel, stride, padding, base = _pool_case(d)
    opts = dict(ceil_mode=d(st.booleans()), count_include_pad=d(st.booleans()),
                divisor_override=d(st.sampled_from([None, None, 1, 3, 0, -2, 2.5]))) \
        if d(st.booleans()) else {}
    if d(st.booleans()):
        _check("avg_pool2d_forward", (x, kernel, stride, padding), opts, base)
        return
    try:
        y = reference.avg_pool2d_forward(x, kernel, stride, padding)
        yshape = y.shape
    except ALLOWED:
        yshape = (1, 1, 2, 2)
    dy = _array(d, _maybe_perturb_shape(d, yshape), _dtype(d, base))
    shape = tuple(x.shape) if d(st.integers(0, 6)) else d(st.sampled_from(
        [(2**62, 2**62, 4, 4), (1, 1, -3, 4), (1, 2, 3), (2**31, 2**31, 2**31, 2**31)]))
    _check("avg_pool2d_backward", (dy, shape, kernel, stride, padding), opts, base)


@FUZZ
@given(st.data())
def test_fuzz_max_unpool2d(data):
    d = data.draw
    x, kernel, stride, padding, base = _pool_case(d)
    try:  # distinct indices of a non-overlapping pool when possible, then perturbed
        y, idx = reference.max_pool2d_forward(x, kernel, None, 0)
    except ALLOWED:
        y, idx = _array(d, (1, 1, 2, 2), base), np.zeros((1, 1, 2, 2), np.int64)
    idx = idx.copy()
    if d(st.integers(0, 5)) == 0 and idx.size:
        idx.flat[0] = d(st.sampled_from([-1, 10**6, 2**62]))
    shape = tuple(x.shape) if d(st.integers(0, 6)) else d(st.sampled_from(
        [(2**62, 2**62, 4, 4), (1, 1, -3, 4), (1, 2, 3), (1, 1, 0, 3), "abc"]))
    if d(st.booleans()):
        yy = _array(d, _maybe_perturb_shape(d, y.shape), _dtype(d, base))
        _check("max_unpool2d_forward", (yy, idx, shape), None, base)
    else:
        dy = _array(d, _maybe_perturb_shape(d, x.shape), _dtype(d, base))
        _check("max_unpool2d_backward", (dy, idx), None, base)


@FUZZ
@given(st.data())
def test_fuzz_adaptive_pool2d(data):
    d = data.draw
    x, _, _, _, base = _pool_case(d)
    size = d(st.sampled_from([1, 2, 5, (3, None), (None, 1), 0, -1, (1, 2, 3), None, 1.5]))
    kind = d(st.integers(0, 2))
    if kind < 2:
        name = ["adaptive_avg_pool2d_forward", "adaptive_max_pool2d_forward"][kind]
        _check(name, (x, size), None, base)
        return
    try:
        yshape = reference.adaptive_avg_pool2d_forward(x, size).shape
    except ALLOWED:
        yshape = (1, 1, 2, 2)
    dy = _array(d, _maybe_perturb_shape(d, yshape), _dtype(d, base))
    shape = tuple(x.shape) if d(st.integers(0, 6)) else d(st.sampled_from(
        [(2**62, 2**62, 4, 4), (1, 1, -3, 4), (1, 2, 3), (1, 1, 0, 3)]))
    _check("adaptive_avg_pool2d_backward", (dy, shape), None, base)


def _rnn_case(d):
    T, N, I, H = d(st.integers(0, 4)), d(st.integers(0, 3)), d(st.integers(0, 4)), d(st.integers(0, 5))
    base = d(st.sampled_from([np.float32, np.float64]))
    arr = lambda shape: _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))
    x, h0, w_ih, w_hh = arr((T, N, I)), arr((N, H)), arr((H, I)), arr((H, H))
    nl = d(st.sampled_from(["tanh", "relu", "sigmoid", "tanh", "gelu", None]))
    return T, N, H, x, h0, w_ih, w_hh, nl, base, arr


@FUZZ
@given(st.data())
def test_fuzz_rnn_forward(data):
    d = data.draw
    T, N, H, x, h0, w_ih, w_hh, nl, base, arr = _rnn_case(d)
    b_ih = None if d(st.booleans()) else arr((H,))
    b_hh = None if d(st.booleans()) else arr((H,))
    _check("rnn_forward", (x, h0, w_ih, w_hh, b_ih, b_hh, nl), None, base)


@FUZZ
@given(st.data())
def test_fuzz_rnn_backward(data):
    d = data.draw
    T, N, H, x, h0, w_ih, w_hh, nl, base, arr = _rnn_case(d)
    hs = arr((T, N, H))
    dhs = arr((T, N, H))
    _check("rnn_backward", (dhs, x, h0, hs, w_ih, w_hh, nl), dict(bias=d(st.booleans())), base)


def _act_case(d):
    shape = tuple(d(st.lists(st.integers(0, 6), min_size=0, max_size=4)))
    base = d(st.sampled_from([np.float32, np.float64]))
    return shape, base


@FUZZ
@given(st.data())
def test_fuzz_activations(data):
    d = data.draw
    shape, base = _act_case(d)
    fwd, bwd = d(st.sampled_from([("relu_forward", "relu_backward"),
                                  ("sigmoid_forward", "sigmoid_backward"),
                                  ("tanh_forward", "tanh_backward")]))
    x = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))
    r = d(st.integers(0, 5))
    kwargs = {}
    if r == 0:  # a wrong or a right out=
        kwargs["out"] = d(st.sampled_from([None, "junk", np.empty(shape, base),
                                           np.empty(shape, np.float16), np.empty((7,), base)]))
        kwargs["out"] = kwargs["out"].copy() if isinstance(kwargs["out"], np.ndarray) \
            else kwargs["out"]
    if d(st.booleans()):
        _check(fwd, (x,), kwargs, base)
        return
    y = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base), special=False)
    if fwd != "relu_forward" and y.dtype in (np.float32, np.float64):
        y = getattr(reference, fwd)(y)  # a forward's output
    _check(bwd, (x, y), kwargs, base)


_ACTFN_PARAMS = {
    "leaky_relu": ("negative_slope",), "elu": ("alpha",), "gelu": ("approximate",),
    "silu": (), "softplus": ("beta", "threshold"), "hardtanh": ("min_val", "max_val")}


@FUZZ
@given(st.data())
def test_fuzz_parameterised_activations(data):
    d = data.draw
    shape, base = _act_case(d)
    name = d(st.sampled_from(["leaky_relu_forward", "elu_forward", "gelu_forward",
                              "silu_forward", "softplus_forward", "hardtanh_forward"]))
    kind = name[:-len("_forward")]
    kwargs = {}
    for p in _ACTFN_PARAMS[kind]:
        if d(st.booleans()):
            good = st.sampled_from(["none", "tanh"]) if p == "approximate" else \
                st.floats(-3, 3, allow_nan=False)
            bad = st.sampled_from(["junk", None, True, 1j, np.nan, 0.0, "tanh"])
            kwargs[p] = d(good) if d(st.integers(0, 4)) else d(bad)
    x = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))
    if d(st.integers(0, 5)) == 0:  # a wrong or a right out=
        out = d(st.sampled_from([None, "junk", np.empty(shape, base),
                                 np.empty(shape, np.float16), np.empty((7,), base)]))
        kwargs["out"] = out.copy() if isinstance(out, np.ndarray) else out
    if d(st.booleans()):
        _check(name, (x,), kwargs, base)
        return
    xin = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base), special=False)
    names = {"leaky_relu_backward", "elu_backward", "gelu_backward", "silu_backward",
             "softplus_backward", "hardtanh_backward"}
    bwd = kind + "_backward"
    assert bwd in names
    _check(bwd, (x, xin), kwargs, base)


@FUZZ
@given(st.data())
def test_fuzz_softmax_along_a_dim(data):
    d = data.draw
    shape, base = _act_case(d)
    fwd = d(st.sampled_from(["softmax_forward", "log_softmax_forward"]))
    dim = d(st.sampled_from([0, -1, 1, 2, -3, 7, None, 1.0, True]))
    kwargs = {} if dim == -1 and d(st.booleans()) else {"dim": dim}
    x = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))
    if d(st.booleans()):
        _check(fwd, (x,), kwargs, base)
        return
    y = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base), special=False)
    if y.dtype in (np.float32, np.float64):
        try:
            y = getattr(reference, fwd)(y, **kwargs)  # a forward's output
        except (TypeError, ValueError):
            pass
    _check({"softmax_forward": "softmax_backward",
            "log_softmax_forward": "log_softmax_backward"}[fwd], (x, y), kwargs, base)


@FUZZ
@given(st.data())
def test_fuzz_softmax_cross_entropy(data):
    d = data.draw
    N, C = d(st.integers(0, 5)), d(st.integers(0, 6))
    base = d(st.sampled_from([np.float32, np.float64]))
    a = _array(d, _maybe_perturb_shape(d, (N, C)), _dtype(d, base))
    r = d(st.integers(0, 8))
    t = np.random.default_rng(d(st.integers(0, 99))).integers(0, max(C, 1), N)
    if r == 0:
        t = t.astype(d(st.sampled_from([np.float64, np.bool_, np.int32, np.uint8])))
    elif r == 1 and N:
        t[0] = d(st.sampled_from([-1, C, 2**62, -(2**62)]))
    elif r == 2:
        t = np.resize(t, d(st.integers(0, 7)))
    if d(st.booleans()):
        _check("softmax_cross_entropy_forward", (a, t), None, base)
        return
    scale = d(st.sampled_from(["one", "rows", "array1", "bad", "junk"]))
    scale = {"one": 0.5, "rows": _array(d, (N,), _dtype(d, base), special=False),
             "array1": np.full(1, 2.0, base), "bad": np.ones(N + 2, base),
             "junk": d(st.sampled_from([None, "2", 1j, True]))}[scale]
    prob = _array(d, _maybe_perturb_shape(d, (N, C)), _dtype(d, base))
    _check("softmax_cross_entropy_backward", (prob, t, scale), None, base)


def _state_array(d, shape, base):
    """A parameter or state buffer: mostly a fresh C-contiguous array, sometimes not."""
    a = _array(d, shape, base, special=False)
    if d(st.integers(0, 8)) == 0:
        return _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))  # maybe strided
    return np.ascontiguousarray(a)


def _optim_grad(d, shape, base):
    """A gradient array; the special value 1e30 becomes 1e15 (in place, layout kept): the
    twins square the gradient in float64, the kernels in the buffer's dtype, where 1e30^2
    overflows float32 (as in PyTorch): a range difference, not a defect. inf/NaN stay."""
    g = _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))
    if isinstance(g, np.ndarray) and g.dtype.kind == "f":
        big = np.isfinite(g) & (np.abs(g) > 1e15)
        if big.any() and g.flags.writeable:
            g[big] = np.sign(g[big]) * 1e15
        elif big.any():  # a read-only (broadcast) view: a tamed copy
            g = np.where(big, np.sign(g) * 1e15, g).astype(g.dtype)
    return g


@FUZZ
@given(st.data())
def test_fuzz_optimizer_steps(data):
    d = data.draw
    shape = tuple(d(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    base = d(st.sampled_from([np.float32, np.float64]))
    param = _state_array(d, shape, base)
    grad = _optim_grad(d, shape, base)
    num = lambda: d(st.sampled_from([0.0, 0.1, 0.9, 1e-3, 2.0, -0.5, "x", None]))
    if d(st.booleans()):
        momentum = d(st.sampled_from([0.0, 0.9, 0.5, "fast"]))
        buf = None if momentum == 0.0 and d(st.booleans()) else _state_array(d, shape, base)
        kw = dict(lr=num(), momentum=momentum, dampening=d(st.sampled_from([0.0, 0.1])),
                  nesterov=d(st.booleans()), weight_decay=num(),
                  maximize=d(st.booleans()), first_step=d(st.booleans()))
        _check("sgd_step", (param, grad, buf), kw, base, inplace=(0, 2))
        return
    m, v = _state_array(d, shape, base), np.abs(_state_array(d, shape, base))
    vmax = np.abs(_state_array(d, shape, base)) if d(st.booleans()) else None
    kw = dict(step=d(st.sampled_from([1, 2, 10, 0, -1, 1.5])), lr=num(),
              beta1=d(st.sampled_from([0.9, 0.5])), beta2=d(st.sampled_from([0.999, 0.9])),
              eps=d(st.sampled_from([1e-8, 1e-3])), weight_decay=num(),
              decoupled=d(st.booleans()), maximize=d(st.booleans()))
    _check("adam_step", (param, grad, m, v, vmax), kw, base, inplace=(0, 2, 3, 4))


@FUZZ
@given(st.data())
def test_fuzz_rmsprop_adagrad_adadelta_steps(data):
    d = data.draw
    shape = tuple(d(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    base = d(st.sampled_from([np.float32, np.float64]))
    param = _state_array(d, shape, base)
    grad = _optim_grad(d, shape, base)
    num = lambda: d(st.sampled_from([0.0, 0.1, 0.9, 1e-3, 2.0, -0.5, "x", None]))
    pos = lambda: np.abs(_state_array(d, shape, base)) + 1
    kind = d(st.sampled_from(["rmsprop", "adagrad", "adadelta"]))
    maximize = d(st.booleans())
    if kind == "rmsprop":
        momentum = d(st.sampled_from([0.0, 0.9, "fast"]))
        ga = _state_array(d, shape, base) * 0.1 if d(st.booleans()) else None
        buf = None if momentum == 0.0 and d(st.booleans()) else _state_array(d, shape, base)
        kw = dict(lr=num(), alpha=d(st.sampled_from([0.99, 0.5])), eps=1e-8,
                  weight_decay=num(), momentum=momentum, maximize=maximize)
        _check("rmsprop_step", (param, grad, pos(), ga, buf), kw, base, inplace=(0, 2, 3, 4))
    elif kind == "adagrad":
        kw = dict(step=d(st.sampled_from([1, 3, 0, 1.5])), lr=num(), lr_decay=num(),
                  eps=1e-10, weight_decay=num(), maximize=maximize)
        _check("adagrad_step", (param, grad, pos()), kw, base, inplace=(0, 2))
    else:
        kw = dict(lr=num(), rho=d(st.sampled_from([0.9, 0.5])), eps=1e-6,
                  weight_decay=num(), maximize=maximize)
        _check("adadelta_step", (param, grad, pos(), pos()), kw, base, inplace=(0, 2, 3))


@FUZZ
@given(st.data())
def test_fuzz_im2col_col2im(data):
    d = data.draw
    N, K, x, w, stride, padding, dilation, base = _conv_case(d)
    if d(st.booleans()):
        x = x[0] if x.ndim == 4 and x.shape[0] else x  # unbatched (C, H, W)
    ks = w.shape[2:] if w.ndim == 4 else _int_arg(d, 0, 4)
    if d(st.booleans()):
        _check("im2col", (x, ks, stride, padding, dilation), None, base)
        return
    try:
        cshape = reference.im2col(x, ks, stride, padding, dilation).shape
    except ALLOWED:
        cshape = (1, 4, 4)
    col = _array(d, _maybe_perturb_shape(d, cshape), _dtype(d, base))
    shape = tuple(x.shape) if d(st.integers(0, 6)) else d(st.sampled_from(
        [(2**62, 2**62, 4, 4), (1, 1, -3, 4), (1, 2), (2**31, 2**31, 2**31), "abc"]))
    _check("col2im", (col, shape, ks, stride, padding, dilation), None, base)


def _edges(d, R, C):
    """A random edge list on R x C, sometimes with an out-of-range or negative id, a float
    dtype or a mismatched length."""
    E = d(st.integers(0, 12))
    rng = np.random.default_rng(d(st.integers(0, 2**32 - 1)))
    r, c = rng.integers(0, max(R, 1), E), rng.integers(0, max(C, 1), E)
    bad = d(st.integers(0, 12))
    if bad == 0 and E:
        r[rng.integers(0, E)] = d(st.sampled_from([-1, R, R + 5, -(2**40)]))
    elif bad == 1 and E:
        c[rng.integers(0, E)] = d(st.sampled_from([-1, C, 2**40]))
    elif bad == 2:
        c = c.astype(d(st.sampled_from([np.float64, np.bool_, np.int32, np.uint8])))
    elif bad == 3:
        c = c[:-1]
    elif bad == 4:
        r = r.reshape(1, -1)
    return r, c


# ---- batch norm and dropout (tests/test_norm.py, tests/test_dropout.py) -----------------
def _bn_case(d):
    nd = d(st.integers(1, 5))
    shape = tuple(d(st.integers(0, 4)) for _ in range(nd))
    base = d(st.sampled_from([np.float32, np.float64]))
    arr = lambda s: _array(d, _maybe_perturb_shape(d, s), _dtype(d, base))
    C = shape[1] if nd > 1 else 1
    vec = lambda: None if d(st.integers(0, 3)) == 0 else arr((C,))
    eps = d(st.sampled_from([1e-5, 0.0, 1e-3, -1.0, float("nan"), "x", True]))
    return arr(shape), shape, C, base, arr, vec, eps


def _gated_case(d, G):
    T, N, I, H = d(st.integers(0, 4)), d(st.integers(0, 3)), d(st.integers(0, 4)), d(st.integers(0, 5))
    base = d(st.sampled_from([np.float32, np.float64]))
    arr = lambda shape: _array(d, _maybe_perturb_shape(d, shape), _dtype(d, base))
    x, h0, w_ih, w_hh = arr((T, N, I)), arr((N, H)), arr((G * H, I)), arr((G * H, H))
    bias = [None if d(st.booleans()) else arr((G * H,)) for _ in range(2)]
    return T, N, H, x, h0, w_ih, w_hh, bias, base, arr


@FUZZ
@given(st.data())
def test_fuzz_spmm(data):
    d = data.draw
    R, C, F = d(st.integers(0, 6)), d(st.integers(0, 6)), d(st.integers(0, 5))
    base = d(st.sampled_from([np.float32, np.float64]))
    r, c = _edges(d, R, C)
    which = d(st.sampled_from(["csr_from_coo", "spmm", "spmm_backward"]))
    if which == "csr_from_coo":
        _check("csr_from_coo", (r, c, R, d(st.sampled_from([C, C, -1, 2.0]))), None, base)
        return
    try:
        indptr, indices, perm = ops.csr_from_coo(r, c, R, C)
    except (ValueError, TypeError):
        return
    if d(st.integers(0, 10)) == 0 and indptr.size > 1:  # a corrupt CSR
        indptr = indptr[::-1].copy() if d(st.booleans()) else indptr[:-1]
    csr_perm = perm  # the true edge order of the CSR entries (for A^T's map below)
    if d(st.integers(0, 10)) == 0 and perm.size:
        perm = perm.copy()
        perm[0] = d(st.sampled_from([-1, perm.size, 0]))
    E = len(indices)
    x = _array(d, _maybe_perturb_shape(d, (C, F)), _dtype(d, base))
    # no 1e30 among the values: with one in x too, v * x rounds differently with and without
    # FMA and duplicate edges can cancel the large terms, leaving only that rounding
    values = _array(d, _maybe_perturb_shape(d, (E,)), _dtype(d, base), special=False)
    p = None if d(st.integers(0, 3)) == 0 else perm
    if which == "spmm":
        _check("spmm", (indptr, indices, values, x, p), None, base)
        return
    t_indptr, t_indices, t_perm = ops.csr_from_coo(c, r, C, R) if E == len(r) else (
        np.zeros(C + 1, np.int64), indices, perm)
    if p is None and len(t_perm) == len(perm):
        # values in CSR order: A^T must point at CSR positions. Built from the uncorrupted
        # order: a transpose that does not match A is outside the contract (only checked)
        t_perm = np.argsort(csr_perm)[t_perm]
    dy = _array(d, _maybe_perturb_shape(d, (R, F)), _dtype(d, base))
    _check("spmm_backward", (dy, indptr, indices, values, x, t_indptr, t_indices, t_perm, p),
           dict(need_dx=d(st.booleans()), need_dvalues=d(st.booleans())), base)


@FUZZ
@given(st.data())
def test_fuzz_batch_norm(data):
    d = data.draw
    x, shape, C, base, arr, vec, eps = _bn_case(d)
    which = d(st.integers(0, 2))
    if which == 0:
        relu = d(st.sampled_from([False, True, 1, None]))  # the fused ReLU flag
        res = arr(_maybe_perturb_shape(d, shape)) if d(st.booleans()) else None
        _check("batch_norm_forward", (x, vec(), vec(), eps), dict(relu=relu, residual=res),
               base)
    elif which == 1:
        rv = np.abs(arr((C,))) if d(st.booleans()) else arr((C,))
        _check("batch_norm_inference", (x, arr((C,)), rv, vec(), vec(), eps), None, base)
    else:
        mask = d(st.sampled_from([(True, True, True), (False, True, False), (True,), None]))
        invstd = np.abs(arr((C,)))
        relu_out = arr(_maybe_perturb_shape(d, shape)) if d(st.booleans()) else None
        _check("batch_norm_backward", (arr(shape), x, vec(), arr((C,)), invstd,
                                       d(st.booleans()), mask), dict(relu_out=relu_out), base)


@FUZZ
@given(st.data())
def test_fuzz_group_and_layer_norm(data):
    d = data.draw
    x, shape, C, base, arr, vec, eps = _bn_case(d)
    mask = d(st.sampled_from([(True, True, True), (False, True, False), (True,), None]))
    if d(st.booleans()):
        G = d(st.sampled_from([1, 2, 3, 0, -1, 2.0]))
        Gn = G if isinstance(G, int) and G > 0 else 1
        stat = (shape[0] if shape else 0, Gn)
        if d(st.booleans()):
            _check("group_norm_forward", (x, G, vec(), vec(), eps), None, base)
        else:
            _check("group_norm_backward", (arr(shape), x, G, vec(), arr(stat),
                                           np.abs(arr(stat)), mask), None, base)
        return
    k = d(st.integers(0, min(2, len(shape)) + 1))
    s = shape[len(shape) - k:] if k <= len(shape) else (3,) * k
    s = d(st.sampled_from([s, s[:1], (), 4, (2.0,)] if s else [s, 4]))
    ss = tuple(int(v) for v in ((s,) if isinstance(s, int) else s))
    aff = lambda: None if d(st.integers(0, 3)) == 0 else arr(ss)  # noqa: E731
    lead = shape[:len(shape) - len(ss)]
    if d(st.booleans()):
        _check("layer_norm_forward", (x, s, aff(), aff(), eps), None, base)
    else:
        _check("layer_norm_backward", (arr(shape), x, s, aff(), arr(lead), np.abs(arr(lead)),
                                       mask), None, base)


@FUZZ
@given(st.data())
def test_fuzz_lstm(data):
    d = data.draw
    T, N, H, x, h0, w_ih, w_hh, bias, base, arr = _gated_case(d, 4)
    c0 = arr((N, H))
    if d(st.booleans()):
        _check("lstm_forward", (x, h0, c0, w_ih, w_hh, *bias), None, base)
    else:
        dc_n = None if d(st.booleans()) else arr((N, H))
        saved = (arr((T, N, H)), arr((T, N, H)), arr((T, N, 4 * H)))
        _check("lstm_backward", (arr((T, N, H)), dc_n, x, h0, c0, w_ih, w_hh, *saved),
               dict(bias=d(st.booleans())), base)


@FUZZ
@given(st.data())
def test_fuzz_lstm_bidir(data):
    d = data.draw
    T, N, H, x, h0, w_ih, w_hh, bias, base, arr = _gated_case(d, 4)
    c0 = arr((N, H))
    rev = (arr((N, H)), arr((N, H)), arr(np.shape(w_ih)), arr((4 * H, H)))
    if d(st.booleans()):
        _check("lstm_bidir_forward", (x, h0, c0, w_ih, w_hh, *bias, *rev, *bias), None, base)
    else:
        saved = (arr((T, N, H)), arr((T, N, H)), arr((T, N, 4 * H)))
        dc_n = None if d(st.booleans()) else arr((N, H))
        _check("lstm_bidir_backward", (arr((T, N, H)), dc_n, arr((T, N, H)), dc_n, x, h0, c0,
                                       w_ih, w_hh, *saved, *rev, *saved),
               dict(bias=d(st.booleans()), input_grad=d(st.booleans())), base)


@FUZZ
@given(st.data())
def test_fuzz_dropout(data):
    d = data.draw
    shape = tuple(d(st.integers(0, 70)) for _ in range(d(st.integers(0, 3))))
    base = d(st.sampled_from([np.float32, np.float64]))
    x = _array(d, shape, _dtype(d, base))
    p = d(st.sampled_from([0.0, 0.5, 0.1, 1.0, 0.999, -0.5, 1.5, float("nan"), "0.5", None]))
    seed = d(st.sampled_from([0, 1, 2**64 - 1, 2**64, -1, 1.5, 12345]))
    offset = d(st.sampled_from([0, 3, 2**63, -2]))
    which = d(st.integers(0, 2))
    if which == 0:
        _check("dropout_forward", (x, p, seed, offset), None, base)
    elif which == 1:
        mask = (np.random.default_rng(d(st.integers(0, 99))).random(
            _maybe_perturb_shape(d, shape)) < 0.5).astype(
                d(st.sampled_from([np.uint8, np.uint8, np.bool_, np.int64])))
        _check("dropout_backward", (x, mask, p), None, base)
    else:
        _check("dropout_mask", (_maybe_perturb_shape(d, shape), p, seed, offset), None, base)


@FUZZ
@given(st.data())
def test_fuzz_gru(data):
    d = data.draw
    T, N, H, x, h0, w_ih, w_hh, bias, base, arr = _gated_case(d, 3)
    if d(st.booleans()):
        _check("gru_forward", (x, h0, w_ih, w_hh, *bias), None, base)
    else:
        saved = (arr((T, N, H)), arr((T, N, 4 * H)))
        _check("gru_backward", (arr((T, N, H)), x, h0, w_ih, w_hh, *saved),
               dict(bias=d(st.booleans())), base)


@FUZZ
@given(st.data())
def test_fuzz_embedding(data):
    d = data.draw
    num, dim = d(st.integers(0, 6)), d(st.integers(0, 4))
    base = d(st.sampled_from([np.float32, np.float64]))
    ishape = tuple(d(st.lists(st.integers(0, 4), max_size=3)))
    rng = np.random.default_rng(d(st.integers(0, 99)))
    idx = rng.integers(0, max(num, 1), ishape)
    r = d(st.integers(0, 8))
    if r == 0 and idx.size:
        idx.flat[0] = d(st.sampled_from([-1, num, 2**62, -(2**62)]))
    elif r == 1:
        idx = idx.astype(d(st.sampled_from([np.float64, np.bool_, np.int32, np.uint8])))
    elif r == 2:
        idx = d(st.sampled_from([None, "junk", [[0, 1], [2]], 1.5]))
    if d(st.booleans()):
        _check("embedding_forward", (_array(d, _maybe_perturb_shape(d, (num, dim)),
                                            _dtype(d, base)), idx), None, base)
        return
    ishape = idx.shape if isinstance(idx, np.ndarray) else (2,)  # junk: any dout
    dy = _array(d, _maybe_perturb_shape(d, ishape + (dim,)), _dtype(d, base))
    kw = dict(padding_idx=d(st.sampled_from([None, 0, -1, num, -num - 1, 1.0, "x"])),
              scale_grad_by_freq=d(st.sampled_from([False, True, 1, None])))
    n = d(st.sampled_from([num, num, -1, 2**62, 1.5, None]))
    _check("embedding_backward", (dy, idx, n), kw, base)
