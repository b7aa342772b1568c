"""Module hooks: forward pre-hooks, forward hooks and full backward hooks (PyTorch's).

``Module.__call__`` comes here only when the module has a hook, so a model without hooks
pays one dict check per call. A full backward hook is built from two identity nodes of
the autograd graph: one on the module's output records grad_output, one on its inputs
sees grad_input (and may replace it) once every input gradient is known.
"""
import itertools

import numpy as np

from ..autograd import Tensor
from ..autograd.function import const, make

_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_*_hook``; ``remove()`` unregisters the hook (also as a
    context manager)."""

    def __init__(self, table):
        self.id = next(_ids)
        self._table = table

    def remove(self):
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _grad_tensor(g):
    return None if g is None else const(g)


def _grad_array(fn, g, like):
    if g is None:
        return None
    a = g.array if isinstance(g, Tensor) else np.asarray(g)
    if a.shape != like.shape:
        raise ValueError(f"{fn}: a backward hook returned a gradient of shape {a.shape} for "
                         f"an input of shape {like.shape}")
    return a.astype(like.dtype, copy=False)


def _wrap_backward(module, args):
    """Route each Tensor input that requires grad through an identity node; returns the
    new args and the shared state the output node completes."""
    state = {"grad_output": None, "inputs": [], "grads": {}}
    new = list(args)
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.requires_grad:
            state["inputs"].append(i)
    for i in state["inputs"]:
        x = args[i]

        def backward(g, i=i, x=x):
            state["grads"][i] = g
            if len(state["grads"]) < len(state["inputs"]):
                return (g,)  # the hook runs once all input gradients are in
            return (_fire(module, args, state, i, x),)
        new[i] = make(x.array, (x,), backward)
    return tuple(new), state


def _fire(module, args, state, last, x):
    grad_input = tuple(_grad_tensor(state["grads"].get(i)) if isinstance(a, Tensor) else None
                       for i, a in enumerate(args))
    g = state["grads"][last]
    for hook, _ in list(module._backward_hooks.values()):
        res = hook(module, grad_input, state["grad_output"])
        if res is None:
            continue
        res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
        if len(res) != len(grad_input):
            raise ValueError(f"backward hook of {type(module).__name__}: returned "
                             f"{len(res)} gradients for {len(grad_input)} inputs")
        if len(state["inputs"]) > 1 and any(
                r is not grad_input[i] for i, r in enumerate(res) if i != last):
            raise RuntimeError(f"backward hook of {type(module).__name__}: replacing the "
                               f"gradient is supported for the last input only")
        grad_input = res
        g = _grad_array(f"backward hook of {type(module).__name__}", res[last], x.array)
    state["grads"].clear()
    return g


def _wrap_output(module, out, state, args):
    if not isinstance(out, Tensor) or not out.requires_grad:
        return out

    def backward(g):
        state["grad_output"] = (const(g),)
        if not state["inputs"]:  # no input needs a gradient: the hook fires now
            grad_input = tuple(None for _ in args)
            for hook, _ in list(module._backward_hooks.values()):
                hook(module, grad_input, state["grad_output"])
        return (g,)
    return make(out.array, (out,), backward)


def call_with_hooks(module, args, kwargs):
    for hook, with_kwargs in list(module._forward_pre_hooks.values()):
        if with_kwargs:
            res = hook(module, args, kwargs)
            if res is not None:
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    state = None
    if module._backward_hooks:
        args, state = _wrap_backward(module, args)
    out = module.forward(*args, **kwargs)
    for hook, with_kwargs in list(module._forward_hooks.values()):
        res = hook(module, args, kwargs, out) if with_kwargs else hook(module, args, out)
        if res is not None:
            out = res
    if state is not None:
        out = _wrap_output(module, out, state, args)
    return out
