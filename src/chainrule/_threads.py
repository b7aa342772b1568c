"""Thread control: one process-wide count used by every kernel (OMP_NUM_THREADS is the default)."""
from . import _cpus, _kernels


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads every chainrule kernel uses (n >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    if n > 2**31 - 1:
        raise ValueError(f"set_num_threads: n must be <= {2**31 - 1} (a C int), got {n}")
    _kernels.set_num_threads(_cpus.fork_safe_threads(n))


def get_num_threads() -> int:
    """The number of threads chainrule's kernels use."""
    return _kernels.get_num_threads()
