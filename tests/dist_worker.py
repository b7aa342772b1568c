"""Programs run under ``mpiexec -n 2`` by tests/test_distributed.py (one scenario per call).

``python dist_worker.py SCENARIO``; rank 0 prints ``OK <details>`` when the checks pass; any
failed check raises, which aborts the job (non-zero exit status).
"""
import os
import signal
import sys
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import models, nn, optim
from chainrule.nn.functional import cross_entropy
from chainrule.nn.parallel import DistributedDataParallel as DDP


def build(kind, seed):
    cr.manual_seed(seed)
    m = {"mlp": lambda: models.MLP(64, [32, 16], 10), "cnn": lambda: models.LeNet5(1, 10, (8, 8)),
         "rnn": lambda: models.RNNClassifier(8, 12, 10)}[kind]()
    return m.double()


def make_opt(name, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def batches(steps, micro, b, seed=1):
    rng = np.random.default_rng(seed)
    return [[(rng.standard_normal((b, 1, 8, 8)), rng.integers(0, 10, b)) for _ in range(micro)]
            for _ in range(steps)]


def train(model, opt, data, shard, world, ddp=None):
    """One optimizer step per entry of data; each entry is `micro` micro-batches whose
    gradients accumulate (no_sync on all but the last when `ddp`)."""
    for micro in data:
        opt.zero_grad()
        for k, (x, y) in enumerate(micro):
            n = len(y) // world
            xs, ys = x[shard * n:(shard + 1) * n], y[shard * n:(shard + 1) * n]
            net = ddp if ddp is not None else model
            last = k == len(micro) - 1
            ctx = ddp.no_sync() if (ddp is not None and not last) else _null()
            with ctx:
                cross_entropy(net(xs), ys).backward()
        opt.step()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def equivalence():
    rank, world = dist.get_rank(), dist.get_world_size()
    worst = 0.0
    for kind in ("mlp", "cnn", "rnn"):
        for opt_name in ("sgd", "adam"):
            for micro in (1, 2):
                data = batches(3, micro, 8)
                ref = build(kind, 0)
                train(ref, make_opt(opt_name, ref.parameters()), data, 0, 1)
                m = build(kind, 100 + rank)  # different init: DDP must broadcast rank 0's
                if rank == 0:
                    m.load_state_dict(build(kind, 0).state_dict())
                ddp = DDP(m, bucket_cap_mb=0.002)
                train(m, make_opt(opt_name, ddp.parameters()), data, rank, world, ddp)
                for (k, a), (k2, b) in zip(ref.state_dict().items(), ddp.state_dict().items()):
                    assert k2 == "module." + k, (k, k2)
                    err = float(np.max(np.abs(a - b)))
                    worst = max(worst, err)
                    assert err < 1e-12, (kind, opt_name, micro, k, err)
                assert not np.allclose(ref.state_dict()[k], build(kind, 0).state_dict()[k])
    if rank == 0:
        print(f"OK equivalence worst {worst:.3g}", flush=True)


def overlap():
    rank, world = dist.get_rank(), dist.get_world_size()
    m = build("cnn", 0)
    ddp = DDP(m, bucket_cap_mb=0.005)
    ddp.trace = []
    rng = np.random.default_rng(rank)
    x, y = rng.standard_normal((4, 1, 8, 8)), rng.integers(0, 10, 4)
    cross_entropy(ddp(x), y).backward()
    nparams = len(list(m.parameters()))
    launches = [t for t in ddp.trace if t[0] == "launch"]
    assert len(launches) == len(ddp._buckets) > 1, ddp.trace
    assert launches[0][2] < nparams, ddp.trace  # first bucket left while grads still to come
    assert ddp.trace[-1][0] == "finished"
    got = [p.grad.array.copy() for p in m.parameters()]
    m.zero_grad()
    cross_entropy(m(x), y).backward()  # the same gradients, reduced by one all_reduce each
    for p, g in zip(m.parameters(), got):
        dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)
        assert np.array_equal(p.grad, g)
    if rank == 0:
        print(f"OK overlap buckets {len(launches)} first launch after {launches[0][2]}/{nparams}"
              f" gradients", flush=True)


def kill():
    rank = dist.get_rank()
    m = build("mlp", 0)
    ddp = DDP(m)
    opt = make_opt("sgd", ddp.parameters())
    for step, micro in enumerate(batches(1000, 1, 8)):
        if rank == 1 and step == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        (x, y), = micro
        opt.zero_grad()
        cross_entropy(ddp(x), y).backward()
        opt.step()
    print("NOT KILLED", flush=True)


def hang():
    if dist.get_rank() == 1:
        time.sleep(30)  # skips the collective: rank 0's watchdog must end the job
    dist.all_reduce(np.ones(3))


def shapes():
    m = models.MLP(64, [32 + dist.get_rank(), 16], 10)
    DDP(m)


if __name__ == "__main__":
    cr.set_num_threads(1)
    dist.init_process_group("mpi", timeout=float(os.environ.get("DIST_TIMEOUT", 600)))
    {"equivalence": equivalence, "overlap": overlap, "kill": kill, "hang": hang,
     "shapes": shapes}[sys.argv[1]]()
    dist.destroy_process_group()
