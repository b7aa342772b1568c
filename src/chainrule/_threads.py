"""Thread control: one process-wide count used by every kernel (OMP_NUM_THREADS is the default)."""
from . import _kernels


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads every chainrule kernel uses (n >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    _kernels.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads chainrule's kernels use."""
    return _kernels.get_num_threads()
