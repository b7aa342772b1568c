"""The backward walk, gradient accumulation and the buffer-reuse trick.

A recorded node is a :class:`~chainrule.autograd.Tensor` with ``_parents`` (the Tensor
operands), ``_backward`` (maps ``g = dL/d(result)`` to a tuple ``(dL/d(parent) or None,
...)`` aligned with ``_parents``) and ``_seq``, its creation number taken from
:data:`counter` (see :func:`chainrule.autograd.function.make`). :func:`backward` (bound as
``Tensor.backward``) collects the nodes reachable from the output (iteratively, so deep
graphs do not hit Python's recursion limit) and visits them in decreasing creation number
-- a topological order, since a node is always created after its parents -- summing the
contributions reaching each node and accumulating (``+=``) into ``.grad`` of the leaves
that require a gradient, as PyTorch does. Gradients of intermediate results are not kept.

This module never needs the Tensor class itself: it walks the node fields only.
"""
from __future__ import annotations

import itertools
import operator
import sys
import weakref

import numpy as np

from .modes import anomaly, check_finite, op_name

__all__ = ["counter", "backward", "sole", "CLOSURE_REFS", "register_post_accumulate_grad_hook",
           "queue_callback", "mark_modified"]

counter = itertools.count()  # creation numbers: make() gives each new node next(counter)

# In-place ops (inplace.py) stamp the tensor they modify with a fresh creation number
# (``_version``) and record the latest stamp here. A node created before a stamp on one of
# its parents (or on itself) would backward with changed saved values: the walk checks
# nodes older than the latest stamp only, so a graph built after the last in-place change
# (every training step) pays nothing.
_last_modified = -1


def mark_modified(t):
    """Record that ``t``'s values were changed in place (PyTorch's version counter)."""
    global _last_modified
    t._version = _last_modified = next(counter)


def _check_versions(node, parents):
    for p in (node,) + tuple(parents):
        if getattr(p, "_version", -1) > node._seq:
            raise RuntimeError(
                f"Tensor.backward: one of the variables needed for gradient computation has "
                f"been modified by an inplace operation: a tensor of shape {p.array.shape} "
                f"used by '{op_name(node._backward)}' was changed after the op recorded it "
                f"(do the in-place change after backward(), or use an out-of-place op)")


def _freed(g):
    raise RuntimeError("Tensor.backward: trying to backward through a part of the graph that "
                       "was already freed by an earlier backward(); call that backward with "
                       "retain_graph=True to keep it")


_seq_of = operator.attrgetter("_seq")


# ---------------------------------------------------------------------------- ownership
# A gradient array that nothing but the backward walk references can be reused in place
# (a ReLU backward writes into its incoming gradient) or stored as a leaf's .grad without
# a copy. CPython's reference count tells: ``sole(a, refs)`` is true when ``a`` is a
# writable, C-contiguous base array (not a view) with at most ``refs`` references, the
# number the walk itself holds at that call site (measured below by running the same call
# pattern on a fresh array, so it follows the interpreter). Anything else -- another
# parent's gradient, a tensor's data, a closure's saved array, the caller's ``grad`` --
# adds a reference and the array is copied instead. Without sys.getrefcount (or on a
# free-threaded build): always copy.
_getrefcount = getattr(sys, "getrefcount", None)
if not getattr(sys, "_is_gil_enabled", lambda: True)():  # free-threaded: counts are loose
    _getrefcount = None


def sole(a, refs):
    """True when ``a`` is a fresh gradient array nothing but the walk holds: a backward
    closure may then overwrite it. Inside a closure ``fn(g)`` called by the walk, pass
    ``refs=CLOSURE_REFS`` and call it on the closure's own argument."""
    return (_getrefcount is not None and type(a) is np.ndarray and a.base is None
            and a.flags.writeable and a.flags.c_contiguous and _getrefcount(a) <= refs)


