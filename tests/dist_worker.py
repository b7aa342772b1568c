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


class BNNet(nn.Module):
    """A small CNN with batch norm: conv 3x3 -> BatchNorm2d -> relu -> max pool -> linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        h = self.pool(self.bn(self.conv(x)).relu())
        return self.fc(h.reshape(h.shape[0], 64))


class LSTMNet(nn.Module):
    """Read a (N, 1, 8, 8) image row by row through an LSTM, classify from h_n."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        n = x.shape[0]
        _, (h_n, _) = self.lstm(x.reshape(n, 8, 8))
        return self.fc(h_n.reshape(n, 12))


def build(kind, seed, dtype=np.float64):
    cr.manual_seed(seed)
    m = {"mlp": lambda: models.MLP(64, [32, 16], 10), "cnn": lambda: models.LeNet5(1, 10, (8, 8)),
         "rnn": lambda: models.RNNClassifier(8, 12, 10), "bn": BNNet, "bn-eval": BNNet,
         "lstm": LSTMNet}[kind]()
    if kind == "bn-eval":  # batch norm on its running statistics: a fixed affine map
        m.eval()
    return m.to(dtype)


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
    dtype = next(model.parameters()).array.dtype
    for micro in data:
        opt.zero_grad()
        for k, (x, y) in enumerate(micro):
            n = len(y) // world
            xs, ys = x[shard * n:(shard + 1) * n].astype(dtype), y[shard * n:(shard + 1) * n]
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


def ddp_replica(kind, rank, dtype, opt_name, **ddp_kw):
    """Rank's model (a different init: DDP must broadcast rank 0's) wrapped in DDP with
    small buckets (several per model), and its optimizer."""
    m = build(kind, 100 + rank, dtype)
    if rank == 0:
        m.load_state_dict(build(kind, 0, dtype).state_dict())
    if kind == "bn-eval":  # non-trivial running statistics, rank 0's broadcast by DDP
        rng = np.random.default_rng(100 + rank)
        m.bn.running_mean[...] = rng.standard_normal(4) * (rank + 1)
        m.bn.running_var[...] = rng.uniform(0.5, 2.0, 4)
    ddp = DDP(m, bucket_cap_mb=0.002, **ddp_kw)
    return m, ddp, make_opt(opt_name, ddp.parameters())


def compare(ref, ddp, tol, what):
    """Max |ref - ddp| over the state dicts (keys 'k' vs 'module.k'); asserts < tol."""
    worst = 0.0
    for (k, a), (k2, b) in zip(ref.state_dict().items(), ddp.state_dict().items()):
        assert k2 == "module." + k, (k, k2)
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, (what, k, a.dtype, b.dtype)
        err = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
        scale = max(1.0, float(np.max(np.abs(a)))) if a.size else 1.0
        worst = max(worst, err / scale)
        assert err <= tol * scale, (what, k, err, tol * scale)
    return worst


def equivalence(dtype=np.float64, tol=None):
    """2 ranks with batch B/2 each == 1 rank with batch B, SGD (momentum) and Adam, 3 steps,
    without and with no_sync accumulation of 2 micro-batches; the models: an MLP, LeNet-5,
    an Elman RNN, an LSTM and a CNN with batch norm in eval mode (running statistics, which
    DDP broadcasts from rank 0; training-mode batch norm is the `batchnorm` scenario).
    Every rank computes the 1-rank reference itself (same seed, same data)."""
    rank, world = dist.get_rank(), dist.get_world_size()
    tol = tol or {"sgd": 1e-12, "adam": 1e-12}
    worst = {"sgd": 0.0, "adam": 0.0}
    for kind in ("mlp", "cnn", "rnn", "lstm", "bn-eval"):
        for opt_name in ("sgd", "adam"):
            for micro in (1, 2):
                data = batches(3, micro, 8)
                m, ddp, opt = ddp_replica(kind, rank, dtype, opt_name)
                ref = build(kind, 0, dtype)
                if kind == "bn-eval":
                    ref.load_state_dict(m.state_dict())  # rank 0's statistics, as DDP's
                start = {k: np.array(v) for k, v in ref.state_dict().items()}
                train(ref, make_opt(opt_name, ref.parameters()), data, 0, 1)
                train(m, opt, data, rank, world, ddp)
                w = compare(ref, ddp, tol[opt_name], (kind, opt_name, micro))
                worst[opt_name] = max(worst[opt_name], w)
                last = list(start)[-1]  # the output layer's bias: training moved it
                assert not np.allclose(ref.state_dict()[last], start[last]), (kind, last)
    if rank == 0:
        print(f"OK equivalence {np.dtype(dtype).name} worst relative error " + ", ".join(
            f"{k} {worst[k]:.3g} (tol {tol[k]:g})" for k in worst), flush=True)


