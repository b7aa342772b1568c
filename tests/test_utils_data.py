"""chainrule.utils.data against torch.utils.data: datasets, samplers, collation, loader."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Tensor
from chainrule.utils import data as D

torch = pytest.importorskip("torch")
TD = torch.utils.data


def _np(t):
    return t.numpy() if hasattr(t, "numpy") and not isinstance(t, Tensor) else np.asarray(t)


def _same(ours, theirs):
    """Same nested structure, container types and values (Tensor vs torch.Tensor)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, Tensor), type(ours)
        a, b = np.asarray(ours), theirs.numpy()
        assert a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


@pytest.mark.parametrize("samples", [
    [(1, 2.0, True), (3, 4.0, False)],
    [{"a": 1, "b": np.ones(3, np.float32)}, {"a": 2, "b": np.zeros(3, np.float32)}],
    [np.arange(6.0).reshape(2, 3), np.ones((2, 3))],
    [[np.int64(3), "x"], [np.int64(5), "y"]],
    [(np.float32(1.5), np.arange(3, dtype=np.int32))] * 3,
])
def test_default_collate_matches_torch(samples):
    _same(D.default_collate(samples), TD.default_collate(samples))


def test_collate_stacks_tensors():
    out = D.default_collate([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])])
    assert isinstance(out, Tensor) and out.shape == (2, 2) and out.dtype == np.float32


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True),
                                       (1, 4, False), (1, 4, True), (7, 1, False)])
def test_sequential_loader_matches_torch(n, bs, drop):
    x = np.random.default_rng(0).standard_normal((n, 3)).astype(np.float32)
    y = np.arange(n)
    ours = list(D.DataLoader(D.TensorDataset(x, y), batch_size=bs, drop_last=drop))
    theirs = list(TD.DataLoader(TD.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                batch_size=bs, drop_last=drop))
    assert len(ours) == len(theirs) == len(D.DataLoader(D.TensorDataset(x, y), batch_size=bs,
                                                        drop_last=drop))
    for a, b in zip(ours, theirs):
        _same(a, b)


class Squares(D.Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        if not 0 <= i < 11:
            raise IndexError(i)
        return {"x": np.full(2, i, np.float64), "y": i * i}


class TSquares(TD.Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float64), "y": i * i}


def test_custom_dataset_dict_batches_match_torch():
    for a, b in zip(D.DataLoader(Squares(), batch_size=4), TD.DataLoader(TSquares(), batch_size=4)):
        _same(a, b)
    # batch_size=None: samples one by one, arrays as tensors, ints untouched
    for a, b in zip(D.DataLoader(Squares(), batch_size=None),
                    TD.DataLoader(TSquares(), batch_size=None)):
        _same(a, b)


def test_shuffle_is_a_permutation_reproducible_with_a_seed():
    ds = D.TensorDataset(np.arange(50.0).reshape(50, 1), np.arange(50))

    def epoch(loader):
        return np.concatenate([np.asarray(y) for _, y in loader])
    a = D.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(3))
    b = D.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(3))
    e1, e2 = epoch(a), epoch(a)
    assert sorted(e1.tolist()) == list(range(50)) and not np.array_equal(e1, np.arange(50))
    assert not np.array_equal(e1, e2)  # a new order every epoch
    assert np.array_equal(e1, epoch(b)) and np.array_equal(e2, epoch(b))
    cr.manual_seed(5)
    g1 = epoch(D.DataLoader(ds, batch_size=8, shuffle=True))
    cr.manual_seed(5)
    assert np.array_equal(g1, epoch(D.DataLoader(ds, batch_size=8, shuffle=True)))
    for xb, yb in D.DataLoader(ds, batch_size=8, shuffle=True, generator=1):
        assert np.array_equal(np.asarray(xb)[:, 0], np.asarray(yb).astype(float))


