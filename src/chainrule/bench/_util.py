"""Shared helpers for ``python -m chainrule bench``: timing, peers, tables."""
from __future__ import annotations

import os
import platform
import time

import numpy as np


# Before each timing block the process sleeps this long, so that a peer timed just before
# (another library) has no thread still spinning: OpenBLAS's threads spin ~0.1 s after a
# call, libgomp's (chainrule's, PyTorch's) a few ms.
IDLE = 0.15
METHOD = (f"Method: chainrule and its peers are timed in turns in one process; each timing "
          f"block starts after {IDLE} s without calls, so no other library's threads are "
          f"still spinning while a peer runs.")


def quiesce(idle: float | None = None) -> None:
    """Sleep until other libraries' worker threads have stopped spinning (see IDLE)."""
    time.sleep(IDLE if idle is None else idle)


def timeit(fn, *, min_time: float = 0.2, repeat: int = 5, warmup: int = 1) -> float:
    """Best-of-``repeat`` seconds per call, each repeat running >= min_time/repeat seconds,
    after IDLE seconds without calls (quiesce)."""
    quiesce()
    for _ in range(warmup):
        fn()
    # pick the inner loop count so one repeat takes about min_time / repeat
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int((min_time / repeat) / one))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def try_torch(threads: int | None = None):
    """Return the torch module (with its thread count set) or None if not installed."""
    try:
        import torch
    except ImportError:
        return None
    if threads is not None:
        torch.set_num_threads(threads)
    return torch


def fmt_ratio(a, b) -> str:
    """a/b as 'x.xx', or '-' when either is missing."""
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def table(headers, rows) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    cells = [[str(h) for h in headers]] + [[("-" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def machine_line(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"machine: {cpu}, {os.cpu_count()} logical CPUs; threads used: {threads}; "
            f"numpy {np.__version__}")


def step_fns(model, loss_fn, opt, x, y):
    """(one training step: zero_grad, forward, loss, backward, opt.step; and opt.step alone),
    for chainrule and PyTorch alike."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, opt.step
