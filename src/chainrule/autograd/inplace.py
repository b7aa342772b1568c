"""In-place ops (``add_ sub_ mul_ div_ zero_ fill_ copy_ clamp_ normal_ uniform_ ...``,
``+= -= *= /=``, ``t[i] = v``), with PyTorch's rules:

- under ``no_grad`` (or when no gradient is involved) they write into ``array``;
- on a leaf that requires grad, with grad mode on, they raise (as PyTorch does);
- on a recorded result they are recorded too: the tensor becomes the node of the
  out-of-place op applied to (a copy of) its old value;
- every write stamps the tensor (:func:`engine.mark_modified`): a graph recorded earlier
  that still needs the tensor raises in ``backward()`` instead of using changed values.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _random
from . import engine
from .function import FLOATS, attach, const, make, unbroadcast
from .modes import grad_mode, no_grad
from .tensor import Tensor


def _needs_grad(*xs):
    return grad_mode.enabled and any(isinstance(x, Tensor) and x.requires_grad for x in xs)


def _write(self, fn, values):
    a = self.array
    if values.dtype != a.dtype and not np.can_cast(values.dtype, a.dtype, "same_kind"):
        raise RuntimeError(f"Tensor.{fn}: result type {values.dtype} can't be cast to the "
                           f"desired output type {a.dtype}")
    if not a.flags.writeable:
        raise RuntimeError(f"Tensor.{fn}: the tensor's memory is read-only (an expanded or "
                           f"broadcast view?); clone() it first")
    try:
        np.copyto(a, np.broadcast_to(values, a.shape), casting="unsafe")
    except ValueError:
        raise RuntimeError(f"Tensor.{fn}: a result of shape {values.shape} does not fit the "
                           f"tensor's shape {a.shape} (in-place ops cannot broadcast self)") \
            from None


def apply(self, fn, compute, *others):
    """Replace self's values by ``compute(self_as_before)`` (an out-of-place op returning a
    Tensor) in place; record it when a gradient is involved (see the module docstring)."""
    if _needs_grad(self, *others):
        if self.requires_grad and self._backward is None:
            raise RuntimeError(f"Tensor.{fn}: a leaf tensor that requires grad is being used "
                               f"in an in-place operation (wrap it in 'with cr.no_grad():' or "
                               f"use an out-of-place op)")
        old = Tensor.__new__(Tensor)  # self's current node, with its own copy of the values
        old.array = self.array.copy()
        old._grad = None
        old.requires_grad = self.requires_grad
        old._parents, old._backward = self._parents, self._backward
        if self._backward is not None:
            old._seq = self._seq
        res = compute(old)
        _write(self, fn, res.array)
        engine.mark_modified(self)
        self.requires_grad = res.requires_grad
        self._parents, self._backward = res._parents, res._backward
        self._seq = next(engine.counter)
        return self
    with no_grad():
        res = compute(self)
    _write(self, fn, np.asarray(res.array))
    engine.mark_modified(self)
    return self


def _put(x, index, v):
    """x with x[index] = v, out of place (gradients to both)."""
    out = x.array.copy()
    out[index] = v.array

    def backward(g):
        gx = g.copy()
        gx[index] = 0
        gv = g[index]
        return (gx, unbroadcast(np.asarray(gv), v.array.shape) if v.requires_grad else None)
    return make(out, (x, v), backward)


def setitem(self, index, value):
    if isinstance(index, Tensor):
        index = index.array
    if isinstance(index, tuple):
        index = tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if not isinstance(value, Tensor):
        if isinstance(value, (numbers.Number, np.generic, np.ndarray, list)):
            value = const(np.asarray(value).astype(self.array.dtype, copy=False))
        else:
            raise TypeError(f"Tensor.__setitem__: value must be a Tensor, an array or a "
                            f"number, got {type(value).__name__}")
    apply(self, "__setitem__", lambda x: _put(x, index, value), value)


def _rand_fill(self, fn, draw):
    if self.array.dtype not in FLOATS:
        raise TypeError(f"Tensor.{fn}: expects a float tensor, got {self.array.dtype}")
    with no_grad():
        return apply(self, fn, lambda x: const(draw(x.array.shape).astype(x.array.dtype)))


class _InPlace:
    def add_(self, other, *, alpha=1):
        o = other if alpha == 1 else other * alpha
        return apply(self, "add_", lambda x: x + o, other)

    def sub_(self, other, *, alpha=1):
        o = other if alpha == 1 else other * alpha
        return apply(self, "sub_", lambda x: x - o, other)

    def mul_(self, other):
        return apply(self, "mul_", lambda x: x * other, other)

    def div_(self, other):
        return apply(self, "div_", lambda x: x / other, other)

    def pow_(self, exponent):
        return apply(self, "pow_", lambda x: x ** exponent, exponent)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def neg_(self):
        return apply(self, "neg_", lambda x: -x)

    def abs_(self):
        return apply(self, "abs_", lambda x: x.abs())

    def sqrt_(self):
        return apply(self, "sqrt_", lambda x: x.sqrt())

    def exp_(self):
        return apply(self, "exp_", lambda x: x.exp())

    def relu_(self):
        return apply(self, "relu_", lambda x: x.relu())

    def sigmoid_(self):
        return apply(self, "sigmoid_", lambda x: x.sigmoid())

    def tanh_(self):
        return apply(self, "tanh_", lambda x: x.tanh())

    def clamp_(self, min=None, max=None):
        return apply(self, "clamp_", lambda x: x.clamp(min, max), min, max)

    clip_ = clamp_

    def zero_(self):
        return apply(self, "zero_", lambda x: const(np.zeros((), x.array.dtype)))

    def fill_(self, value):
        if isinstance(value, Tensor):
            if value.array.size != 1:
                raise RuntimeError(f"Tensor.fill_: value must be a number or a 1-element "
                                   f"tensor, got shape {value.array.shape}")
            return apply(self, "fill_", lambda x: value.reshape(()) + x * 0, value)
        if not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"Tensor.fill_: value must be a number, got {type(value).__name__}")
        return apply(self, "fill_", lambda x: const(np.asarray(value, x.array.dtype)))

    def copy_(self, src, non_blocking=False):
        if not isinstance(src, Tensor):
            if not isinstance(src, (np.ndarray, numbers.Number, list)):
                raise TypeError(f"Tensor.copy_: src must be a Tensor or an array, got "
                                f"{type(src).__name__}")
            src = const(np.asarray(src))
        s = src if src.array.dtype == self.array.dtype else src.to(self.array.dtype)

        def compute(x):
            try:
                return s.expand(x.array.shape) + x * 0 if s.requires_grad else \
                    const(np.broadcast_to(s.array, x.array.shape))
            except ValueError:
                raise RuntimeError(f"Tensor.copy_: src of shape {src.array.shape} does not "
                                   f"broadcast to {x.array.shape}") from None
        return apply(self, "copy_", compute, s)

    def masked_fill_(self, mask, value):
        return apply(self, "masked_fill_", lambda x: x.masked_fill(mask, value), value)

    def masked_fill(self, mask, value):
        from .joins import where
        m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"Tensor.masked_fill: mask must be a bool tensor, got {m.dtype}")
        v = value if isinstance(value, Tensor) else const(np.asarray(value, self.array.dtype))
        return where(const(m), v, self)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        g = generator if generator is not None else _random.get_generator()
        return _rand_fill(self, "normal_", lambda s: g.normal(mean, std, s))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        g = generator if generator is not None else _random.get_generator()
        return _rand_fill(self, "uniform_", lambda s: g.uniform(a, b, s))

    def bernoulli_(self, p=0.5, *, generator=None):
        g = generator if generator is not None else _random.get_generator()
        return _rand_fill(self, "bernoulli_", lambda s: (g.random(s) < p))


attach(vars(_InPlace))
