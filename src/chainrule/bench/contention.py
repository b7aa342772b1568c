"""Benchmarks for the contention family (issue 14, item 3): training-step latency when the
CPU is not all chainrule's.

1. LeNet-5 b64 step latency (p50, p90) at 1 and 2 threads, alone and with a competing
   busy process (a Python busy loop this benchmark starts, pinned to the last CPU this
   process may use). Bar: with the competitor, p90 at 2 threads <= 1.2x p90 at 1 thread.
2. MLP 784-256-256-10 b128 step alone and right after a NumPy 256x256 float64 matmul
   (OpenBLAS at its default thread count, whose threads keep spinning after the call).
   Bar: the step after NumPy <= 1.2x the step alone (p50). OpenBLAS's idle threads spin
   ~0.1 s, holding a core, so at best the step runs at its 1-thread speed; the last row
   shows the step with that spin shortened (OPENBLAS_THREAD_TIMEOUT, its own process).
Each measurement also runs with chainrule's contention probe off (CHAINRULE_ADAPTIVE_THREADS=0
behaviour) to show what the probe buys. Steps alternate between the compared settings in
short blocks so that load from other processes hits them alike.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from ._util import table

BUSY = "while True: pass"


def start_competitor():
    """A busy-looping Python process pinned to the last CPU we may use (None if <2 CPUs)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None
    p = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        os.sched_setaffinity(p.pid, {cpus[-1]})
    except OSError:
        pass
    time.sleep(0.05)  # let it start spinning
    return p


def stop_competitor(p):
    if p is not None:
        p.kill()
        p.wait()


def _pct(ts, q):
    return float(np.percentile(np.asarray(ts), q)) * 1e3


