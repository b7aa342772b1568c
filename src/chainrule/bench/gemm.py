"""Benchmarks for the gemm family: ops.matmul and the dense layer vs NumPy and PyTorch.

GFLOP/s of chainrule, NumPy (its BLAS limited to the same thread count with threadpoolctl
when installed) and PyTorch, the ratio of chainrule to the better peer (> 1: chainrule is
faster), and chainrule as a % of two peaks of this CPU for the vector path in use: the
clock peak (cores x measured scalar clock x FLOP/cycle of the path) and the measured FMA
peak (what a loop of independent vector FMAs reaches on the same threads at once: it
includes the lower clock the cores hold while running AVX-512 on all of them).
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from ..ops._registry import bench_cases
from ._util import IDLE, fmt_ratio, table, timeit, try_torch

# FLOP per cycle per core of each micro-kernel path: FMA units x lanes x 2
FLOP_PER_CYCLE = {"avx512": {"float32": 2 * 16 * 2, "float64": 2 * 8 * 2},
                  "avx2": {"float32": 2 * 8 * 2, "float64": 2 * 4 * 2},
                  "generic": {"float32": 2 * 4 * 2, "float64": 2 * 2 * 2}}


def cpu_mhz() -> float | None:
    """The clock the kernel reports (cpufreq max if available, else /proc/cpuinfo 'cpu MHz')."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            return int(f.read()) / 1000.0
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("cpu MHz"):
                    return float(ln.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def clock_mhz() -> tuple[float | None, str]:
    """(MHz, how it was obtained): measured with a dependent-add chain in C when possible
    (the boost clock the kernels really run at), else the reported clock."""
    from chainrule import _runtime
    ghz = _runtime.cpu_clock_ghz()
    if ghz > 0:
        return 1000.0 * ghz, "measured by a chain of dependent adds"
    return cpu_mhz(), "reported by the kernel (base clock; boost can exceed it)"


def peak_gflops(path: str, dtype: str, threads: int, mhz: float | None) -> float | None:
    if mhz is None:
        return None
    cores = min(threads, os.cpu_count() or 1)
    return cores * mhz / 1000.0 * FLOP_PER_CYCLE.get(path, FLOP_PER_CYCLE["generic"])[dtype]


def fma_peaks(threads: int) -> dict[str, float | None]:
    """dtype -> the measured FMA peak in GFLOP/s of `threads` threads at once (None where
    the probe is not available: generic path)."""
    from chainrule import _runtime
    cores = min(threads, os.cpu_count() or 1)
    peaks = {dt: _runtime.fma_peak_gflops(dt, cores) for dt in ("float32", "float64")}
    return {dt: (g if g > 0 else None) for dt, g in peaks.items()}


@contextlib.contextmanager
def _blas_threads(n: int):
    """Limit NumPy's BLAS to n threads for a fair comparison (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield True


def _best_of_rounds(fns, rounds: int, min_time: float):
    """Seconds per call of each function: the best of several rounds that alternate between
    the implementations, so a burst of load from other processes hits all of them alike
    and the best round of each is one where it ran undisturbed. Each block starts after
    _util.IDLE seconds without calls (timeit), so no peer runs while another's threads
    still spin."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            if fn is not None:
                best[i] = min(best[i], timeit(fn, min_time=min_time / rounds, repeat=3))
    return [None if fn is None else b for fn, b in zip(fns, best)]


# --suite skinny (issue 14): one operand with <= 32 rows or columns and the other in the
# thousands (RNN and fully-connected layers at small batch), plus the square 2048
SKINNY = [(7680, 16, 2560), (2560, 16, 2560), (4096, 32, 4096), (8192, 1, 4096),
          (16, 7680, 2560), (32, 4096, 4096), (2048, 2048, 2048)]
SKINNY_QUICK = [(1024, 16, 512), (16, 1024, 512), (512, 512, 512)]
GEMM_SUITES = ["skinny"]


def _gemm_cases(quick: bool, suite: str | None = None):
    """((M, N, K), dtype) pairs: the kernel table's matmul bench shapes, or a suite's."""
    if suite == "skinny":
        return [(s, "float32") for s in (SKINNY_QUICK if quick else SKINNY)]
    if suite is not None:
        raise ValueError(f"bench gemm: unknown suite {suite!r}; choose from {GEMM_SUITES}")
    return bench_cases("matmul", "cli_quick" if quick else "cli")


def run(threads: int = 2, quick: bool = False, suite: str | None = None) -> str:
    import chainrule as cr
    from chainrule import _runtime, ops

    cr.set_num_threads(threads)
    torch = try_torch(threads)
    path = _runtime.isa()
    mhz, how = clock_mhz()
    fma = fma_peaks(threads)
    min_time = 0.1 if quick else 0.3
    rounds = 2 if quick else 5
    rng = np.random.default_rng(0)
    rows = []
    with _blas_threads(threads) as limited:
        for (M, N, K), dt in _gemm_cases(quick, suite):
            a = rng.standard_normal((M, K)).astype(dt)
            b = rng.standard_normal((K, N)).astype(dt)
            flop = 2.0 * M * N * K
            f_th = None
            if torch is not None:
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                f_th = lambda: ta @ tb
            t_cr, t_np, t_th = _best_of_rounds([lambda: ops.matmul(a, b), lambda: a @ b, f_th],
                                               rounds, min_time)
            rows.append(_row(f"{M}x{N}x{K}", dt, flop, t_cr, t_np, t_th, path, threads, mhz,
                             fma[dt]))

        # dense layer forward + backward, batch 256, 1024 -> 1024
        (N, C, OC), = bench_cases("linear_forward", "cli")
        for dt in (("float32",) if suite is None else ()):
            x = rng.standard_normal((N, C)).astype(dt)
            w = (rng.standard_normal((OC, C)) / 32).astype(dt)
            bias = rng.standard_normal(OC).astype(dt)
            dy = rng.standard_normal((N, OC)).astype(dt)
            flop = 3 * 2.0 * N * C * OC

            def step_cr():
                ops.linear_forward(x, w, bias)
                ops.linear_backward(dy, x, w)

            def step_np():
                x @ w.T + bias
                dy @ w, dy.T @ x, dy.sum(0)

            step_th = None
            if torch is not None:
                tx, tw, tbias, tdy = (torch.from_numpy(v) for v in (x, w, bias, dy))

                def step_th():
                    torch.addmm(tbias, tx, tw.t())
                    tdy @ tw, tdy.t() @ tx, tdy.sum(0)

            t_cr, t_np, t_th = _best_of_rounds([step_cr, step_np, step_th], rounds, min_time)
            rows.append(_row(f"linear fwd+bwd {N}x{C}->{OC}", dt, flop, t_cr, t_np, t_th, path,
                             threads, mhz, fma[dt]))

    headers = ["shape (M,N,K)", "dtype", "chainrule GFLOP/s", "numpy GFLOP/s", "torch GFLOP/s",
               "ratio vs best peer", "% of clock peak", "% of FMA peak"]
    reported = cpu_mhz()
    notes = [
        f"### gemm{'' if suite is None else f' suite {suite}'} (path {path}, {threads} threads"
        f"{'' if limited else '; NumPy BLAS threads NOT limited: threadpoolctl missing'})",
        "",
        table(headers, rows),
        "",
        f"peak = {min(threads, os.cpu_count() or 1)} cores x "
        f"{'?' if mhz is None else f'{mhz:.0f}'} MHz ({how}; /proc/cpuinfo says "
        f"{'?' if reported is None else f'{reported:.0f}'} MHz) x FLOP/cycle of the {path} path "
        f"({FLOP_PER_CYCLE.get(path, {}).get('float32')} fp32, "
        f"{FLOP_PER_CYCLE.get(path, {}).get('float64')} fp64 = 2 FMA units x lanes x 2) = "
        f"{_fmt_peak(peak_gflops(path, 'float32', threads, mhz))} fp32 GFLOP/s "
        f"(the clock peak).",
        f"FMA peak = measured: {min(threads, os.cpu_count() or 1)} threads at once each run "
        f"16 independent chains of {path} FMAs (best of 7 runs) = "
        f"{_fmt_peak(fma['float32'])} fp32, {_fmt_peak(fma['float64'])} fp64 GFLOP/s; below "
        f"the clock peak when the cores clock down for wide vectors on all cores (or under "
        f"load: it is measured in the same conditions as the table).",
        "ratio = chainrule speed / the faster of NumPy and PyTorch (> 1: chainrule faster)"
        + ("; linear row: y = x@w.T+b, dx = dy@w, dw = dy.T@x, db = dy.sum(0)."
           if suite is None else "."),
        f"Method: best of {rounds} rounds; each round times chainrule, NumPy and PyTorch in "
        f"turn, each block after {IDLE} s idle so no other library's threads still spin.",
    ]
    return "\n".join(notes)


def _fmt_peak(g: float | None) -> str:
    return "?" if g is None else f"{g:.0f}"


def _row(shape, dt, flop, t_cr, t_np, t_th, path, threads, mhz, fma=None):
    g = lambda t: None if t is None else flop / t / 1e9
    best_peer = min(t for t in (t_np, t_th) if t is not None)
    peak = peak_gflops(path, dt, threads, mhz)
    return [shape, dt, f"{g(t_cr):.1f}", f"{g(t_np):.1f}",
            "-" if t_th is None else f"{g(t_th):.1f}", fmt_ratio(best_peer, t_cr),
            "-" if peak is None else f"{100 * g(t_cr) / peak:.0f}%",
            "-" if fma is None else f"{100 * g(t_cr) / fma:.0f}%"]
