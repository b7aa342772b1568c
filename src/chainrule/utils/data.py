"""chainrule.utils.data — datasets, samplers and the DataLoader (``torch.utils.data``).

Same names, argument order, defaults and semantics as PyTorch: a map-style
:class:`Dataset` (``__getitem__`` + ``__len__``), samplers that yield indices, a
:class:`BatchSampler` grouping them, and a :class:`DataLoader` that fetches each batch and
collates it with :func:`default_collate` into Tensors (float arrays keep their dtype,
Python floats give float64, ints int64, bools bool; dicts, tuples and lists are collated
field by field). ``num_workers`` / ``pin_memory`` are accepted; batches are loaded in the
calling process. ``DistributedSampler`` is :class:`chainrule.distributed.DistributedSampler`.

Randomness: ``generator`` may be a ``np.random.Generator`` or an int seed; None draws
from chainrule's global generator (``cr.manual_seed``), so a seeded run is reproducible.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, List, Optional, Union

import bisect
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from ..autograd import Tensor
from ..autograd.function import const

if TYPE_CHECKING:
    from .._typing import TensorLike

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler",
           "DataLoader", "default_collate", "DistributedSampler", "get_worker_info"]


def _rng(fn, generator):
    """generator argument -> np.random.Generator (None: chainrule's global generator)."""
    if generator is None:
        from .. import _random
        return _random.get_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool) \
            and generator >= 0:
        return np.random.default_rng(int(generator))
    raise TypeError(f"{fn}: generator must be None, an int seed >= 0 or a "
                    f"numpy.random.Generator, got {generator!r}")


def _count(fn, name, v, minimum):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int, got {v!r}")
    if v < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {v}")
    return int(v)


def _as_data_tensor(fn, x):
    """A Tensor stays itself; an ndarray (any real dtype) becomes a constant Tensor."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{fn}: arrays must hold real numbers, got dtype {x.dtype}")
        return const(np.asarray(x))
    raise TypeError(f"{fn}: expected Tensors or ndarrays, got {type(x).__name__}")


# ---------------------------------------------------------------------------- datasets
class Dataset:
    """Map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Tensors (or ndarrays) sharing their first dimension; ``ds[i]`` is the tuple of
    their i-th rows."""

    def __init__(self, *tensors: TensorLike) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(_as_data_tensor("TensorDataset", t) for t in tensors)
        n = None
        for i, t in enumerate(self.tensors):
            if t.array.ndim == 0 or (n is not None and len(t.array) != n):
                raise ValueError(f"TensorDataset: tensor {i} has shape {t.array.shape}; every "
                                 f"tensor needs the same first dimension (size mismatch)")
            n = len(t.array)

    def __getitem__(self, index: Any) -> Any:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0].array)


class Subset(Dataset):
    """The items of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: Any) -> Any:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError("ConcatDataset: absolute value of index should not exceed "
                                 "dataset length")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for {n} items")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][idx - start]


