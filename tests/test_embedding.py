"""Embedding: ops.embedding_* (C) beyond the registry's cases (threads, large tables), and
F.embedding / nn.Embedding / nn.EmbeddingBag against PyTorch, finite differences, bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, ops, reference
from chainrule.nn import functional as F

from helpers import HAVE_TORCH, assert_close, assert_grad_close, numerical_grad

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
DTYPES = [np.float32, np.float64]


def _zipf(rng, num, n):
    """Heavily repeated indices (a few rows get most lookups), as real vocabularies do."""
    return np.minimum(rng.zipf(1.3, n) - 1, num - 1).astype(np.int64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num,dim,n", [(3001, 67, 20011), (50, 256, 7), (1, 5, 300)])
def test_backward_one_and_two_threads_bitwise(rng, dtype, num, dim, n):
    idx = _zipf(rng, num, n)
    dy = rng.standard_normal((n, dim)).astype(dtype)
    w = rng.standard_normal((num, dim)).astype(dtype)
    res = []
    for nt in (1, 2):
        cr.set_num_threads(nt)
        res.append((ops.embedding_forward(w, idx),
                    ops.embedding_backward(dy, idx, num, padding_idx=0),
                    ops.embedding_backward(dy, idx, num, scale_grad_by_freq=True)))
    np.testing.assert_array_equal(res[0][0], w[idx])
    for a, b in zip(res[0], res[1]):
        np.testing.assert_array_equal(a, b)
    want = reference.embedding_backward(dy, idx, num, padding_idx=0)
    assert_close(res[1][1], want, dtype, name="2 threads vs reference")
    assert not res[0][1][0].any()  # the padding row


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad,freq", [(-1, False), (5, False), (-1, True), (0, True)])
def test_backward_kernel_zeroes_a_dirty_table_like_the_calloc_path(rng, dtype, pad, freq):
    # ops passes a calloc'd table (zeroed=True: only rows with lookups are written); with
    # zeroed=False the kernel must zero every other row itself: same bits, 1 and 2 threads
    from chainrule import _kernels
    num, dim, n = 2003, 33, 9001
    idx = _zipf(rng, num, n)
    idx[:3] = [num - 1, 1000, 5]
    dy = rng.standard_normal((n, dim)).astype(dtype)
    want = ops.embedding_backward(dy, idx, num, None if pad < 0 else pad, freq)
    for nt in (1, 2):
        cr.set_num_threads(nt)
        dirty = np.full((num, dim), np.nan, dtype)
        _kernels.embedding_backward(dirty, dy, idx, pad, freq)
        np.testing.assert_array_equal(dirty, want)
        clean = np.zeros((num, dim), dtype)
        _kernels.embedding_backward(clean, dy, idx, pad, freq, True)
        np.testing.assert_array_equal(clean, want)
    np.testing.assert_array_equal(np.signbit(want), np.signbit(
        reference.embedding_backward(dy, idx, num, None if pad < 0 else pad, freq)))


def test_backward_rows_without_lookups_are_zero_and_sum_in_order(rng):
    dy = np.array([[1e8], [1.0], [-1e8]], np.float32)  # order matters in float32
    dw = ops.embedding_backward(dy, np.array([2, 2, 2]), 4)
    assert dw.tolist() == [[0.0], [0.0], [(np.float32(1e8) + np.float32(1.0)) - np.float32(1e8)],
                           [0.0]]


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [{}, dict(padding_idx=3), dict(padding_idx=-2),
                                dict(scale_grad_by_freq=True),
                                dict(max_norm=1.5), dict(max_norm=0.7, norm_type=1.0)])
def test_embedding_module_matches_torch(rng, dtype, kw):
    import torch
    num, dim = 13, 6
    w = rng.standard_normal((num, dim)).astype(dtype)
    idx = rng.integers(0, num, (4, 7))
    idx[0, :3] = 3
    m = nn.Embedding.from_pretrained(w, freeze=False, **kw)
    tm = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, **kw)
    y, ty = m(idx), tm(torch.tensor(idx))
    assert_close(y.array, ty.detach().numpy(), dtype, name="forward")
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    assert_close(m.weight.grad.array if hasattr(m.weight.grad, "array") else m.weight.grad,
                 tm.weight.grad.numpy(), dtype, name="dweight")
    assert_close(m.weight.array, tm.weight.detach().numpy(), dtype, name="renormed weight")


def test_embedding_defaults_padding_row_and_freeze(rng):
    cr.manual_seed(0)
    m = nn.Embedding(10, 3, padding_idx=4)
    assert m.weight.shape == (10, 3) and m.weight.dtype == np.float32
    assert not m.weight.array[4].any() and m.weight.array.std() > 0.5
    assert m.weight.requires_grad and [n for n, _ in m.named_parameters()] == ["weight"]
    f = nn.Embedding.from_pretrained(np.eye(3))
    assert not f.weight.requires_grad and f(np.array([2])).array.tolist() == [[0, 0, 1]]
    assert nn.Embedding.from_pretrained(np.eye(3), freeze=False).weight.requires_grad


def test_embedding_finite_differences(rng):
    w = cr.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    idx = np.array([[0, 4, 4], [1, 0, 2]])
    g = rng.standard_normal((2, 3, 3))
    F.embedding(idx, w, padding_idx=1).backward(g)
    num = numerical_grad(lambda v: F.embedding(idx, v, padding_idx=1).array, w.array.copy(), g)
    num[1] = 0  # PyTorch: the padding row gets no gradient
    assert_grad_close(np.asarray(w.grad.array if hasattr(w.grad, "array") else w.grad), num)


@pytest.mark.parametrize("call, exc, words", [
    (lambda w: F.embedding(np.array([0, 5]), w), ValueError, "outside"),
    (lambda w: F.embedding(np.array([0.0]), w), TypeError, "integer"),
    (lambda w: F.embedding(np.array([-1]), w), ValueError, "outside"),
    (lambda w: F.embedding(np.array([0]), w, padding_idx=9), ValueError, "padding_idx"),
    (lambda w: F.embedding(np.array([0]), w, sparse=True), NotImplementedError, "sparse"),
    (lambda w: F.embedding(np.array([0]), w.array[0]), ValueError, "2-D"),
    (lambda w: nn.Embedding(5, -1), ValueError, "embedding_dim"),
    (lambda w: F.embedding_bag(np.array([0, 1]), w, mode="median"), ValueError, "mode"),
    (lambda w: F.embedding_bag(np.array([0, 1]), w), ValueError, "offsets"),
    (lambda w: F.embedding_bag(np.array([0, 1]), w, np.array([1])), ValueError, "offsets"),
    (lambda w: F.embedding_bag(np.array([[0, 1]]), w, mode="mean",
                               per_sample_weights=np.ones((1, 2), np.float32)),
     ValueError, "per_sample_weights"),
])
def test_bad_input(call, exc, words):
    w = cr.tensor(np.ones((5, 2), np.float32), requires_grad=True)
    with pytest.raises(exc, match=words):
        call(w)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["2d", "offsets", "last_offset", "psw", "padding"])
def test_embedding_bag_matches_torch(rng, dtype, mode, layout):
    import torch
    if layout == "psw" and mode != "sum":
        pytest.skip("per_sample_weights is mode='sum' only")
    num, dim = 11, 5
    w = rng.standard_normal((num, dim)).astype(dtype)
    kw, fkw = {}, {}
    if layout == "2d":
        inp, off = rng.integers(0, num, (4, 3)), None
    else:
        inp = rng.integers(0, num, 10)
        off = np.array([0, 3, 3, 7])  # an empty bag
        if layout == "last_offset":
            off = np.append(off, 10)
            kw["include_last_offset"] = True
        if layout == "padding":
            inp[[0, 4, 5]] = 2
            kw["padding_idx"] = 2
    psw = rng.standard_normal(inp.shape).astype(dtype) if layout == "psw" else None
    m = nn.EmbeddingBag.from_pretrained(w, freeze=False, mode=mode, **kw)
    tm = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), freeze=False, mode=mode, **kw)
    p = cr.tensor(psw, requires_grad=True) if psw is not None else None
    tp = torch.tensor(psw, requires_grad=True) if psw is not None else None
    y = m(inp, off, p)
    ty = tm(torch.tensor(inp), None if off is None else torch.tensor(off), tp)
    assert_close(y.array, ty.detach().numpy(), dtype, name="forward")
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    grad = lambda t: np.asarray(getattr(t.grad, "array", t.grad))
    assert_close(grad(m.weight), tm.weight.grad.numpy(), dtype, name="dweight")
    if psw is not None:
        assert_close(grad(p), tp.grad.numpy(), dtype, name="dper_sample_weights")
