"""Type aliases for chainrule's public signatures (PEP 484; read by mypy and IDEs).

Modules import them under ``if TYPE_CHECKING:`` with ``from __future__ import annotations``,
so nothing here runs on import of chainrule."""
from __future__ import annotations

from typing import Any, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .autograd.tensor import Tensor

__all__ = ["ArrayLike", "DTypeLike", "TensorLike", "Size", "IntPair", "Device", "Number"]

Number = Union[int, float]
# what the functions taking "a tensor" accept: a Tensor, an ndarray, nested lists, a number
TensorLike = Union[Tensor, np.ndarray, ArrayLike]
# a shape: one int or a sequence of ints (varargs factories take ``*size: int | Sequence[int]``)
Size = Union[int, Sequence[int]]
# kernel_size / stride / padding / dilation: one int for both axes or an (h, w) pair
IntPair = Union[int, Tuple[int, int]]
Device = Union[str, Any, None]