def random_split(dataset: Any, lengths: Sequence[Union[int, float]],
                 generator: Union[int, np.random.Generator, None] = None) -> List[Subset]:
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given ``lengths``
    (ints summing to len(dataset), or fractions summing to 1: floor counts, then the
    remainder given one by one to the first subsets, as PyTorch)."""
    fn = "random_split"
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral)
                       for x in lengths) and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"{fn}: fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    for x in lengths:
        _count(fn, "lengths", x, 0)
    if sum(lengths) != n:
        raise ValueError(f"{fn}: sum of input lengths {sum(lengths)} does not equal the length "
                         f"of the input dataset {n}")
    perm = _rng(fn, generator).permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        # lengths are ints here (fractions became counts above)
        out.append(Subset(dataset, perm[start:start + length]))  # type: ignore[misc]
        start += length  # type: ignore[assignment]
    return out


# ---------------------------------------------------------------------------- samplers
class Sampler:
    """Base class: iterating a sampler yields dataset indices."""

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[Any]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices (or ``num_samples`` draws with replacement)."""

    def __init__(self, data_source: Any, replacement: bool = False,
                 num_samples: Optional[int] = None,
                 generator: Union[int, np.random.Generator, None] = None) -> None:
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = generator
        _rng("RandomSampler", generator)
        if num_samples is not None:
            _count("RandomSampler", "num_samples", num_samples, 1)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[Any]:
        n = len(self.data_source)
        rng = _rng("RandomSampler", self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0
        idx = [i for _ in range(reps) for i in rng.permutation(n).tolist()]
        return iter(idx[:self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order."""

    def __init__(self, indices: Sequence[int],
                 generator: Union[int, np.random.Generator, None] = None) -> None:
        self.indices = indices
        self.generator = generator
        _rng("SubsetRandomSampler", generator)

    def __iter__(self) -> Iterator[Any]:
        perm = _rng("SubsetRandomSampler", self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in perm.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``)."""

    def __init__(self, sampler: Any, batch_size: Optional[int], drop_last: bool) -> None:
        self.batch_size = _count("BatchSampler", "batch_size", batch_size, 1)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, got "
                             f"{drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[Any]:
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ---------------------------------------------------------------------------- collation
def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: Tensors and arrays -> one stacked Tensor,
    Python floats -> float64, ints -> int64, bools -> bool Tensors; strings stay a list;
    dicts, tuples and lists are collated field by field (tuples and lists give lists)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return const(np.stack([b.array for b in batch]))
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        a = np.stack([np.asarray(b) for b in batch])
        if a.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: arrays must hold real numbers, got dtype "
                            f"{a.dtype}")
        return const(a)
    if isinstance(elem, bool):
        return const(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return const(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return const(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain Tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """batch_size=None: each sample as is, arrays turned into Tensors."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return const(data)
    if isinstance(data, Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and not hasattr(data, "_fields"):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


# ---------------------------------------------------------------------------- loader
class DataLoader:
    """Iterate over ``dataset`` in collated batches (``torch.utils.data.DataLoader``).

    ``shuffle`` uses a :class:`RandomSampler` drawing from ``generator`` (a fresh
    permutation each epoch); ``sampler`` / ``batch_sampler`` replace the default ones
    (mutually exclusive with shuffle, resp. with batch_size/shuffle/sampler/drop_last, as
    in PyTorch). ``batch_size=None`` yields single samples. ``num_workers``,
    ``pin_memory``, ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and
    ``persistent_workers`` are accepted and the data is loaded in this process.
    """

    def __init__(self, dataset: Any, batch_size: Optional[int] = 1, shuffle: Optional[bool] = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Optional[Callable[..., Any]] = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Any = None,
                 multiprocessing_context: Any = None,
                 generator: Union[int, np.random.Generator, None] = None, *,
                 prefetch_factor: Optional[int] = None, persistent_workers: bool = False,
                 pin_memory_device: str = "") -> None:
        fn = "DataLoader"
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"{fn}: dataset must have __getitem__ and __len__, got "
                            f"{type(dataset).__name__}")
        _count(fn, "num_workers", num_workers, 0)
        if timeout < 0:
            raise ValueError(f"{fn}: timeout option should be non-negative, got {timeout}")
        if batch_size is not None:
            batch_size = _count(fn, "batch_size", batch_size, 1)
        if sampler is not None and shuffle:
            raise ValueError(f"{fn}: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(f"{fn}: batch_sampler option is mutually exclusive with "
                                 f"batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(f"{fn}: batch_size=None option disables auto-batching and is "
                             f"mutually exclusive with drop_last")
        _rng(fn, generator)
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = bool(pin_memory)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.worker_init_fn is not None and self.num_workers > 0:
            self.worker_init_fn(0)
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        fast = (self.collate_fn is default_collate and type(self.dataset) is TensorDataset
                and not any(t.requires_grad for t in self.dataset.tensors))
        for indices in self.batch_sampler:
            if fast:  # one fancy index per tensor instead of len(indices) rows + a stack
                idx = np.asarray(indices, dtype=np.intp)
                yield [const(t.array[idx]) for t in self.dataset.tensors]
            else:
                getitems = getattr(self.dataset, "__getitems__", None)
                items = getitems(indices) if getitems else [self.dataset[i] for i in indices]
                yield self.collate_fn(items)


def get_worker_info():
    """None: batches are always loaded in the calling process (PyTorch's value there)."""
    return None


# PyTorch keeps DistributedSampler in torch.utils.data: the one in chainrule.distributed
from ..distributed.sampler import DistributedSampler  # noqa: E402
