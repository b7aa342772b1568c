"""``cr.<name>(input, ...)`` for the Tensor methods PyTorch also offers as functions
(``cr.sum(x, 1)`` is ``x.sum(1)``); kept apart from joins.py because these names shadow
Python builtins (sum, max, abs, all, ...). Arrays and numbers are accepted as input."""
from __future__ import annotations

from typing import Any, Callable

from .joins import to_tensor

NAMES = ("exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "sum", "mean", "argmax",
         "argmin", "max", "min", "flatten", "reshape", "transpose", "permute", "squeeze",
         "unsqueeze", "prod", "std", "var", "norm", "all", "any", "eq", "ne", "lt", "le", "gt",
         "ge", "clone", "logical_not", "numel", "allclose", "equal", "is_floating_point",
         "masked_fill")
__all__ = list(NAMES)


def _method(name: str) -> Callable[..., Any]:
    def f(input, *args, **kwargs):
        return getattr(to_tensor(name, input), name)(*args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``cr.{name}(input, ...)`` is ``input.{name}(...)`` (PyTorch's torch.{name})."
    return f


# one line per name (not a globals() loop) so type checkers and IDEs see them
exp = _method("exp")
log = _method("log")
sqrt = _method("sqrt")
abs = _method("abs")
relu = _method("relu")
sigmoid = _method("sigmoid")
tanh = _method("tanh")
sum = _method("sum")
mean = _method("mean")
argmax = _method("argmax")
argmin = _method("argmin")
max = _method("max")
min = _method("min")
flatten = _method("flatten")
reshape = _method("reshape")
transpose = _method("transpose")
permute = _method("permute")
squeeze = _method("squeeze")
unsqueeze = _method("unsqueeze")
prod = _method("prod")
std = _method("std")
var = _method("var")
norm = _method("norm")
all = _method("all")
any = _method("any")
eq = _method("eq")
ne = _method("ne")
lt = _method("lt")
le = _method("le")
gt = _method("gt")
ge = _method("ge")
clone = _method("clone")
logical_not = _method("logical_not")
numel = _method("numel")
allclose = _method("allclose")
equal = _method("equal")
is_floating_point = _method("is_floating_point")
masked_fill = _method("masked_fill")
