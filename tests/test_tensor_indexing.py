"""Index, sort, scan and split ops (issue 10 item 1): gather, scatter(_add)(_), index_select,
masked_select, nonzero, take_along_dim, sort, argsort, topk, cumsum, cumprod, flip, roll,
tril, triu, chunk, split, unbind, narrow, einsum, and ``chainrule.Size``.

Finite differences in float64 (always) and PyTorch as the oracle (skipped without it)."""
import pickle

import numpy as np
import pytest

import chainrule as cr
from helpers import assert_op_matches_torch

IDX = np.array([[0, 2, 2], [3, 0, 1], [4, 4, 0]])          # for (5 or more, 3) inputs, dim 0
IDX1 = np.array([[1, 0], [3, 3], [0, 2], [2, 1]])          # for (4, 4) inputs, dim 1
PERM = np.array([[2, 0, 1, 3], [1, 3, 0, 2], [0, 1, 3, 2]])  # distinct per row: scatter target

# (name, shapes, function of chainrule-or-torch module `m` and the tensors)
CASES = [
    ("gather0", [(5, 3)], lambda m, x: m.gather(x, 0, m.tensor(IDX))),
    ("gather1", [(4, 4)], lambda m, x: x.gather(1, m.tensor(IDX1))),
    ("gather_small", [(4, 5)], lambda m, x: x.gather(1, m.tensor(IDX1))),
    ("take_along_dim", [(4, 5)], lambda m, x: m.take_along_dim(x, m.tensor(IDX1), 1)),
    ("scatter", [(3, 6), (3, 4)], lambda m, x, s: x.scatter(1, m.tensor(PERM), s)),
    ("scatter_value", [(3, 6)], lambda m, x: m.scatter(x, 1, m.tensor(PERM), 0.5)),
    ("scatter_add", [(3, 6), (3, 4)], lambda m, x, s: m.scatter_add(x, 1, m.tensor(PERM), s)),
    ("scatter_add_dup", [(5, 3), (3, 3)], lambda m, x, s: x.scatter_add(0, m.tensor(IDX), s)),
    ("index_select0", [(5, 3)], lambda m, x: m.index_select(x, 0, m.tensor([4, 0, 4, 2]))),
    ("index_select1", [(2, 5, 3)], lambda m, x: x.index_select(1, m.tensor([1, 1, 3]))),
    ("masked_select", [(3, 4)], lambda m, x: x.masked_select(x > 0.2)),
    ("masked_select_bc", [(3, 4)],
     lambda m, x: m.masked_select(x, m.tensor([True, False, True, True]))),
    ("masked_fill", [(3, 4)], lambda m, x: m.masked_fill(x, x < 0, -1.5)),
    ("sort", [(3, 5)], lambda m, x: x.sort(1).values),
    ("sort_desc", [(4, 3)], lambda m, x: m.sort(x, 0, descending=True)[0]),
    ("topk", [(3, 7)], lambda m, x: x.topk(3).values),
    ("topk_small", [(6, 3)], lambda m, x: m.topk(x, 2, dim=0, largest=False).values),
    ("cumsum", [(3, 5)], lambda m, x: x.cumsum(1)),
    ("cumsum0", [(4, 2, 3)], lambda m, x: m.cumsum(x, dim=0)),
    ("cumprod", [(3, 5)], lambda m, x: x.cumprod(1)),
    ("cumprod0", [(4, 3)], lambda m, x: m.cumprod(x, 0)),
    ("flip", [(3, 4, 2)], lambda m, x: x.flip(0, 2)),
    ("flip_fn", [(3, 4)], lambda m, x: m.flip(x, [1])),
    ("fliplr", [(3, 4)], lambda m, x: m.fliplr(x)),
    ("roll", [(3, 4)], lambda m, x: x.roll(1, 1)),
    ("roll2", [(3, 4)], lambda m, x: m.roll(x, (2, -1), (0, 1))),
    ("roll_flat", [(3, 4)], lambda m, x: m.roll(x, 5)),
    ("tril", [(4, 5)], lambda m, x: x.tril()),
    ("triu", [(2, 4, 3)], lambda m, x: m.triu(x, 1)),
    ("tril_neg", [(4, 4)], lambda m, x: m.tril(x, diagonal=-1)),
    ("chunk", [(7, 3)], lambda m, x: m.cat([c * (i + 1) for i, c in enumerate(x.chunk(3))])),
    ("split", [(3, 7)], lambda m, x: m.cat([c * (i + 1) for i, c in enumerate(
        m.split(x, 3, dim=1))], 1)),
    ("split_list", [(6, 2)], lambda m, x: m.cat([c * (i + 1) for i, c in enumerate(
        x.split([1, 0, 5]))])),
    ("unbind", [(3, 4)], lambda m, x: m.stack([c * (i + 1) for i, c in enumerate(
        x.unbind(1))])),
    ("narrow", [(3, 6)], lambda m, x: x.narrow(1, 2, 3)),
    ("einsum_mm", [(3, 4), (4, 5)], lambda m, a, b: m.einsum("ij,jk->ik", a, b)),
    ("einsum_batch", [(2, 3, 4), (2, 4, 5)], lambda m, a, b: m.einsum("bij,bjk->bik", a, b)),
    ("einsum_implicit", [(3, 4), (4,)], lambda m, a, b: m.einsum("ij,j", a, b)),
    ("einsum_outer_sum", [(3, 4), (5,)], lambda m, a, b: m.einsum("ij,k->jk", a, b)),
    ("einsum_ellipsis", [(2, 3, 4), (2, 4)], lambda m, a, b: m.einsum("...ij,...j->...i", a, b)),
    ("einsum_list", [(3,), (3,)], lambda m, a, b: m.einsum("i,i->", [a, b])),
]


