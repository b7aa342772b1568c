"""Parameter initialisation (PyTorch's nn.init), drawing from chainrule's generator.

Every function fills ``tensor.array`` in place (keeping its dtype) and returns the tensor.
``cr.manual_seed(s)`` makes the draws reproducible; pass ``generator=`` to use your own
``np.random.Generator``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import numpy as np

from .._random import get_generator

if TYPE_CHECKING:
    from ..autograd import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_"]


def _gen(generator):
    return generator if generator is not None else get_generator()


def _fill(tensor, values):
    tensor.array[...] = values
    return tensor


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """PyTorch's recommended gain for a nonlinearity."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor):
    """(fan_in, fan_out) of a weight (out, in, *kernel), as PyTorch computes them."""
    shape = tensor.array.shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in/out need a tensor with at least 2 dims, got {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Optional[np.random.Generator] = None) -> Tensor:
    return _fill(tensor, _gen(generator).uniform(a, b, size=tensor.array.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Optional[np.random.Generator] = None) -> Tensor:
    return _fill(tensor, _gen(generator).normal(mean, std, size=tensor.array.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1.0)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Optional[np.random.Generator] = None) -> Tensor:
    """U(-bound, bound), bound = gain * sqrt(3 / fan). With a = sqrt(5) (the default of
    nn.Linear and nn.Conv2d) this is U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan_in, fan_out = _fans(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan) if fan else 0.0
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Optional[np.random.Generator] = None) -> Tensor:
    fan_in, fan_out = _fans(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_normal_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
    return normal_(tensor, 0.0, std, generator)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Optional[np.random.Generator] = None) -> Tensor:
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Optional[np.random.Generator] = None) -> Tensor:
    fan_in, fan_out = _fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std, generator)
