"""Tensor-level autograd introspection, PyTorch-style: ``t.grad_fn``, ``t.retain_grad()``,
``t.retains_grad`` and ``t.register_hook(hook)``.

They work on the node fields only (no change to the backward walk): a non-leaf's
``_backward`` is wrapped so that, when the walk reaches it with the tensor's complete
gradient ``g``, the hooks see ``g`` first (a hook returning a Tensor replaces it) and
``retain_grad`` accumulates it into ``.grad``. On a leaf, ``register_hook`` hooks run in
the backward walk (``engine.py``) on the leaf's total gradient of that backward, before it
is accumulated into ``.grad`` (a returned Tensor replaces what is accumulated), as PyTorch.
"""
from __future__ import annotations

import numpy as np

from . import engine
from .function import attach, const
from .modes import op_name
from .tensor import Tensor

__all__ = ["GradFn"]


class GradFn:
    """What ``t.grad_fn`` returns for a recorded result: ``name()`` gives the op's name
    (e.g. ``'MulBackward'``); ``next_functions`` lists the parents' (GradFn or None)."""

    __slots__ = ("_node",)

    def __init__(self, node):
        self._node = node

    def name(self):
        op = op_name(self._node._backward).strip("_")
        return "".join(w[:1].upper() + w[1:] for w in op.split("_")) + "Backward"

    @property
    def next_functions(self):
        return tuple((p.grad_fn if p.requires_grad else None, 0)
                     for p in self._node._parents)

    def __repr__(self):
        return f"<{self.name()} object>"


def _array(fn, value, like):
    if value is None:
        return None
    a = value.array if isinstance(value, Tensor) else np.asarray(value)
    if a.shape != like.shape:
        raise RuntimeError(f"Tensor.register_hook: the hook returned a gradient of shape "
                           f"{a.shape}, expected {like.shape}")
    return a.astype(like.dtype, copy=False)


def run_hooks(hooks, g):
    """Call each ``hook(grad)`` in turn on a Tensor view of ``g``; a returned value (Tensor
    or array of ``g``'s shape) replaces the gradient the next hook and the op see."""
    for h in list(hooks):
        r = _array("register_hook", h(const(g)), g)
        if r is not None:
            g = r
    return g


def _wrap(t):
    """Give non-leaf ``t`` a backward that runs its hooks / keeps its gradient first."""
    inner = t._backward
    if getattr(inner, "_cr_hooks", None) is not None:
        return inner
    hooks = []

    def backward(g):
        g = run_hooks(hooks, g)
        if backward._cr_retain:
            t._grad = np.array(g) if t._grad is None else t._grad + g
        return inner(g)
    backward._cr_hooks = hooks
    backward._cr_retain = False
    backward.__name__ = getattr(inner, "__name__", "backward")  # anomaly messages
    backward.__qualname__ = getattr(inner, "__qualname__", "backward")
    t._backward = backward
    return backward


class _Handle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class _Hooks:
    @property
    def grad_fn(self):
        """None for a leaf, else a :class:`GradFn` naming the op that made this tensor."""
        return None if self._backward is None else GradFn(self)

    @property
    def retains_grad(self):
        return bool(getattr(self._backward, "_cr_retain", False))

    def retain_grad(self):
        """Keep this non-leaf's gradient in ``.grad`` at the next backward (a leaf keeps
        it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("Tensor.retain_grad: can't retain_grad on a tensor that has "
                               "requires_grad=False")
        if self._backward is not None:
            _wrap(self)._cr_retain = True

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed
        (a returned Tensor replaces the gradient); returns a handle with ``remove()``. On a
        leaf it runs once per backward with the leaf's total gradient, before that is
        accumulated into ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("Tensor.register_hook: cannot register a hook on a tensor "
                               "that doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"Tensor.register_hook: hook must be callable, got "
                            f"{type(hook).__name__}")
        if self._backward is None:
            return engine.register_leaf_hook(self, hook)
        hooks = _wrap(self)._cr_hooks
        hooks.append(hook)
        return _Handle(hooks, hook)


attach(vars(_Hooks))
