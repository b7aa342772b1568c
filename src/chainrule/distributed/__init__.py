"""chainrule.distributed — PyTorch's ``torch.distributed`` API on MPI (mpi4py).

Launch one process per rank with an MPI launcher (``mpiexec -n 2 python train.py``,
``srun python train.py``) and call :func:`init_process_group` (``backend="mpi"``): the rank and
world size come from the launcher. Collectives (:func:`all_reduce`, :func:`broadcast`,
:func:`all_gather`, :func:`reduce`, :func:`barrier`) work in place on NumPy arrays and
chainrule Tensors (their ``.array``), float32 or float64 (integers too), without copies for
C-contiguous arrays. Install with ``pip install "chainrule[dist]"`` (mpi4py + Open MPI wheels).

Faults never hang silently: every collective is non-blocking underneath and waited for with a
deadline (``timeout`` of :func:`init_process_group`); a rank that raises an uncaught exception
prints its rank and aborts the whole job (``MPI_Abort``), and a rank that dies is reported by
the launcher, which ends the others. :class:`DistributedSampler` shards a dataset by rank.
"""
from ._comm import (ReduceOp, Work, all_gather, all_reduce, barrier, broadcast,
                    destroy_process_group, get_rank, get_world_size, init_process_group,
                    is_available, is_initialized, reduce)
from .sampler import DistributedSampler

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "get_rank", "get_world_size", "barrier", "all_reduce", "broadcast", "all_gather",
           "reduce", "ReduceOp", "Work", "DistributedSampler"]
