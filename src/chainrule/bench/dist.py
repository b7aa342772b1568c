"""Benchmarks for the dist family: data-parallel scaling on one machine (issue 15's bar).

The same float32 training steps (SGD with momentum, cross-entropy) of LeNet-5 1x28x28 b64
and MLP 784-256-256-10 b128 -- the batch is global: each of p ranks trains on b/p -- run as

- 1 rank x p threads: one plain process, and
- p ranks x 1 thread: ``mpiexec -n p``, the model in DistributedDataParallel,

with p = ``--threads`` (at least 2). Both run as child processes (so this process's threads
compete with neither), alternated ``rounds`` times, each keeping its best samples/s. The
table gives both rates, their ratio and the bar (p ranks at least 0.85x of 1 rank), then
the allreduce times measured in the p-rank job with the bus bandwidth
2(p-1)/p x bytes / time (shared memory on one machine), and where the ranks ran (the cores
each may use, its threads). The launcher is ``mpiexec`` next
to the Python executable or on PATH; set ``CHAINRULE_MPIEXEC`` (e.g. ``"srun"`` or
``"mpiexec --oversubscribe"``) to change it; ``-n p`` is appended.

    python -m chainrule bench dist [--threads 2] [--quick]
    python -m chainrule.bench.dist --model-scaling [--measure]
        # the step-time model (compute + ring allreduce) at 1/10/100 GbE and InfiniBand for
        # p = 1..64 ranks, calibrated on this machine's numbers (docs/scaling.md)
    python -m chainrule.bench.dist --worker [--steps N] [--blocks K] [--threads T]
        # one configuration (p ranks when started by mpiexec); rank 0 prints one JSON line
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from ._util import fmt_ratio, table

BAR = 0.85
# name -> (model kind, global batch, input shape)
CASES = {
    "LeNet-5 1x28x28 b64": ("lenet", 64, (1, 28, 28)),
    "MLP 784-256-256-10 b128": ("mlp", 128, (784,)),
}


# ---- the worker: one configuration ---------------------------------------------------------
def _make(kind):
    from .. import models
    if kind == "lenet":
        return models.LeNet5(1, 10, (28, 28))
    return models.MLP(784, [256, 256], 10)


def samples_per_s(kind, batch, shape, rank, world, steps, blocks):
    """(best-of-``blocks`` samples/s (global batch) over ``steps`` training steps, gradient
    bytes, median ms per step of the phases: forward (with zero_grad and the loss),
    backward (with DDP's allreduce), optimizer step)."""
    import chainrule as cr
    from .. import optim
    from ..nn.functional import cross_entropy
    cr.manual_seed(0)
    model = _make(kind)
    net = model
    if world > 1:
        from ..nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    lo, hi = batch * rank // world, batch * (rank + 1) // world
    xs, ys = x[lo:hi], y[lo:hi]
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    phases: List[List[float]] = [[], [], []]

    def step():
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = cross_entropy(net(xs), ys)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        for times, t in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
            times.append(t)
    for _ in range(3):
        step()
    for times in phases:
        times.clear()
    best = 0.0
    for _ in range(blocks):  # a fixed step count: the ranks step in lockstep
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps * batch / (time.perf_counter() - t0))
    for h in getattr(net, "_handles", ()):
        h.remove()
    return (best, sum(p.array.nbytes for p in model.parameters()),
            [float(np.median(t)) * 1e3 for t in phases])


def allreduce_times(sizes_mb, world):
    """[(MB, seconds per allreduce, bus GB/s)] for float32 buffers (p ranks)."""
    from .. import distributed as dist
    out = []
    for mb in sizes_mb:
        buf = np.ones(max(1, int(mb * 2**20) // 4), dtype=np.float32)
        dist.all_reduce(buf)
        reps = max(2, int(20 / mb))
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(reps):
            dist.all_reduce(buf)
        t = (time.perf_counter() - t0) / reps
        out.append((mb, t, 2 * (world - 1) / world * buf.nbytes / t / 1e9))
    return out


def placement(world):
    """[(rank, cores it may run on, chainrule threads)] of every rank: the ranks of one
    node should be pinned to different cores (Open MPI binds to cores for up to 2 ranks)."""
    import chainrule as cr
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    mine = (0, cores, cr.get_num_threads())
    if world == 1:
        return [mine]
    from .. import distributed as dist
    from ..distributed._comm import allgather_object
    return allgather_object((dist.get_rank(),) + mine[1:])


def _under_mpi():
    return any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                         "SLURM_PROCID"))


def worker(argv=None):
    ap = argparse.ArgumentParser(prog="python -m chainrule.bench.dist --worker")
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--allreduce-mb", default="0.25,1,16")
    args = ap.parse_args(argv)
    import chainrule as cr
    cr.set_num_threads(args.threads)
    rank, world = 0, 1
    if _under_mpi():
        from .. import distributed as dist
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    res = {"ranks": world, "threads": args.threads, "cases": {}, "allreduce": [],
           "placement": placement(world)}
    for name, (kind, batch, shape) in CASES.items():
        rate, nbytes, ms = samples_per_s(kind, batch, shape, rank, world, args.steps,
                                         args.blocks)
        res["cases"][name] = {"samples_per_s": rate, "gradient_bytes": nbytes, "phases_ms": ms}
    if world > 1:
        sizes = [float(s) for s in args.allreduce_mb.split(",")]
        res["allreduce"] = allreduce_times(sizes, world)
        from .. import distributed as dist
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps(res), flush=True)
    return 0


