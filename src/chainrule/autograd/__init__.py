"""Reverse-mode automatic differentiation on NumPy arrays (define-by-run).

Every operation on a :class:`Tensor` that needs a gradient records one node: the result
keeps its parents (the Tensor operands) and a ``backward`` function mapping the gradient
of the result to the gradients of its parents. ``Tensor.backward()`` walks the nodes in
reverse creation order and accumulates (``+=``) into ``.grad`` of the leaves, as PyTorch
does. Broadcasting follows NumPy; a gradient is summed back to the shape of its operand.
A Python number never changes a tensor's dtype; Tensors of float32 and float64 in one
operation raise TypeError.

The package, in dependency order:

- ``modes.py``: grad mode (no_grad, enable_grad) and anomaly mode (detect_anomaly)
- ``engine.py``: the backward walk, gradient accumulation, gradient-buffer reuse
- ``tensor.py``: the Tensor class (data, properties, conversions) and ``tensor()``
- ``function.py``: the internal API chainrule's layers build ops with (``make``, ...)
- ``arith.py``, ``shape.py``, ``reduce.py``, ``pointwise.py``, ``convert.py``: the ops,
  grouped by kind, each attaching its methods to Tensor when imported here
- ``dtypes.py``: cr.float32/long/... and cr.device; ``compare.py``: comparisons and logic;
  ``stats.py``: max/min/argmax/prod/var/std/norm/all/any; ``views.py``: squeeze, permute,
  expand, repeat, ...; ``joins.py``: cat/stack/where/maximum/clamp/softmax/...;
  ``inplace.py``: add_/fill_/+=/t[i] = v with the version check; ``factories.py``: zeros,
  arange, rand, ...; ``functions.py``: cr.sum(t, ...) and the other method-functions;
  ``indexing.py``: gather/scatter/index_select/nonzero; ``sorting.py``: sort/argsort/topk;
  ``reorder.py``: cumsum/cumprod/flip/roll/tril/triu/split/chunk/unbind/narrow;
  ``size.py``: the Size tuple t.shape returns; ``mathops.py``: floor/round/logsumexp/
  bmm/diag/unique/new_zeros/set_grad_enabled/...; ``einsum.py``: cr.einsum;
  ``protocols.py``: % // format(t, spec) ``in`` reversed(); ``hooks.py``: grad_fn,
  retain_grad, register_hook (wrapping a node's backward); ``legacy.py``: cr.FloatTensor
  & co (imported by chainrule/__init__.py)
"""
from .modes import AnomalyError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor, tensor
from .function import as_tensor
from . import arith, convert, pointwise, reduce, shape  # noqa: F401  (attach Tensor's ops)
from . import compare, stats, joins, views, inplace  # noqa: F401
from . import indexing, sorting, reorder, mathops, protocols, hooks  # noqa: F401

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
           "AnomalyError"]
