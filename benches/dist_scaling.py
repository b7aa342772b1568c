"""Data-parallel scaling on one machine (issue 15's bar; not collected by pytest).

    python benches/dist_scaling.py [--threads 2] [--quick]

is ``python -m chainrule bench dist``: LeNet-5 b64 and MLP b128 as 1 rank x p threads and
as p ranks x 1 thread (mpiexec -n p, DistributedDataParallel), samples/s of both, the ratio,
the 0.85x bar and the allreduce bus bandwidth. See chainrule/bench/dist.py.
"""
import argparse

from chainrule.bench import dist

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(dist.run(args.threads, args.quick))