# ---- the family: both configurations, the table -----------------------------------------------
def launcher():
    """The MPI launcher command (a list) or None when mpi4py or mpiexec is missing."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    if os.environ.get("CHAINRULE_MPIEXEC"):
        return shlex.split(os.environ["CHAINRULE_MPIEXEC"])
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    return None if exe is None else [exe]


def _child(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # Open MPI refuses root otherwise
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"bench dist: {' '.join(cmd)} failed (exit {r.returncode}):\n"
                           f"{(r.stdout + r.stderr)[-2000:]}")
    return json.loads(lines[-1])


def run(threads: int = 2, quick: bool = False) -> str:
    mpi = launcher()
    if mpi is None:
        return ("dist: skipped -- needs mpi4py and an MPI launcher "
                "(pip install 'chainrule[dist]')")
    p = max(2, threads)
    steps, blocks, rounds = (2, 1, 1) if quick else (40, 3, 3)
    mb = "0.25" if quick else "0.25,1,16"
    args = ["-m", "chainrule.bench.dist", "--worker", "--steps", str(steps), "--blocks",
            str(blocks), "--allreduce-mb", mb]
    one_cmd = [sys.executable] + args + ["--threads", str(p)]
    many_cmd = mpi + ["-n", str(p), sys.executable] + args + ["--threads", "1"]
    best_one: dict = {}
    best_many: dict = {}
    many: dict = {}
    one: dict = {}
    for _ in range(rounds):  # alternate: load from other processes hits both alike
        one = _child(one_cmd, p)
        many = _child(many_cmd, 1)
        if many["ranks"] != p:
            raise RuntimeError(f"bench dist: the launcher started {many['ranks']} ranks, "
                               f"expected {p}: {' '.join(many_cmd)}")
        for name in CASES:
            best_one[name] = max(best_one.get(name, 0.0), one["cases"][name]["samples_per_s"])
            best_many[name] = max(best_many.get(name, 0.0),
                                  many["cases"][name]["samples_per_s"])
    rows = []
    for name in CASES:
        ratio = best_many[name] / best_one[name]
        rows.append([name, f"{best_one[name]:.0f}", f"{best_many[name]:.0f}",
                     fmt_ratio(best_many[name], best_one[name]),
                     f">= {BAR}x: {'met' if ratio >= BAR else 'NOT met'}",
                     f"{many['cases'][name]['gradient_bytes'] / 2**20:.2f}"])
    head = [f"model (global batch), best of {rounds}", f"1 rank x {p} threads samples/s",
            f"{p} ranks x 1 thread samples/s", "ratio", "bar", "gradients MB"]
    ar = [[f"{m:g} MB float32", f"{t * 1e3:.3f}", f"{bw:.2f}"] for m, t, bw in many["allreduce"]]
    phases = [[cfg, name] + [f"{v:.3f}" for v in res["cases"][name]["phases_ms"]]
              for name in CASES for cfg, res in ((f"1 rank x {p} threads", one),
                                                 (f"{p} ranks x 1 thread", many))]
    where = "; ".join(f"rank {r}: cores {','.join(map(str, c)) or '?'}, {t} thread"
                      + ("s" if t != 1 else "") for r, c, t in many["placement"])
    return (f"dist: data-parallel scaling ({' '.join(many_cmd[:len(mpi) + 2])} ...)\n\n"
            + table(head, rows) + "\n\n"
            + table([f"allreduce ({p} ranks)", "ms", "bus bandwidth GB/s"], ar) + "\n\n"
            + table(["per step, median of the last round (rank 0)", "model",
                     "forward ms", "backward ms (with DDP's allreduce)", "optimizer ms"],
                    phases)
            + f"\n\nplacement ({p} ranks): {where}")


# ---- scaling on paper (issue 15, docs/scaling.md) ------------------------------------------
# Step time on p ranks at a fixed per-rank batch b: compute + ring allreduce,
#   T(p) = fixed + per_sample * b + [p > 1] (2(p-1)/p * G / bandwidth + 2(p-1) * latency)
# (G: gradient bytes). Speed-up S(p) = p T(1) / T(p); efficiency S(p) / p = T(1) / T(p).
# name -> (bandwidth bytes/s one way, latency s per message): assumed, not measured
NETWORKS: Dict[str, Tuple[float, ...]] = {
    "1 GbE": (0.117e9, 50e-6),
    "10 GbE": (1.17e9, 20e-6),
    "100 GbE": (11.7e9, 5e-6),
    "InfiniBand HDR": (24e9, 1.5e-6),
}
# fitted to the allreduce measured by `bench dist` (2 ranks, one node, Open MPI sm BTL):
# 1 MB float32 in 0.19 ms, 8 bytes in 2 us (see docs/scaling.md); the third number: the
# table stops at 2 ranks (the machine it was measured on has 2 cores)
SHARED_MEMORY: Tuple[float, ...] = (5.5e9, 1e-6, 2)
RANKS = (1, 2, 4, 8, 16, 64)
# name -> (model kind, input shape, per-rank batch of the table)
SCALING_MODELS = {
    "MLP 784-256-256-10": ("mlp", (784,), 64),
    "LeNet-5 1x28x28": ("lenet", (1, 28, 28), 32),
    "ResNet-20 3x32x32": ("resnet20", (3, 32, 32), 32),
}
# name -> (s per sample, s fixed per step, gradient bytes): float32 SGD-momentum training
# steps on 1 thread, fitted by measure_compute (batches 16 and 64, min of 15) on the 2-core
# Xeon VM of docs/scaling.md; `--model-scaling --measure` refits them on this machine.
CALIBRATION = {
    "MLP 784-256-256-10": (1.0e-5, 0.6e-3, 1077288),
    "LeNet-5 1x28x28": (1.0e-4, 0.8e-3, 431144),
    "ResNet-20 3x32x32": (5.2e-3, 10e-3, 1078888),
}


def ring_allreduce_seconds(nbytes, ranks, bandwidth, latency):
    """Time of a ring allreduce of ``nbytes`` over ``ranks``: 2(p-1)/p x bytes / bandwidth
    (reduce-scatter + allgather, each moving (p-1)/p of the data) + 2(p-1) latencies."""
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency


def step_seconds(per_sample, fixed, batch, nbytes, ranks, bandwidth, latency):
    """Predicted time of one data-parallel step: compute of ``batch`` samples on each rank
    then the gradients' ring allreduce (no overlap)."""
    return (fixed + per_sample * batch
            + ring_allreduce_seconds(nbytes, ranks, bandwidth, latency))


