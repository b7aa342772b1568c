"""Data-parallel scaling on one machine (issue 15's bar; not collected by pytest).

    mpiexec -n 2 python benches/dist_scaling.py      # 2 ranks x 1 thread
    python benches/dist_scaling.py --threads 2       # 1 rank x 2 threads (no MPI)

Prints samples/s of training steps for LeNet-5 1x28x28 b64 and MLP 784-256-256-10 b128 (the
global batch; each of p ranks takes b/p) and, under mpiexec, the allreduce bus bandwidth
2(p-1)/p * bytes / time for float32 buffers of the models' gradient sizes and 16 MB.
"""
import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import models, optim
from chainrule.nn.functional import cross_entropy


def steps_per_s(net, params, batch, shape, rank, world, steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    lo, hi = batch * rank // world, batch * (rank + 1) // world
    opt = optim.SGD(params, lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        cross_entropy(net(x[lo:hi]), y[lo:hi]).backward()
        opt.step()
    for _ in range(3):
        step()
    n, t0 = steps, time.perf_counter()  # a fixed count: ranks step in lockstep
    for _ in range(steps):
        step()
    return n * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    cr.set_num_threads(args.threads)
    rank, world = 0, 1
    import os
    if "OMPI_COMM_WORLD_SIZE" in os.environ or "PMI_SIZE" in os.environ:
        import chainrule.distributed as dist
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    cases = [("LeNet-5 1x28x28 b64", lambda: models.LeNet5(1, 10, (28, 28)), 64, (1, 28, 28)),
             ("MLP 784-256-256-10 b128", lambda: models.MLP(784, [256, 256], 10), 128, (784,))]
    for name, make, batch, shape in cases:
        cr.manual_seed(0)
        model = make()
        net = model
        if world > 1:
            from chainrule.nn.parallel import DistributedDataParallel
            net = DistributedDataParallel(model)
        rate = steps_per_s(net, list(model.parameters()), batch, shape, rank, world,
                           args.steps)
        nbytes = sum(p.array.nbytes for p in model.parameters())
        say(f"{name}: {world} rank(s) x {args.threads} thread(s): {rate:.0f} samples/s "
            f"(gradients {nbytes / 2**20:.2f} MB)", flush=True)
    if world > 1:
        import chainrule.distributed as dist
        for mb in (0.25, 1.0, 16.0):
            buf = np.ones(int(mb * 2**20) // 4, dtype=np.float32)
            dist.all_reduce(buf)
            reps, t0 = max(2, int(20 / mb)), time.perf_counter()
            for _ in range(reps):
                dist.all_reduce(buf)
            t = (time.perf_counter() - t0) / reps
            say(f"allreduce {mb:g} MB float32: {t * 1e3:.3f} ms, bus bandwidth "
                f"{2 * (world - 1) / world * buf.nbytes / t / 1e9:.2f} GB/s", flush=True)


if __name__ == "__main__":
    main()