def _count_leaf_refs():
    """References to a fresh leaf gradient inside ``_accumulate``, as the walk calls it:
    the closure's result tuple, zip's reused item tuple, the loop variable, the argument."""
    seen = []

    def probe(leaf, g):
        seen.append(_getrefcount(g))
    parents, pgs = (None,), (np.empty(1),)
    for p, pg in zip(parents, pgs):
        probe(p, pg)
    return seen[0] + 1  # + the reference sole's own argument adds


def _count_closure_refs():
    """References to a fresh incoming gradient ``g`` inside a backward closure calling
    ``sole(g, ...)``: the walk's ``g`` variable and the closure's argument."""
    seen = []

    def closure(g):
        seen.append(_getrefcount(g))
    g = np.empty(1)
    closure(g)
    return seen[0] + 1


def _count_sum_refs():
    """References to a node's pending gradient ``prev`` when the walk calls
    ``sole(prev, ...)`` before adding another contribution: the ``grads`` dict's and the
    walk's ``prev`` variable (``probe`` stands where ``sole`` is called)."""
    seen = []

    def probe(a):
        seen.append(_getrefcount(a))
    grads = {0: np.empty(1)}
    prev = grads.get(0)
    probe(prev)
    return seen[0]


_LEAF_REFS = _count_leaf_refs() if _getrefcount is not None else 0
CLOSURE_REFS = _count_closure_refs() if _getrefcount is not None else 0
_SUM_REFS = _count_sum_refs() if _getrefcount is not None else 0


def _accumulate(leaf, g, refs=_LEAF_REFS):
    """leaf.grad += g. The first gradient is stored as a C-ordered array of the leaf's
    dtype that aliases nothing: ``g`` itself when it is a fresh array only the engine
    holds (a kernel's output, see :func:`sole`), else a copy (``g`` may be an array an op
    handed to several parents, a view, or the caller's own ``grad``). ``refs=0`` always
    copies."""
    if g.shape != leaf.array.shape:  # pragma: no cover - guards op bugs
        raise RuntimeError(f"autograd: gradient of shape {g.shape} for a leaf of shape "
                           f"{leaf.array.shape}")
    if leaf._grad is None:
        if g.dtype == leaf.array.dtype and sole(g, refs):
            leaf._grad = g
        else:
            leaf._grad = np.array(g, dtype=leaf.array.dtype, order="C")
    else:
        leaf._grad += g


# ---------------------------------------------------------------------------- hooks
# Hooks for code that must act during backward:
# - a per-leaf hook (``Tensor.register_hook`` on a leaf, PyTorch's tensor pre-hook on its
#   AccumulateGrad): ``hook(grad)`` runs once per backward with the leaf's total gradient of
#   this backward, before it is accumulated into ``.grad``; it may return a replacement;
# - a per-leaf post-accumulate-grad hook (PyTorch 2.1+'s name): ``hook(leaf)`` runs once per
#   backward after the leaf's ``.grad`` has received all of this backward's contributions
#   (a weight used at every time step of an RNN fires once, after the last one);
# - ``queue_callback(fn)``: ``fn()`` runs when the current backward finishes, before
#   ``backward()`` returns (PyTorch's ``Variable._execution_engine.queue_callback``).
# DistributedDataParallel starts a gradient bucket's allreduce from the post hooks.
# Registries live here, keyed by id(leaf) and dropped when the leaf dies, so Tensor keeps its
# slots; with no hook registered the walk does no extra work.
_pre_hooks: dict = {}   # id(leaf) -> list of hook(grad) (Tensor.register_hook on a leaf)
_post_hooks: dict = {}  # id(leaf) -> list of hook(leaf)
_callbacks: list = []


