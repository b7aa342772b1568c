"""conv2d: fast (im2col + GEMM) vs reference (loops over output positions), finite
differences, PyTorch, the im2col/col2im adjoint identity, determinism, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule import _kernels, ops, reference as ref
from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

DTYPES = [np.float32, np.float64]

# (N, C, H, W, K, R, S, stride, padding, dilation): kernels 1-5, strides 1-3, padding 0-2,
# dilation 1-2, non-square images and kernels, batch 1, C = 1, pointwise and strided 1x1.
CASES = [
    (2, 3, 7, 9, 4, 3, 2, (1, 2), (1, 0), (2, 1)),
    (3, 2, 5, 6, 3, 1, 1, 1, 0, 1),          # pointwise fast path
    (2, 3, 7, 5, 2, 1, 1, 2, 0, 1),          # 1x1 but strided: im2col path
    (2, 2, 5, 5, 3, 1, 1, 1, 1, 1),          # 1x1 with padding
    (1, 1, 6, 5, 2, 5, 5, 3, 2, 1),          # batch 1, C = 1, 5x5, stride 3
    (2, 1, 11, 8, 3, 4, 3, (3, 1), (2, 1), (1, 2)),
    (1, 4, 9, 10, 5, 2, 4, 2, (0, 2), 2),
    (3, 2, 8, 8, 1, 3, 3, 1, 1, 1),          # K = 1
    (2, 3, 4, 13, 2, 3, 5, (1, 3), (1, 2), (1, 2)),
]


def _data(rng, case, dtype, bias=True):
    N, C, H, W, K, R, S = case[:7]
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if bias else None
    return x, w, b


def _check_against_reference(x, w, b, stride, padding, dilation, rng):
    dt = x.dtype
    y = ops.conv2d_forward(x, w, b, stride, padding, dilation)
    yr = ref.conv2d_forward(x, w, b, stride, padding, dilation)
    assert y.dtype == dt
    assert_close(y, yr, dt, name="y")
    dy = rng.standard_normal(y.shape).astype(dt)
    dx, dw, db = ops.conv2d_backward(dy, x, w, stride, padding, dilation, bias=b is not None)
    dxr, dwr, dbr = ref.conv2d_backward(dy, x, w, stride, padding, dilation, bias=b is not None)
    assert_close(dx, dxr, dt, name="dx")
    assert_close(dw, dwr, dt, name="dw")
    if b is None:
        assert db is None and dbr is None
    else:
        assert_close(db, dbr, dt, name="db")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_fast_matches_reference(case, dtype, rng):
    x, w, b = _data(rng, case, dtype)
    _check_against_reference(x, w, b, *case[7:], rng)


# big enough that the kernels go parallel (by image for N >= 2, inside one image for N=1);
# N=24 with small images groups several images per block; K*C*R*S > 8192 accumulates dw^T
THREADED = [(1, 6, 14, 12, 8, 3, 3, 1, 1, 1), (5, 6, 14, 12, 8, 3, 3, 1, 1, 1),
            (24, 3, 7, 6, 5, 3, 2, 1, (1, 0), 1), (17, 2, 5, 5, 4, 1, 1, 1, 0, 1),
            (3, 16, 6, 7, 64, 3, 3, 1, 1, 1), (3, 9000, 1, 1, 1, 1, 1, 1, 0, 1),
            (2, 16, 18, 17, 64, 3, 3, 1, 1, 1),  # K = 64: implicit forward, im2col backward
            (3, 20, 11, 9, 72, 3, 3, 2, 1, 1),   # K >= 64, stride 2: dw by the packed GEMM
            (2, 136, 7, 6, 24, 5, 5, 1, 2, 1),   # C > 128, K <= 64: dx as a convolution
            (2, 120, 9, 8, 16, 3, 3, 2, 1, 1),   # K <= 32, C*R*S >= 1024: packed GEMM
            (3, 256, 4, 5, 256, 3, 3, 1, 1, 1)]  # deep (K*C*R*S >= 2^19): all images in one block


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", THREADED)
def test_threaded_sizes_match_reference(case, threads, dtype, rng):
    cr.set_num_threads(threads)
    x, w, b = _data(rng, case, dtype)
    _check_against_reference(x, w, b, *case[7:], rng)


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3), C=st.integers(1, 3), K=st.integers(1, 4),
       H=st.integers(1, 9), W=st.integers(1, 9), R=st.integers(1, 5), S=st.integers(1, 5),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       dh=st.integers(1, 2), dw=st.integers(1, 2), f32=st.booleans(), bias=st.booleans())
def test_fast_matches_reference_random(N, C, K, H, W, R, S, sh, sw, ph, pw, dh, dw, f32, bias):
    if dh * (R - 1) + 1 > H + 2 * ph or dw * (S - 1) + 1 > W + 2 * pw:
        return  # not a valid convolution (covered by the bad-input tests)
    rng = np.random.default_rng(N * 1000 + C * 100 + H * 10 + W)
    x, w, b = _data(rng, (N, C, H, W, K, R, S), np.float32 if f32 else np.float64, bias)
    _check_against_reference(x, w, b, (sh, sw), (ph, pw), (dh, dw), rng)


FD_CASES = [
    (2, 2, 5, 6, 3, 3, 2, (2, 1), (1, 2), (1, 2)),
    (1, 1, 6, 5, 2, 2, 3, 1, 0, 2),
    (2, 3, 4, 4, 2, 1, 1, 1, 0, 1),          # pointwise
]


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
@pytest.mark.parametrize("case", FD_CASES)
def test_backward_matches_finite_differences(case, impl, rng):
    x, w, b = _data(rng, case, np.float64)
    conv = case[7:]
    y = impl.conv2d_forward(x, w, b, *conv)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = impl.conv2d_backward(dy, x, w, *conv)
    assert_grad_close(dx, numerical_grad(lambda v: impl.conv2d_forward(v, w, b, *conv), x, dy),
                      name="dx")
    assert_grad_close(dw, numerical_grad(lambda v: impl.conv2d_forward(x, v, b, *conv), w, dy),
                      name="dw")
    assert_grad_close(db, numerical_grad(lambda v: impl.conv2d_forward(x, w, v, *conv), b, dy),
                      name="db")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES[:6])
def test_matches_torch(case, dtype, rng):
    import torch
    import torch.nn.functional as F
    x, w, b = _data(rng, case, dtype)
    stride, padding, dilation = case[7:]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = F.conv2d(tx, tw, tb, stride=stride, padding=padding, dilation=dilation)
    dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(dy))
    y = ops.conv2d_forward(x, w, b, stride, padding, dilation)
    dx, dw, db = ops.conv2d_backward(dy, x, w, stride, padding, dilation)
    assert_close(y, ty.detach().numpy(), dtype, name="y")
    assert_close(dx, tx.grad.numpy(), dtype, name="dx")
    assert_close(dw, tw.grad.numpy(), dtype, name="dw")
    assert_close(db, tb.grad.numpy(), dtype, name="db")


def test_non_contiguous_inputs(rng):
    x, w, b = _data(rng, (2, 3, 8, 7, 4, 3, 2), np.float64)
    xs = np.asfortranarray(x)[:, :, ::-1]              # negative stride, Fortran order
    ws = np.swapaxes(np.swapaxes(w, 2, 3).copy(), 2, 3)  # non-contiguous view of w
    dyb = rng.standard_normal((2, 4, 2 * 6, 2 * 6))
    assert not xs.flags.c_contiguous and not ws.flags.c_contiguous
    y = ops.conv2d_forward(xs, ws, b[::1], 1, 0, 1)
    assert_close(y, ref.conv2d_forward(np.ascontiguousarray(xs), w, b), name="y")
    dy = dyb[:, :, ::2, ::2]
    got = ops.conv2d_backward(dy, xs, ws, 1, 0, 1)
    want = ref.conv2d_backward(np.ascontiguousarray(dy), np.ascontiguousarray(xs), w)
    for g, r, n in zip(got, want, ("dx", "dw", "db")):
        assert_close(g, r, name=n)


ADJ_CASES = [(3, 7, 9, 3, 2, (1, 2), (1, 0), (2, 1)), (2, 6, 5, 5, 5, 3, 2, 1),
             (1, 8, 8, 1, 1, 2, 0, 1), (2, 9, 10, 2, 4, 2, (0, 2), 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ADJ_CASES)
def test_col2im_is_the_adjoint_of_im2col(case, dtype, rng):
    # <im2col(x), Y> == <x, col2im(Y)> for random x, Y, also for a block of output rows
    C, H, W, R, S, stride, padding, dilation = case
    wshape = (1, C, R, S)
    stride, padding, dilation, (P, Q) = cr._checks.conv2d_output_size(
        "t", (1, C, H, W), wshape, stride, padding, dilation)
    x = rng.standard_normal((C, H, W)).astype(dtype)
    for p0, p1 in [(0, P), (P // 2, P)]:
        if p0 >= p1:
            continue
        Y = rng.standard_normal((C * R * S, (p1 - p0) * Q)).astype(dtype)
        col = np.full_like(Y, np.nan)                  # im2col must write every entry
        _kernels.im2col(col, x, wshape, stride, padding, dilation, p0, p1)
        back = np.zeros_like(x)
        _kernels.col2im(back, Y, wshape, stride, padding, dilation, p0, p1)
        lhs = np.dot(col.ravel().astype(np.float64), Y.ravel())
        rhs = np.dot(x.ravel().astype(np.float64), back.ravel())
        assert abs(lhs - rhs) <= (1e-4 if dtype == np.float32 else 1e-11) * max(1, abs(lhs))
        # and im2col is the definition: each row (c, r, s) samples the padded, dilated image
        xp = np.pad(x, ((0, 0), (padding[0],) * 2, (padding[1],) * 2))
        r, s = R - 1, S - 1
        sl = xp[C - 1, r * dilation[0]::stride[0], s * dilation[1]::stride[1]][p0:p1, :Q]
        assert np.array_equal(col[-1].reshape(p1 - p0, Q), sl)


def test_col2im_accumulates(rng):
    x = rng.standard_normal((2, 5, 5))
    Y = rng.standard_normal((2 * 9, 9))
    a = np.zeros_like(x)
    _kernels.col2im(a, Y, (1, 2, 3, 3), (1, 1), (0, 0), (1, 1))
    b = x.copy()
    _kernels.col2im(b, Y, (1, 2, 3, 3), (1, 1), (0, 0), (1, 1))
    assert_close(b, x + a)


@pytest.mark.parametrize("case", [(4, 3, 10, 9, 5, 3, 3, 1, 1, 1), (1, 4, 16, 12, 6, 3, 2, 2, 1, 1),
                                  (1, 24, 20, 19, 40, 3, 3, 1, 1, 1), (1, 6, 9, 70, 8, 3, 3, 1, 1, 1),
                                  (4, 8, 9, 9, 6, 1, 1, 1, 0, 1), (32, 3, 6, 6, 4, 3, 3, 1, 1, 1),
                                  (3, 16, 6, 7, 64, 3, 3, 1, 1, 1), (2, 16, 18, 17, 64, 3, 3, 1, 1, 1),
                                  (3, 20, 11, 9, 72, 3, 3, 2, 1, 1), (2, 136, 7, 6, 24, 5, 5, 1, 2, 1),
                                  (3, 256, 4, 5, 256, 3, 3, 1, 1, 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_deterministic_and_thread_count_invariant(case, dtype, rng):
    x, w, b = _data(rng, case, dtype)
    conv = case[7:]
    y0 = ops.conv2d_forward(x, w, b, *conv)
    dy = rng.standard_normal(y0.shape).astype(dtype)
    results = {}
    for threads in (1, 2):
        cr.set_num_threads(threads)
        runs = [(ops.conv2d_forward(x, w, b, *conv),) + ops.conv2d_backward(dy, x, w, *conv)
                for _ in range(3)]
        for r in runs[1:]:
            for a, c in zip(runs[0], r):
                assert np.array_equal(a, c), f"not repeatable at {threads} threads"
        results[threads] = runs[0]
    for name, a, c in zip(("y", "dx", "dw", "db"), results[1], results[2]):
        assert np.array_equal(a, c), f"{name} differs between 1 and 2 threads"


@pytest.mark.parametrize("threads", [1, 2])
def test_workspace_limit_blocks_rows_and_stays_correct(threads, rng):
    cr.set_num_threads(threads)
    old_limit = ops.get_workspace_limit()
    x, w, b = _data(rng, (3, 4, 12, 11, 5, 3, 3), np.float64)
    shapes = (x.shape, w.shape, 1, 1, 1, np.float64)
    full = ops.conv2d_workspace_bytes(*shapes)
    # per thread: im2col columns (C*R*S rows) plus a K-row block, for all P*Q outputs of an
    # image by default: (C*R*S + K) x P*Q doubles
    per_col = (4 * 9 + 5) * 8
    assert full == threads * per_col * 12 * 11
    ops.set_workspace_limit(1)          # forces one output row per block
    assert ops.get_workspace_limit() == 1
    assert ops.conv2d_workspace_bytes(*shapes) == threads * per_col * 11
    ops.set_workspace_limit(per_col * 11 * 5)  # five rows per block (12 = 5 + 5 + 2)
    assert ops.conv2d_workspace_bytes(*shapes, backward=True) == threads * per_col * 5 * 11
    for limit in (1, per_col * 11 * 5):
        ops.set_workspace_limit(limit)
        _check_against_reference(x, w, b, 1, 1, 1, rng)
    # pointwise: packed weights and panels, whatever the limit (no im2col columns)
    pw = ops.conv2d_workspace_bytes((3, 4, 12, 11), (5, 4, 1, 1))
    ops.set_workspace_limit(old_limit)
    assert pw == ops.conv2d_workspace_bytes((3, 4, 12, 11), (5, 4, 1, 1)) > 0


def test_set_workspace_limit_rejects_bad_values():
    with pytest.raises(ValueError, match="nbytes"):
        ops.set_workspace_limit(0)
    with pytest.raises(TypeError, match="nbytes"):
        ops.set_workspace_limit(1.5)


def test_bias_false_and_empty_batch(rng):
    x, w, _ = _data(rng, (2, 2, 5, 5, 3, 3, 3), np.float32)
    y = ops.conv2d_forward(x, w)
    assert_close(y, ref.conv2d_forward(x, w), np.float32)
    dx, dw, db = ops.conv2d_backward(np.ones_like(y), x, w, bias=False)
    assert db is None and dx.shape == x.shape and dw.shape == w.shape
    y0 = ops.conv2d_forward(x[:0], w)
    assert y0.shape == (0, 3, 3, 3)
    dx0, dw0, db0 = ops.conv2d_backward(y0, x[:0], w)
    assert dx0.shape == (0, 2, 5, 5) and not dw0.any() and not db0.any()


BAD = [
    # (kwargs, exception, message fragment)
    (dict(w=np.zeros((3, 4, 3, 3))), ValueError, "channel mismatch"),
    (dict(w=np.zeros((3, 2, 9, 3))), ValueError, "larger than the padded input"),
    (dict(w=np.zeros((3, 2, 3, 3)), dilation=4), ValueError, "dilated"),
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(1, 0)), ValueError, "stride"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(stride=1.5), TypeError, "stride"),
    (dict(padding=(1, 2, 3)), ValueError, "padding"),
    (dict(x=np.zeros((2, 5, 5))), ValueError, "'x' must be 4-D"),
    (dict(w=np.zeros((3, 2, 3))), ValueError, "'w' must be 4-D"),
    (dict(x=np.zeros((1, 2, 5, 5), np.float32)), TypeError, "mixed float dtypes"),
    (dict(x=np.zeros((1, 2, 5, 5), np.int64)), TypeError, "'x' must have dtype float32 or float64"),
    (dict(w=np.zeros((3, 2, 3, 3), np.int32)), TypeError, "'w'"),
    (dict(b=np.zeros(4)), ValueError, "'b' must have shape"),
    (dict(b=np.zeros((3, 1))), ValueError, "'b' must be 1-D"),
    (dict(w=np.zeros((0, 2, 3, 3))), ValueError, "empty"),
]


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
@pytest.mark.parametrize("kwargs,exc,msg", BAD)
def test_forward_bad_input(impl, kwargs, exc, msg):
    args = dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((3, 2, 3, 3)), b=None, stride=1,
                padding=0, dilation=1)
    args.update(kwargs)
    with pytest.raises(exc, match=msg):
        impl.conv2d_forward(**args)


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
def test_backward_bad_input(impl):
    x, w = np.zeros((2, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match="'dy' must have shape"):
        impl.conv2d_backward(np.zeros((2, 3, 4, 3)), x, w)
    with pytest.raises(ValueError, match="'dy' must have shape"):
        impl.conv2d_backward(np.zeros((2, 3, 3, 3)), x, w, padding=1)
    with pytest.raises(TypeError, match="mixed float dtypes"):
        impl.conv2d_backward(np.zeros((2, 3, 3, 3), np.float32), x, w)
    with pytest.raises(ValueError, match="'dy' must be 4-D"):
        impl.conv2d_backward(np.zeros((2, 3, 9)), x, w)
    with pytest.raises(ValueError, match="channel mismatch"):
        impl.conv2d_backward(np.zeros((2, 3, 3, 3)), x, np.zeros((3, 1, 3, 3)))


def test_binding_refuses_out_of_bounds_shapes():
    # the Cython layer re-checks shapes even when called directly
    x, w = np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError):
        _kernels.conv2d_forward(np.zeros((1, 3, 2, 3)), x, w, None, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError):
        _kernels.conv2d_backward(np.zeros((1, 2, 5, 5)), None, None, np.zeros((1, 3, 3, 2)),
                                 x, w, (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError):
        _kernels.im2col(np.zeros((18, 8)), x[0], w.shape, (1, 1), (0, 0), (1, 1))


def test_portable_path_without_avx512():
    # CHAINRULE_ISA=generic turns off the AVX-512 conv kernels (and the GEMM's): the
    # portable float32 code must give the same answers
    import os
    import subprocess
    import sys
    code = """
