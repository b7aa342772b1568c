"""chainrule.data: bundled digits, deterministic split, IDX reader/writer, DataLoader."""
import gzip
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import data
from chainrule.utils import data as D


# ---- bundled digits ------------------------------------------------------------------------
def test_load_digits_shapes_range_and_classes():
    x, y = data.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and x.flags.c_contiguous
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    # pixel values are counts 0..16 scaled by 1/16
    assert np.array_equal(np.unique(x * 16), np.arange(17, dtype=np.float32))
    assert np.array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    x64, y64 = data.load_digits(np.float64)
    assert x64.dtype == np.float64 and np.array_equal(x64.astype(np.float32), x)
    with pytest.raises(TypeError, match="float32 or float64"):
        data.load_digits(np.int32)


def test_bundled_digits_match_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    x, y = data.load_digits(np.float64)
    assert np.array_equal(x[:, 0] * 16, ref.images)
    assert np.array_equal(y, ref.target)


def test_citation_ships_with_the_data():
    from importlib import resources
    text = resources.files("chainrule.datasets").joinpath("CITATION.txt").read_text()
    assert "doi:10.24432/C50P49" in text and "CC BY 4.0" in text
    assert "Alpaydin" in data.DIGITS_CITATION


def test_train_test_split_is_deterministic_stratified_and_disjoint():
    x, y = data.load_digits()
    xtr, xte, ytr, yte = data.train_test_split(x, y, test_fraction=0.2, seed=3)
    assert len(xtr) + len(xte) == len(x) and len(xtr) == len(ytr) and len(xte) == len(yte)
    counts = np.bincount(y)
    assert np.array_equal(np.bincount(yte, minlength=10), np.round(0.2 * counts).astype(int))
    # the two parts are disjoint and cover everything: compare rows as bytes
    rows = {r.tobytes() + bytes([l]) for r, l in zip(x.reshape(len(x), -1), y)}
    tr = {r.tobytes() + bytes([l]) for r, l in zip(xtr.reshape(len(xtr), -1), ytr)}
    te = {r.tobytes() + bytes([l]) for r, l in zip(xte.reshape(len(xte), -1), yte)}
    assert tr | te == rows
    again = data.train_test_split(x, y, test_fraction=0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (xtr, xte, ytr, yte)))
    other = data.train_test_split(x, y, test_fraction=0.2, seed=4)
    assert not np.array_equal(other[3], yte) or not np.array_equal(other[1], xte)
    plain = data.train_test_split(np.arange(10), np.arange(10), 0.3, seed=0, stratify=False)
    assert len(plain[1]) == 3 and not set(plain[0]) & set(plain[1])


