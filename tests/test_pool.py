"""max/avg pooling: fast vs reference, finite differences, PyTorch, ties, determinism,
bad input (including out-of-range indices, which must never be written)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule import _kernels, ops, reference as ref
from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

DTYPES = [np.float32, np.float64]

# (shape, kernel_size, stride, padding)
CASES = [
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 3, 7, 9), 3, 2, 1),
    ((1, 1, 5, 6), (2, 3), (1, 2), (1, 1)),
    ((3, 2, 9, 7), (3, 2), 1, (1, 0)),
    ((2, 2, 11, 10), 5, 3, 2),
    ((1, 4, 4, 5), 1, 1, 0),
    ((2, 1, 6, 13), (4, 1), (2, 3), (2, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_max_pool_matches_reference(case, dtype, rng):
    shape, k, s, p = case
    x = rng.standard_normal(shape).astype(dtype)
    y, idx = ops.max_pool2d_forward(x, k, s, p)
    yr, idxr = ref.max_pool2d_forward(x, k, s, p)
    assert y.dtype == dtype and idx.dtype == np.int64
    assert np.array_equal(y, yr) and np.array_equal(idx, idxr)
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(ops.max_pool2d_backward(dy, idx, shape), ref.max_pool2d_backward(dy, idx, shape),
                 dtype, name="dx")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_avg_pool_matches_reference(case, dtype, rng):
    shape, k, s, p = case
    x = rng.standard_normal(shape).astype(dtype)
    y = ops.avg_pool2d_forward(x, k, s, p)
    assert y.dtype == dtype
    assert_close(y, ref.avg_pool2d_forward(x, k, s, p), dtype, name="y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(ops.avg_pool2d_backward(dy, shape, k, s, p),
                 ref.avg_pool2d_backward(dy, shape, k, s, p), dtype, name="dx")


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9),
       kh=st.integers(1, 5), kw=st.integers(1, 5), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), f32=st.booleans())
def test_pool_matches_reference_random(N, C, H, W, kh, kw, sh, sw, ph, pw, f32):
    if 2 * ph > kh or 2 * pw > kw or kh > H + 2 * ph or kw > W + 2 * pw:
        return  # invalid pooling, covered by the bad-input tests
    dt = np.float32 if f32 else np.float64
    rng = np.random.default_rng(N * 1000 + C * 100 + H * 10 + W)
    # few distinct values so ties are common
    x = rng.integers(-3, 4, (N, C, H, W)).astype(dt)
    args = ((kh, kw), (sh, sw), (ph, pw))
    y, idx = ops.max_pool2d_forward(x, *args)
    yr, idxr = ref.max_pool2d_forward(x, *args)
    assert np.array_equal(y, yr) and np.array_equal(idx, idxr)
    dy = rng.standard_normal(y.shape).astype(dt)
    assert_close(ops.max_pool2d_backward(dy, idx, x.shape), ref.max_pool2d_backward(dy, idx, x.shape), dt)
    assert_close(ops.avg_pool2d_forward(x, *args), ref.avg_pool2d_forward(x, *args), dt)
    assert_close(ops.avg_pool2d_backward(dy, x.shape, *args),
                 ref.avg_pool2d_backward(dy, x.shape, *args), dt)


def test_max_pool_ties_pick_the_first_maximum():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 5.0        # window (0,0): tie at (0,1) and (1,0)
    x[0, 0, 2:4, 2:4] = -1.0                   # window (1,1): all equal -> first, (2,2)
    x[0, 0, 3, 0] = x[0, 0, 3, 1] = 2.0        # window (1,0): tie in the last row
    # window (0,1) is all zeros: the first, (0,2)
    for impl in (ops, ref):
        y, idx = impl.max_pool2d_forward(x, 2)
        assert idx[0, 0].tolist() == [[1, 2], [3 * 4 + 0, 2 * 4 + 2]], impl.__name__
        assert y[0, 0].tolist() == [[5.0, 0.0], [2.0, -1.0]]
        dx = impl.max_pool2d_backward(np.ones((1, 1, 2, 2)), idx, x.shape)
        assert dx.sum() == 4 and dx[0, 0, 0, 1] == 1 and dx[0, 0, 1, 0] == 0


def test_max_pool_padding_is_minus_infinity():
    # all-negative input: a zero padding would win, -inf padding must not
    x = -np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    for impl in (ops, ref):
        y, idx = impl.max_pool2d_forward(x, 2, 2, 1)
        assert y[0, 0].tolist() == [[-1.0, -2.0], [-4.0, -5.0]]
        assert idx[0, 0].tolist() == [[0, 1], [3, 4]]
        # avg pooling counts the padding in the divisor (count_include_pad=True)
        assert impl.avg_pool2d_forward(x, 2, 2, 1)[0, 0, 0, 0] == -1.0 / 4


def test_max_pool_overlapping_windows_accumulate(rng):
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0                        # the max of all four 2x2 stride-1 windows
    y, idx = ops.max_pool2d_forward(x, 2, 1)
    assert (idx == 4).all()
    dx = ops.max_pool2d_backward(np.full((1, 1, 2, 2), 0.5), idx, x.shape)
    assert dx[0, 0, 1, 1] == 2.0 and dx.sum() == 2.0


def test_max_pool_nan_propagates():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan
    for impl in (ops, ref):
        y, idx = impl.max_pool2d_forward(x, 2)
        assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1  # the first NaN


@pytest.mark.parametrize("case", [((2, 2, 5, 6), 3, 2, 1), ((1, 2, 4, 5), (2, 3), 1, (1, 0))])
@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
def test_backward_matches_finite_differences(case, impl, rng):
    shape, k, s, p = case
    x = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.1
    # distinct values 0.1 apart: h = 1e-6 never changes which element is the max (no kinks)
    y, idx = impl.max_pool2d_forward(x, k, s, p)
    dy = rng.standard_normal(y.shape)
    num = numerical_grad(lambda v: impl.max_pool2d_forward(v, k, s, p)[0], x, dy)
    assert_grad_close(impl.max_pool2d_backward(dy, idx, shape), num, name="max dx")
    num = numerical_grad(lambda v: impl.avg_pool2d_forward(v, k, s, p), x, dy)
    assert_grad_close(impl.avg_pool2d_backward(dy, shape, k, s, p), num, name="avg dx")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype, rng):
    import torch
    import torch.nn.functional as F
    shape, k, s, p = case
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = F.max_pool2d(tx, k, s, p, return_indices=True)
    dy = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(dy))
    y, idx = ops.max_pool2d_forward(x, k, s, p)
    assert np.array_equal(y, ty.detach().numpy()) and np.array_equal(idx, tidx.numpy())
    assert_close(ops.max_pool2d_backward(dy, idx, shape), tx.grad.numpy(), dtype, name="max dx")
    tx.grad = None
    ta = F.avg_pool2d(tx, k, s, p)
    ta.backward(torch.tensor(dy))
    assert_close(ops.avg_pool2d_forward(x, k, s, p), ta.detach().numpy(), dtype, name="avg y")
    assert_close(ops.avg_pool2d_backward(dy, shape, k, s, p), tx.grad.numpy(), dtype, name="avg dx")


def test_non_contiguous_inputs(rng):
    x = rng.standard_normal((3, 2, 10, 8)).transpose(1, 0, 2, 3)[:, :, ::-1]
    assert not x.flags.c_contiguous
    y, idx = ops.max_pool2d_forward(x, 3, 2, 1)
    yr, idxr = ref.max_pool2d_forward(np.ascontiguousarray(x), 3, 2, 1)
    assert np.array_equal(y, yr) and np.array_equal(idx, idxr)
    dy = rng.standard_normal(y.shape[::-1]).T              # non-contiguous dy
    assert_close(ops.max_pool2d_backward(dy, idx, x.shape),
                 ref.max_pool2d_backward(np.ascontiguousarray(dy), idx, x.shape))
    assert_close(ops.avg_pool2d_forward(x, 3, 2, 1), ref.avg_pool2d_forward(x, 3, 2, 1))
    assert_close(ops.avg_pool2d_backward(dy, x.shape, 3, 2, 1),
                 ref.avg_pool2d_backward(np.ascontiguousarray(dy), x.shape, 3, 2, 1))
    idx_nc = np.asfortranarray(idx)                       # non-contiguous indices, int32
    assert_close(ops.max_pool2d_backward(dy, idx_nc.astype(np.int32), x.shape),
                 ref.max_pool2d_backward(np.ascontiguousarray(dy), idx, x.shape))


def test_threads_deterministic(rng):
    x = rng.standard_normal((4, 16, 20, 18)).astype(np.float32)
    out = {}
    for threads in (1, 2):
        cr.set_num_threads(threads)
        runs = []
        for _ in range(2):
            y, idx = ops.max_pool2d_forward(x, 3, 2, 1)
            dy = np.cos(y)
            runs.append((y, idx, ops.max_pool2d_backward(dy, idx, x.shape),
                         ops.avg_pool2d_forward(x, 3, 2, 1),
                         ops.avg_pool2d_backward(dy, x.shape, 3, 2, 1)))
        for a, b in zip(*runs):
            assert np.array_equal(a, b)
        out[threads] = runs[0]
    for a, b in zip(out[1], out[2]):
        assert np.array_equal(a, b)


def test_empty_batch():
    x = np.zeros((0, 3, 4, 4), np.float32)
    y, idx = ops.max_pool2d_forward(x, 2)
    assert y.shape == idx.shape == (0, 3, 2, 2)
    assert ops.max_pool2d_backward(y, idx, x.shape).shape == x.shape
    assert ops.avg_pool2d_backward(ops.avg_pool2d_forward(x, 2), x.shape, 2).shape == x.shape


FORWARD_BAD = [
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(kernel_size=3, padding=2), ValueError, "at most half"),
    (dict(kernel_size=(2, 3), padding=(1, 2)), ValueError, "at most half"),
    (dict(kernel_size=8), ValueError, "larger than the padded input"),
    (dict(kernel_size=2, stride=0), ValueError, "stride"),
    (dict(kernel_size=2, padding=-1), ValueError, "padding"),
    (dict(kernel_size=2.0), TypeError, "kernel_size"),
    (dict(x=np.zeros((2, 5, 5))), ValueError, "'x' must be 4-D"),
    (dict(x=np.zeros((1, 2, 5, 5), np.int32)), TypeError, "dtype float32 or float64"),
]


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
@pytest.mark.parametrize("fn", ["max_pool2d_forward", "avg_pool2d_forward"])
@pytest.mark.parametrize("kwargs,exc,msg", FORWARD_BAD)
def test_forward_bad_input(impl, fn, kwargs, exc, msg):
    args = dict(x=np.zeros((1, 2, 5, 5)), kernel_size=2)
    args.update(kwargs)
    with pytest.raises(exc, match=msg):
        getattr(impl, fn)(**args)


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
def test_max_backward_bad_input(impl):
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    y, idx = ops.max_pool2d_forward(x, 2)
    dy = np.ones_like(y)
    for bad_value in (16, -1, 2 ** 40):
        bad = idx.copy()
        bad[0, 1, 1, 0] = bad_value
        with pytest.raises(ValueError, match="outside the input plane"):
            impl.max_pool2d_backward(dy, bad, x.shape)
    with pytest.raises(ValueError, match="'indices' must have the shape"):
        impl.max_pool2d_backward(dy, idx[:, :, :1], x.shape)
    with pytest.raises(TypeError, match="'indices' must be an integer"):
        impl.max_pool2d_backward(dy, idx.astype(np.float64), x.shape)
    with pytest.raises(ValueError, match="input_shape"):
        impl.max_pool2d_backward(dy, idx, (1, 3, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        impl.max_pool2d_backward(dy, idx, (1, 2, 4))
    with pytest.raises(ValueError, match="input_shape"):
        impl.max_pool2d_backward(dy, idx, (1, 2, 0, 4))
    with pytest.raises(TypeError, match="input_shape"):
        impl.max_pool2d_backward(dy, idx, (1, 2, 4.0, 4))
    with pytest.raises(TypeError, match="'dy'"):
        impl.max_pool2d_backward(dy.astype(np.int64), idx, x.shape)


def test_max_backward_never_writes_out_of_bounds():
    # call the binding directly with a wild index: it is counted, not written
    dx = np.zeros((1, 1, 3, 3))
    n_bad = _kernels.max_pool2d_backward(dx, np.ones((1, 1, 1, 2)),
                                         np.array([[[[4, 10 ** 6]]]], dtype=np.int64))
    assert n_bad == 1 and dx.sum() == 1.0 and dx[0, 0, 1, 1] == 1.0


@pytest.mark.parametrize("impl", [ops, ref], ids=["ops", "reference"])
def test_avg_backward_bad_input(impl):
    with pytest.raises(ValueError, match="'dy' must have shape"):
        impl.avg_pool2d_backward(np.zeros((1, 2, 3, 2)), (1, 2, 5, 5), 2)
    with pytest.raises(ValueError, match="'dy' must have shape"):
        impl.avg_pool2d_backward(np.zeros((1, 3, 2, 2)), (1, 2, 5, 5), 2)
    with pytest.raises(ValueError, match="input_shape"):
        impl.avg_pool2d_backward(np.zeros((1, 2, 2, 2)), (1, 2, 5), 2)
    with pytest.raises(ValueError, match="at most half"):
        impl.avg_pool2d_backward(np.zeros((1, 2, 2, 2)), (1, 2, 5, 5), 2, padding=2)


# ---- kernel 2x2, stride 2, no padding: the dedicated path (pool_avx512.c, pool_avx2.c or
# a portable loop, by CPU; CHAINRULE_ISA=avx2/generic caps it); bitwise vs the reference ----

def _pool2x2_inputs(dtype, H, W, seed):
    """Windows built to hit every rule: ties in every window position (few distinct values),
    NaN (several per window sometimes), -inf windows, -0.0 vs 0.0, plus plain random data."""
    rng = np.random.default_rng(seed)
    n = 2 * 3 * H * W
    x = rng.integers(-2, 3, size=n).astype(dtype)
    x[rng.random(n) < 0.08] = np.nan
    x[rng.random(n) < 0.08] = -np.inf
    x[rng.random(n) < 0.08] = -0.0
    tied = rng.integers(-1, 2, size=n).astype(dtype)  # mostly ties
    rand = rng.standard_normal(n).astype(dtype)
    return [a.reshape(2, 3, H, W) for a in (x, tied, rand)]


def _bitwise_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


# widths around the 16-float / 8-double vector blocks (the masked row tails), even and odd
POOL2X2_SIZES = [(2, 2), (3, 3), (4, 5), (5, 4), (7, 14), (28, 28), (14, 15), (9, 31),
                 (6, 32), (4, 33), (3, 34), (8, 35), (2, 63), (5, 64), (4, 65), (2, 97)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("H,W", POOL2X2_SIZES)
def test_max_pool_2x2_stride2_bitwise_matches_reference(H, W, dtype):
    for x in _pool2x2_inputs(dtype, H, W, seed=H * 100 + W):
        y, idx = ops.max_pool2d_forward(x, 2, 2, 0)
        yr, idxr = ref.max_pool2d_forward(x, 2, 2, 0)
        assert _bitwise_equal(y, yr) and np.array_equal(idx, idxr)
        assert idx.dtype == np.int64 and y.shape == (2, 3, H // 2, W // 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_2x2_every_tie_and_nan_position(dtype):
    # all 16 patterns of which window positions hold the maximum (ties keep the first in
    # row-major order), and every placement of one or two NaN (the first NaN wins)
    pats = []
    for mask in range(1, 16):
        pats.append([5.0 if mask >> j & 1 else 1.0 for j in range(4)])
    for j in range(4):
        for k in range(j, 4):
            v = [2.0, 3.0, 1.0, 3.0]
            v[j] = np.nan
            v[k] = np.nan
            pats.append(v)
    pats.append([-np.inf] * 4)
    pats.append([-0.0, 0.0, 0.0, -0.0])
    pats.append([0.0, -0.0, -0.0, 0.0])
    # lay the windows out side by side in a (2, 2*n + 1) plane (odd width: the last column drops)
    n = len(pats)
    x = np.full((1, 1, 3, 2 * n + 1), 7.0, dtype)  # odd height too: row 2 drops
    for q, v in enumerate(pats):
        x[0, 0, 0, 2 * q:2 * q + 2] = v[:2]
        x[0, 0, 1, 2 * q:2 * q + 2] = v[2:]
    y, idx = ops.max_pool2d_forward(x, 2, 2)
    yr, idxr = ref.max_pool2d_forward(x, 2, 2)
    assert _bitwise_equal(y, yr) and np.array_equal(idx, idxr)
    W = x.shape[3]
    for q, v in enumerate(pats):
        arr = np.array(v, dtype)
        first = int(np.argmax(np.isnan(arr))) if np.isnan(arr).any() else int(np.argmax(arr))
        assert idx[0, 0, 0, q] == (first // 2) * W + 2 * q + first % 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_2x2_threads_bitwise(dtype, rng):
    # big enough to run in parallel (> 16384 inputs); 1 vs 2 threads bitwise
    x = rng.standard_normal((16, 6, 28, 27)).astype(dtype)
    x[rng.random(x.shape) < 0.01] = np.nan
    old = cr.get_num_threads()
    for k, s in ((2, 2), (3, 2)):  # the 2x2 path and the no-padding one
        try:
            out = {}
            for threads in (1, 2):
                cr.set_num_threads(threads)
                out[threads] = ops.max_pool2d_forward(x, k, s)
        finally:
            cr.set_num_threads(old)
        assert _bitwise_equal(out[1][0], out[2][0]) and np.array_equal(out[1][1], out[2][1])
        yr, idxr = ref.max_pool2d_forward(x, k, s)
        assert _bitwise_equal(out[2][0], yr) and np.array_equal(out[2][1], idxr)


# no padding, any kernel/stride: the AVX-512 gather path (every window lies in the plane);
# ((H, W), kernel, stride), including overlapping windows, kernel 1 and tails of 16/8
NOPAD_CASES = [((7, 9), 3, 3), ((24, 24), 4, 4), ((13, 35), 3, 2), ((5, 17), (2, 3), (2, 3)),
               ((9, 40), (3, 1), (1, 2)), ((6, 6), 1, 1), ((11, 33), 3, 1), ((3, 70), (1, 5), (3, 4)),
               ((8, 8), 8, 8), ((10, 19), (2, 2), (1, 1)), ((12, 12), 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", NOPAD_CASES)
def test_max_pool_no_padding_bitwise_matches_reference(case, dtype):
    (H, W), k, s = case
    for x in _pool2x2_inputs(dtype, H, W, seed=H * 100 + W + 7):
        y, idx = ops.max_pool2d_forward(x, k, s, 0)
        yr, idxr = ref.max_pool2d_forward(x, k, s, 0)
        assert _bitwise_equal(y, yr) and np.array_equal(idx, idxr)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_2x2_matches_torch(dtype, rng):
    import torch
    import torch.nn.functional as F
    x = rng.standard_normal((4, 6, 29, 30)).astype(dtype)
    x[0, 0, :4, :4] = 1.0  # ties; torch keeps the first too
    ty, tidx = F.max_pool2d(torch.from_numpy(x), 2, 2, return_indices=True)
    y, idx = ops.max_pool2d_forward(x, 2, 2)
    assert _bitwise_equal(y, ty.numpy()) and np.array_equal(idx, tidx.numpy())


def _isa_cases():
    """(key, x, kernel, stride) for the ISA test: every 2x2 size and no-padding case."""
    for dt in DTYPES:
        for case in [((H, W), 2, 2) for H, W in POOL2X2_SIZES] + NOPAD_CASES:
            (H, W), k, s = case
            for j, x in enumerate(_pool2x2_inputs(dt, H, W, seed=H * 100 + W)):
                key = f"{np.dtype(dt).name}_{H}_{W}_{k}_{s}_{j}".replace(" ", "")
                yield key, x, k, s


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_max_pool_portable_paths_bitwise_same(isa, tmp_path):
    # CHAINRULE_ISA=avx2 runs pool_avx2.c, generic the portable loop (and both the general
    # kernel for the no-padding cases): bitwise the reference's results and this process's
    # (AVX-512 where the CPU has it)
    import os
    import subprocess
    import sys
    code = """
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from test_pool import _isa_cases
from chainrule import ops
out = {}
for key, x, k, s in _isa_cases():
    y, idx = ops.max_pool2d_forward(x, k, s)
    out[key + "_y"] = y
    out[key + "_i"] = idx