class RemovableHandle:
    """Returned by the leaf hook registrations; ``remove()`` unregisters."""

    def __init__(self, table, key, hook):
        self._table, self._key, self._hook = table, key, hook

    def remove(self):
        hooks = self._table.get(self._key)
        if hooks is not None and self._hook in hooks:
            hooks.remove(self._hook)
            if not hooks:
                del self._table[self._key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _register(table, leaf, hook):
    key = id(leaf)
    if key not in table:
        table[key] = []
        weakref.finalize(leaf, table.pop, key, None)
    table[key].append(hook)
    return RemovableHandle(table, key, hook)


def register_post_accumulate_grad_hook(self, hook):
    """Call ``hook(tensor)`` after each backward has finished accumulating into this leaf's
    ``.grad`` (bound as ``Tensor.register_post_accumulate_grad_hook``). Returns a handle
    with ``remove()``."""
    if self._backward is not None:
        raise RuntimeError("Tensor.register_post_accumulate_grad_hook: only leaf tensors "
                           "accumulate gradients; this tensor is the result of an op")
    if not callable(hook):
        raise TypeError(f"Tensor.register_post_accumulate_grad_hook: hook must be callable, "
                        f"got {type(hook).__name__}")
    return _register(_post_hooks, self, hook)


def register_leaf_hook(leaf, hook):
    """``hook(grad)`` before each backward accumulates into ``leaf.grad`` (the leaf case of
    ``Tensor.register_hook``; the caller has checked ``hook`` and ``requires_grad``)."""
    return _register(_pre_hooks, leaf, hook)


def queue_callback(fn):
    """Run ``fn()`` when the backward in progress finishes (before it returns)."""
    _callbacks.append(fn)


def _run_callbacks():
    while _callbacks:
        _callbacks.pop(0)()


def _pre_hooked(leaf, g):
    """Run ``leaf``'s pre-hooks on its gradient ``g``; returns the (maybe replaced) gradient."""
    from .hooks import run_hooks  # hooks.py builds on tensor.py, which imports this module
    return run_hooks(_pre_hooks.get(id(leaf), ()), g)


def _count_hooked(nodes):
    """id(leaf) -> [leaf, edges still to visit, pending gradient] for the hooked leaves
    under ``nodes``."""
    hooked = {}
    for node in nodes:
        for p in node._parents:
            if p._backward is None and (id(p) in _post_hooks or id(p) in _pre_hooks):
                entry = hooked.setdefault(id(p), [p, 0, None])
                entry[1] += 1
    return hooked


def _settle(parents, hooked, got):
    """One node's edges have been visited: for a hooked leaf with no edge left, run its
    pre-hooks on the summed gradient and accumulate it, then its post hooks."""
    for p in parents:
        entry = hooked.get(id(p))
        if entry is None:
            continue
        entry[1] -= 1
        if entry[1]:
            continue
        g, entry[2] = entry[2], None
        if g is not None:
            g = _pre_hooked(p, g)
            if g is not None:
                _accumulate(p, g, 0)  # 0: the hook may keep g, so .grad gets a copy
                got.add(id(p))
        if id(p) in got:
            for hook in list(_post_hooks.get(id(p), ())):
                hook(p)


# ---------------------------------------------------------------------------- the walk
def backward(self, grad=None, retain_graph=False):
    """Accumulate dL/d(leaf) into ``.grad`` of every leaf that requires a gradient.

    ``grad`` is dL/d(self); it defaults to 1 when self has one element. As in PyTorch,
    the graph's saved arrays are released as the walk passes them (so a training loop
    does not keep last step's activations alive); pass ``retain_graph=True`` to call
    backward through the same graph again.
    """
    # Bound as Tensor.backward itself (not called through a wrapper): a wrapper's frame
    # would hold one more reference to the root gradient and defeat sole().
    if not self.requires_grad:
        raise RuntimeError("Tensor.backward: this tensor does not require grad and has no "
                           "graph (were its inputs created with requires_grad=True, and "
                           "was it computed outside no_grad?)")
    if grad is None:
        if self.array.size != 1:
            raise ValueError(f"Tensor.backward: grad can be omitted only for a tensor with "
                             f"one element; got shape {self.array.shape}, pass grad=")
        a = self.array
        # a 0-d loss (every training step): np.array is ~5x cheaper than np.ones_like
        grad = np.array(1, a.dtype) if a.ndim == 0 else np.ones_like(a)
        del a
    else:
        grad = np.asarray(grad)  # a Tensor gives its own data (Tensor.__array__)
        if grad.dtype.kind not in "iuf":
            raise TypeError(f"Tensor.backward: grad must be a float array, got {grad.dtype}")
        if grad.shape != self.array.shape:
            raise ValueError(f"Tensor.backward: grad has shape {grad.shape}, expected "
                             f"{self.array.shape}")
        if grad.dtype != self.array.dtype:
            if grad.dtype.kind == "f":
                raise TypeError(f"Tensor.backward: grad dtype {grad.dtype} differs from "
                                f"the tensor's dtype {self.array.dtype}")
            grad = grad.astype(self.array.dtype)

    if self._backward is None:  # backward() on a leaf
        if id(self) in _pre_hooks:
            grad = _pre_hooked(self, grad)
            if grad is not None:
                _accumulate(self, grad, 0)
        else:
            _accumulate(self, grad)
        for hook in list(_post_hooks.get(id(self), ())):
            hook(self)
        _run_callbacks()
        return
    # Collect the interior nodes reachable from self (iteratively: no recursion limit).
    # Every node is created after its parents, so decreasing creation number is a
    # topological order: a node is visited only after everything that consumes it.
    nodes = [self]
    seen = {id(self)}
    for node in nodes:  # the list grows while we walk it
        for p in node._parents:
            if p._backward is not None and id(p) not in seen:
                seen.add(id(p))
                nodes.append(p)
    if len(nodes) > 1:
        nodes.sort(key=_seq_of, reverse=True)

    # hooked leaves (see _count_hooked) and those that received a gradient in this backward
    hooked = _count_hooked(nodes) if _post_hooks or _pre_hooks else None
    got: set = set()
    grads = {id(self): grad}
    del grad  # the root gradient may be sole too (unless the caller holds it)
    try:
        # Visit the nodes (one loop, no helper call: this runs every training step).
        for node in nodes:
            g = grads.pop(id(node), None)
            parents, fn = node._parents, node._backward
            if node._seq < _last_modified:
                _check_versions(node, parents)
            if not retain_graph:
                node._parents = ()
                node._backward = _freed
            if g is None:
                if hooked:
                    _settle(parents, hooked, got)
                continue
            pgs = pg = None  # the last node's references: g may be sole (see sole)
            pgs = fn(g)
            g = None  # the walk's own reference: lets a leaf adopt a passed-through array
            if anomaly.enabled:
                for i, pg in enumerate(pgs):
                    if pg is not None:
                        check_finite(np.asarray(pg), f"the backward of '{op_name(fn)}' "
                                     f"(gradient of its input {i})")
            for p, pg in zip(parents, pgs):
                if pg is None or not p.requires_grad:
                    continue
                if p._backward is None:  # a leaf: accumulate into .grad like PyTorch
                    if hooked:
                        entry = hooked.get(id(p))
                        if entry is not None:
                            if id(p) in _pre_hooks:  # summed first, hooks see the total
                                entry[2] = pg if entry[2] is None else entry[2] + pg
                                continue
                            got.add(id(p))
                    _accumulate(p, pg)
                    continue
                pid = id(p)
                prev = grads.get(pid)
                if prev is None:
                    grads[pid] = pg
                elif (type(pg) is np.ndarray and pg.shape == prev.shape
                      and pg.dtype == prev.dtype and sole(prev, _SUM_REFS)):
                    prev += pg  # a sum only the walk holds: add in place, same values
                else:
                    grads[pid] = prev + pg
            if hooked:
                _settle(parents, hooked, got)
    except BaseException:
        _callbacks.clear()
        raise
    if _callbacks:
        _run_callbacks()