def speedup(per_sample, fixed, batch, nbytes, ranks, bandwidth, latency):
    """Samples/s of ``ranks`` ranks over samples/s of one, at the same per-rank batch."""
    one = step_seconds(per_sample, fixed, batch, nbytes, 1, bandwidth, latency)
    return ranks * one / step_seconds(per_sample, fixed, batch, nbytes, ranks, bandwidth,
                                      latency)


def min_batch(per_sample, fixed, nbytes, ranks, bandwidth, latency, efficiency=0.5):
    """The smallest per-rank batch at which ``ranks`` ranks keep ``efficiency`` (speed-up /
    ranks = compute / (compute + allreduce)); below it adding ranks stops paying."""
    comm = ring_allreduce_seconds(nbytes, ranks, bandwidth, latency)
    need = comm * efficiency / (1 - efficiency) - fixed  # the compute the batch must bring
    return max(1, math.ceil(need / per_sample - 1e-9))


def _scaling_model(kind, shape):
    from .. import models
    if kind == "resnet20":
        return models.resnet20(10, shape[0])
    return _make(kind)


def measure_compute(kind, shape, batches=(16, 64), repeat=15):
    """(s per sample, s fixed per step, gradient bytes) of float32 SGD-momentum training
    steps: the least CPU time (``time.process_time``) of ``repeat`` steps at each of two
    batch sizes, taken in turns, and the line through them. With one thread CPU time is the
    time an idle core would take, whatever else runs on the machine."""
    import chainrule as cr
    from .. import optim
    from ..nn.functional import cross_entropy
    cr.manual_seed(0)
    model = _scaling_model(kind, shape)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((b,) + tuple(shape)).astype(np.float32),
             rng.integers(0, 10, b)) for b in batches]
    best = [float("inf")] * len(batches)
    for _ in range(repeat + 1):  # the first round warms up (plans, allocations)
        for i, (x, y) in enumerate(data):
            t0 = time.process_time()
            opt.zero_grad()
            cross_entropy(model(x), y).backward()
            opt.step()
            best[i] = min(best[i], time.process_time() - t0)
    per_sample = (best[1] - best[0]) / (batches[1] - batches[0])
    fixed = max(0.0, best[0] - per_sample * batches[0])
    return per_sample, fixed, sum(p.array.nbytes for p in model.parameters())


