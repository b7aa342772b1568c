"""floor ceil round trunc frac tan log2 log10 reciprocal lerp logsumexp outer bmm diag
diagonal isclose unique bincount, t.new_*, set_grad_enabled, inference_mode (issue 10):
finite differences in float64, PyTorch as the oracle (skipped without it)."""
import numpy as np
import pytest

import chainrule as cr
from helpers import assert_op_matches_torch

POS = (0.3, 2.0)  # inputs of log2/log10/reciprocal

CASES = [  # (name, shapes, function of module m and tensors, input range)
    ("floor", [(3, 4)], lambda m, x: m.floor(x) * x, None),
    ("ceil", [(3, 4)], lambda m, x: x.ceil() + x, None),
    ("round", [(3, 4)], lambda m, x: m.round(x * 3) * x, None),
    ("round_dec", [(3, 4)], lambda m, x: x.round(decimals=1) + x, None),
    ("trunc", [(3, 4)], lambda m, x: x.trunc() * x, None),
    ("frac", [(3, 4)], lambda m, x: m.frac(x * 2.5), None),
    ("tan", [(3, 4)], lambda m, x: (x * 0.6).tan(), None),
    ("log2", [(3, 4)], lambda m, x: m.log2(x), POS),
    ("log10", [(3, 4)], lambda m, x: x.log10(), POS),
    ("reciprocal", [(3, 4)], lambda m, x: m.reciprocal(x), POS),
    ("lerp", [(3, 4), (3, 4)], lambda m, x, y: m.lerp(x, y, 0.3), None),
    ("lerp_t", [(3, 4), (4,), (3, 4)], lambda m, x, y, w: x.lerp(y, w), None),
    ("logsumexp", [(3, 5)], lambda m, x: m.logsumexp(x * 20, 1), None),
    ("logsumexp_keep", [(2, 3, 4)], lambda m, x: x.logsumexp((0, 2), keepdim=True), None),
    ("outer", [(3,), (5,)], lambda m, x, y: m.outer(x, y), None),
    ("bmm", [(2, 3, 4), (2, 4, 5)], lambda m, x, y: m.bmm(x, y), None),
    ("diag_vec", [(4,)], lambda m, x: m.diag(x, 1), None),
    ("diag_mat", [(4, 5)], lambda m, x: x.diag(-1), None),
    ("diagonal", [(2, 4, 3)], lambda m, x: m.diagonal(x, 1, 1, 2), None),
    ("diagonal_neg", [(4, 3, 2)], lambda m, x: x.diagonal(-1, 0, 1), None),
]