def test_train_test_split_bad_args():
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        data.train_test_split(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(np.zeros(3), np.zeros(3), test_fraction=1.0)


# ---- IDX -------------------------------------------------------------------------------------
def idx_bytes(code, shape, payload: bytes) -> bytes:
    """An IDX file written by hand, independent of chainrule.data.save_idx."""
    dims = b"".join(struct.pack(">I", d) for d in shape)
    return struct.pack(">HBB", 0, code, len(shape)) + dims + payload


@pytest.mark.parametrize("code,dtype", [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"),
                                        (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_load_idx_every_type(tmp_path, code, dtype):
    values = np.array([[0, 1, 2], [3, 127, 5]]).astype(dtype)
    if dtype not in (">u1",):
        values[1, 2] = -7
    p = tmp_path / "a.idx"
    p.write_bytes(idx_bytes(code, (2, 3), values.tobytes()))
    got = data.load_idx(p)
    assert got.shape == (2, 3) and got.dtype == np.dtype(dtype).newbyteorder("=")
    assert got.dtype.isnative
    assert np.array_equal(got, values)


def test_load_idx_mnist_shaped_and_gzip(tmp_path, rng):
    imgs = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(0x08, imgs.shape, imgs.tobytes())))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(0x08, (5,), labels.tobytes()))
    assert np.array_equal(data.load_idx(tmp_path / "train-images-idx3-ubyte.gz"), imgs)
    x, y = data.load_mnist(tmp_path, train=True)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(x[:, 0] * 255, imgs.astype(np.float32)) and np.array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        data.load_mnist(tmp_path, train=False)


def test_load_idx_scalar_and_empty(tmp_path):
    p = tmp_path / "s.idx"
    p.write_bytes(idx_bytes(0x0C, (), struct.pack(">i", -5)))
    assert data.load_idx(p).shape == () and int(data.load_idx(p)) == -5
    p.write_bytes(idx_bytes(0x0D, (0, 4), b""))
    assert data.load_idx(p).shape == (0, 4)


@pytest.mark.parametrize("raw,match", [
    (b"", "too short"),
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
    (b"\x00\x00\x0A\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x0A"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "header says 3 dimensions"),
    (idx_bytes(0x08, (2, 3), bytes(5)), "truncated"),
    (idx_bytes(0x0C, (2,), bytes(9)), "trailing data"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
])
def test_load_idx_bad_files(tmp_path, raw, match):
    p = tmp_path / "bad.idx"
    p.write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        data.load_idx(p)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_save_idx_round_trip(tmp_path, rng, dtype, name):
    a = (rng.standard_normal((3, 4, 2)) * 50).astype(dtype)
    data.save_idx(tmp_path / name, a)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    b = data.load_idx(tmp_path / name)
    assert b.dtype == a.dtype and np.array_equal(a, b)


def test_save_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        data.save_idx(tmp_path / "x.idx", np.zeros(3, np.int64))


# ---- DataLoader ------------------------------------------------------------------------------
def arrays(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_loader_in_order_and_last_partial_batch():
    x, y = arrays(10)
    loader = data.DataLoader((x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[0] for b in batches]), x)
    assert np.array_equal(np.concatenate([b[1] for b in batches]), y)


def test_loader_drop_last():
    x, y = arrays(10)
    loader = data.DataLoader((x, y), batch_size=4, drop_last=True, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == 2 == len(batches) and all(len(b[1]) == 4 for b in batches)
    assert len(data.DataLoader((x, y), batch_size=5, drop_last=True)) == 2
    assert len(data.DataLoader((x, y), batch_size=11, drop_last=True)) == 0
    assert list(data.DataLoader((x, y), batch_size=11, drop_last=True)) == []


def test_loader_shuffle_is_a_seeded_permutation_that_changes_per_epoch():
    x, y = arrays(50)
    a = data.DataLoader((x, y), batch_size=8, shuffle=True, seed=7)
    b = data.DataLoader((x, y), batch_size=8, shuffle=True, seed=7)
    ea1 = np.concatenate([yb for _, yb in a])
    ea2 = np.concatenate([yb for _, yb in a])
    eb1 = np.concatenate([yb for _, yb in b])
    assert np.array_equal(ea1, eb1)                  # same seed, same order
    assert not np.array_equal(ea1, ea2)              # a new permutation each epoch
    assert np.array_equal(np.sort(ea1), y)           # a permutation: nothing lost or repeated
    assert not np.array_equal(ea1, y)
    for xb, yb in a:                                 # x and y stay paired
        assert np.array_equal(xb[:, 0], 2 * yb.astype(np.float32))
    c = data.DataLoader((x, y), batch_size=8, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate([yb for _, yb in c]), eb1)


def test_loader_state_dict_resumes_the_order():
    x, y = arrays(30)
    a = data.DataLoader((x, y), batch_size=4, shuffle=True, seed=1)
    list(a)
    state = a.state_dict()
    want = np.concatenate([yb for _, yb in a])
    b = data.DataLoader((x, y), batch_size=4, shuffle=True, seed=99)
    b.load_state_dict(state)
    assert np.array_equal(np.concatenate([yb for _, yb in b]), want)


def test_loader_without_seed_uses_the_global_generator():
    x, y = arrays(40)
    loader = data.DataLoader((x, y), batch_size=8, shuffle=True)
    cr.manual_seed(5)
    first = np.concatenate([yb for _, yb in loader])
    cr.manual_seed(5)
    again = np.concatenate([yb for _, yb in loader])
    assert np.array_equal(first, again) and not np.array_equal(first, y)
    assert loader.state_dict() == {"generator": None}


class ListDataset:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 2), i, np.float64), i


def test_loader_over_a_generic_dataset_stacks_items():
    loader = data.DataLoader(ListDataset(5), batch_size=2, shuffle=True, seed=0)
    seen = []
    for xb, yb in loader:
        assert xb.shape[1:] == (2, 2) and xb.dtype == np.float64
        assert np.array_equal(xb[:, 0, 0], yb)
        seen += list(yb)
    assert sorted(seen) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kw,exc", [(dict(batch_size=0), ValueError),
                                    (dict(batch_size=2.0), TypeError),
                                    (dict(batch_size=True), TypeError),
                                    (dict(seed=-1), ValueError)])
def test_loader_bad_args(kw, exc):
    with pytest.raises(exc, match="DataLoader"):
        data.DataLoader(arrays(), **kw)


def test_loader_bad_datasets():
    with pytest.raises(ValueError, match="same first dimension"):
        data.DataLoader((np.zeros(3), np.zeros(4)))
    with pytest.raises(TypeError, match="DataLoader"):
        data.DataLoader(42)


def test_chainrule_data_loader_is_the_utils_data_loader():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    dl = data.DataLoader((x, y), batch_size=4, shuffle=True, seed=5)
    assert isinstance(dl, D.DataLoader) and data.DataLoader.__iter__ is D.DataLoader.__iter__
    assert isinstance(dl.sampler, D.RandomSampler) and isinstance(dl.batch_sampler,
                                                                  D.BatchSampler)
    rng = np.random.default_rng(5)  # the order: one permutation of the seeded generator/epoch
    for _ in range(2):
        want = rng.permutation(10)
        got = [b for b in dl]
        assert all(isinstance(a, np.ndarray) for b in got for a in b)
        assert np.array_equal(np.concatenate([b[1] for b in got]), want)
        assert np.array_equal(np.concatenate([b[0] for b in got]), x[want])


def test_chainrule_data_loader_resumes_a_seedless_loader():
    x = np.arange(12)
    a = data.DataLoader((x,), batch_size=5, shuffle=True, seed=2)
    state = a.state_dict()
    b = data.DataLoader((x,), batch_size=5, shuffle=True)  # global generator until loaded
    b.load_state_dict(state)
    assert [t.tolist() for (t,) in a] == [t.tolist() for (t,) in b]
    assert b.state_dict()["generator"] == a.state_dict()["generator"]


def test_distributed_sampler_is_reexported():
    from chainrule.distributed import DistributedSampler
    assert D.DistributedSampler is DistributedSampler and D.get_worker_info() is None
    ds = D.TensorDataset(cr.arange(10))
    shards = [[int(v) for (b,) in D.DataLoader(ds, batch_size=2, sampler=D.DistributedSampler(
        ds, num_replicas=3, rank=r, shuffle=False)) for v in b] for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]  # padded from the start
