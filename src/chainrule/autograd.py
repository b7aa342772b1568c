"""Reverse-mode automatic differentiation on NumPy arrays (define-by-run).

Every operation on a :class:`Tensor` that needs a gradient records one node: the result
keeps its ``_parents`` (the Tensor operands) and a ``_backward`` function that maps the
gradient of the result, ``g = dL/d(result)``, to a tuple ``(dL/d(parent) or None, ...)``
aligned with ``_parents``, and a creation number. ``backward()`` collects the nodes
reachable from the output (iteratively, so deep graphs do not hit Python's recursion
limit) and visits them in decreasing creation number -- a topological order, since a node
is always created after its parents -- summing the contributions reaching each node and
accumulating (``+=``) into ``.grad`` of the leaves that require a gradient, as PyTorch
does. Gradients of intermediate results are not kept.

Broadcasting follows NumPy; a gradient is summed back to the shape of its operand.
A Python number never changes a tensor's dtype; Tensors of float32 and float64 in one
operation raise TypeError.
"""
from __future__ import annotations

import itertools
import math
import numbers
import operator
import os
import sys
import threading

import numpy as np

from . import _kernels
from . import ops as _ops

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
           "AnomalyError"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _GradMode(threading.local):
    """Grad mode is per thread, as in PyTorch: no_grad in one thread leaves others alone."""
    enabled = True


_grad_mode = _GradMode()


