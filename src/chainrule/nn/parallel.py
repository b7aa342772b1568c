"""DistributedDataParallel: data-parallel training over MPI with PyTorch's API.

Every rank holds a replica of the model and trains on its own shard of each batch (see
:class:`chainrule.distributed.DistributedSampler`). At construction the replicas are checked
to have the same parameter shapes and get rank 0's parameters (and buffers). During
``loss.backward()`` each parameter's gradient, once final, marks its bucket; when every
gradient of a bucket (about ``bucket_cap_mb`` MB of contiguous memory, parameters in
reverse order, i.e. roughly the order backward produces them) is ready, the bucket is copied
into its flat buffer and a non-blocking allreduce (MPI_Iallreduce) starts while backward goes
on; before ``backward()`` returns all buckets are waited for and the averaged gradients
written back to ``.grad``. Inside :meth:`no_sync` gradients only accumulate locally; the
first backward after it averages the accumulated gradients.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..autograd import engine
from ..autograd.function import grad_array
from .modules import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    def __init__(self, params, dtype):
        self.params = params
        self.sizes = [p.array.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int).tolist()
        self.flat = np.empty(self.offsets[-1], dtype=dtype)
        self.pending = len(params)
        self.request = None

    def views(self):
        for p, a, b in zip(self.params, self.offsets, self.offsets[1:]):
            yield p, self.flat[a:b].reshape(p.array.shape)


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (call ``init_process_group`` first).

    ``forward`` calls the module; ``.module`` is the wrapped model; the state dict keys get
    the ``module.`` prefix, as in PyTorch. ``bucket_cap_mb`` (default 25) is the size of a
    gradient bucket; ``broadcast_buffers`` re-sends rank 0's buffers (e.g. batch-norm running
    statistics, for a module with ``named_buffers``) before every forward in training mode.
    ``device_ids``/``output_device`` must be None (CPU only); ``find_unused_parameters`` is
    accepted: a parameter that got no gradient counts as a zero gradient.
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
        self._buckets = self._make_buckets([p for _, p in named], bucket_cap_mb)
        self._bucket_of = {}
        for b in self._buckets:
            for p in b.params:
                self._bucket_of[id(p)] = b
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                         for _, p in named]
        self._queued = False
        self._ready = 0

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
        for b in self._module_buffers():
            dist.broadcast(b, 0)

    @staticmethod
    def _make_buckets(params, cap_mb):
        cap = cap_mb * 2 ** 20
        buckets, cur, nbytes = [], [], 0
        for p in reversed(params):  # backward yields the last layers' gradients first
            if cur and (nbytes + p.array.nbytes > cap or p.array.dtype != cur[0].array.dtype):
                buckets.append(_Bucket(cur, cur[0].array.dtype))
                cur, nbytes = [], 0
            cur.append(p)
            nbytes += p.array.nbytes
        if cur:
            buckets.append(_Bucket(cur, cur[0].array.dtype))
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
        if not self._queued:
            self._queued = True
            engine.queue_callback(self._finish)
        self._ready += 1
        b = self._bucket_of[id(p)]
        b.pending -= 1
        if b.pending == 0:
            self._launch(b)
        for other in self._buckets:  # let MPI progress the buckets already in flight
            if other.request is not None:
                other.request.Test()

    def _launch(self, b):
        from ..distributed import _comm
        for p, view in b.views():
            g = grad_array(p)
            if g is None:
                view[...] = 0
            else:
                np.copyto(view, g)
        if self.trace is not None:
            self.trace.append(("launch", self._buckets.index(b), self._ready))
        b.request = _comm._G.comm.Iallreduce(_comm._G.MPI.IN_PLACE, b.flat, _comm._G.MPI.SUM)

    def _finish(self):
        from ..distributed import _comm
        self._queued = False
        self._ready = 0
        for b in self._buckets:  # parameters that got no gradient count as zeros
            if b.request is None:
                self._launch(b)
        for i, b in enumerate(self._buckets):
            _comm.wait(b.request, f"DistributedDataParallel gradient allreduce (bucket {i})")
            b.request = None
            b.pending = len(b.params)
            np.divide(b.flat, self.world_size, out=b.flat)
            for p, view in b.views():
                g = grad_array(p)
                if g is None:
                    p.grad = view.copy()
                else:
                    np.copyto(g, view)
        if self.trace is not None:
            self.trace.append(("finished", None, None))
