"""chainrule.data — the bundled 8x8 digits, MNIST-format IDX files, and a DataLoader.

- :func:`load_digits` returns the 1797 bundled 8x8 handwritten digits (UCI "Optical
  Recognition of Handwritten Digits", test part; see ``datasets/README.md`` for the
  citation and licence) as float images in [0, 1] shaped (N, 1, 8, 8) and int64 labels.
- :func:`train_test_split` splits arrays deterministically (seeded, stratified by label).
- :func:`load_idx` / :func:`save_idx` read and write MNIST's IDX format (also gzipped);
  :func:`load_mnist` reads the four standard MNIST files from a folder.
- :class:`DataLoader` yields ``(x, y)`` NumPy batches, optionally shuffled by a seeded
  generator (chainrule's global one when ``seed`` is None, see ``cr.manual_seed``): the
  one loader implementation of :mod:`chainrule.utils.data` with a NumPy collate and a
  ``seed`` argument (``isinstance(loader, chainrule.utils.data.DataLoader)`` holds).
"""
from __future__ import annotations

import gzip
import os
import struct
from importlib import resources

import numpy as np

from .utils import data as _data
from .utils.data import Dataset

__all__ = ["load_digits", "train_test_split", "load_idx", "save_idx", "load_mnist",
           "DataLoader", "ArrayDataset", "numpy_collate"]


# ---- bundled digits ---------------------------------------------------------------------
DIGITS_CITATION = ("E. Alpaydin, C. Kaynak, Optical Recognition of Handwritten Digits, "
                   "UCI Machine Learning Repository, 1998, CC BY 4.0, doi:10.24432/C50P49")


def load_digits(dtype=np.float32):
    """The bundled 8x8 digits: ``(images, labels)``.

    images: (1797, 1, 8, 8) of ``dtype`` (float32 or float64), pixel counts 0..16 scaled
    to [0, 1]; labels: (1797,) int64 in 0..9. Citation: ``DIGITS_CITATION``.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"load_digits: dtype must be float32 or float64, got {dtype}")
    with resources.files("chainrule.datasets").joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    x = (images.astype(dtype) / dtype.type(16))[:, None, :, :]
    return np.ascontiguousarray(x), labels.astype(np.int64)


def train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True):
    """Deterministic split: ``(x_train, x_test, y_train, y_test)`` (scikit-learn's order).

    With ``stratify`` each label contributes round(test_fraction * count) samples to the
    test set, so both sets keep the class balance. The same ``seed`` gives the same split.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"train_test_split: x has {len(x)} samples but y has {len(y)}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    if stratify:
        test = []
        for label in np.unique(y):
            idx = np.flatnonzero(y == label)
            idx = idx[rng.permutation(len(idx))]
            test.append(idx[:int(round(test_fraction * len(idx)))])
        test = np.sort(np.concatenate(test))
    else:
        test = np.sort(rng.permutation(len(x))[:int(round(test_fraction * len(x)))])
    mask = np.zeros(len(x), bool)
    mask[test] = True
    train = np.flatnonzero(~mask)
    return x[train], x[test], y[train], y[test]


# ---- IDX files (MNIST's format) -----------------------------------------------------------
# type code -> big-endian dtype, as in http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT")
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"load_idx: {path}: corrupt gzip data ({e})") from None
    return raw


def load_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian ndarray.

    Header: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a
    big-endian uint32; the data follow, big-endian, row-major. A file whose size does not
    match its header raises ValueError.
    """
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"load_idx: {path}: file too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise ValueError(f"load_idx: {path}: bad magic number 0x{raw[:4].hex()} (an IDX file "
                         f"starts with two zero bytes)")
    if code not in _IDX_TYPES:
        raise ValueError(f"load_idx: {path}: unknown IDX type code 0x{code:02X}; expected one "
                         f"of {', '.join(f'0x{c:02X}' for c in _IDX_TYPES)}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"load_idx: {path}: header says {ndim} dimensions but the file ends "
                         f"after {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dt = _IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if len(raw) != expected:
        raise ValueError(f"load_idx: {path}: shape {shape} of {dt.newbyteorder('=')} needs "
                         f"{expected} bytes but the file has {len(raw)} "
                         f"({'truncated' if len(raw) < expected else 'trailing data'})")
    arr = np.frombuffer(raw, dtype=dt, offset=header).reshape(shape)
    return arr.astype(dt.newbyteorder("="))


def save_idx(path, array) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in .gz)."""
    a = np.asarray(array)
    code = _IDX_CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"save_idx: dtype {a.dtype} has no IDX type code; use one of "
                        f"uint8, int8, int16, int32, float32, float64")
    if a.ndim > 255:
        raise ValueError(f"save_idx: at most 255 dimensions, got {a.ndim}")
    body = struct.pack(f">HBB{a.ndim}I", 0, code, a.ndim, *a.shape) + \
        np.ascontiguousarray(a, dtype=_IDX_TYPES[code]).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(body)