def scaling_report(calibration=None, ranks=RANKS, networks=None) -> str:
    """The step-time model's tables: per model, predicted step time (ms) and speed-up for
    each network and rank count at the model's per-rank batch, and the per-rank batch
    below which ``p`` ranks fall under 50% efficiency."""
    calibration = calibration or CALIBRATION
    networks = networks or NETWORKS
    out = []
    for name, (kind, shape, batch) in SCALING_MODELS.items():
        per_sample, fixed, nbytes = calibration[name]
        head = ["network (bandwidth, latency)"] + [f"p={p}" for p in ranks] + [
            f"batch for 50% at p={ranks[-2]} / {ranks[-1]}"]
        rows = []
        for net, (bw, lat, *most) in networks.items():
            cells: List[Optional[str]] = []
            for p in ranks:
                if most and p > most[0]:
                    cells.append(None)
                    continue
                t = step_seconds(per_sample, fixed, batch, nbytes, p, bw, lat)
                s = speedup(per_sample, fixed, batch, nbytes, p, bw, lat)
                cells.append(f"{t * 1e3:.2f} ms {s:.1f}x")
            lim = [min_batch(per_sample, fixed, nbytes, p, bw, lat) if not most or p <= most[0]
                   else "-" for p in ranks[-2:]]
            rows.append([f"{net} ({bw / 1e9:g} GB/s, {lat * 1e6:g} us)"] + cells
                        + [" / ".join(map(str, lim))])
        out.append(f"{name}, {batch} samples per rank: compute {per_sample * 1e3:.4f} ms "
                   f"per sample + {fixed * 1e3:.3f} ms per step (1 thread), gradients "
                   f"{nbytes / 2**20:.2f} MB float32\n\n" + table(head, rows))
    return "\n\n".join(out)


def scaling_main(measure=False) -> str:
    calibration = dict(CALIBRATION)
    if measure:
        import chainrule as cr
        cr.set_num_threads(1)
        calibration = {name: measure_compute(kind, shape, repeat=4 if kind == "resnet20" else 15)
                       for name, (kind, shape, _) in SCALING_MODELS.items()}
    nets = dict(NETWORKS)
    nets["shared memory, fitted"] = SHARED_MEMORY
    return ("dist: scaling on paper -- step = compute + ring allreduce "
            "(2(p-1)/p x gradient bytes / bandwidth + 2(p-1) x latency), no overlap, "
            f"one rank per core ({'measured now' if measure else 'stored calibration'})"
            "\n\n" + scaling_report(calibration, networks=nets))


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        sys.exit(worker())
    ap = argparse.ArgumentParser(prog="python -m chainrule.bench.dist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model-scaling", action="store_true",
                    help="print the step-time model's tables (docs/scaling.md) instead")
    ap.add_argument("--measure", action="store_true",
                    help="with --model-scaling: refit the compute times on this machine")
    a = ap.parse_args()
    print(scaling_main(a.measure) if a.model_scaling else run(a.threads, a.quick))
