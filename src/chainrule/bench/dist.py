"""Benchmarks for the dist family: data-parallel scaling on one machine (issue 15's bar).

The same float32 training steps (SGD with momentum, cross-entropy) of LeNet-5 1x28x28 b64
and MLP 784-256-256-10 b128 -- the batch is global: each of p ranks trains on b/p -- run as

- 1 rank x p threads: one plain process, and
- p ranks x 1 thread: ``mpiexec -n p``, the model in DistributedDataParallel,

with p = ``--threads`` (at least 2). Both run as child processes (so this process's threads
compete with neither), alternated ``rounds`` times, each keeping its best samples/s. The
table gives both rates, their ratio and the bar (p ranks at least 0.85x of 1 rank), then
the allreduce times measured in the p-rank job with the bus bandwidth
2(p-1)/p x bytes / time (shared memory on one machine). The launcher is ``mpiexec`` next
to the Python executable or on PATH; set ``CHAINRULE_MPIEXEC`` (e.g. ``"srun"`` or
``"mpiexec --oversubscribe"``) to change it; ``-n p`` is appended.

    python -m chainrule bench dist [--threads 2] [--quick]
    python -m chainrule.bench.dist --worker [--steps N] [--blocks K] [--threads T]
        # one configuration (p ranks when started by mpiexec); rank 0 prints one JSON line
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

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
    """Best-of-``blocks`` samples/s (global batch) over ``steps`` training steps."""
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

    def step():
        opt.zero_grad()
        cross_entropy(net(xs), ys).backward()
        opt.step()
    for _ in range(3):
        step()
    best = 0.0
    for _ in range(blocks):  # a fixed step count: the ranks step in lockstep
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps * batch / (time.perf_counter() - t0))
    for h in getattr(net, "_handles", ()):
        h.remove()
    return best, sum(p.array.nbytes for p in model.parameters())


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
    res = {"ranks": world, "threads": args.threads, "cases": {}, "allreduce": []}
    for name, (kind, batch, shape) in CASES.items():
        rate, nbytes = samples_per_s(kind, batch, shape, rank, world, args.steps, args.blocks)
        res["cases"][name] = {"samples_per_s": rate, "gradient_bytes": nbytes}
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
    return (f"dist: data-parallel scaling ({' '.join(many_cmd[:len(mpi) + 2])} ...)\n\n"
            + table(head, rows) + "\n\n"
            + table([f"allreduce ({p} ranks)", "ms", "bus bandwidth GB/s"], ar))


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        sys.exit(worker())
    ap = argparse.ArgumentParser(prog="python -m chainrule.bench.dist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(run(a.threads, a.quick))
