"""F.pad's non-constant modes: 'reflect', 'replicate' and 'circular' (PyTorch's semantics),
one autograd node each. Every padded dim maps its output positions to input positions
through one index array (the forward is a gather along that dim, the backward adds each
output gradient back to its source position with np.add.at)."""
from __future__ import annotations

import numpy as np

from ..autograd.function import make

MODES = ("reflect", "replicate", "circular")


def _source(mode, size, lo, hi):
    """Input position of each of the ``lo + size + hi`` output positions along one dim."""
    t = np.arange(-lo, size + hi)
    if mode == "replicate":
        return np.clip(t, 0, size - 1)
    if mode == "circular":
        return t % size
    if size == 1:  # reflect: lo, hi < size = 1 means nothing is padded
        return np.zeros_like(t)
    t = np.abs(t)  # reflect about 0, then about size - 1 (pads are < size)
    return (size - 1) - np.abs((size - 1) - t)


def check(fn, mode, pad, shape):
    """PyTorch's limits: 1, 2 or 3 padded trailing dims of a (batched) input with one or two
    leading dims; reflect needs pad < size, circular pad <= size; no negative pads."""
    k = len(pad) // 2
    nd = len(shape)
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise ValueError(f"{fn}: mode {mode!r} pads the last 1, 2 or 3 dims of a "
                         f"{'2-D or 3-D' if k == 1 else f'{k + 1}-D or {k + 2}-D'} input "
                         f"(pad has {len(pad)} entries), got an input of shape {shape}")
    for i in range(k):
        lo, hi, s = pad[2 * i], pad[2 * i + 1], shape[nd - 1 - i]
        if lo < 0 or hi < 0:
            raise ValueError(f"{fn}: mode {mode!r} needs non-negative pads, got {pad}")
        if mode == "reflect" and (lo >= s or hi >= s):
            raise ValueError(f"{fn}: reflect padding ({lo}, {hi}) must be smaller than the "
                             f"size {s} of dim {nd - 1 - i} of the input {shape}")
        if mode == "circular" and (lo > s or hi > s):
            raise ValueError(f"{fn}: circular padding ({lo}, {hi}) must be at most the size "
                             f"{s} of dim {nd - 1 - i} of the input {shape}")
        if mode == "replicate" and s == 0 and (lo or hi):
            raise ValueError(f"{fn}: replicate padding of the empty dim {nd - 1 - i} of the "
                             f"input {shape}")


def pad(x, pad, mode):
    """x padded by ``pad`` ((left, right) of the last dim, then of the one before, ...)."""
    a = x.array
    nd = a.ndim
    plan = []  # (axis, source indices, input size) for each dim that changes
    for i in range(len(pad) // 2):
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        if lo or hi:
            plan.append((nd - 1 - i, _source(mode, a.shape[nd - 1 - i], lo, hi),
                         a.shape[nd - 1 - i]))
    out = a
    for axis, idx, _ in plan:
        out = np.take(out, idx, axis=axis)
    out = np.ascontiguousarray(out)

    def backward(g):
        for axis, idx, size in reversed(plan):
            gm = np.moveaxis(g, axis, 0)
            acc = np.zeros((size,) + gm.shape[1:], g.dtype)
            np.add.at(acc, idx, gm)
            g = np.moveaxis(acc, 0, axis)
        return (np.ascontiguousarray(g),)
    return make(out if plan else out.copy(), (x,), backward)
