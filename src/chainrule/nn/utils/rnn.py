"""nn.utils.rnn: variable-length sequences for the recurrent layers, PyTorch's API.

pad_sequence stacks sequences of different lengths with padding; pack_padded_sequence
turns a padded batch into a PackedSequence (the valid steps only, time-major, sequences
sorted by decreasing length); pad_packed_sequence turns it back. nn.RNN / nn.LSTM / nn.GRU
take a PackedSequence and run each sequence only over its own steps. Every conversion is
one autograd node (a gather or a scatter of rows), so gradients flow through them.
"""
from collections import namedtuple

import numpy as np

from ..._checks import as_index_array
from ...autograd.function import as_tensor, make

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence"]


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """data (sum of lengths, *) Tensor: step 0 of every sequence, then step 1 of those
    still running, ...; batch_sizes (int64, one per step) how many sequences run at each
    step; sorted_indices / unsorted_indices the batch permutation (None when the input was
    already sorted by decreasing length)."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = np.argsort(sorted_indices, kind="stable")
        return super().__new__(cls, data, np.asarray(batch_sizes, np.int64), sorted_indices,
                               unsorted_indices)


def _positions(batch_sizes):
    """(step, batch row) of every row of a PackedSequence's data, in data order."""
    t = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    return t, np.arange(t.size) - np.repeat(starts, batch_sizes)


def _gather(x, index):
    """x.array[index] as an autograd node (index selects distinct rows)."""
    out = x.array[index]

    def backward(g):
        dx = np.zeros_like(x.array)
        dx[index] = g
        return (dx,)
    return make(np.ascontiguousarray(out), (x,), backward)


def _scatter(x, index, shape, fill):
    """An array of ``shape`` full of ``fill`` with out[index] = x, as an autograd node."""
    out = np.full(shape, fill, x.array.dtype)
    out[index] = x.array

    def backward(g):
        return (np.ascontiguousarray(g[index]),)
    return make(out, (x,), backward)


def _lengths(fn, lengths, batch, T):
    lengths = np.asarray(getattr(lengths, "array", lengths))
    if lengths.dtype.kind == "f" and np.all(lengths == np.round(lengths)):
        lengths = lengths.astype(np.int64)
    lengths = as_index_array(fn, "lengths", lengths)
    if lengths.shape != (batch,):
        raise ValueError(f"{fn}: lengths must have one entry per sequence ({batch},), got "
                         f"shape {lengths.shape}")
    if batch and (lengths.min() <= 0 or lengths.max() > T):
        raise ValueError(f"{fn}: every length must be in [1, {T}] (the padded length), got "
                         f"{lengths.tolist()}")
    return lengths


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """input (T, B, *) [(B, T, *) if batch_first] padded, lengths (B,) -> PackedSequence.
    With enforce_sorted=True the lengths must be in decreasing order; otherwise the batch
    is sorted here and the permutation kept in the result."""
    fn = "pack_padded_sequence"
    x = as_tensor(input, fn, "input")
    if x.array.ndim < 2:
        raise ValueError(f"{fn}: input must be at least 2-D (T, B, *), got shape "
                         f"{x.array.shape}")
    if batch_first:
        x = x.transpose(0, 1)
    T, B = x.array.shape[:2]
    lengths = _lengths(fn, lengths, B, T)
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"{fn}: lengths must be sorted in decreasing order when "
                             f"enforce_sorted=True (pass enforce_sorted=False to sort here), "
                             f"got {lengths.tolist()}")
        sorted_indices = None
    else:
        sorted_indices = np.argsort(-lengths, kind="stable")
        lengths = lengths[sorted_indices]
    batch_sizes = np.array([(lengths > t).sum() for t in range(int(lengths.max(initial=0)))],
                           np.int64)
    t, b = _positions(batch_sizes)
    rows = b if sorted_indices is None else sorted_indices[b]
    return PackedSequence(_gather(x, (t, rows)), batch_sizes, sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """PackedSequence -> (padded (T, B, *) [(B, T, *) if batch_first], lengths (B,) int64),
    both in the original batch order; T = total_length if given (>= the longest)."""
    fn = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: sequence must be a PackedSequence, got "
                        f"{type(sequence).__name__}")
    bs = sequence.batch_sizes
    T = len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"{fn}: total_length={total_length} is less than the longest "
                             f"sequence length {T}")
        T = int(total_length)
    B = int(bs[0]) if len(bs) else 0
    data = as_tensor(sequence.data, fn, "sequence.data")
    t, b = _positions(bs)
    un = sequence.unsorted_indices
    rows = b if un is None else np.argsort(un, kind="stable")[b]  # sorted row -> original
    out = _scatter(data, (t, rows), (T, B) + data.array.shape[1:], padding_value)
    lengths = np.array([(bs > i).sum() for i in range(B)], np.int64)
    if un is not None:
        lengths = lengths[un]
    return (out.transpose(0, 1) if batch_first else out), lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """A list of (L_i, *) tensors -> (max L, B, *) [(B, max L, *) if batch_first], padded."""
    fn = "pad_sequence"
    seqs = [as_tensor(s, fn, "sequences") for s in sequences]
    if not seqs:
        raise ValueError(f"{fn}: sequences must not be empty")
    tail, dt = seqs[0].array.shape[1:], seqs[0].array.dtype
    for i, s in enumerate(seqs):
        if s.array.ndim < 1 or s.array.shape[1:] != tail or s.array.dtype != dt:
            raise ValueError(f"{fn}: every sequence must have shape (L, *{tail}) and dtype "
                             f"{dt}; sequence {i} has {s.array.dtype} {s.array.shape}")
    T = max(s.array.shape[0] for s in seqs)
    out = np.full((len(seqs), T) + tail, padding_value, dt)
    for i, s in enumerate(seqs):
        out[i, :s.array.shape[0]] = s.array

    def backward(g):
        return tuple(np.ascontiguousarray(g[i, :s.array.shape[0]]) for i, s in enumerate(seqs))
    y = make(out, tuple(seqs), backward)
    return y if batch_first else y.transpose(0, 1)


def pack_sequence(sequences, enforce_sorted=True):
    """pack_padded_sequence(pad_sequence(sequences), their lengths, ...)."""
    lengths = [np.shape(getattr(s, "array", s))[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)