def equivalence32():
    # float32: the ranks sum half batches then average, the reference sums the whole batch,
    # so the gradients' rounding differs (~1e-7 relative). SGD moves parameters by lr x
    # gradient: the difference stays at float32 rounding (measured <= 6e-8 relative to
    # max(1, |param|)); tolerance 1e-6. Adam divides by sqrt(v): a gradient element that is
    # itself rounding-sized (a nearly dead ReLU unit of LeNet-5) gets an O(lr) step whose
    # rounding is amplified (measured 4.6e-6, LeNet-5 with no_sync); tolerance 3e-5.
    equivalence(np.float32, {"sgd": 1e-6, "adam": 3e-5})


def batchnorm():
    """Batch norm in training mode under DDP has PyTorch's DDP semantics, not full-batch
    semantics: each rank normalises with its own shard's batch statistics (no
    SyncBatchNorm), gradients are averaged, and before every forward the buffers (running
    statistics) are broadcast from rank 0. The reference simulates exactly that in one
    process: `world` replicas, replica r runs shard r after getting replica 0's buffers;
    their gradients are averaged; rank r must then equal replica r (parameters and
    buffers), float64 to 1e-12, SGD and Adam, with and without no_sync."""
    rank, world = dist.get_rank(), dist.get_world_size()
    worst = 0.0
    for opt_name in ("sgd", "adam"):
        for micro in (1, 2):
            data = batches(3, micro, 8)
            m, ddp, opt = ddp_replica("bn", rank, np.float64, opt_name)
            reps = [build("bn", 0) for _ in range(world)]
            opts = [make_opt(opt_name, r.parameters()) for r in reps]
            for step in data:
                for o in opts:
                    o.zero_grad()
                for x, y in step:
                    bufs = [np.array(b.array) for b in reps[0].buffers()]
                    n = len(y) // world
                    for r, rep in enumerate(reps):
                        for b, v in zip(rep.buffers(), bufs):
                            b.array[...] = v
                        cross_entropy(rep(x[r * n:(r + 1) * n]), y[r * n:(r + 1) * n]).backward()
                for ps in zip(*(r.parameters() for r in reps)):
                    mean = sum(p.grad.array for p in ps) / world
                    for p in ps:
                        p.grad.array[...] = mean
                for o in opts:
                    o.step()
            train(m, opt, data, rank, world, ddp)
            worst = max(worst, compare(reps[rank], ddp, 1e-12, ("bn", opt_name, micro)))
            # and it is not the 1-rank full-batch result (batch statistics differ):
            full = build("bn", 0)
            train(full, make_opt(opt_name, full.parameters()), data, 0, 1)
            assert not np.allclose(full.bn.running_mean.array, reps[0].bn.running_mean.array)
    if rank == 0:
        print(f"OK batchnorm worst {worst:.3g}", flush=True)


def sequence():
    """fit_sequence(distributed=True): truncated BPTT with clipping over 2 ranks (each its
    half of the batch axis and its own hidden state) == one process on the whole batch,
    float64 to 1e-12 -- parameters and history; resumed from rank 0's checkpoint after
    epoch 1; only rank 0 logs."""
    import shutil
    import tempfile
    from chainrule import train
    from chainrule.distributed._comm import broadcast_object
    rank = dist.get_rank()
    rng = np.random.default_rng(5)
    seqs = []
    for T in (23, 17):  # two independent sequences: 4 + 3 chunks of <= 7 steps
        x = rng.standard_normal((T, 4, 2))
        seqs.append((x, np.concatenate([np.zeros((2, 4, 2)), x[:-2]]) + 0.1 * x))

    def model_opt(seed):
        cr.manual_seed(seed)
        m = models.SequenceRegressor(2, 6, 2).double()
        return m, optim.Adam(m.parameters(), lr=0.02)
    kw = dict(tbptt=7, clip=1.0, progress=False)
    ref, ref_opt = model_opt(0)
    want = train.fit_sequence(ref, seqs, nn.MSELoss(), ref_opt, epochs=2, **kw)
    folder = broadcast_object(tempfile.mkdtemp() if rank == 0 else None)
    ckpt = os.path.join(folder, "ckpt.npz")
    lines = []
    m, opt = model_opt(0 if rank == 0 else 100 + rank)
    train.fit_sequence(m, seqs, nn.MSELoss(), opt, epochs=1, checkpoint=ckpt, log=lines.append,
                       distributed=True, **kw)
    m, opt = model_opt(200 + rank)  # everything comes back from the checkpoint
    got = train.fit_sequence(m, seqs, nn.MSELoss(), opt, epochs=2, checkpoint=ckpt,
                             resume=True, log=lines.append, distributed=True, **kw)
    assert (len(lines) == 2) if rank == 0 else not lines, lines
    for k, a in ref.state_dict().items():
        err = float(np.max(np.abs(a - m.state_dict()[k])))
        assert err < 1e-12, (k, err)
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        assert g["chunks"] == w["chunks"] == 7 and g["clipped"] == w["clipped"], (g, w)
        assert abs(g["train_loss"] - w["train_loss"]) < 1e-12 * w["train_loss"], (g, w)
        assert abs(g["grad_norm_max"] - w["grad_norm_max"]) < 1e-12, (g, w)
    assert 0 < want[0]["clipped"] + want[1]["clipped"] < 14, want  # some chunks clipped
    dist.barrier()
    if rank == 0:
        shutil.rmtree(folder)
        print(f"OK sequence loss {want[0]['train_loss']:.4f} -> {want[1]['train_loss']:.4f}",
              flush=True)


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


