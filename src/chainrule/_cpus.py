"""Thread defaults that fit the machine, and fork safety.

- Default thread count (OMP_NUM_THREADS unset): the CPUs this process may run on (its
  affinity mask), capped by a cgroup CPU quota (containers: v2 ``cpu.max``, v1 CFS quota),
  not the host's core count.
Pure Python (no C calls): chainrule._runtime applies these at import.

- Fork: libgomp's thread pool does not survive ``fork()``; a child whose parent ran a
  parallel region would hang in its first one. A child therefore runs its kernels serially
  (``set_num_threads`` there stays at 1, with a warning).
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Optional

_forked_child = False


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _quota_at(d: str, v2: bool) -> Optional[float]:
    """The quota set in cgroup directory d, in CPUs (None: no file, or "max"/-1 = unlimited)."""
    if v2:
        quota, period = ((_read(os.path.join(d, "cpu.max")) or "max").split() + ["100000"])[:2]
    else:
        quota = (_read(os.path.join(d, "cpu.cfs_quota_us")) or "-1").strip()
        period = (_read(os.path.join(d, "cpu.cfs_period_us")) or "100000").strip()
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def cgroup_cpu_limit(root: str = "/sys/fs/cgroup",
                     proc_cgroup: str = "/proc/self/cgroup") -> Optional[float]:
    """The CPU quota (in CPUs) of this process's cgroup and its ancestors, None if unlimited."""
    limits = []
    for line in (_read(proc_cgroup) or "").splitlines():
        hid, ctrls, path = (line.split(":", 2) + ["", ""])[:3]
        v2 = hid == "0" and ctrls == ""
        if v2:
            base = root
        elif "cpu" in ctrls.split(","):
            base = os.path.join(root, ctrls)
            if not os.path.isdir(base):
                base = os.path.join(root, "cpu")
        else:
            continue
        parts = [p for p in path.strip().split("/") if p]
        for depth in range(len(parts), -1, -1):     # limits of ancestors apply too
            q = _quota_at(os.path.join(base, *parts[:depth]), v2)
            if q is not None:
                limits.append(q)
    return min(limits) if limits else None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by the cgroup quota (>= 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)


def in_forked_child() -> bool:
    """True in a process created by fork() from a process that had imported chainrule."""
    return _forked_child


def fork_safe_threads(n: int) -> int:
    """The thread count a request for ``n`` gets: 1 in a forked child (see module doc)."""
    if _forked_child and n > 1:
        warnings.warn("set_num_threads: this process was forked after chainrule was imported; "
                      "OpenMP's thread pool does not survive fork, so kernels stay on 1 thread "
                      "(use multiprocessing's 'spawn' or 'forkserver' start method for "
                      "multi-threaded workers)", RuntimeWarning, stacklevel=3)
        return 1
    return n


def mark_forked_child() -> None:
    """Called in a child right after fork() (chainrule._runtime's handler)."""
    global _forked_child
    _forked_child = True
