"""``cr.einsum(equation, *operands)`` with gradients (PyTorch's torch.einsum).

The forward is ``np.einsum``. The gradient of operand i is the einsum of the upstream
gradient with the other operands, written into operand i's subscripts; a letter only
operand i has (summed away) is broadcast back. ``...`` is supported (the ellipsis dims of
all operands must have equal sizes); a letter repeated within one operand (a diagonal)
is not, and raises ValueError.
"""
from __future__ import annotations

import string

import numpy as np

from .function import make
from .joins import to_tensor

__all__ = ["einsum"]


def _parse(equation, arrays):
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(arrays):
        raise ValueError(f"einsum: the equation {equation!r} names {len(subs)} operands, got "
                         f"{len(arrays)}")
    free = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in eq]
    ell = ""
    if "..." in eq:
        n = max(a.ndim - len(s.replace("...", "")) for s, a in zip(subs, arrays) if "..." in s)
        ell = "".join(free[:n])
    full = []
    for s, a in zip(subs, arrays):
        if "..." in s:
            k = a.ndim - len(s.replace("...", ""))
            s = s.replace("...", ell[len(ell) - k:] if k else "")
        if not s.isalpha() and s:
            raise ValueError(f"einsum: bad subscripts {equation!r}")
        if len(s) != a.ndim:
            raise ValueError(f"einsum: subscripts {s!r} name {len(s)} dims, the operand has "
                             f"shape {a.shape}")
        if len(set(s)) != len(s):
            raise ValueError(f"einsum: a subscript repeated within one operand ({s!r}, a "
                             f"diagonal) is not supported")
        full.append(s)
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(full)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    return full, out


def einsum(equation, *operands):
    """Sum of products over the subscripts of ``equation`` (``"ij,jk->ik"``, ...);
    operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    xs = tuple(to_tensor("einsum", x, "operands") for x in operands)
    arrays = [x.array for x in xs]
    subs, out = _parse(equation, arrays)
    try:
        y = np.einsum(",".join(subs) + "->" + out, *arrays)
    except ValueError as e:
        raise ValueError(f"einsum: {equation!r} does not fit the operand shapes "
                         f"{[a.shape for a in arrays]}: {e}") from None

    def backward(g):
        grads = []
        for i, (x, s) in enumerate(zip(xs, subs)):
            if not x.requires_grad:
                grads.append(None)
                continue
            others = [(subs[j], arrays[j]) for j in range(len(xs)) if j != i]
            seen = out + "".join(o for o, _ in others)
            keep = "".join(c for c in s if c in seen)
            gi = np.einsum(",".join([out] + [o for o, _ in others]) + "->" + keep,
                           g, *[a for _, a in others])
            gone = tuple(k for k, c in enumerate(s) if c not in keep)  # summed by i alone
            gi = np.broadcast_to(np.expand_dims(gi, gone), arrays[i].shape)
            grads.append(np.ascontiguousarray(gi, dtype=arrays[i].dtype))
        return tuple(grads)
    return make(np.asarray(y), xs, backward)