import numpy as np
from chainrule import ops, reference as ref
rng = np.random.default_rng(5)
for (N, C, H, W, K, R, S, st, pd) in [(3, 2, 9, 8, 5, 3, 2, 1, 1), (20, 3, 6, 6, 4, 3, 3, 1, 0),
                                      (2, 4, 7, 7, 3, 1, 1, 1, 0), (2, 3, 9, 9, 4, 3, 3, 2, 1)]:
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, R, S)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    y = ops.conv2d_forward(x, w, b, st, pd)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = (y,) + ops.conv2d_backward(dy, x, w, st, pd)
    want = (ref.conv2d_forward(x, w, b, st, pd),) + ref.conv2d_backward(dy, x, w, st, pd)
    for g, r in zip(got, want):
        err = np.abs(g - r).max() / max(1.0, np.abs(r).max())
        assert err < 1e-5, err
print("ok")
"""
    env = dict(os.environ, CHAINRULE_ISA="generic")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("case", [(6, 2, 9, 8, 5, 3, 3, 1, 1, 1), (40, 3, 6, 6, 4, 3, 3, 1, 0, 1)])
def test_float32_small_layer_paths_agree_under_every_limit(case, rng):
    # small float32 layers run "implicit" (no im2col) unless the workspace limit is too
    # small, then im2col blocks (grouped or row blocks): every path matches the reference,
    # and the reported workspace stays within threads x limit whenever one row fits
    cr.set_num_threads(2)
    x, w, b = _data(rng, case, np.float32)
    conv = case[7:]
    CRS = case[1] * case[5] * case[6]
    for limit in (8 << 20, 4096, 1):
        ops.set_workspace_limit(limit)
        _check_against_reference(x, w, b, *conv, rng)
        for backward in (False, True):
            ws = ops.conv2d_workspace_bytes(x.shape, w.shape, *conv, np.float32, backward=backward)
            if limit > 1:
                assert 0 < ws <= 2 * limit + CRS * 8, (limit, backward, ws)


def test_concurrent_calls_from_python_threads(rng):
    # the kernels release the GIL and share one cached scratch buffer: calls from several
    # Python threads at once must give exactly the serial results
    from concurrent.futures import ThreadPoolExecutor
    cases = [(6, 3, 12, 12, 8, 3, 3, 1, 1, 1), (40, 2, 7, 7, 4, 3, 3, 1, 0, 1),
             (3, 16, 10, 9, 64, 3, 3, 2, 1, 1)]
    jobs = []
    for case in cases:
        for dtype in DTYPES:
            x, w, b = _data(rng, case, dtype)
            dy = rng.standard_normal(ops.conv2d_forward(x, w, b, *case[7:]).shape).astype(dtype)
            jobs.append((x, w, b, dy, case[7:]))

    def run(job):
        x, w, b, dy, conv = job
        return (ops.conv2d_forward(x, w, b, *conv),) + ops.conv2d_backward(dy, x, w, *conv)

    serial = [run(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            for got, want in zip(pool.map(run, jobs * 2), serial * 2):
                for g, r in zip(got, want):
                    assert np.array_equal(g, r)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_need_dx_false_skips_dx_only(dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 2, 9, 8)).astype(dtype)
    w = rng.standard_normal((4, 2, 3, 2)).astype(dtype)
    dy = rng.standard_normal(ops.conv2d_forward(x, w, stride=(2, 1), padding=1).shape).astype(dtype)
    full = ops.conv2d_backward(dy, x, w, stride=(2, 1), padding=1)
    for mod in (ops, ref):
        dx, dw, db = mod.conv2d_backward(dy, x, w, stride=(2, 1), padding=1, need_dx=False)
        assert dx is None
        np.testing.assert_allclose(dw, full[1], rtol=1e-4 if dtype == np.float32 else 1e-10)
        np.testing.assert_allclose(db, full[2], rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("case", [(3, 16, 9, 11, 64, 3, 3, 1, 1, 1), (2, 32, 10, 9, 48, 3, 2, 1, 0, 1),
                                  (2, 16, 11, 12, 72, 3, 3, 1, 2, 2)])
def test_float32_large_dw_paths_agree_and_are_thread_invariant(case, rng):
    # float32 layers with a large dw (K*C*R*S > 8192) and dx computable as a convolution sum
    # dw image by image without im2col, unless the limit is too small (then im2col blocks):
    # both match the reference, and each is bitwise the same at 1 and 2 threads
    x, w, b = _data(rng, case, np.float32)
    conv = case[7:]
    dy = rng.standard_normal(ops.conv2d_forward(x, w, b, *conv).shape).astype(np.float32)
    for limit in (8 << 20, 4096):
        ops.set_workspace_limit(limit)
        _check_against_reference(x, w, b, *conv, rng)
        got = {}
        for threads in (1, 2):
            cr.set_num_threads(threads)
            got[threads] = (ops.conv2d_backward(dy, x, w, *conv)
                            + ops.conv2d_backward(dy, x, w, *conv, need_dx=False)[1:])
        for a, c in zip(got[1], got[2]):
            assert np.array_equal(a, c), limit
        assert np.array_equal(got[2][1], got[2][3])  # dw alone == dw with dx
