"""Dense layer: ops.linear_forward / linear_backward against reference, finite differences
(float64) and PyTorch (when installed); the C kernel's accumulate (+=) contract; bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import _kernels, ops, reference

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

DTYPES = [np.float32, np.float64]


def _data(rng, N, C, OC, dtype):
    x = rng.standard_normal((N, C)).astype(dtype)
    w = (rng.standard_normal((OC, C)) / np.sqrt(max(C, 1))).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    dy = rng.standard_normal((N, OC)).astype(dtype)
    return x, w, b, dy


def _tol(dtype, K):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=2e-6 * np.sqrt(max(K, 1)))
    return dict(rtol=1e-13, atol=4e-15 * np.sqrt(max(K, 1)))


SIZES = [1, 2, 3, 7, 12, 13, 31, 32, 33, 64, 97]


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=30, deadline=None)
@given(N=st.sampled_from(SIZES), C=st.sampled_from(SIZES), OC=st.sampled_from(SIZES),
       bias=st.booleans(), threads=st.sampled_from([1, 2]))
def test_linear_matches_reference(dtype, N, C, OC, bias, threads):
    cr.set_num_threads(threads)
    rng = np.random.default_rng(N * 1000003 + C * 1009 + OC)
    x, w, b, dy = _data(rng, N, C, OC, dtype)
    b = b if bias else None
    y = ops.linear_forward(x, w, b)
    assert y.dtype == np.dtype(dtype) and y.shape == (N, OC)
    assert_close(y, reference.linear_forward(x, w, b), dtype=dtype, name="y", **_tol(dtype, C))
    dx, dw, db = ops.linear_backward(dy, x, w, bias=bias)
    rdx, rdw, rdb = reference.linear_backward(dy, x, w, bias=bias)
    assert_close(dx, rdx, dtype=dtype, name="dx", **_tol(dtype, OC))
    assert_close(dw, rdw, dtype=dtype, name="dw", **_tol(dtype, N))
    if bias:
        assert db.shape == (OC,) and db.dtype == np.dtype(dtype)
        assert_close(db, rdb, dtype=dtype, name="db", **_tol(dtype, N))
    else:
        assert db is None and rdb is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C,OC", [(256, 1024, 1024), (128, 1024, 10), (1000, 33, 65)])
def test_linear_large_against_float64_products(dtype, N, C, OC, rng):
    x, w, b, dy = _data(rng, N, C, OC, dtype)
    X, W, B, DY = (v.astype(np.float64) for v in (x, w, b, dy))
    assert_close(ops.linear_forward(x, w, b), X @ W.T + B, dtype=dtype, name="y", **_tol(dtype, C))
    dx, dw, db = ops.linear_backward(dy, x, w)
    assert_close(dx, DY @ W, dtype=dtype, name="dx", **_tol(dtype, OC))
    assert_close(dw, DY.T @ X, dtype=dtype, name="dw", **_tol(dtype, N))
    assert_close(db, DY.sum(0), dtype=dtype, name="db", **_tol(dtype, N))


@pytest.mark.parametrize("N,C,OC", [(3, 4, 5), (1, 7, 2), (6, 1, 3)])
def test_linear_backward_vs_finite_differences(N, C, OC, rng):
    x, w, b, dy = _data(rng, N, C, OC, np.float64)
    dx, dw, db = ops.linear_backward(dy, x, w)
    assert_grad_close(dx, numerical_grad(lambda v: ops.linear_forward(v, w, b), x, dy), 1e-7, "dx")
    assert_grad_close(dw, numerical_grad(lambda v: ops.linear_forward(x, v, b), w, dy), 1e-7, "dw")
    assert_grad_close(db, numerical_grad(lambda v: ops.linear_forward(x, w, v), b, dy), 1e-7, "db")


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C,OC", [(5, 3, 4), (64, 100, 10), (33, 65, 129)])
def test_linear_vs_torch(dtype, N, C, OC, rng):
    import torch
    x, w, b, dy = _data(rng, N, C, OC, dtype)
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.tensor(dy))
    assert_close(ops.linear_forward(x, w, b), ty.detach().numpy(), dtype=dtype, name="y",
                 **_tol(dtype, C))
    dx, dw, db = ops.linear_backward(dy, x, w)
    assert_close(dx, tx.grad.numpy(), dtype=dtype, name="dx", **_tol(dtype, OC))
    assert_close(dw, tw.grad.numpy(), dtype=dtype, name="dw", **_tol(dtype, N))
    assert_close(db, tb.grad.numpy(), dtype=dtype, name="db", **_tol(dtype, N))


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_kernel_accumulates(dtype, rng):
    """The C backward adds into its gradient buffers (llm.c convention); None skips one."""
    N, C, OC = 17, 40, 23
    x, w, b, dy = _data(rng, N, C, OC, dtype)
    dx0 = rng.standard_normal((N, C)).astype(dtype)
    dw0 = rng.standard_normal((OC, C)).astype(dtype)
    db0 = rng.standard_normal(OC).astype(dtype)
    dx, dw, db = dx0.copy(), dw0.copy(), db0.copy()
    _kernels.linear_backward(dx, dw, db, dy, x, w)
    rdx, rdw, rdb = reference.linear_backward(dy, x, w)
    assert_close(dx, dx0 + rdx, dtype=dtype, name="dx", **_tol(dtype, OC))
    assert_close(dw, dw0 + rdw, dtype=dtype, name="dw", **_tol(dtype, N))
    assert_close(db, db0 + rdb, dtype=dtype, name="db", **_tol(dtype, N))
    dw2 = dw0.copy()
    _kernels.linear_backward(None, dw2, None, dy, x, w)
    np.testing.assert_array_equal(dw2, dw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_noncontiguous_inputs(dtype, rng):
    x, w, b, dy = _data(rng, 20, 30, 40, dtype)
    xf, wf, dyf = np.asfortranarray(x), np.asfortranarray(w), np.asfortranarray(dy)
    xs = np.repeat(x, 2, axis=1)[:, ::2]
    bs = np.repeat(b, 3)[::3]
    np.testing.assert_array_equal(ops.linear_forward(xf, wf, bs), ops.linear_forward(x, w, b))
    np.testing.assert_array_equal(ops.linear_forward(xs, w, b), ops.linear_forward(x, w, b))
    for got, want in zip(ops.linear_backward(dyf, xs, wf), ops.linear_backward(dy, x, w)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_bitwise_reproducible(dtype, rng):
    x, w, b, dy = _data(rng, 300, 200, 150, dtype)
    cr.set_num_threads(2)
    first = ops.linear_backward(dy, x, w) + (ops.linear_forward(x, w, b),)
    for threads in (2, 2, 1):
        cr.set_num_threads(threads)
        again = ops.linear_backward(dy, x, w) + (ops.linear_forward(x, w, b),)
        for g, f in zip(again, first):
            np.testing.assert_array_equal(g, f)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_empty_batch(dtype):
    x = np.empty((0, 5), dtype)
    w = np.ones((3, 5), dtype)
    assert ops.linear_forward(x, w, np.ones(3, dtype)).shape == (0, 3)
    dx, dw, db = ops.linear_backward(np.empty((0, 3), dtype), x, w)
    assert dx.shape == (0, 5)
    np.testing.assert_array_equal(dw, np.zeros((3, 5), dtype))
    np.testing.assert_array_equal(db, np.zeros(3, dtype))


@pytest.mark.parametrize("mod", [ops, reference])
def test_linear_bad_input(mod):
    x = np.ones((4, 3), np.float32)
    w = np.ones((5, 3), np.float32)
    b = np.ones(5, np.float32)
    dy = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"linear_forward: x has 3 features but w expects 2"):
        mod.linear_forward(x, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match=r"linear_forward: argument 'b' must have shape \(5,\), got \(4,\)"):
        mod.linear_forward(x, w, np.ones(4, np.float32))
    with pytest.raises(TypeError, match=r"linear_forward: mixed float dtypes"):
        mod.linear_forward(x, w.astype(np.float64))
    with pytest.raises(TypeError, match=r"linear_forward: mixed float dtypes"):
        mod.linear_forward(x, w, b.astype(np.float64))
    with pytest.raises(TypeError, match=r"linear_forward: argument 'x' must have dtype .* got int64"):
        mod.linear_forward(np.ones((4, 3), np.int64), w)
    with pytest.raises(ValueError, match=r"linear_forward: argument 'x' must be 2-D, got shape \(3,\)"):
        mod.linear_forward(np.ones(3, np.float32), w)
    with pytest.raises(ValueError, match=r"linear_forward: argument 'b' must be 1-D"):
        mod.linear_forward(x, w, b[None, :])
    with pytest.raises(TypeError, match=r"linear_forward: argument 'w' .* got None"):
        mod.linear_forward(x, None)
    with pytest.raises(ValueError, match=r"linear_backward: argument 'dy' must have shape \(4, 5\), got \(4, 6\)"):
        mod.linear_backward(np.ones((4, 6), np.float32), x, w)
    with pytest.raises(ValueError, match=r"linear_backward: x has 3 features but w expects 4"):
        mod.linear_backward(dy, x, np.ones((5, 4), np.float32))
    with pytest.raises(TypeError, match=r"linear_backward: mixed float dtypes"):
        mod.linear_backward(dy.astype(np.float64), x, w)
    with pytest.raises(TypeError, match=r"linear_backward: argument 'dy' .* got None"):
        mod.linear_backward(None, x, w)
    with pytest.raises(ValueError, match=r"linear_backward: argument 'dy' must be 2-D"):
        mod.linear_backward(np.ones(5, np.float32), x, w)


def test_linear_kernel_bad_shapes():
    x = np.ones((4, 3))
    w = np.ones((5, 3))
    with pytest.raises(ValueError, match="linear_forward: shapes do not agree"):
        _kernels.linear_forward(np.empty((4, 6)), x, w)
    with pytest.raises(ValueError, match="linear_backward: dw has shape"):
        _kernels.linear_backward(None, np.empty((5, 4)), None, np.ones((4, 5)), x, w)