def load_mnist(root, train=True, dtype=np.float32):
    """MNIST (or Fashion-MNIST) from the four standard IDX files in ``root`` (.gz or not).

    Returns images (N, 1, 28, 28) scaled to [0, 1] and int64 labels.
    """
    prefix = "train" if train else "t10k"
    found = {}
    for kind, stem in (("images", f"{prefix}-images-idx3-ubyte"),
                       ("labels", f"{prefix}-labels-idx1-ubyte")):
        for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
            p = os.path.join(root, name)
            if os.path.exists(p):
                found[kind] = p
                break
        else:
            raise FileNotFoundError(f"load_mnist: no {stem}[.gz] in {root}")
    images, labels = load_idx(found["images"]), load_idx(found["labels"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} do not "
                         f"form a dataset")
    x = (images.astype(dtype) / np.dtype(dtype).type(255))[:, None]
    return np.ascontiguousarray(x), labels.astype(np.int64)


# ---- DataLoader -----------------------------------------------------------------------------
class _Stacked(tuple):
    """A batch already stacked by :meth:`ArrayDataset.__getitems__` (one fancy index)."""


class ArrayDataset(Dataset):
    """Aligned arrays indexed together: ``ds[i] -> (x[i], y[i])``; batches by fancy index."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset: needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                raise ValueError(f"ArrayDataset: array {i} has shape {a.shape}; every array "
                                 f"needs the same first dimension ({n})")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices):
        idx = np.asarray(indices, dtype=np.intp)
        return _Stacked(a[idx] for a in self.arrays)


def numpy_collate(batch):
    """A list of samples (tuples) -> a tuple of stacked NumPy arrays, one per field."""
    if isinstance(batch, _Stacked):
        return tuple(batch)
    return tuple(np.stack([np.asarray(it[k]) for it in batch]) for k in range(len(batch[0])))


class DataLoader(_data.DataLoader):
    """:class:`chainrule.utils.data.DataLoader` yielding ``(x, y)`` NumPy batches.

    ``dataset`` is a tuple/list of aligned arrays ``(x, y)``, an :class:`ArrayDataset`,
    or any object with ``__len__`` and ``__getitem__(i) -> tuple`` (stacked per batch by
    :func:`numpy_collate`). ``shuffle`` draws a new permutation at the start of every pass
    (the utils.data RandomSampler) from a private ``np.random.default_rng(seed)`` when
    ``seed`` is given, else from chainrule's global generator (``cr.manual_seed``). The last
    partial batch is dropped if ``drop_last``. ``state_dict()`` / ``load_state_dict()`` save
    and restore the private generator so a resumed run sees the same batches.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if isinstance(dataset, (tuple, list)):
            dataset = ArrayDataset(*dataset)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must be a tuple of arrays or have __len__ and "
                            f"__getitem__, got {type(dataset).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"DataLoader: seed must be None or an int >= 0, got {seed!r}")
        self.seed = seed
        self._generator = np.random.default_rng(seed) if seed is not None else None
        super().__init__(dataset, batch_size, shuffle=bool(shuffle), drop_last=drop_last,
                         collate_fn=numpy_collate, generator=self._generator)
        self.shuffle = bool(shuffle)

    def state_dict(self) -> dict:
        """The private generator's state (None when the global generator is used)."""
        return {"generator": None if self._generator is None
                else self._generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        st = state.get("generator")
        if st is None:
            return
        if self._generator is None:
            self._generator = np.random.default_rng()
            self.generator = self._generator
            if isinstance(self.sampler, _data.RandomSampler):
                self.sampler.generator = self._generator
        self._generator.bit_generator.state = st
