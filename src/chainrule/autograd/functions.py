"""``cr.<name>(input, ...)`` for the Tensor methods PyTorch also offers as functions
(``cr.sum(x, 1)`` is ``x.sum(1)``); kept apart from joins.py because these names shadow
Python builtins (sum, max, abs, all, ...). Arrays and numbers are accepted as input."""
from __future__ import annotations

from .joins import to_tensor

NAMES = ("exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "sum", "mean", "argmax",
         "argmin", "max", "min", "flatten", "reshape", "transpose", "permute", "squeeze",
         "unsqueeze", "prod", "std", "var", "norm", "all", "any", "eq", "ne", "lt", "le", "gt",
         "ge", "clone", "logical_not", "numel", "allclose", "equal", "is_floating_point",
         "masked_fill")
__all__ = list(NAMES)


def _method(name):
    def f(input, *args, **kwargs):
        return getattr(to_tensor(name, input), name)(*args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``cr.{name}(input, ...)`` is ``input.{name}(...)`` (PyTorch's torch.{name})."
    return f


for _n in NAMES:
    globals()[_n] = _method(_n)
del _n