np.savez(sys.argv[1], **out)
"""
    f = tmp_path / "out.npz"
    env = dict(os.environ, CHAINRULE_ISA=isa)
    res = subprocess.run([sys.executable, "-c", code, str(f), os.path.dirname(__file__)],
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    got = np.load(f)
    for key, x, k, s in _isa_cases():
        y, idx = ops.max_pool2d_forward(x, k, s)
        yr, idxr = ref.max_pool2d_forward(x, k, s)
        assert _bitwise_equal(got[key + "_y"], y) and _bitwise_equal(y, yr), key
        assert np.array_equal(got[key + "_i"], idx) and np.array_equal(idx, idxr), key


# ---- huge padded kernels (issue 13): kh*kw overflows int64 ----------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, padding", [((2**32, 2**32), (2**31, 2**31)),
                                             ((2**31 + 1, 2**33), (2**30, 2**32)),
                                             ((2**62, 3), (2**61, 1))])
def test_avg_pool_huge_kernel_matches_reference(dtype, kernel, padding):
    # kh*kw >= 2^63 used to overflow (UB; inf or a wrong divisor) and the kernel looped over
    # all kw columns (a minute); now the exact product, rounded once, and only the columns
    # that reach the input
    x = np.arange(1, 3, dtype=dtype).reshape(1, 1, 1, 2)
    y = ops.avg_pool2d_forward(x, kernel, 1, padding)
    y_ref = ref.avg_pool2d_forward(x, kernel, 1, padding)
    assert np.isfinite(y).all() and (y > 0).all()
    assert_close(y, y_ref, dtype=dtype, name="avg_pool2d_forward", scale=float(np.abs(y_ref).max()))
    dy = np.ones_like(y)
    dx = ops.avg_pool2d_backward(dy, x.shape, kernel, 1, padding)
    dx_ref = ref.avg_pool2d_backward(dy, x.shape, kernel, 1, padding)
    assert_close(dx, dx_ref, dtype=dtype, name="avg_pool2d_backward", scale=float(np.abs(dx_ref).max()))
    ym, idx = ops.max_pool2d_forward(x, kernel, 1, padding)
    ym_ref, idx_ref = ref.max_pool2d_forward(x, kernel, 1, padding)
    np.testing.assert_array_equal(ym, ym_ref)
    np.testing.assert_array_equal(idx, idx_ref)
