"""Winograd F(4x4, 3x3) with 16 images in the vector lanes (csrc/conv_c16.c, conv_plan.c:
c16_ok): float32 3x3 stride-1 pad-1 layers with 16 channels in and out (ResNet-20's 16->16
stage), 16+ images, AVX-512, auto. Forward and dx (the forward of dy with the flipped
kernel); dw and db stay on the direct path. A last group of fewer than 13 images runs the
direct path.

Tolerance: as tests/test_conv_winograd4.py (the same F(4x4) transforms), float32 outputs within
128 eps32 of the sum of |terms| (conv(|x|, |w|) + |b|) against the float64 definition."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, _runtime, ops, reference as ref

EPS = np.finfo(np.float32).eps
TOL = 128


def _avx512():
    if _runtime.isa_detected() != "avx512":
        pytest.skip("the c16 path needs an AVX-512 CPU")


def _data(rng, xs, dtype=np.float32):
    ws = (16, xs[1], 3, 3)
    x = rng.standard_normal(xs).astype(dtype)
    w = (0.5 * rng.standard_normal(ws)).astype(dtype)
    b = rng.standard_normal(16).astype(dtype)
    dy = rng.standard_normal((xs[0], 16) + xs[2:]).astype(dtype)
    return x, w, b, dy


def _flip(w):
    """dx = conv(dy, w flipped in space, transposed in channels), padding 1"""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _err(y, x, w, b):
    """max |y - conv(x, w) + b| / (eps32 * (conv(|x|, |w|) + |b|)) against float64"""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    want = ref.conv2d_forward(x64, w64, b64, 1, 1)
    terms = ref.conv2d_forward(np.abs(x64), np.abs(w64), None if b is None else np.abs(b64), 1, 1)
    return (np.abs(y.astype(np.float64) - want) / (EPS * terms + 1e-30)).max()


def _steps(xs, dtype=np.float32):
    plan = ops.conv2d_plan(xs, (16, xs[1], 3, 3), 1, 1, dtype=dtype)
    return plan["forward"]["algorithm"], plan["dx"]["algorithm"], plan["dw"]["algorithm"]


# batch 16 (one group), 17 (one group + 1 image on the direct path), 29 (a last group of 13
# lanes), 32; odd and prime heights and widths (partial tiles, a partial 16-column chunk),
# one row, the ResNet-20 size
SHAPES = [(32, 16, 32, 32), (16, 16, 13, 27), (17, 16, 7, 41), (29, 16, 31, 33), (16, 16, 1, 24),
          (18, 16, 6, 29)]


@pytest.mark.parametrize("xs", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_plan_takes_it_and_results_match_the_definition(xs, bias, rng):
    """auto plans c16 forward and dx, direct dw; forward and dx within the bound of the
    float64 definition, dw and db to rounding; 1 vs 2 threads and run to run bitwise."""
    _avx512()
    assert _steps(xs) == ("winograd_c16", "winograd_c16", "direct")
    x, w, b, dy = _data(rng, xs)
    b = b if bias else None
    runs = []
    for threads in (1, 2, 2):
        cr.set_num_threads(threads)
        runs.append((ops.conv2d_forward(x, w, b, 1, 1),) + tuple(ops.conv2d_backward(dy, x, w, 1, 1, bias=bias)))
    for run in runs[1:]:
        for a, c in zip(runs[0], run):
            if a is not None:
                np.testing.assert_array_equal(a, c)
    y, dx, dw, db = runs[0]
    assert _err(y, x, w, b) <= TOL
    assert _err(dx, dy, _flip(w), None) <= TOL
    want = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), 1, 1)
    np.testing.assert_allclose(dw, want[1], rtol=1e-4, atol=1e-3)
    if bias:
        np.testing.assert_allclose(db, want[2], rtol=1e-4, atol=1e-3)


def test_dx_accumulates_into_the_given_array(rng):
    """the kernel adds dx to what the array holds (the binding's contract: dx += dL/dx)"""
    _avx512()
    xs = (16, 16, 9, 25)
    x, w, _, dy = _data(rng, xs)
    dx0 = ops.conv2d_backward(dy, x, w, 1, 1, need_dw=False)[0]
    base = rng.standard_normal(xs).astype(np.float32)
    acc = base.copy()
    _kernels.conv2d_backward(acc, None, None, dy, x, w, (1, 1), (1, 1), (1, 1))
    np.testing.assert_allclose(acc, base + dx0, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("xs", [(1, 16, 32, 32), (15, 16, 32, 32), (32, 16, 32, 23), (32, 15, 32, 32)])
def test_not_taken_outside_its_domain(xs):
    """batch 1 and fewer than 16 images, rows under 24 columns and other channel counts keep
    the direct path (or another); float64, forced algorithms, strides, paddings too."""
    _avx512()
    assert "winograd_c16" not in _steps(xs)
    xs = (32, 16, 32, 32)
    ws = (16, 16, 3, 3)
    assert "winograd_c16" not in _steps(xs, np.float64)
    assert ops.conv2d_plan(xs, ws, 2, 1)["forward"]["algorithm"] != "winograd_c16"
    assert ops.conv2d_plan(xs, ws, 1, 2)["forward"]["algorithm"] != "winograd_c16"
    assert ops.conv2d_plan(xs, (17, 16, 3, 3), 1, 1)["forward"]["algorithm"] != "winograd_c16"
    for algo in ("im2col", "implicit", "winograd"):
        _runtime.set_conv_algo(algo)
        assert "winograd_c16" not in _steps(xs), algo


def test_each_isa_level_agrees_with_the_definition(level, rng):
    """avx512 runs c16; the other levels their own paths: all within the bound, forward and dx"""
    xs = (17, 16, 8, 29)
    x, w, b, dy = _data(rng, xs)
    assert (_steps(xs)[0] == "winograd_c16") == (level == "avx512" and _runtime.isa_detected() == "avx512")
    y = ops.conv2d_forward(x, w, b, 1, 1)
    dx, dw, _ = ops.conv2d_backward(dy, x, w, 1, 1)
    assert _err(y, x, w, b) <= TOL
    assert _err(dx, dy, _flip(w), None) <= TOL
    want = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), 1, 1)
    np.testing.assert_allclose(dw, want[1], rtol=1e-4, atol=1e-3)


