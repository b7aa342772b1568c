"""F.one_hot, F.pad, F.normalize, F.cosine_similarity, F.pairwise_distance, F.logsigmoid
and cr.Generator (issue 10): finite differences in float64, PyTorch as the oracle."""
import numpy as np
import pytest

import chainrule as cr
from helpers import assert_op_matches_torch
import chainrule.nn.functional as F
from chainrule.utils import data as D

CASES = [  # (name, shapes, function of (F-module, tensors))
    ("pad", [(2, 3, 4)], lambda F, x: F.pad(x, (1, 2))),
    ("pad2", [(2, 3, 4)], lambda F, x: F.pad(x, (0, 1, 2, 0), value=0.5)),
    ("pad_crop", [(2, 3, 4)], lambda F, x: F.pad(x, (-1, 2, 1, -2))),
    ("pad_all", [(2, 3)], lambda F, x: F.pad(x, (1, 1, 1, 1))),
    ("normalize", [(3, 5)], lambda F, x: F.normalize(x)),
    ("normalize_p1", [(3, 5)], lambda F, x: F.normalize(x, p=1.0, dim=0)),
    ("cosine", [(4, 5), (4, 5)], lambda F, a, b: F.cosine_similarity(a, b)),
    ("cosine_bc", [(4, 5), (5,)], lambda F, a, b: F.cosine_similarity(a, b, dim=-1)),
    ("pairwise", [(4, 5), (4, 5)], lambda F, a, b: F.pairwise_distance(a, b)),
    ("pairwise_p1", [(4, 5), (4, 5)], lambda F, a, b: F.pairwise_distance(a, b, 1.0,
                                                                          keepdim=True)),
    ("logsigmoid", [(3, 5)], lambda F, x: F.logsigmoid(x * 20)),
]


def _arrays(shapes, dtype):
    rng = np.random.default_rng(0)
    return [rng.uniform(-2, 2, s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_float64(case):
    _, shapes, fn = case
    xs = [cr.tensor(a, requires_grad=True) for a in _arrays(shapes, np.float64)]
    assert cr.gradcheck(lambda *t: fn(F, *t), xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_vs_torch(case, dtype):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    _, shapes, fn = case
    assert_op_matches_torch(torch, _arrays(shapes, dtype), dtype, lambda *t: fn(F, *t),
                            lambda *t: fn(TF, *t))


def test_one_hot_vs_torch():
    torch = pytest.importorskip("torch")
    for idx, n in (([0, 3, 1], -1), ([[1], [0]], 4), ([], 3)):
        got = F.one_hot(cr.tensor(idx, dtype=cr.long), n)
        want = torch.nn.functional.one_hot(torch.tensor(idx, dtype=torch.long), n)
        assert got.dtype == np.int64 and np.array_equal(got.numpy(), want.numpy())


def test_values_and_bad_input():
    assert F.one_hot(cr.tensor([1, 0])).tolist() == [[0, 1], [1, 0]]
    assert F.pad(cr.ones(1, 1), (1, 0)).tolist() == [[0, 1]]
    assert F.logsigmoid(cr.tensor([-1000.0])).item() == -1000.0
    with pytest.raises(TypeError, match="one_hot: is only applicable to index tensors"):
        F.one_hot(cr.zeros(2))
    with pytest.raises(ValueError, match=r"one_hot: class values must be smaller than "
                                         r"num_classes \(2\)"):
        F.one_hot(cr.tensor([2]), 2)
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect'"):
        F.pad(cr.zeros(2, 2), (1, 1), mode="mirror")  # reflect is supported (test_pad_modes)
    with pytest.raises(ValueError, match="pad: pad must be an even number of ints"):
        F.pad(cr.zeros(2, 2), (1,))
    with pytest.raises(ValueError, match="pad: cropping"):
        F.pad(cr.zeros(2, 2), (-2, -1))


def test_generator_is_a_seedable_numpy_generator():
    g = cr.Generator().manual_seed(42)
    assert isinstance(g, np.random.Generator) and g.initial_seed() == 42
    assert g.random() == np.random.default_rng(42).random()
    a = cr.randn(3, generator=cr.Generator().manual_seed(7))
    b = cr.randn(3, generator=cr.Generator().manual_seed(7))
    assert np.array_equal(a.numpy(), b.numpy())
    ds = D.TensorDataset(cr.arange(10))
    s1 = D.random_split(ds, [0.7, 0.3], generator=cr.Generator().manual_seed(1))
    s2 = D.random_split(ds, [0.7, 0.3], generator=cr.Generator().manual_seed(1))
    assert [list(s.indices) for s in s1] == [list(s.indices) for s in s2]
    st = g.get_state()
    x = g.random()
    g.set_state(st)
    assert g.random() == x and g.device == cr.device("cpu")
    assert isinstance(g.seed(), int)
    with pytest.raises(ValueError, match="Generator: only device 'cpu'"):
        cr.Generator("cuda")
    with pytest.raises(TypeError, match="Generator.manual_seed: seed must be an int"):
        g.manual_seed(1.5)