def _arrays(shapes, dtype, rng_range):
    rng = np.random.default_rng(0)
    lo, hi = rng_range or (-2.0, 2.0)
    return [rng.uniform(lo, hi, s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_float64(case):
    _, shapes, fn, r = case
    xs = [cr.tensor(a, requires_grad=True) for a in _arrays(shapes, np.float64, r)]
    assert cr.gradcheck(lambda *t: fn(cr, *t), xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_vs_torch(case, dtype):
    torch = pytest.importorskip("torch")
    _, shapes, fn, r = case
    assert_op_matches_torch(torch, _arrays(shapes, dtype, r), dtype, lambda *t: fn(cr, *t),
                            lambda *t: fn(torch, *t))


EXACT = [
    lambda m: m.unique(m.tensor([3, 1, 3, 2, 1])),
    lambda m: m.cat(m.unique(m.tensor([3, 1, 3, 2]), return_inverse=True,
                               return_counts=True)[1:]),
    lambda m: m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0),
    lambda m: m.bincount(m.tensor([0, 2, 2, 5])),
    lambda m: m.bincount(m.tensor([1, 1]), minlength=4),
    lambda m: m.bincount(m.tensor([0, 2, 2]), weights=m.tensor([0.5, 1.0, 2.0])),
    lambda m: m.isclose(m.tensor([1.0, 2.0, 3.0]), m.tensor([1.0, 2.00001, 3.1])),
    lambda m: m.tensor([1.5, -2.5, 0.5, 2.5]).round(),
    lambda m: m.tensor([3, -2]).floor(),
    lambda m: m.zeros(2, dtype=m.float64).new_zeros(2, 3),
    lambda m: m.zeros(2).new_ones((2,), dtype=m.long),
    lambda m: m.ones(1, dtype=m.float64).new_full((2, 2), 7),
    lambda m: m.ones(1).new_tensor([[1, 2]]),
    lambda m: m.ones(1, dtype=m.long).new_tensor([1.7, 2.0]),
    lambda m: m.ones(1).new_empty(0, 3),
]


@pytest.mark.parametrize("i", range(len(EXACT)))
def test_exact_results_vs_torch(i):
    torch = pytest.importorskip("torch")
    got, want = EXACT[i](cr), EXACT[i](torch)
    assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
    assert got.shape == tuple(want.shape) and np.array_equal(got.numpy(), want.numpy())


def test_values_without_torch():
    assert cr.floor(cr.tensor([1.5, -1.5])).tolist() == [1, -2]
    assert cr.round(cr.tensor([0.5, 1.5, 2.5])).tolist() == [0, 2, 2]  # half to even
    assert cr.logsumexp(cr.tensor([[1000.0, 1000.0]]), 1).item() == pytest.approx(
        1000 + np.log(2))
    assert cr.logsumexp(cr.tensor([-np.inf, -np.inf]), 0).item() == -np.inf
    assert cr.diag(cr.tensor([1., 2.])).tolist() == [[1, 0], [0, 2]]
    assert cr.diag(cr.tensor([[1., 2.], [3., 4.]])).tolist() == [1, 4]
    assert cr.outer(cr.tensor([1., 2.]), cr.tensor([3., 4.])).tolist() == [[3, 4], [6, 8]]
    assert cr.unique(cr.tensor([2, 2, 0])).tolist() == [0, 2]
    assert cr.bincount(cr.tensor([1, 1, 3])).tolist() == [0, 2, 0, 1]
    t = cr.zeros(3, dtype=cr.float64).new_zeros(2, requires_grad=True)
    assert t.dtype == cr.float64 and t.requires_grad and t.is_leaf


def test_grad_mode_helpers():
    x = cr.ones(2, requires_grad=True)
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled() and not (x * 2).requires_grad
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)  # as a function: switches at once
    try:
        assert not (x * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)
    with cr.set_grad_enabled(True):
        assert (x * 2).requires_grad
    with cr.inference_mode():
        assert not (x * 2).requires_grad
    with cr.inference_mode(False):
        assert (x * 2).requires_grad

    @cr.inference_mode()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and cr.is_grad_enabled()
    assert cr.is_inference_mode_enabled() is False


def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"outer: expects two 1-D tensors, got shapes \(2, 2\)"):
        cr.outer(cr.zeros(2, 2), cr.zeros(2))
    with pytest.raises(ValueError, match="bmm: expects .b, n, m. and .b, m, p. tensors"):
        cr.bmm(cr.zeros(2, 3, 4), cr.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="diag: expects a 1-D or 2-D tensor"):
        cr.diag(cr.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="diagonal: dim1 and dim2 must differ"):
        cr.diagonal(cr.zeros(2, 2), 0, 1, 1)
    with pytest.raises(TypeError, match="bincount: input must be a 1-D integer tensor"):
        cr.bincount(cr.zeros(3))
    with pytest.raises(ValueError, match="bincount: input must hold non-negative"):
        cr.bincount(cr.tensor([-1, 2]))
    with pytest.raises(ValueError, match="bincount: weights shape"):
        cr.bincount(cr.tensor([1, 2]), weights=cr.ones(3))
    with pytest.raises(TypeError, match="Tensor.new_zeros: size must be ints"):
        cr.zeros(1).new_zeros(2.0)
    with pytest.raises(IndexError, match="logsumexp: dim 2 is out of range"):
        cr.logsumexp(cr.zeros(2, 2), 2)
