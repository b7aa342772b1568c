"""nn.RNN / nn.LSTM / nn.GRU over a PackedSequence (see nn.utils.rnn).

The batch, sorted by decreasing length, is cut into groups of equal length; each group
runs the C kernels over exactly its own steps (a layer and direction at a time), so the
steps past a sequence's end never touch its state or its gradients. The layer outputs
are padded with zeros past each length (never read: the result is packed again), and
h_n / c_n are the states at each sequence's own last step (step 0 for the reverse
direction), returned in the caller's batch order.
"""
import numpy as np

from ..autograd.function import as_tensor
from .._random import get_generator
from .utils.rnn import PackedSequence, _gather, _positions, _scatter


def _groups(lengths):
    """[(length, first row, end row)] for runs of equal length (lengths decreasing)."""
    out, b0 = [], 0
    for b in range(1, len(lengths) + 1):
        if b == len(lengths) or lengths[b] != lengths[b0]:
            out.append((int(lengths[b0]), b0, b))
            b0 = b
    return out


def _group_norms(mod, layer, d, T):
    """A recorder factory: group gi's ||dL/dh_t|| (its own steps) combine into the
    module's reading for (layer, d), sqrt(sum over the groups of the squares), (T,)."""
    parts = {}
    rec = mod._norms_recorder(layer, d)

    def factory(gi):
        def record(norms):
            parts[gi] = norms
            sq = np.zeros(T, np.float64)
            for n in parts.values():
                sq[:n.shape[0]] += np.square(n)
            rec(np.sqrt(sq))
        return record
    return factory


def run_packed(mod, packed, hx):
    """-> (PackedSequence output, h_n, c_n or None), PyTorch's semantics."""
    from .recurrent import _cat, _direction, _state
    fn = f"{type(mod).__name__}.forward"
    lstm = mod._mode == "LSTM"
    data = as_tensor(packed.data, fn, "input.data")
    wdt = mod.weight_hh_l0.array.dtype
    I, H, L = mod.input_size, mod.hidden_size, mod.num_layers
    R = getattr(mod, "proj_size", 0) or H
    D = 2 if mod.bidirectional else 1
    if data.array.ndim != 2 or data.array.shape[1] != I:
        raise ValueError(f"{fn}: a PackedSequence's data must have shape (*, {I}), got "
                         f"{data.array.shape}")
    if data.array.dtype != wdt:
        raise TypeError(f"{fn}: input has dtype {data.array.dtype} but the parameters are {wdt}")
    bs = packed.batch_sizes
    T, B = len(bs), int(bs[0])
    t, b = _positions(bs)
    lengths = np.array([(bs > i).sum() for i in range(B)], np.int64)
    x = _scatter(data, (t, b), (T, B, I), 0)
    si, ui = packed.sorted_indices, packed.unsorted_indices
    want = (L * D, B, R)
    h0 = c0 = None
    if hx is not None:
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{fn}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            h0 = _state(fn, "h0", hx[0], want, wdt, data.array.shape)
            c0 = _state(fn, "c0", hx[1], (L * D, B, H), wdt, data.array.shape)
        else:
            h0 = _state(fn, "h0", hx, want, wdt, data.array.shape)
        if si is not None:  # the states come in the caller's order
            h0 = _gather(h0, (slice(None), si))
            c0 = _gather(c0, (slice(None), si)) if c0 is not None else None
    zeros = as_tensor(np.zeros((B, H), wdt))
    zeros_h = zeros if R == H else as_tensor(np.zeros((B, R), wdt))
    groups = _groups(lengths)
    inp, h_n, c_n = x, [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            k = layer * D + d
            ys, hs, cs = [], [], []
            record = _group_norms(mod, layer, d, T)
            for gi, (Lg, b0, b1) in enumerate(groups):
                y, h, c = _direction(mod, layer, d, inp[:Lg, b0:b1],
                                     (h0[k] if h0 is not None else zeros_h)[b0:b1],
                                     (c0[k] if c0 is not None else zeros)[b0:b1],
                                     record(gi))
                pad = [as_tensor(np.zeros((T - Lg, b1 - b0, R), wdt))] if Lg < T else []
                ys.append(_cat([y] + pad, 0))
                hs.append(h)
                if lstm:
                    cs.append(c)
            outs.append(_cat(ys, 1))
            h_n.append(_cat(hs, 1))
            if lstm:
                c_n.append(_cat(cs, 1))
        inp = _cat(outs, 2)
        if mod.dropout > 0 and mod.training and layer < L - 1:
            keep = get_generator().random(inp.array.shape) >= mod.dropout
            scale = 1 / (1 - mod.dropout) if mod.dropout < 1 else 0.0
            inp = inp * (keep * scale).astype(wdt)
    h_n = _cat(h_n, 0)
    c_n = _cat(c_n, 0) if lstm else None
    if ui is not None:
        h_n = _gather(h_n, (slice(None), ui))
        c_n = _gather(c_n, (slice(None), ui)) if lstm else None
    out = PackedSequence(_gather(inp, (t, b)), bs, si, ui)
    return out, h_n, c_n
