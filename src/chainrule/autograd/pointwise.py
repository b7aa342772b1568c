"""Elementwise functions of one Tensor: exp, log, abs, sqrt, and the activations relu,
sigmoid, tanh (one fused C pass each way)."""
from __future__ import annotations

import numpy as np

from .. import ops
from .engine import CLOSURE_REFS, sole
from .function import attach, make, sigmoid_array


class _Pointwise:
    """Tensor's elementwise functions (attached to Tensor at the end of this file)."""

    def exp(self):
        out = np.exp(self.array)

        def backward(g):
            return (g * out,)
        return make(out, (self,), backward)

    def log(self):
        a = self.array

        def backward(g):
            return (g / a,)
        return make(np.log(a), (self,), backward)

    def abs(self):
        a = self.array

        def backward(g):
            return (g * np.sign(a),)
        return make(np.abs(a), (self,), backward)

    __abs__ = abs

    def sqrt(self):
        out = np.sqrt(self.array)

        def backward(g):
            return (g / (2.0 * out),)
        return make(out, (self,), backward)


class _Activations:
    """relu, sigmoid, tanh: autograd's calls into the compiled kernels, through
    ``ops.relu_forward``, ``ops.relu_backward``, ``ops.sigmoid_backward`` and
    ``ops.tanh_backward``, looked up at call time so tests can patch them."""

    def relu(self):
        """max(x, 0); the backward uses the output (x > 0 iff y > 0), one fused C pass
        each way, in place on the incoming gradient when nothing else holds it."""
        a = self.array
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        out = ops.relu_forward(a)
        return make(out, (self,), _from_output(ops.relu_backward, out))

    def sigmoid(self):
        out = sigmoid_array(self.array)  # dx = g y (1 - y): one C pass from the output
        return make(out, (self,), _from_output(ops.sigmoid_backward, out))

    def tanh(self):
        out = np.tanh(self.array)  # dx = g (1 - y^2): one C pass from the output
        return make(out, (self,), _from_output(ops.tanh_backward, out))


def _from_output(kernel, out):
    """The backward of an activation whose derivative is a function of its output y:
    ``kernel(g, y, out=dx)`` writes dx in one pass, into g itself when nothing else holds g."""
    # np.ascontiguousarray makes a 0-d array 1-d: keep the shape (0-d tensors included)
    out = np.ascontiguousarray(out).reshape(out.shape)

    def backward(g):
        if sole(g, CLOSURE_REFS) and g.dtype == out.dtype:
            dx = g  # nobody else sees g: overwrite it
        else:
            dx = np.empty(out.shape, out.dtype)
            g = np.ascontiguousarray(g, dtype=out.dtype).reshape(np.shape(g))
        kernel(g, out, out=dx)
        return (dx,)
    backward.__qualname__ = kernel.__name__.replace("_backward", "") + ".<locals>.backward"
    return backward


attach(vars(_Pointwise))
attach(vars(_Activations))