def test_samplers():
    ds = list(range(10))
    assert list(D.SequentialSampler(ds)) == list(range(10))
    r = list(D.RandomSampler(ds, generator=np.random.default_rng(0)))
    assert sorted(r) == list(range(10)) and len(D.RandomSampler(ds)) == 10
    rr = list(D.RandomSampler(ds, replacement=True, num_samples=25, generator=1))
    assert len(rr) == 25 and set(rr) <= set(range(10))
    assert len(list(D.RandomSampler(ds, num_samples=23, generator=2))) == 23
    s = list(D.SubsetRandomSampler([2, 4, 6], generator=0))
    assert sorted(s) == [2, 4, 6]
    assert list(D.BatchSampler(D.SequentialSampler(ds), 4, False)) == \
        list(TD.BatchSampler(TD.SequentialSampler(ds), 4, False))
    assert list(D.BatchSampler(range(10), 4, True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(D.BatchSampler(range(10), 4, True)) == 2
    assert len(D.BatchSampler(range(10), 4, False)) == 3


def test_loader_with_sampler_and_batch_sampler():
    ds = D.TensorDataset(np.arange(10.0))
    got = [np.asarray(b[0]).tolist() for b in D.DataLoader(ds, batch_size=2,
                                                            sampler=[9, 8, 7, 1, 0])]
    assert got == [[9.0, 8.0], [7.0, 1.0], [0.0]]
    got = [np.asarray(b[0]).tolist() for b in D.DataLoader(ds, batch_sampler=[[3, 1], [2]])]
    assert got == [[3.0, 1.0], [2.0]]
    got = list(D.DataLoader(ds, batch_size=3, collate_fn=lambda b: len(b)))
    assert got == [3, 3, 3, 1]
    dl = D.DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True)
    assert len(list(dl)) == 3


def test_loader_bad_arguments():
    ds = D.TensorDataset(np.arange(10.0))
    with pytest.raises(ValueError, match="DataLoader: sampler option is mutually exclusive"):
        D.DataLoader(ds, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="DataLoader: batch_sampler"):
        D.DataLoader(ds, batch_size=3, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="DataLoader: batch_size must be >= 1"):
        D.DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="DataLoader: batch_size must be an int"):
        D.DataLoader(ds, batch_size=2.0)
    with pytest.raises(TypeError, match="DataLoader: generator"):
        D.DataLoader(ds, shuffle=True, generator="seed")
    with pytest.raises(TypeError, match="DataLoader: dataset"):
        D.DataLoader(5)
    with pytest.raises(ValueError, match="TensorDataset: tensor 1"):
        D.TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="random_split: sum of input lengths"):
        D.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="BatchSampler: drop_last"):
        D.BatchSampler(range(3), 2, 1)


def test_random_split_subset_concat():
    parts = D.random_split(range(10), [0.33, 0.33, 0.34], generator=np.random.default_rng(0))
    tparts = TD.random_split(range(10), [0.33, 0.33, 0.34])
    assert [len(p) for p in parts] == [len(p) for p in tparts] == [4, 3, 3]
    assert sorted(i for p in parts for i in p) == list(range(10))
    a, b = D.random_split(range(7), [5, 2], generator=4)
    a2, b2 = D.random_split(range(7), [5, 2], generator=4)
    assert list(a) == list(a2) and list(b) == list(b2) and len(set(a) | set(b)) == 7
    sub = D.Subset(["a", "b", "c", "d"], [3, 1])
    assert len(sub) == 2 and sub[0] == "d" and sub[1] == "b"
    cat = D.ConcatDataset([[1, 2], [3], [4, 5, 6]])
    tcat = TD.ConcatDataset([[1, 2], [3], [4, 5, 6]])
    assert len(cat) == 6 and [cat[i] for i in range(6)] == [tcat[i] for i in range(6)]
    assert cat[-1] == 6
    with pytest.raises(IndexError):
        cat[6]
    both = D.TensorDataset(np.zeros(2)) + D.TensorDataset(np.ones(3))
    assert len(both) == 5


def test_chainrule_data_loader_still_yields_numpy_batches():
    from chainrule import data
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    batches = list(data.DataLoader((x, y), batch_size=4, shuffle=True, seed=0))
    assert isinstance(batches[0][0], np.ndarray) and len(batches) == 2
    assert isinstance(data.ArrayDataset(x, y), D.Dataset)