def step_latencies(settings: dict, steps: int, block: int = 25, before=None,
                   settle: float = 0.0) -> dict:
    """Per-step seconds for each setting, run in alternating blocks of ``block`` steps
    (switching the probe on re-arms it: one probe per block).
    ``settings`` maps a label to (step function, threads, probe on); ``before(label)`` runs
    (untimed) before each timed step when given; ``settle`` seconds of sleep before each
    block let the previous block's spinning pools (OpenBLAS's spin ~0.1 s) go idle."""
    import chainrule as cr
    from chainrule import _runtime

    out: dict = {k: [] for k in settings}
    for label, (fn, threads, probe) in settings.items():   # warm-up
        cr.set_num_threads(threads)
        _runtime.contention_probe(probe)
        for _ in range(3):
            fn()
    done, block = 0, max(1, min(block, steps // 4))
    while done < steps:
        for label, (fn, threads, probe) in settings.items():
            cr.set_num_threads(threads)
            _runtime.contention_probe(probe)
            if settle:
                time.sleep(settle)
            for _ in range(block):
                if before is not None:
                    before(label)
                t0 = time.perf_counter()
                fn()
                out[label].append(time.perf_counter() - t0)
        done += block
    return out


def mlp_after_blas(mlp, threads: int, steps: int, quick: bool) -> dict:
    """Step seconds of ``mlp`` alone (``threads`` and 1 thread) and right after a NumPy
    256x256 float64 matmul (probe on and off)."""
    a = np.random.default_rng(0).standard_normal((256, 256))
    matmul = lambda label: a @ a if label.startswith("after") else None
    return step_latencies({"alone": (mlp, threads, True), "alone-1": (mlp, 1, True),
                           "after": (mlp, threads, True), "after-off": (mlp, threads, False)},
                          steps, before=matmul, settle=0.0 if quick else 0.3)


SHORT_SPIN = 18  # OpenBLAS idles its threads after 2^18 cycles (~0.1 ms) instead of 2^28


def short_spin_process(threads: int, steps: int, quick: bool):
    """(p50 alone, p50 and p90 after a NumPy matmul) in ms of the MLP step in a fresh process
    whose OpenBLAS spins only 2^SHORT_SPIN cycles (OPENBLAS_THREAD_TIMEOUT is read when
    NumPy loads OpenBLAS, so it needs its own process); None if that process failed."""
    code = ("import json, sys; from chainrule.bench import contention as c; "
            "from chainrule.bench.train import chainrule_step; "
            "t = c.mlp_after_blas(chainrule_step('MLP 784-256-256-10 b128')[0], "
            f"{threads}, {steps}, {quick}); "
            "print(json.dumps([c._pct(t['alone'], 50), c._pct(t['after'], 50), "
            "c._pct(t['after'], 90)]))")
    env = dict(os.environ, OPENBLAS_THREAD_TIMEOUT=str(SHORT_SPIN))
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=600, check=True)
        import json
        return tuple(json.loads(out.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def run(threads: int = 2, quick: bool = False, steps: int | None = None) -> str:
    import chainrule as cr
    from chainrule import _runtime
    from .train import chainrule_step

    steps = steps or (20 if quick else 200)
    was_on = _runtime.contention_probe()[2]
    lenet, _ = chainrule_step("LeNet-5 1x28x28 b64")
    mlp, _ = chainrule_step("MLP 784-256-256-10 b128")
    rows = []
    try:
        for busy in (False, True):
            comp = start_competitor() if busy else None
            try:
                t = step_latencies({"1": (lenet, 1, True), "n": (lenet, threads, True),
                                    "n-off": (lenet, threads, False)}, steps)
            finally:
                stop_competitor(comp)
            p1 = _pct(t["1"], 90)
            where = "with a busy process" if busy else "alone"
            for label, name in (("1", "1 thread"), ("n", f"{threads} threads"),
                                ("n-off", f"{threads} threads, probe off")):
                p90 = _pct(t[label], 90)
                bar = "-"
                if busy and label != "1":
                    bar = f"{p90 / p1:.2f} ({'met' if p90 <= 1.2 * p1 else 'NOT met'})"
                rows.append([f"LeNet-5 b64, {where}", name, f"{_pct(t[label], 50):.2f}",
                             f"{p90:.2f}", bar])

        t = mlp_after_blas(mlp, threads, steps, quick)
        base = _pct(t["alone"], 50)
        for label, name, n in (("alone", "alone", threads), ("alone-1", "alone", 1),
                               ("after", "after NumPy 256x256 matmul", threads),
                               ("after-off", "after NumPy matmul, probe off", threads)):
            p50 = _pct(t[label], 50)
            bar = "-" if label.startswith("alone") else \
                f"{p50 / base:.2f} ({'met' if p50 <= 1.2 * base else 'NOT met'})"
            rows.append([f"MLP b128 {name}", f"{n} thread{'s' if n > 1 else ''}", f"{p50:.2f}",
                         f"{_pct(t[label], 90):.2f}", bar])
        short = short_spin_process(threads, steps, quick)
        name = f"MLP b128 after NumPy matmul, OPENBLAS_THREAD_TIMEOUT={SHORT_SPIN} (own process)"
        if short is None:
            rows.append([name, f"{threads} threads", "-", "-", "failed to run"])
        else:
            base, p50, p90 = short
            rows.append([name, f"{threads} threads", f"{p50:.2f}", f"{p90:.2f}",
                         f"{p50 / base:.2f} ({'met' if p50 <= 1.2 * base else 'NOT met'})"])
    finally:
        cr.set_num_threads(threads)
        _runtime.contention_probe(was_on)
    head = f"### training-step latency under CPU contention, float32 ({steps} steps each)"
    notes = ("ratio = LeNet rows: p90 / p90 at 1 thread with the same busy process (bar <= 1.2); "
             "MLP rows: p50 / p50 alone at the same thread count (bar <= 1.2). Method: one "
             "process; the settings alternate in blocks of 25 steps; the busy process is a "
             "Python loop pinned to the last CPU; the MLP blocks start after 0.3 s of sleep, "
             "so no block inherits the previous one's spinning OpenBLAS threads (they spin "
             "~0.1 s after each call, holding a core: no chainrule thread count can then beat "
             "the step at 1 thread; the last row shortens their spin in a process of its "
             "own, ratio against that process's step alone); 'probe off' = "
             "CHAINRULE_ADAPTIVE_THREADS=0 behaviour. "
             "The ratios hold only on an otherwise idle machine: other load changes the "
             "1-thread baseline.")
    return "\n".join([head, "", table(["case", "threads", "p50 ms", "p90 ms", "ratio (bar)"],
                                      rows), "", notes])