def _inputs(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)  # distinct values: no ties for sort/topk/max
    out = []
    for s in shapes:
        n = int(np.prod(s))
        out.append((rng.permutation(n).reshape(s) / n * 3 - 1.4 +
                    rng.uniform(0, 1e-3, s)).astype(dtype))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_float64(case):
    _, shapes, fn = case
    xs = [cr.tensor(a, requires_grad=True) for a in _inputs(shapes, np.float64)]
    assert cr.gradcheck(lambda *t: fn(cr, *t), xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_vs_torch(case, dtype):
    torch = pytest.importorskip("torch")
    _, shapes, fn = case
    assert_op_matches_torch(torch, _inputs(shapes, dtype), dtype, lambda *t: fn(cr, *t),
                            lambda *t: fn(torch, *t))


INT_CASES = [  # results without gradients, compared exactly (integer outputs, indices)
    lambda m, x: x.sort(1, descending=True).indices,
    lambda m, x: m.argsort(x, 0),
    lambda m, x: x.argsort(dim=1, descending=True),
    lambda m, x: m.topk(x, 2, 1).indices,
    lambda m, x: m.nonzero(x > 0.3),
    lambda m, x: m.stack(m.nonzero(x > 0.3, as_tuple=True)),
    lambda m, x: (x > 0).nonzero(),
    lambda m, x: (x * 10).long().cumsum(0),
    lambda m, x: (x > 0).cumsum(1),
    lambda m, x: (x * 10).long().gather(1, m.tensor([[0, 0], [1, 3], [2, 2]])),
    lambda m, x: m.zeros(3, 5, dtype=m.long).scatter_(1, m.tensor([[0], [4], [2]]), 7),
    lambda m, x: m.zeros(2, 4).scatter_add_(1, m.tensor([[0, 0, 3], [1, 1, 1]]),
                                             m.ones(2, 3)),
    lambda m, x: m.zeros(5).scatter(0, m.tensor([1, 3, 3]), 2.5, reduce="add"),
]


@pytest.mark.parametrize("i", range(len(INT_CASES)))
def test_index_results_vs_torch(i):
    torch = pytest.importorskip("torch")
    a = _inputs([(3, 4)], np.float32)[0]
    got, want = INT_CASES[i](cr, cr.tensor(a)), INT_CASES[i](torch, torch.tensor(a))
    assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
    assert np.array_equal(got.numpy(), want.numpy())


def test_values_without_torch():
    x = cr.tensor([[3., 1., 2.], [0., 5., 4.]])
    v, i = x.sort(1)
    assert v.tolist() == [[1, 2, 3], [0, 4, 5]] and i.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert x.topk(1, dim=0).indices.tolist() == [[0, 1, 1]]
    assert cr.argsort(cr.tensor([2., 1., 2., 1.]), descending=True).tolist() == [0, 2, 1, 3]
    assert cr.argsort(cr.tensor([2., 1., 2., 1.])).tolist() == [1, 3, 0, 2]  # stable
    assert x.gather(1, cr.tensor([[2], [0]])).tolist() == [[2], [0]]
    assert cr.zeros(2, 3).scatter(1, cr.tensor([[2], [0]]), 9.0).tolist() == \
        [[0, 0, 9], [9, 0, 0]]
    assert cr.cumsum(cr.tensor([1, 2, 3]), 0).tolist() == [1, 3, 6]
    assert cr.cumsum(cr.tensor([1, 2, 3]), 0).dtype == cr.int64
    assert cr.cumprod(cr.tensor([[1., 2., 3.]]), 1).tolist() == [[1, 2, 6]]
    assert x.flip(1).tolist() == [[2, 1, 3], [4, 5, 0]]
    assert x.roll(1).tolist() == [[4, 3, 1], [2, 0, 5]]
    assert cr.triu(cr.ones(3, 3)).sum().item() == 6
    assert [c.shape for c in cr.arange(10).chunk(4)] == [(3,), (3,), (3,), (1,)]
    assert [c.shape for c in cr.arange(5).chunk(4)] == [(2,), (2,), (1,)]
    assert [c.shape for c in cr.zeros(0, 2).chunk(3)] == [(0, 2)] * 3  # as PyTorch
    assert [c.shape for c in cr.zeros(6).chunk(4)] == [(2,)] * 3
    assert [c.tolist() for c in cr.arange(5).split(2)] == [[0, 1], [2, 3], [4]]
    assert cr.nonzero(cr.tensor([0, 3, 0, 1])).tolist() == [[1], [3]]
    assert cr.index_select(x, 1, cr.tensor([2, 2])).tolist() == [[2, 2], [4, 4]]
    assert cr.einsum("ij->ji", x).tolist() == x.t().tolist()


def test_cumprod_gradient_with_zeros():
    for a in ([2., 0., 3., 4.], [0., 0., 2., 1.], [1.5, -2., 0.]):
        x = cr.tensor(np.array([a, a[::-1]]), requires_grad=True)
        assert cr.gradcheck(lambda t: t.cumprod(1), [x])


def test_inplace_scatter_rules():
    x = cr.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scatter_: a leaf tensor that requires grad"):
        x.scatter_(1, cr.tensor([[0], [1]]), 1.0)
    with cr.no_grad():
        x.scatter_(1, cr.tensor([[0], [1]]), 1.0)
    assert x.tolist() == [[1, 0, 0], [0, 1, 0]]
    # on a recorded result the in-place scatter is recorded: gradients flow to src and x
    w = cr.tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    s = cr.tensor([[5.], [7.]], dtype=cr.float64, requires_grad=True)
    y = w * 2
    y.scatter_add_(1, cr.tensor([[2], [2]]), s)
    y.sum().backward()
    assert w.grad.tolist() == [[2] * 3] * 2 and s.grad.tolist() == [[1], [1]]
    # a graph that needs the tensor's old values refuses a later in-place scatter
    a = cr.tensor([1., 2., 3.], requires_grad=True)
    b = a * 1
    c = b * b
    b.scatter_(0, cr.tensor([0]), 0.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_bad_input_messages():
    x = cr.zeros(3, 4)
    with pytest.raises(TypeError, match="gather: argument 'index' must be an integer"):
        cr.gather(x, 1, cr.zeros(3, 1))
    with pytest.raises(ValueError, match="gather: index must have the same number of dims"):
        cr.gather(x, 1, cr.tensor([0, 1]))
    with pytest.raises(IndexError, match="gather: index 4 is out of bounds for dimension 1"):
        cr.gather(x, 1, cr.tensor([[4]]))
    with pytest.raises(IndexError, match="gather: index -1 is out of bounds"):
        cr.gather(x, 1, cr.tensor([[-1]]))
    with pytest.raises(ValueError, match=r"gather: index shape \(4, 1\) is larger"):
        cr.gather(x, 1, cr.zeros(4, 1, dtype=cr.long))
    with pytest.raises(IndexError, match="gather: dim 2 is out of range"):
        cr.gather(x, 2, cr.zeros(3, 1, dtype=cr.long))
    with pytest.raises(TypeError, match="scatter: src dtype float64 must equal"):
        x.scatter(1, cr.zeros(3, 1, dtype=cr.long), cr.zeros(3, 1, dtype=cr.float64))
    with pytest.raises(ValueError, match="scatter_add: index shape .* is larger than src"):
        x.scatter_add(1, cr.zeros(3, 2, dtype=cr.long), cr.zeros(3, 1))
    with pytest.raises(ValueError, match="scatter: reduce must be None or 'add'"):
        x.scatter(1, cr.zeros(3, 1, dtype=cr.long), 1.0, reduce="max")
    with pytest.raises(ValueError, match="index_select: index must be 1-D"):
        x.index_select(0, cr.zeros(2, 2, dtype=cr.long))
    with pytest.raises(IndexError, match="index_select: index 3 is out of bounds"):
        x.index_select(0, cr.tensor([3]))
    with pytest.raises(TypeError, match="masked_select: mask must be a bool tensor"):
        x.masked_select(x)
    with pytest.raises(ValueError, match=r"topk: k \(5\) is out of range"):
        x.topk(5)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        x.topk(1.0)
    with pytest.raises(ValueError, match="flip: dim .* appears multiple times"):
        x.flip(0, -2)
    with pytest.raises(ValueError, match="roll: shifts .* and dims .* must have the same"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match="tril: input must have at least 2 dims"):
        cr.tril(cr.zeros(3))
    with pytest.raises(ValueError, match="split: sizes .* must be >= 0 and add up to"):
        x.split([1, 1])
    with pytest.raises(ValueError, match="chunk: chunks must be >= 1"):
        x.chunk(0)
    with pytest.raises(ValueError, match="narrow: start .* exceeds dimension size"):
        x.narrow(1, 3, 2)
    with pytest.raises(ValueError, match="einsum: a subscript repeated within one operand"):
        cr.einsum("ii->i", cr.zeros(3, 3))
    with pytest.raises(ValueError, match="einsum: the equation 'ij,jk' names 2 operands"):
        cr.einsum("ij,jk", x)
    with pytest.raises(ValueError, match="einsum: subscripts 'ijk' name 3 dims"):
        cr.einsum("ijk->i", x)


def test_size_is_a_tuple_like_torch_size():
    x = cr.zeros(2, 3, 4)
    s = x.shape
    assert isinstance(s, cr.Size) and isinstance(s, tuple) and x.size() == s
    assert s == (2, 3, 4) and (2, 3, 4) == s and hash(s) == hash((2, 3, 4))
    assert s.numel() == 24 == x.numel() and cr.Size([]).numel() == 1
    assert isinstance(s[1:], cr.Size) and s[1:] == (3, 4) and s[-1] == 4
    assert isinstance(s + (5,), cr.Size) and (1,) + s == (1, 2, 3, 4)
    assert isinstance((1,) + s, cr.Size)
    assert repr(s) == "chainrule.Size([2, 3, 4])" and x.size(1) == 3
    assert pickle.loads(pickle.dumps(s)) == s and type(pickle.loads(pickle.dumps(s))) is cr.Size
    assert np.zeros(s).shape == (2, 3, 4) and cr.zeros(s).shape == s
    b, *rest = x.shape
    assert b == 2 and rest == [3, 4]


def test_size_vs_torch():
    torch = pytest.importorskip("torch")
    x, t = cr.zeros(2, 3), torch.zeros(2, 3)
    assert x.shape == t.shape and x.size()[1:] == t.size()[1:]
    assert x.shape.numel() == t.shape.numel() and x.view(x.size(0), -1).shape == (2, 3)
