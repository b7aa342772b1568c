"""The internal API for chainrule's own layers: how an op becomes one autograd node.

For ``chainrule.nn``, ``chainrule.optim`` and the op modules of this package; not a
public, stable API for users (it may change with the engine). An op computes its result
as an ndarray and hands it to :func:`make` together with its Tensor operands and a
``backward(g)`` closure returning one gradient (or None) per operand::

    from chainrule.autograd.function import as_tensor, make

    def square(x):
        x = as_tensor(x, "square", "x")
        a = x.array

        def backward(g):          # g = dL/d(result), an ndarray of the result's shape
            return (g * (2 * a),)  # dL/dx, aligned with the parents tuple
        return make(a * a, (x,), backward)

A gradient must have its operand's shape and dtype. A closure may overwrite ``g`` only
when :func:`chainrule.autograd.engine.sole` says nothing else holds it. Anomaly messages
name the op after the function the closure is defined in (``square``).
"""
from __future__ import annotations

import numbers
import types

import numpy as np

from .engine import counter
from .modes import anomaly, check_finite, grad_mode, op_name
from .tensor import FLOATS, Tensor, float_array

__all__ = ["make", "const", "as_tensor", "unbroadcast", "sigmoid_array", "FLOATS",
           "float_array", "attach", "grad_array"]


def make(data, parents, backward):
    """Wrap an op's result ``data`` (an ndarray; a NumPy scalar becomes a 0-d array) as a
    Tensor. Records the node -- ``parents`` (a tuple of Tensors) and ``backward`` -- only
    if grad mode is on and some parent requires a gradient; else a constant."""
    out = Tensor.__new__(Tensor)
    out.array = data if type(data) is np.ndarray else np.asarray(data)  # 0-d ops give scalars
    if anomaly.enabled:
        check_finite(out.array, f"the forward of '{op_name(backward)}'")
    out._grad = None
    if grad_mode.enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                out._seq = next(counter)
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def const(data):
    """A constant (no-grad leaf) Tensor around an existing float array, no copy."""
    t = Tensor.__new__(Tensor)
    t.array = data if type(data) is np.ndarray else np.asarray(data)  # np.matrix -> ndarray
    t._grad = None
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    return t


def as_tensor(x, fn="tensor op", name="operand", dtype=None):
    """A Tensor stays itself; a float ndarray becomes a constant (no copy); a Python number
    becomes a constant of ``dtype`` (float32 if None). Anything else is a TypeError naming
    ``fn`` (the calling function) and ``name`` (its argument)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype not in FLOATS:
            raise TypeError(f"{fn}: argument '{name}' must be a float32 or float64 array or "
                            f"Tensor, got an array of dtype {x.dtype} with shape {x.shape}")
        return const(x)
    if isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)):
        return const(np.asarray(x, dtype=dtype if dtype is not None else np.float32))
    raise TypeError(f"{fn}: argument '{name}' must be a Tensor or a float ndarray, "
                    f"got {type(x).__name__}")


def grad_array(p):
    """The ndarray holding ``p``'s accumulated gradient (or None), without the Tensor
    wrapper ``p.grad`` builds: what optimizers and gradient clipping read and update in
    place. Accepts any parameter-like object with a ``grad`` attribute too."""
    try:
        return p._grad
    except AttributeError:
        g = p.grad
        return None if g is None else np.asarray(g)


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the reverse of NumPy broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def sigmoid_array(a):
    """1 / (1 + exp(-a)) of an ndarray, in its dtype, without overflow warnings for large |a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)


def attach(namespace):
    """Add the functions and properties of ``namespace`` (a dict, e.g. ``vars()`` of a
    class body) to :class:`Tensor` as methods: how the op modules (``arith.py``,
    ``reduce.py``, ...) give Tensor its methods. A name Tensor already defines is an
    error, so two modules cannot silently replace each other's op."""
    for name, value in namespace.items():
        if not isinstance(value, (types.FunctionType, property)):
            continue  # __module__, __doc__, the class's own descriptors
        if name in vars(Tensor):
            raise RuntimeError(f"autograd: Tensor.{name} is defined twice")
        if isinstance(value, types.FunctionType):
            value.__qualname__ = f"Tensor.{value.__name__}"
        setattr(Tensor, name, value)