# ---------------------------------------------------------------------------- anomaly mode
class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()`` by the first op whose forward result or backward
    gradient holds NaN or inf."""


class _AnomalyMode(threading.local):
    enabled = False


_anomaly = _AnomalyMode()


def _op_name(backward) -> str:
    """The op a backward closure belongs to: 'Tensor.__mul__.<locals>.backward' -> 'mul'."""
    q = getattr(backward, "__qualname__", "") or "op"
    return q.split(".<locals>")[0].split(".")[-1].strip("_") or "op"


def _check_finite(arr, what):
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise AnomalyError(f"detect_anomaly: {what} produced {bad} (shape {arr.shape})")


class detect_anomaly:
    """Context manager: raise :class:`AnomalyError` at the first op that produces NaN/inf,
    in the forward pass (its result) or the backward pass (a gradient it returns), naming
    the op. Costs one ``isfinite`` scan per op while active; free otherwise. Per thread.

    >>> with cr.detect_anomaly():
    ...     loss = model(x).log().sum(); loss.backward()
    """

    __slots__ = ("_prev",)

    def __enter__(self):
        self._prev = _anomaly.enabled
        _anomaly.enabled = True
        return self

    def __exit__(self, *exc):
        _anomaly.enabled = self._prev
        return False


# ---------------------------------------------------------------------------- grad mode
class no_grad:
    """Context manager (and decorator) that disables graph building inside its block."""

    __slots__ = ("_prev",)

    def __enter__(self):
        self._prev = _grad_mode.enabled
        _grad_mode.enabled = False
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self._prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """Context manager that re-enables graph building (e.g. inside ``no_grad``)."""

    __slots__ = ()

    def __enter__(self):
        self._prev = _grad_mode.enabled
        _grad_mode.enabled = True
        return self


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


# ---------------------------------------------------------------------------- helpers
def _float_array(fn, name, data, dtype=None):
    """data -> float32/float64 ndarray (a copy). dtype=None keeps a float array's dtype;
    Python numbers, lists and integer arrays become float32."""
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in _FLOATS:
            raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        kind = data.dtype.kind
        if kind == "f":
            if dtype is None and data.dtype not in _FLOATS:
                raise TypeError(f"{fn}: argument '{name}' has dtype {data.dtype}; "
                                f"only float32 and float64 are supported")
            return np.array(data, dtype=dtype if dtype is not None else data.dtype)
        if kind in "iub":
            return np.array(data, dtype=dtype if dtype is not None else np.float32)
        raise TypeError(f"{fn}: argument '{name}' must be real numbers, got an array of dtype "
                        f"{data.dtype} with shape {data.shape}")
    try:
        arr = np.array(data)
    except Exception as e:
        raise TypeError(f"{fn}: cannot make a tensor from {type(data).__name__}") from e
    if arr.dtype.kind not in "iubf":
        raise TypeError(f"{fn}: argument '{name}' must be real numbers (a number, nested lists "
                        f"or a float array), got {type(data).__name__} giving dtype {arr.dtype}")
    if arr.dtype.kind == "f" and isinstance(data, np.generic):
        return arr.astype(dtype if dtype is not None else arr.dtype)
    return arr.astype(dtype if dtype is not None else np.float32)


def _unbroadcast(g, shape):
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


_counter = itertools.count()


def _freed(g):
    raise RuntimeError("Tensor.backward: trying to backward through a part of the graph that "
                       "was already freed by an earlier backward(); call that backward with "
                       "retain_graph=True to keep it")


_seq_of = operator.attrgetter("_seq")


def _accumulate(leaf, g):
    """leaf.grad += g. The first gradient is stored as a C-ordered array of the leaf's
    dtype that aliases nothing: ``g`` itself when it is a fresh array only the engine
    holds (a kernel's output, see :func:`_sole`), else a copy (``g`` may be an array an op
    handed to several parents, a view, or the caller's own ``grad``)."""
    if g.shape != leaf.data.shape:  # pragma: no cover - guards op bugs
        raise RuntimeError(f"autograd: gradient of shape {g.shape} for a leaf of shape "
                           f"{leaf.data.shape}")
    if leaf._grad is None:
        if g.dtype == leaf.data.dtype and _sole(g, _LEAF_REFS):
            leaf._grad = g
        else:
            leaf._grad = np.array(g, dtype=leaf.data.dtype, order="C")
    else:
        leaf._grad += g


# ---------------------------------------------------------------------------- ownership
# A gradient array that nothing but the backward walk references can be reused in place
# (a ReLU backward writes into its incoming gradient) or stored as a leaf's .grad without
# a copy. CPython's reference count tells: ``_sole(a, refs)`` is true when ``a`` is a
# writable, C-contiguous base array (not a view) with at most ``refs`` references, the
# number the walk itself holds at that call site (measured below by running the same call
# pattern on a fresh array, so it follows the interpreter). Anything else -- another
# parent's gradient, a tensor's data, a closure's saved array, the caller's ``grad`` --
# adds a reference and the array is copied instead. Without sys.getrefcount (or on a
# free-threaded build): always copy.
_getrefcount = getattr(sys, "getrefcount", None)
if not getattr(sys, "_is_gil_enabled", lambda: True)():  # free-threaded: counts are loose
    _getrefcount = None


def _sole(a, refs):
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
    return seen[0] + 1  # + the reference _sole's own argument adds


def _count_closure_refs():
    """References to a fresh incoming gradient ``g`` inside a backward closure calling
    ``_sole(g, ...)``: the walk's ``g`` variable and the closure's argument."""
    seen = []

    def closure(g):
        seen.append(_getrefcount(g))
    g = np.empty(1)
    closure(g)
    return seen[0] + 1


_LEAF_REFS = _count_leaf_refs() if _getrefcount is not None else 0
_CLOSURE_REFS = _count_closure_refs() if _getrefcount is not None else 0


def _make(data, parents, backward):
    """Wrap an op's result; record the node only if some parent needs a gradient."""
    out = Tensor.__new__(Tensor)
    out.data = data if type(data) is np.ndarray else np.asarray(data)  # 0-d ops give scalars
    if _anomaly.enabled:
        _check_finite(out.data, f"the forward of '{_op_name(backward)}'")
    out._grad = None
    if _grad_mode.enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                out._seq = next(_counter)
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def _const(data):
    """A constant (no-grad leaf) Tensor around an existing float array, no copy."""
    t = Tensor.__new__(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)  # np.matrix -> ndarray
    t._grad = None
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    return t


def as_tensor(x, fn="tensor op", name="operand", dtype=None):
    """A Tensor stays itself; a float ndarray becomes a constant (no copy); a Python number
    becomes a constant of ``dtype`` (float32 if None). Anything else is a TypeError."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype not in _FLOATS:
            raise TypeError(f"{fn}: argument '{name}' must be a float32 or float64 array or "
                            f"Tensor, got an array of dtype {x.dtype} with shape {x.shape}")
        return _const(x)
    if isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)):
        return _const(np.asarray(x, dtype=dtype if dtype is not None else np.float32))
    raise TypeError(f"{fn}: argument '{name}' must be a Tensor or a float ndarray, "
                    f"got {type(x).__name__}")


def _check_same(fn, a, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}: mixed float dtypes ({a.dtype} and {b.dtype}); both operands "
                        f"must share one dtype (convert with cr.tensor(x, dtype=...))")


def _operand(self, other, fn):
    """The other operand of a binary op as a Tensor (numbers keep self's dtype)."""
    if isinstance(other, Tensor):
        if other.data.dtype != self.data.dtype:
            _check_same(fn, self.data, other.data)
        return other
    if isinstance(other, numbers.Real) and not isinstance(other, (bool, np.bool_)):
        return _const(np.asarray(other, dtype=self.data.dtype))
    if isinstance(other, np.ndarray):
        if other.dtype not in _FLOATS:
            raise TypeError(f"{fn}: operand must be a float32/float64 array, got dtype "
                            f"{other.dtype} with shape {other.shape}")
        _check_same(fn, self.data, other)
        return _const(other)
    return NotImplemented


def _bcast_error(fn, a, b):
    return ValueError(f"{fn}: operand shapes {a.shape} and {b.shape} do not broadcast "
                      f"(NumPy rules: trailing dimensions must be equal or 1)")


def _mm2(a, b, trans_a, trans_b):
    """ops.matmul on 2-D arrays; a Fortran-ordered view (e.g. ``x.T``) is passed as its
    C-ordered transpose with the flag flipped instead of being copied."""
    if not a.flags.c_contiguous and a.flags.f_contiguous:
        a, trans_a = a.T, not trans_a
    if not b.flags.c_contiguous and b.flags.f_contiguous:
        b, trans_b = b.T, not trans_b
    return _ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b)


def _norm_axes(axis, ndim, fn):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        if isinstance(ax, (bool, np.bool_)) or not isinstance(ax, numbers.Integral):
            raise TypeError(f"{fn}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{fn}: axis {ax} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: repeated axis in {axis!r}")
    return tuple(out)


def _reduction_args(ndim, axis, keepdims, dim, keepdim, fn):
    """(axes or None, keepdims) from NumPy's axis/keepdims or PyTorch's dim/keepdim."""
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return (_norm_axes(axis, ndim, fn) if axis is not None else None), keepdims


# ---------------------------------------------------------------------------- heap
def _keep_freed_memory(environ=os.environ):
    """Ask glibc to keep memory freed between training steps mapped (see csrc/heap.c):
    otherwise every step page-faults its activations back in (measured: ~35% of a
    LeNet-5 batch-64 step). Keeps up to 128 MiB of freed heap; blocks up to 32 MiB come
    from the heap. Skipped if CHAINRULE_MALLOC_TUNING=0 or the user tuned malloc through
    the environment. True when applied."""
    if environ.get("CHAINRULE_MALLOC_TUNING", "1") == "0":
        return False
    if ("MALLOC_TRIM_THRESHOLD_" in environ or "MALLOC_MMAP_THRESHOLD_" in environ
            or "glibc.malloc" in environ.get("GLIBC_TUNABLES", "")):
        return False
    return _kernels.heap_keep_freed(128 << 20, 32 << 20)


_keep_freed_memory()


# ---------------------------------------------------------------------------- Tensor
class Tensor:
    """A float32/float64 NumPy array with reverse-mode autograd.

    ``data`` is the ndarray; ``grad`` is None or an ndarray of ``data``'s shape and dtype
    holding dL/d(this tensor) accumulated over ``backward()`` calls (leaves only).
    """

    __slots__ = ("data", "_grad", "requires_grad", "_parents", "_backward", "_seq",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _float_array("Tensor", "data", data, dtype)
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None

    # ------------------------------------------------------------------ properties
    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if isinstance(value, Tensor):
            value = value.data
        if not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.grad: must be None or an ndarray, got {type(value).__name__}")
        if value.dtype != self.data.dtype:
            raise TypeError(f"Tensor.grad: dtype {value.dtype} does not match the tensor's "
                            f"dtype {self.data.dtype}")
        if value.shape != self.data.shape:
            raise ValueError(f"Tensor.grad: shape {value.shape} does not match the tensor's "
                             f"shape {self.data.shape}")
        self._grad = value

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        return self._backward is None

    @property
    def T(self):
        return self.transpose()

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, prefix="tensor(", separator=", ")
        extra = "" if self.data.dtype == np.float32 else f", dtype={self.data.dtype}"
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data

    def __hash__(self):
        return id(self)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    # ------------------------------------------------------------------ conversions
    def numpy(self):
        """The underlying ndarray (shared, not a copy)."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"Tensor.item: only a tensor with one element can be converted to "
                             f"a Python number, got shape {self.data.shape}")
        return self.data.item()

    def detach(self):
        """A new leaf sharing ``data`` that is cut from the graph."""
        return _const(self.data)

    def to(self, dtype):
        """A differentiable cast to float32 or float64 (self if the dtype already matches)."""
        dt = np.dtype(dtype) if dtype is not None else None
        if dt is None or dt not in _FLOATS:
            raise TypeError(f"Tensor.to: dtype must be float32 or float64, got {dtype!r}")
        if dt == self.data.dtype:
            return self
        src = self.data.dtype

        def backward(g):
            return (g.astype(src),)
        return _make(self.data.astype(dt), (self,), backward)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        self._grad = None

    # ------------------------------------------------------------------ autograd
    def backward(self, grad=None, retain_graph=False):
        """Accumulate dL/d(leaf) into ``.grad`` of every leaf that requires a gradient.

        ``grad`` is dL/d(self); it defaults to 1 when self has one element. As in PyTorch,
        the graph's saved arrays are released as the walk passes them (so a training loop
        does not keep last step's activations alive); pass ``retain_graph=True`` to call
        backward through the same graph again.
        """
        if not self.requires_grad:
            raise RuntimeError("Tensor.backward: this tensor does not require grad and has no "
                               "graph (were its inputs created with requires_grad=True, and "
                               "was it computed outside no_grad?)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"Tensor.backward: grad can be omitted only for a tensor with "
                                 f"one element; got shape {self.data.shape}, pass grad=")
            grad = np.ones_like(self.data)
        else:
            if isinstance(grad, Tensor):
                grad = grad.data
            grad = np.asarray(grad)
            if grad.dtype.kind not in "iuf":
                raise TypeError(f"Tensor.backward: grad must be a float array, got {grad.dtype}")
            if grad.shape != self.data.shape:
                raise ValueError(f"Tensor.backward: grad has shape {grad.shape}, expected "
                                 f"{self.data.shape}")
            if grad.dtype != self.data.dtype:
                if grad.dtype.kind == "f":
                    raise TypeError(f"Tensor.backward: grad dtype {grad.dtype} differs from "
                                    f"the tensor's dtype {self.data.dtype}")
                grad = grad.astype(self.data.dtype)

        if self._backward is None:  # backward() on a leaf
            _accumulate(self, grad)
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

        grads = {id(self): grad}
        del grad  # the root gradient may be sole too (unless the caller holds it)
        for node in nodes:
            g = grads.pop(id(node), None)
            parents, fn = node._parents, node._backward
            if not retain_graph:
                node._parents = ()
                node._backward = _freed
            if g is None:
                continue
            pgs = pg = None  # the last node's references: g may be sole (see _sole)
            pgs = fn(g)
            g = None  # the walk's own reference: lets a leaf adopt a passed-through array
            if _anomaly.enabled:
                for i, pg in enumerate(pgs):
                    if pg is not None:
                        _check_finite(np.asarray(pg), f"the backward of '{_op_name(fn)}' "
                                      f"(gradient of its input {i})")
            for p, pg in zip(parents, pgs):
                if pg is None or not p.requires_grad:
                    continue
                if p._backward is None:  # a leaf: accumulate into .grad like PyTorch
                    _accumulate(p, pg)
                    continue
                pid = id(p)
                prev = grads.get(pid)
                grads[pid] = pg if prev is None else prev + pg

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        o = _operand(self, other, "add")
        if o is NotImplemented:
            return o
        a, b = self.data, o.data
        sa, sb = a.shape, b.shape

        def backward(g):
            return (_unbroadcast(g, sa) if self.requires_grad else None,
                    _unbroadcast(g, sb) if o.requires_grad else None)
        try:
            out = a + b
        except ValueError:
            raise _bcast_error("add", a, b) from None
        return _make(out, (self, o), backward)

    __radd__ = __add__

    def __sub__(self, other):
        o = _operand(self, other, "sub")
        if o is NotImplemented:
            return o
        a, b = self.data, o.data
        sa, sb = a.shape, b.shape

        def backward(g):
            return (_unbroadcast(g, sa) if self.requires_grad else None,
                    _unbroadcast(-g, sb) if o.requires_grad else None)
        try:
            out = a - b
        except ValueError:
            raise _bcast_error("sub", a, b) from None
        return _make(out, (self, o), backward)

    def __rsub__(self, other):
        o = _operand(self, other, "sub")
        if o is NotImplemented:
            return o
        return o.__sub__(self)

    def __mul__(self, other):
        o = _operand(self, other, "mul")
        if o is NotImplemented:
            return o
        a, b = self.data, o.data

        def backward(g):
            return (_unbroadcast(g * b, a.shape) if self.requires_grad else None,
                    _unbroadcast(g * a, b.shape) if o.requires_grad else None)
        try:
            out = a * b
        except ValueError:
            raise _bcast_error("mul", a, b) from None
        return _make(out, (self, o), backward)

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = _operand(self, other, "div")
        if o is NotImplemented:
            return o
        a, b = self.data, o.data
        try:
            out = a / b
        except ValueError:
            raise _bcast_error("div", a, b) from None

        def backward(g):
            return (_unbroadcast(g / b, a.shape) if self.requires_grad else None,
                    _unbroadcast(-g * out / b, b.shape) if o.requires_grad else None)
        return _make(out, (self, o), backward)

    def __rtruediv__(self, other):
        o = _operand(self, other, "div")
        if o is NotImplemented:
            return o
        return o.__truediv__(self)

    def __pow__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, (bool, np.bool_)):
            # constant exponent: d(a^p)/da = p a^(p-1); keeps a^0 and a^1 exact at a = 0
            p = float(other)
            a = self.data
            out = a ** p

            def backward(g):
                if p == 0.0:
                    return (np.zeros_like(g),)
                if p == 1.0:
                    return (g,)
                if p == 2.0:
                    return (g * (2.0 * a),)
                return (g * (p * a ** (p - 1.0)),)
            return _make(out, (self,), backward)
        o = _operand(self, other, "pow")
        if o is NotImplemented:
            return o
        return _pow(self, o)

    def __rpow__(self, other):
        o = _operand(self, other, "pow")
        if o is NotImplemented:
            return o
        return _pow(o, self)

    def __neg__(self):
        def backward(g):
            return (-g,)
        return _make(-self.data, (self,), backward)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        o = _operand(self, other, "matmul")
        if o is NotImplemented:
            return o
        return _matmul(self, o)

    def __rmatmul__(self, other):
        o = _operand(self, other, "matmul")
        if o is NotImplemented:
            return o
        return _matmul(o, self)

    # ------------------------------------------------------------------ shape ops
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.data.shape
        try:
            out = self.data.reshape(shape)
        except (ValueError, TypeError) as e:
            raise ValueError(f"Tensor.reshape: cannot reshape a tensor of shape {src} "
                             f"into {shape}") from e

        def backward(g):
            return (g.reshape(src),)
        return _make(out, (self,), backward)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        shp = self.data.shape
        nd = max(len(shp), 1)
        s = start_dim % nd
        e = end_dim % nd
        if s > e:
            raise ValueError(f"Tensor.flatten: start_dim {start_dim} comes after end_dim "
                             f"{end_dim} for shape {shp}")
        if not shp:
            return self.reshape(1)
        new = shp[:s] + (math.prod(shp[s:e + 1]),) + shp[e + 1:]
        if new == shp:  # nothing to merge: the tensor itself, as torch.flatten may return
            return self
        return self.reshape(new)

    def transpose(self, dim0=None, dim1=None):
        """Swap two axes; with no arguments reverse all axes (like ``.T``)."""
        if dim0 is None and dim1 is None:
            def backward(g):
                return (g.T,)
            return _make(self.data.T, (self,), backward)
        if dim0 is None or dim1 is None:
            raise TypeError("Tensor.transpose: give both axes (dim0, dim1) or none")
        nd = self.data.ndim
        for d in (dim0, dim1):
            if not isinstance(d, numbers.Integral) or not -nd <= d < nd:
                raise ValueError(f"Tensor.transpose: axis {d!r} is out of range for shape "
                                 f"{self.data.shape}")

        def backward(g):
            return (np.swapaxes(g, dim0, dim1),)
        return _make(np.swapaxes(self.data, dim0, dim1), (self,), backward)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        a = self.data
        out = a[index]
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        basic = _is_basic_index(index)

        def backward(g):
            full = np.zeros_like(a)
            if basic:
                full[index] += g
            else:
                np.add.at(full, index, g)
            return (full,)
        return _make(out, (self,), backward)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Sum over ``axis`` (an int, a tuple or None for all); PyTorch's
        ``dim``/``keepdim`` spellings are accepted too."""
        a = self.data
        axes, keepdims = _reduction_args(a.ndim, axis, keepdims, dim, keepdim, "Tensor.sum")
        out = np.sum(a, axis=axes, keepdims=keepdims)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out, dtype=a.dtype)
        shape = a.shape

        def backward(g):
            if axes is not None and not keepdims:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g, shape),)
        return _make(out, (self,), backward)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Mean over ``axis`` (an int, a tuple or None for all); PyTorch's
        ``dim``/``keepdim`` spellings are accepted too."""
        a = self.data
        axes, keepdims = _reduction_args(a.ndim, axis, keepdims, dim, keepdim, "Tensor.mean")
        if axes is None:
            count = a.size
        else:
            count = 1
            for ax in axes:
                count *= a.shape[ax]
        out = np.mean(a, axis=axes, keepdims=keepdims)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out, dtype=a.dtype)
        shape = a.shape
        scale = 1.0 / count if count else np.nan

        def backward(g):
            if axes is not None and not keepdims:
                g = np.expand_dims(g, axes)
            return (np.broadcast_to(g * scale, shape),)
        return _make(out, (self,), backward)

    def trace(self):
        a = self.data
        if a.ndim != 2:
            raise ValueError(f"Tensor.trace: expects a 2-D tensor, got shape {a.shape}")

        def backward(g):
            return (g * np.eye(a.shape[0], a.shape[1], dtype=a.dtype),)
        return _make(np.asarray(np.trace(a), dtype=a.dtype), (self,), backward)

    # ------------------------------------------------------------------ elementwise
    def exp(self):
        out = np.exp(self.data)

        def backward(g):
            return (g * out,)
        return _make(out, (self,), backward)

    def log(self):
        a = self.data

        def backward(g):
            return (g / a,)
        return _make(np.log(a), (self,), backward)

    def relu(self):
        """max(x, 0); the backward uses the output (x > 0 iff y > 0), one fused C pass
        each way, in place on the incoming gradient when nothing else holds it."""
        a = self.data
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        out = np.empty(a.shape, a.dtype)
        _kernels.relu_forward(out, a)
        return _make(out, (self,), _from_output(_kernels.relu_backward, out))

    def sigmoid(self):
        out = _sigmoid(self.data)  # dx = g y (1 - y): one C pass from the output
        return _make(out, (self,), _from_output(_kernels.sigmoid_backward, out))

    def tanh(self):
        out = np.tanh(self.data)  # dx = g (1 - y^2): one C pass from the output
        return _make(out, (self,), _from_output(_kernels.tanh_backward, out))

    def abs(self):
        a = self.data

        def backward(g):
            return (g * np.sign(a),)
        return _make(np.abs(a), (self,), backward)

    __abs__ = abs

    def sqrt(self):
        out = np.sqrt(self.data)

        def backward(g):
            return (g / (2.0 * out),)
        return _make(out, (self,), backward)


# ---------------------------------------------------------------------------- op bodies
def _from_output(kernel, out):
    """The backward of an activation whose derivative is a function of its output y:
    ``kernel(dx, g, y)`` writes dx in one pass, into g itself when nothing else holds g."""
    out = np.ascontiguousarray(out)

    def backward(g):
        if _sole(g, _CLOSURE_REFS) and g.dtype == out.dtype:
            dx = g  # nobody else sees g: overwrite it
        else:
            dx = np.empty(out.shape, out.dtype)
            g = np.ascontiguousarray(g, dtype=out.dtype)
        kernel(dx, g, out)
        return (dx,)
    backward.__qualname__ = kernel.__name__.replace("_backward", "") + ".<locals>.backward"
    return backward


def _sigmoid(a):
    """1 / (1 + exp(-a)) without overflow warnings for large |a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)