def test_float64_keeps_its_path_and_matches(rng):
    """float64 never takes c16 (its paths match the definition to rounding)"""
    xs = (16, 16, 6, 24)
    x, w, b, dy = _data(rng, xs, np.float64)
    assert "winograd_c16" not in _steps(xs, np.float64)
    np.testing.assert_allclose(ops.conv2d_forward(x, w, b, 1, 1), ref.conv2d_forward(x, w, b, 1, 1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ops.conv2d_backward(dy, x, w, 1, 1)[0], ref.conv2d_backward(dy, x, w, 1, 1)[0],
                               rtol=1e-12, atol=1e-12)


def test_non_contiguous_input_gives_the_contiguous_result(rng):
    _avx512()
    xs = (16, 16, 32, 32)
    x, w, b, _ = _data(rng, xs)
    xn = np.asfortranarray(x)
    big = np.zeros((16, 16, 32, 64), np.float32)
    big[..., ::2] = x
    y = ops.conv2d_forward(x, w, b, 1, 1)
    np.testing.assert_array_equal(ops.conv2d_forward(xn, w, b, 1, 1), y)
    np.testing.assert_array_equal(ops.conv2d_forward(big[..., ::2], w, b, 1, 1), y)


def test_pytorch_oracle(rng):
    """ResNet-20's 16->16 layer at batch 32 (and 19: a group plus 3 direct images) against
    torch.nn.functional.conv2d and its autograd."""
    torch = pytest.importorskip("torch")
    for xs in [(32, 16, 32, 32), (19, 16, 32, 32)]:
        x, w, b, dy = _data(rng, xs)
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        ty = torch.nn.functional.conv2d(tx, tw, tb, 1, 1)
        ty.backward(torch.from_numpy(dy))
        # values up to ~30 with sums of |terms| up to ~100: F(4x4) rounds to ~1e-4 absolute
        np.testing.assert_allclose(ops.conv2d_forward(x, w, b, 1, 1), ty.detach().numpy(), rtol=1e-4, atol=1e-3)
        dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 1, bias=True)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-4, atol=2e-3)
        np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-4, atol=1e-3)
