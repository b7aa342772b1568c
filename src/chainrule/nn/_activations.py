"""The parameterised activations of chainrule.nn.functional: one autograd node each on
the fused C kernels of ``chainrule.ops`` (csrc/actfn.c), PyTorch's signatures. The
backward keeps the forward's input (the kernels differentiate from x). ``inplace=True``
is accepted; the result is a new tensor either way (the graph needs the input)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import ops
from ..autograd.function import as_tensor, make

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import TensorLike

__all__ = ["leaky_relu", "elu", "gelu", "silu", "softplus", "hardtanh", "relu6"]


def _node(fn, input, fwd, bwd, *params):
    x = as_tensor(input, fn, "input")
    a = np.ascontiguousarray(x.array)
    y = fwd(a, *params)

    def backward(g):
        return (bwd(np.ascontiguousarray(g, dtype=a.dtype), a, *params),)
    backward.__name__ = fn  # anomaly messages name the op
    return make(y, (x,), backward)


def leaky_relu(input: TensorLike, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return _node("leaky_relu", input, ops.leaky_relu_forward, ops.leaky_relu_backward,
                 negative_slope)


def elu(input: TensorLike, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _node("elu", input, ops.elu_forward, ops.elu_backward, alpha)


def gelu(input: TensorLike, approximate: str = "none") -> Tensor:
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    return _node("gelu", input, ops.gelu_forward, ops.gelu_backward, approximate)


def silu(input: TensorLike, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _node("silu", input, ops.silu_forward, ops.silu_backward)


def softplus(input: TensorLike, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    return _node("softplus", input, ops.softplus_forward, ops.softplus_backward, beta,
                 threshold)


def hardtanh(input: TensorLike, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val); gradient 0 at and beyond the bounds."""
    return _node("hardtanh", input, ops.hardtanh_forward, ops.hardtanh_backward, min_val,
                 max_val)


def relu6(input: TensorLike, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return _node("relu6", input, ops.hardtanh_forward, ops.hardtanh_backward, 0.0, 6.0)