def _is_basic_index(index):
    """True when ``a[index]`` is a view (ints, slices, None, Ellipsis): no repeated elements."""
    items = index if isinstance(index, tuple) else (index,)
    for it in items:
        if not (it is None or it is Ellipsis or isinstance(it, (slice, numbers.Integral))) \
                or isinstance(it, (bool, np.bool_)):
            return False
    return True


def _pow(x, y):
    a, b = x.data, y.data
    try:
        out = a ** b
    except ValueError:
        raise _bcast_error("pow", a, b) from None

    def backward(g):
        ga = _unbroadcast(g * b * a ** (b - 1), a.shape) if x.requires_grad else None
        gb = None
        if y.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(a.dtype)
            gb = _unbroadcast(g * out * la, b.shape)
        return ga, gb
    return _make(out, (x, y), backward)


def _matmul(x, y):
    """numpy.matmul semantics; 2-D @ 2-D goes to ops.matmul (transpose flags, no copies)."""
    a, b = x.data, y.data
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
        out = _mm2(a, b, False, False)

        def backward(g):
            # dA = G B^T,  dB = A^T G
            return (_mm2(g, b, False, True) if x.requires_grad else None,
                    _mm2(a, g, True, False) if y.requires_grad else None)
        return _make(out, (x, y), backward)

    try:
        out = np.matmul(a, b)
    except ValueError as e:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match ({e})") from None

    def backward(g):
        # Promote 1-D operands to matrices as numpy.matmul does, then reduce back.
        a2 = a if a.ndim > 1 else a[None, :]
        b2 = b if b.ndim > 1 else b[:, None]
        g2 = g
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if x.requires_grad:
            ga = _unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if y.requires_grad:
            gb = _unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb
    return _make(out, (x, y), backward)


# ---------------------------------------------------------------------------- factory
def tensor(data, dtype=None, requires_grad=False):
    """A new leaf Tensor holding a copy of ``data``.

    dtype=None keeps a float32/float64 array's dtype; Python numbers, lists and integer
    arrays become float32. ``dtype`` may be float32 or float64.
    """
    t = Tensor.__new__(Tensor)
    t.data = _float_array("tensor", "data", data, dtype)
    t._grad = None
    t.requires_grad = bool(requires_grad)
    t._parents = ()
    t._backward = None
    return t
