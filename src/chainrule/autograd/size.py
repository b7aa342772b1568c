"""``chainrule.Size``: what ``t.shape`` and ``t.size()`` return (PyTorch's ``torch.Size``).

A tuple of ints (equal to, hashable like and usable wherever a tuple is) with
``numel()`` and PyTorch's repr; slicing it or adding a tuple gives a Size again.
"""
from __future__ import annotations

__all__ = ["Size"]


class Size(tuple):
    __slots__ = ()

    def numel(self):
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __repr__(self):
        return f"chainrule.Size({list(self)})"

    def __reduce__(self):  # pickles/copies as a Size
        return (Size, (tuple(self),))
