"""DistributedDataParallel: data-parallel training over MPI with PyTorch's API.

Every rank holds a replica of the model and trains on its own shard of each batch (see
:class:`chainrule.distributed.DistributedSampler`). At construction the replicas are checked
to have the same parameter shapes and get rank 0's parameters (and buffers). During
``loss.backward()`` each parameter's gradient, once final, is divided by the world size into
its slot of its bucket's flat buffer (about ``bucket_cap_mb`` MB of contiguous memory,
parameters in reverse order, i.e. roughly the order backward produces them) and ``.grad``
becomes a view of that slot; when every gradient of a bucket is in, a non-blocking
allreduce (MPI_Iallreduce, sum) starts while backward goes on, and every later gradient
hook calls MPI_Test on the buckets in flight (Open MPI progresses a non-blocking collective
only inside MPI calls). Before ``backward()`` returns all buckets are waited for: the views
then hold the averaged gradients, with no copy back. Inside :meth:`no_sync` gradients only
accumulate locally; the first backward after it averages the accumulated gradients.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

from ..autograd import engine
from ..autograd.function import grad_array
from .modules import Module

__all__ = ["DistributedDataParallel"]

_getrefcount = getattr(sys, "getrefcount", None)
if not getattr(sys, "_is_gil_enabled", lambda: True)():  # free-threaded: counts are loose
    _getrefcount = None


def _gradt_refs():
    """getrefcount of a parameter's cached ``_gradt`` that only the parameter holds, as seen
    from _Bucket._refs (measured on a fresh tensor, so it follows the interpreter)."""
    from ..autograd import Tensor
    p = Tensor(np.zeros(1, np.float32), requires_grad=True)
    p._grad = np.zeros(1, np.float32)
    p.grad  # noqa: B018 - builds and caches p._gradt
    t = getattr(p, "_gradt", None)
    return None if t is None else _getrefcount(t)


_GRADT_REFS = _gradt_refs() if _getrefcount is not None else None


class _Bucket:
    """Parameters whose gradients travel in one allreduce over one flat buffer.

    Each parameter's gradient is copied (divided by the world size) into its slot of
    ``flat`` as soon as it is final, and the parameter's ``.grad`` becomes that slot's view,
    so the averaged result needs no copy back. The next backward writes into the same
    ``flat`` when that cannot be seen: with ``gradient_as_bucket_view=True`` (PyTorch's
    meaning: gradients are views into the bucket), or when nothing but the parameters' own
    ``.grad`` references the views (their reference counts say so; a gradient zeroed or
    accumulated in place is then averaged in place, as in PyTorch). Otherwise a gradient of
    an earlier step is still held somewhere and a fresh buffer is taken, so it never changes.
    """

    def __init__(self, params, dtype, index):
        self.params = params
        self.index = index
        self.offsets = np.concatenate([[0], np.cumsum([p.array.size for p in params])])
        self.offsets = self.offsets.astype(int).tolist()
        self.dtype = dtype
        self._new_flat()
        self.done = [False] * len(params)  # gradient i is in its slot in this backward
        self.pending = len(params)
        self.started = False  # the flat buffer of this backward has been chosen
        self.request = None

    def _new_flat(self):
        self.flat = self.views = None  # unless held elsewhere, malloc hands the memory back
        self.flat = np.empty(self.offsets[-1], dtype=self.dtype)
        self.views = [self.flat[a:b].reshape(p.array.shape)
                      for p, a, b in zip(self.params, self.offsets, self.offsets[1:])]
        self._baseline = self._refs() if _getrefcount is not None else None

    def _refs(self):
        """Reference counts of flat and of each view, less those the parameters hold."""
        counts = [_getrefcount(self.flat)]
        for p, v in zip(self.params, self.views):
            n = _getrefcount(v) - (p._grad is v)
            t = getattr(p, "_gradt", None)  # the cached Tensor of p.grad, if nobody holds it
            if t is not None and t.array is v and _getrefcount(t) == _GRADT_REFS:
                n -= 1
            counts.append(n)
        return counts

    def start(self, reuse):
        """Choose this backward's buffer (before the first gradient is written into it)."""
        self.started = True
        if not (reuse or (self._baseline is not None and self._refs() == self._baseline)):
            self._new_flat()

    def put(self, i, world):
        """Parameter ``i``'s gradient / world into its slot; the slot becomes its .grad."""
        p, view = self.params[i], self.views[i]
        g = grad_array(p)
        if g is None:
            view[...] = 0
        elif g is view and world == 1:
            pass
        elif world & (world - 1) == 0:  # 1/world is exact: a multiply, the same bits
            np.multiply(g, 1.0 / world, out=view)
        else:
            np.divide(g, world, out=view)
        p._grad = view
        self.done[i] = True

    def reset(self):
        self.done = [False] * len(self.params)
        self.pending = len(self.params)
        self.started = False
        self.request = None


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (call ``init_process_group`` first).

    ``forward`` calls the module; ``.module`` is the wrapped model; the state dict keys get
    the ``module.`` prefix, as in PyTorch. ``bucket_cap_mb`` (default 25) is the size of a
    gradient bucket; ``broadcast_buffers`` re-sends rank 0's buffers (e.g. batch-norm running
    statistics, for a module with ``named_buffers``) before every forward in training mode.
    ``device_ids``/``output_device`` must be None (CPU only); ``find_unused_parameters`` is
    accepted: a parameter that got no gradient counts as a zero gradient. After backward every
    ``.grad`` is a view into its bucket; with ``gradient_as_bucket_view=False`` (default) a
    bucket's buffer is reused only when no gradient of an earlier step can see it (else a
    fresh one is taken), with ``True`` it is always reused, as PyTorch's flag says.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        from .. import distributed as dist
        from ..distributed import _comm
        fn = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{fn}: module must be a chainrule.nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError(f"{fn}: device_ids/output_device must be None (chainrule runs "
                             f"on the CPU)")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ValueError(f"{fn}: bucket_cap_mb must be a positive number, got "
                             f"{bucket_cap_mb!r}")
        _comm._require(fn)
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True
        self.world_size, self.rank = dist.get_world_size(), dist.get_rank()
        self.trace = None  # a list to record (event, bucket, parameters ready) for tests
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._check_shapes(fn, named, _comm)
        for _, p in named:
            dist.broadcast(p, 0)
        self._sync_buffers(dist)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self._buckets = self._make_buckets([p for _, p in named], bucket_cap_mb)
        self._bucket_of = {}  # id(parameter) -> (its bucket, its index there)
        for b in self._buckets:
            for i, p in enumerate(b.params):
                self._bucket_of[id(p)] = (b, i)
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                         for _, p in named]
        self._queued = False
        self._ready = 0
        self._next = 0  # the next bucket to launch: every rank launches them in index order

    # ---- construction ------------------------------------------------------------------
    def _check_shapes(self, fn, named, _comm):
        mine = [(n, tuple(p.array.shape), str(p.array.dtype)) for n, p in named]
        everyone = _comm.allgather_object(mine)
        for r, theirs in enumerate(everyone):
            if theirs == everyone[0]:
                continue
            diff = [f"{a} vs {b}" for a, b in zip(everyone[0], theirs) if a != b]
            if len(theirs) != len(everyone[0]):
                diff.insert(0, f"{len(everyone[0])} vs {len(theirs)} parameters")
            raise ValueError(f"{fn}: rank {r} has a model different from rank 0's "
                             f"(name, shape, dtype): " + "; ".join(diff[:3]))

    def _module_buffers(self):
        named_buffers = getattr(self.module, "named_buffers", None)
        return [b for _, b in named_buffers()] if named_buffers is not None else []

    def _sync_buffers(self, dist):
        """Rank 0's buffers on every rank: one broadcast per dtype (ResNet-20 has 57
        buffers, each broadcast would pay the latency once per forward)."""
        groups: dict = {}
        for b in self._module_buffers():
            arr = getattr(b, "array", b)
            groups.setdefault(arr.dtype, []).append(arr)
        for arrays in groups.values():
            if len(arrays) == 1:
                dist.broadcast(arrays[0], 0)
                continue
            flat = np.concatenate([a.ravel() for a in arrays])
            dist.broadcast(flat, 0)
            start = 0
            for a in arrays:
                a[...] = flat[start:start + a.size].reshape(a.shape)
                start += a.size

    @staticmethod
    def _make_buckets(params, cap_mb):
        cap = cap_mb * 2 ** 20
        buckets, cur, nbytes = [], [], 0
        for p in reversed(params):  # backward yields the last layers' gradients first
            if cur and (nbytes + p.array.nbytes > cap or p.array.dtype != cur[0].array.dtype):
                buckets.append(_Bucket(cur, cur[0].array.dtype, len(buckets)))
                cur, nbytes = [], 0
            cur.append(p)
            nbytes += p.array.nbytes
        if cur:
            buckets.append(_Bucket(cur, cur[0].array.dtype, len(buckets)))
        return buckets

    # ---- forward -------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.training and self.world_size > 1:
            from .. import distributed as dist
            self._sync_buffers(dist)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients only accumulate locally inside; the next backward outside averages them."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ---- backward: buckets -----------------------------------------------------------------
    def _grad_ready(self, p):
        if not self.require_backward_grad_sync:
            return
        if not self._queued:  # the first final gradient of this backward
            self._queued = True
            engine.queue_callback(self._finish)
            for b in self._buckets:
                b.reset()
            self._next = 0
        self._ready += 1
        b, i = self._bucket_of[id(p)]
        if not b.started:
            b.start(self.gradient_as_bucket_view)
        b.put(i, self.world_size)  # now, while the gradient is still in cache
        b.pending -= 1
        # MPI matches non-blocking collectives by the order they start: a bucket leaves only
        # after the ones before it (a rank where an earlier bucket has an unused parameter
        # would otherwise start them in another order than its peers)
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            self._launch(self._buckets[self._next])
            self._next += 1
        for other in self._buckets:  # let MPI progress the buckets already in flight
            if other.request is not None:
                other.request.Test()

    def _launch(self, b):
        from ..distributed import _comm
        if self.trace is not None:
            self.trace.append(("launch", b.index, self._ready))
        b.request = _comm._G.comm.Iallreduce(_comm._G.MPI.IN_PLACE, b.flat, _comm._G.MPI.SUM)

    def _finish(self):
        from ..distributed import _comm
        self._queued = False
        self._ready = 0
        for b in self._buckets[self._next:]:  # a gradient not produced counts as .grad or 0
            if not b.started:
                b.start(self.gradient_as_bucket_view)
            for i, done in enumerate(b.done):
                if not done:
                    b.put(i, self.world_size)
            self._launch(b)
        self._next = 0
        for b in self._buckets:
            _comm.wait(b.request, f"DistributedDataParallel gradient allreduce "
                                  f"(bucket {b.index})")
            b.reset()
        if self.trace is not None:
            self.trace.append(("finished", None, None))
