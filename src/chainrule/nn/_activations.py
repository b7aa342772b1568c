"""The parameterised activations of chainrule.nn.functional: one autograd node each on
the fused C kernels of ``chainrule.ops`` (csrc/actfn.c), PyTorch's signatures. The
backward keeps the forward's input (the kernels differentiate from x). ``inplace=True``
is accepted; the result is a new tensor either way (the graph needs the input)."""
import numpy as np

from .. import ops
from ..autograd.function import as_tensor, make

__all__ = ["leaky_relu", "elu", "gelu", "silu", "softplus", "hardtanh", "relu6"]


def _node(fn, input, fwd, bwd, *params):
    x = as_tensor(input, fn, "input")
    a = np.ascontiguousarray(x.array)
    y = fwd(a, *params)

    def backward(g):
        return (bwd(np.ascontiguousarray(g, dtype=a.dtype), a, *params),)
    backward.__name__ = fn  # anomaly messages name the op
    return make(y, (x,), backward)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    return _node("leaky_relu", input, ops.leaky_relu_forward, ops.leaky_relu_backward,
                 negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _node("elu", input, ops.elu_forward, ops.elu_backward, alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    return _node("gelu", input, ops.gelu_forward, ops.gelu_backward, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish)."""
    return _node("silu", input, ops.silu_forward, ops.silu_backward)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""
    return _node("softplus", input, ops.softplus_forward, ops.softplus_backward, beta,
                 threshold)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); gradient 0 at and beyond the bounds."""
    return _node("hardtanh", input, ops.hardtanh_forward, ops.hardtanh_backward, min_val,
                 max_val)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return _node("relu6", input, ops.hardtanh_forward, ops.hardtanh_backward, 0.0, 6.0)
