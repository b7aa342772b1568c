"""The direct convolution for few channels (csrc/conv_direct.c, conv_plan.c: direct_ok):
3x3, stride 1, padding 1, C <= 16, K <= 32, rows of 24+ columns, float32 on AVX-512, auto.
Forward, dx (the flipped kernel), dw and db run it.

Tolerance: float32 outputs within 4 eps32 of the sum of |terms| against the float64
definition (a plain sum over c, r, s in float32; measured well under 1)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import _runtime, ops, reference as ref

EPS = np.finfo(np.float32).eps


def _avx512():
    if _runtime.isa_detected() != "avx512":
        pytest.skip("the direct path needs an AVX-512 CPU")


def _data(rng, xs, ws, dtype=np.float32):
    x = rng.standard_normal(xs).astype(dtype)
    w = (0.5 * rng.standard_normal(ws)).astype(dtype)
    return x, w, rng.standard_normal(ws[0]).astype(dtype)


def _check(y, x, w, b, tol=4):
    """y against the float64 definition conv(x, w) + b, padding 1"""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    b64 = None if b is None else b.astype(np.float64)
    want = ref.conv2d_forward(x64, w64, b64, 1, 1)
    terms = ref.conv2d_forward(np.abs(x64), np.abs(w64), None if b is None else np.abs(b64), 1, 1)
    err = np.abs(y.astype(np.float64) - want) / (EPS * terms + 1e-30)
    assert err.max() <= tol, f"error {err.max():.2f} eps32 x sum|terms|"


def _flip(w):
    """dx = conv(dy, w flipped in space, transposed in channels), padding 1"""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


# C, K in 1..17 (prime and odd), odd H / W, batch 1, rows 24..47 columns (one and two tiles);
# 16->16 with fewer than 16 images (16+ run conv_c16.c: tests/test_conv_c16.py)
SHAPES = [((15, 16, 32, 32), (16, 16, 3, 3)), ((4, 3, 32, 32), (16, 3, 3, 3)),
          ((3, 3, 32, 32), (32, 3, 3, 3)), ((1, 1, 5, 24), (1, 1, 3, 3)),
          ((2, 13, 9, 29), (17, 13, 3, 3)), ((1, 16, 31, 33), (7, 16, 3, 3)),
          ((3, 5, 1, 47), (11, 5, 3, 3)), ((2, 2, 7, 40), (2, 2, 3, 3))]


@pytest.mark.parametrize("xs,ws", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_plan_takes_it_and_results_match_the_definition(xs, ws, bias, rng):
    """auto plans direct forward, dx and dw; forward, dx, dw, db against the float64
    definition; 1 vs 2 threads bitwise."""
    _avx512()
    plan = ops.conv2d_plan(xs, ws, 1, 1)
    assert plan["forward"]["algorithm"] == "direct", plan
    assert plan["dx"]["algorithm"] == "direct", plan
    assert plan["dw"]["algorithm"] == "direct", plan
    x, w, b = _data(rng, xs, ws)
    b = b if bias else None
    dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
    runs = []
    for threads in (1, 2):
        cr.set_num_threads(threads)
        runs.append((ops.conv2d_forward(x, w, b, 1, 1),) + tuple(ops.conv2d_backward(dy, x, w, 1, 1, bias=bias)))
    for a, c in zip(runs[0], runs[1]):
        if a is not None:
            np.testing.assert_array_equal(a, c)
    y, dx, dw, db = runs[0]
    _check(y, x, w, b)
    _check(dx, dy, _flip(w), None)
    want = ref.conv2d_backward(dy.astype(np.float64), x.astype(np.float64), w.astype(np.float64), 1, 1)
    np.testing.assert_allclose(dw, want[1], rtol=1e-4, atol=1e-3)
    if bias:
        np.testing.assert_allclose(db, want[2], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("xs,ws", [((32, 16, 32, 32), (16, 16, 3, 3)), ((2, 3, 32, 32), (32, 3, 3, 3))])
def test_not_taken_outside_its_domain(xs, ws):
    """float64, other ISA levels, a forced algorithm, other paddings / strides / kernels and
    more channels keep the other paths."""
    _avx512()
    assert ops.conv2d_plan(xs, ws, 1, 1, dtype=np.float64)["forward"]["algorithm"] != "direct"
    assert ops.conv2d_plan(xs, ws, 2, 1)["forward"]["algorithm"] != "direct"
    assert ops.conv2d_plan(xs, ws, 1, 2)["forward"]["algorithm"] != "direct"
    assert ops.conv2d_plan(xs, ws[:2] + (5, 5), 1, 1)["forward"]["algorithm"] != "direct"
    assert ops.conv2d_plan(xs[:1] + (17,) + xs[2:], (ws[0], 17, 3, 3), 1, 1)["forward"]["algorithm"] != "direct"
    assert ops.conv2d_plan(xs[:2] + (32, 23), ws, 1, 1)["forward"]["algorithm"] != "direct"
    for algo in ("im2col", "implicit", "winograd"):
        _runtime.set_conv_algo(algo)
        plan = ops.conv2d_plan(xs, ws, 1, 1)
        assert "direct" not in (plan["forward"]["algorithm"], plan["dx"]["algorithm"]), (algo, plan)
    _runtime.set_conv_algo(None)
    _runtime.set_isa("avx2")
    assert ops.conv2d_plan(xs, ws, 1, 1)["forward"]["algorithm"] != "direct"


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_isa_levels_and_dtypes_agree_with_the_definition(isa, dtype, rng):
    """avx512 float32 runs direct; avx2 and float64 the other paths: all match the definition
    (float64 to rounding), forward and backward."""
    if isa == "avx512":
        _avx512()
    _runtime.set_isa(isa)
    xs, ws = (3, 7, 11, 29), (13, 7, 3, 3)
    x, w, b = _data(rng, xs, ws, dtype)
    dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(dtype)
    algo = ops.conv2d_plan(xs, ws, 1, 1, dtype=dtype)["forward"]["algorithm"]
    assert (algo == "direct") == (isa == "avx512" and dtype == np.float32)
    y = ops.conv2d_forward(x, w, b, 1, 1)
    dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 1, bias=True)
    if dtype == np.float32:
        _check(y, x, w, b)
        _check(dx, dy, _flip(w), None)
    else:
        np.testing.assert_allclose(y, ref.conv2d_forward(x, w, b, 1, 1), rtol=1e-12, atol=1e-12)
        want = ref.conv2d_backward(dy, x, w, 1, 1)
        np.testing.assert_allclose(dx, want[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dw, want[1], rtol=1e-12, atol=1e-11)


def test_non_contiguous_input_gives_the_contiguous_result(rng):
    _avx512()
    xs, ws = (5, 16, 32, 32), (16, 16, 3, 3)
    x, w, b = _data(rng, xs, ws)
    xn = np.asfortranarray(x)
    big = np.zeros((5, 16, 32, 64), np.float32)
    big[..., ::2] = x
    xv = big[..., ::2]
    assert not xn.flags.c_contiguous and not xv.flags.c_contiguous
    y = ops.conv2d_forward(x, w, b, 1, 1)
    np.testing.assert_array_equal(ops.conv2d_forward(xn, w, b, 1, 1), y)
    np.testing.assert_array_equal(ops.conv2d_forward(xv, w, b, 1, 1), y)


def test_pytorch_oracle(rng):
    """ResNet-20's 16->16 layer and the 3->16 stem against torch.nn.functional.conv2d and its
    autograd."""
    torch = pytest.importorskip("torch")
    for xs, ws in [((8, 16, 32, 32), (16, 16, 3, 3)), ((8, 3, 32, 32), (16, 3, 3, 3))]:
        x, w, b = _data(rng, xs, ws)
        dy = rng.standard_normal((xs[0], ws[0]) + xs[2:]).astype(np.float32)
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        ty = torch.nn.functional.conv2d(tx, tw, tb, 1, 1)
        ty.backward(torch.from_numpy(dy))
        np.testing.assert_allclose(ops.conv2d_forward(x, w, b, 1, 1), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        dx, dw, db = ops.conv2d_backward(dy, x, w, 1, 1, bias=True)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-4, atol=2e-3)
        np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("algo", ["im2col", "implicit", "winograd", "auto"])
def test_chainrule_conv_algo_environment_override(algo, monkeypatch):
    """CHAINRULE_CONV_ALGO (read when the setting is reset) keeps a forced path off direct;
    auto takes it."""
    _avx512()
    monkeypatch.setenv("CHAINRULE_CONV_ALGO", algo)
    _runtime.set_conv_algo(None)
    plan = ops.conv2d_plan((8, 16, 32, 32), (16, 16, 3, 3), 1, 1)
    assert plan["algo"] == algo
    steps = (plan["forward"]["algorithm"], plan["dx"]["algorithm"], plan["dw"]["algorithm"])
    assert (steps == ("direct",) * 3) == (algo == "auto"), steps