def views():
    """Gradients are views into the buckets (no copy back) without changing what a user
    sees: the averaged gradients; a gradient held from an earlier step never changes; the
    buffer is reused when nothing else holds it, and always with gradient_as_bucket_view;
    zero_grad(set_to_none=False) averages in place and trains like set_to_none=True."""
    rank, world = dist.get_rank(), dist.get_world_size()
    data = batches(4, 1, 8)
    results = []
    for as_view, none in ((False, True), (False, False), (True, True)):
        m, ddp, opt = ddp_replica("mlp", rank, np.float64, "sgd",
                                  gradient_as_bucket_view=as_view)
        flats = []
        for step, micro in enumerate(data):
            opt.zero_grad(set_to_none=none)
            (x, y), = micro
            n = len(y) // world
            cross_entropy(ddp(x[rank * n:(rank + 1) * n]), y[rank * n:(rank + 1) * n]).backward()
            for b in ddp._buckets:
                for p in b.params:
                    assert p.grad.array.base is b.flat, "the gradient is a view into its bucket"
            flats.append([id(b.flat) for b in ddp._buckets])
            opt.step()
        assert all(f == flats[0] for f in flats), (as_view, none, "buffers were reused")
        # a held gradient: unchanged by the next step without gradient_as_bucket_view
        held = next(iter(m.parameters())).grad
        before = held.array.copy()
        opt.zero_grad()
        (x, y), = data[0]
        cross_entropy(ddp(2 * x[rank::world]), y[rank::world]).backward()
        now = next(iter(m.parameters())).grad.array
        assert as_view or np.array_equal(held.array, before), "a held gradient changed"
        assert as_view or now is not held.array
        assert not as_view or held.array is now, "gradient_as_bucket_view reuses the bucket"
        # the averaged gradient: equal on every rank, equal to the mean of the ranks' own
        mine = [p.grad.array.copy() for p in m.parameters()]
        m2 = build("mlp", 0)
        m2.load_state_dict(m.state_dict())
        cross_entropy(m2(2 * x[rank::world]), y[rank::world]).backward()
        for p, g in zip(m2.parameters(), mine):
            dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)
            assert np.array_equal(p.grad.array, g), "averaged gradients"  # p=2: exact
        results.append(np.concatenate([np.ravel(v) for v in m.state_dict().values()]))
    assert np.allclose(results[0], results[1], rtol=0, atol=1e-12)
    assert np.allclose(results[0], results[2], rtol=0, atol=1e-12)
    if rank == 0:
        print("OK views", flush=True)


class Branches(nn.Module):
    """Two linear maps; the second used only when asked (by some ranks only)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)

    def forward(self, x, use_b):
        return self.a(x) + self.b(x) if use_b else self.a(x)


def unused():
    """A parameter only rank 0 uses: its bucket is ready on rank 0 during backward and only at
    the end on rank 1, yet every rank starts the allreduces in bucket order (MPI matches
    collectives by order: else they mix buckets or fail), and the unused gradient counts
    as zero in the average."""
    rank, world = dist.get_rank(), dist.get_world_size()
    cr.manual_seed(0)
    m = Branches().double()
    ddp = DDP(m, bucket_cap_mb=0.00003)  # one bucket per parameter
    assert len(ddp._buckets) == 4
    x = np.full((2, 3), float(rank + 1))
    for _ in range(2):
        m.zero_grad()
        ddp(x, use_b=rank == 0).sum().backward()
        # d(sum)/dW = column sums of x: 2 (rank + 1) per entry; b only from rank 0
        want_a = sum(2.0 * (r + 1) for r in range(world)) / world
        assert np.array_equal(m.a.weight.grad.array, np.full((2, 3), want_a))
        assert np.array_equal(m.b.weight.grad.array, np.full((2, 3), 2.0 / world))
        assert np.array_equal(m.b.bias.grad.array, np.full(2, 2.0 / world))
    if rank == 0:
        print("OK unused", flush=True)


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
    {"equivalence": equivalence, "equivalence32": equivalence32, "batchnorm": batchnorm,
     "sequence": sequence, "overlap": overlap, "views": views, "unused": unused, "kill": kill, "hang": hang,
     "shapes": shapes}[sys.argv[1]]()
    dist.destroy_process_group()
