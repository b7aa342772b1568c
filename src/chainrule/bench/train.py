"""Benchmarks for the train family: one full training step (zero_grad, forward, loss,
backward, SGD-with-momentum update) of whole models, chainrule vs the same model in
PyTorch (same threads) and, for the dense nets, a hand-written NumPy step; the CNNs of
issue 11 (ResNet-20, MobileNet v1, batch 32 of 3x32x32) train with SGD momentum + weight
decay, their PyTorch twins come from bench/_torch_cnn.py.

Columns: best-of-9 microseconds per step (each peer timed in a process of its own, so
no peer pays for another library's spinning threads; issue 14), the ratio to PyTorch
(< 1: chainrule faster), the part of chainrule's step spent in ``opt.step()`` (the fused
C kernels), and whether the bar (issues 5 and 11) is met: MLP b128 <= 1.0x PyTorch; MLP b16 and
LeNet-5 b64 <= 0.5x; 2-2-1 < 100 us; issue 11's: ResNet-20 and MobileNet v1 b32 <= 0.67x.
On a loaded machine chainrule's kernels drop to 1 thread while the probe sees contention
(csrc/cpu.c); PyTorch's do not: compare runs with ``--threads 1`` or repeat.
"""
from __future__ import annotations

import numpy as np

import contextlib
import time

from ._util import fmt_ratio, step_fns, table, try_torch

# name -> (kind, widths, batch); dense nets are MLP(widths), LeNet-5 reads 1x28x28 images,
# the CNNs 3x32x32 ones (widths: MobileNet's width_mult)
CASES = {
    "MLP 784-256-256-10 b128": ("mlp", (784, 256, 256, 10), 128),
    "MLP 784-256-256-10 b16": ("mlp", (784, 256, 256, 10), 16),
    "LeNet-5 1x28x28 b64": ("lenet", None, 64),
    "2-2-1 sigmoid MSE b4": ("tiny", (2, 2, 1), 4),
    "ResNet-20 3x32x32 b32": ("resnet20", None, 32),
    "MobileNet v1 3x32x32 b32": ("mobilenet", 1.0, 32),
}
CNNS = ("resnet20", "mobilenet")
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4  # weight decay for the CNNs only
# issue 5 and 11 bars: ("torch", r) = at most r times PyTorch's step; ("us", t) = under t us
BARS = {
    "MLP 784-256-256-10 b128": ("torch", 1.0),
    "MLP 784-256-256-10 b16": ("torch", 0.5),
    "LeNet-5 1x28x28 b64": ("torch", 0.5),
    "2-2-1 sigmoid MSE b4": ("us", 100.0),
    "ResNet-20 3x32x32 b32": ("torch", 0.67),
    "MobileNet v1 3x32x32 b32": ("torch", 0.67),
}


def bar_cell(name, t_cr, t_torch):
    """'<= 0.5x torch: met' / 'not met' / '?' (no torch) for the table."""
    kind, v = BARS[name]
    if kind == "us":
        return f"< {v:.0f} us: {'met' if t_cr * 1e6 < v else 'NOT met'}"
    if t_torch is None:
        return f"<= {v}x torch: ?"
    return f"<= {v}x torch: {'met' if t_cr <= v * t_torch else 'NOT met'}"


def make_data(name, seed=0):
    kind, widths, n = CASES[name]
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return rng.standard_normal((n, widths[0])).astype(np.float32), rng.integers(0, 10, n)
    if kind == "lenet":
        return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)
    if kind in CNNS:
        return rng.random((n, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, n)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)  # XOR
    return x, np.array([[0], [1], [1], [0]], np.float32)


def chainrule_step(name, seed=0):
    """(step, opt_step) closures for chainrule; step() returns the loss Tensor."""
    return step_fns(*build_chainrule(name, seed))


def torch_step(torch, name, seed=0):
    """(step, opt_step) closures for the same model, loss and optimizer in PyTorch."""
    model, loss_fn, opt, x, y = build_torch(torch, name, seed)
    return step_fns(model, loss_fn, opt, torch.from_numpy(x), torch.from_numpy(y))


def build_chainrule(name, seed=0, double=False):
    """(model, loss_fn, optimizer, x, y) for chainrule (float32; float64 if ``double``:
    benches/bench_train.py checks the CNNs against PyTorch so, as their float32 steps
    drift apart through 20+ batch norms)."""
    import chainrule as cr
    from chainrule import models, nn, optim

    kind, widths, _ = CASES[name]
    x, y = make_data(name, seed)
    cr.manual_seed(seed)
    if kind == "mlp":
        model, loss_fn = models.MLP(widths[0], list(widths[1:-1]), widths[-1]), \
            nn.CrossEntropyLoss()
    elif kind == "lenet":
        model, loss_fn = models.LeNet5(1, 10, 28), nn.CrossEntropyLoss()
    elif kind in CNNS:
        model = models.resnet20() if kind == "resnet20" else models.mobilenet_v1(
            width_mult=widths)
        if double:
            model, x = model.double(), x.astype(np.float64)
        return (model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=LR,
                momentum=MOMENTUM, weight_decay=WEIGHT_DECAY), x, y)
    else:
        model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
        loss_fn = nn.MSELoss()
    return model, loss_fn, optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM), x, y


def build_torch(torch, name, seed=0, double=False):
    """(model, loss_fn, optimizer, x, y) for the same model in PyTorch (float32; float64
    if ``double``, the CNNs only)."""
    kind, widths, _ = CASES[name]
    x, y = make_data(name, seed)
    torch.manual_seed(seed)
    tnn = torch.nn
    if kind == "mlp":
        layers = [tnn.Flatten()]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(tnn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(tnn.ReLU())
        model, loss_fn = tnn.Sequential(*layers), tnn.CrossEntropyLoss()
    elif kind == "lenet":
        model = tnn.Sequential(
            tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(6, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
            tnn.Linear(16 * 7 * 7, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
            tnn.Linear(84, 10))
        loss_fn = tnn.CrossEntropyLoss()
    elif kind in CNNS:
        from . import _torch_cnn
        model = _torch_cnn.resnet20(torch) if kind == "resnet20" else \
            _torch_cnn.mobilenet_v1(torch, width_mult=widths)
        if double:
            model, x = model.double(), x.astype(np.float64)
        return (model, tnn.CrossEntropyLoss(), torch.optim.SGD(
            model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY), x, y)
    else:
        model, loss_fn = tnn.Sequential(tnn.Linear(2, 2), tnn.Sigmoid(), tnn.Linear(2, 1)), \
            tnn.MSELoss()
    return model, loss_fn, torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM), x, y


def numpy_step(name, seed=0):
    """A hand-written NumPy step for the dense nets (None for the CNNs): the floor a Python
    framework built on NumPy arrays could reach without any autograd bookkeeping."""
    kind, widths, _ = CASES[name]
    if kind == "lenet" or kind in CNNS:
        return None
    x, y = make_data(name, seed)
    rng = np.random.default_rng(seed)
    Ws = [(rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32)
          for a, b in zip(widths[:-1], widths[1:])]
    bs = [np.zeros(b, np.float32) for b in widths[1:]]
    params = Ws + bs
    bufs = [np.zeros_like(p) for p in params]
    onehot = np.eye(widths[-1], dtype=np.float32)[y.ravel()] if kind == "mlp" else None

    def step():
        acts = [x]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = acts[-1] @ W.T + b
            if i < len(Ws) - 1:
                z = np.maximum(z, 0) if kind == "mlp" else 1 / (1 + np.exp(-z))
            acts.append(z)
        out = acts[-1]
        if kind == "mlp":  # softmax cross-entropy, mean over the batch
            e = np.exp(out - out.max(1, keepdims=True))
            p = e / e.sum(1, keepdims=True)
            d = (p - onehot) / len(x)
        else:              # mean squared error
            d = 2 * (out - y) / out.size
        grads_w, grads_b = [None] * len(Ws), [None] * len(Ws)
        for i in reversed(range(len(Ws))):
            grads_w[i] = d.T @ acts[i]
            grads_b[i] = d.sum(0)
            if i:
                d = d @ Ws[i]
                a = acts[i]
                d = d * (a > 0) if kind == "mlp" else d * a * (1 - a)
        for p, g, buf in zip(params, grads_w + grads_b, bufs):
            buf *= MOMENTUM
            buf += g
            p -= LR * buf

    return step


def race(fns: dict, min_time: float = 0.3, repeat: int = 9) -> dict:
    """Best-of-``repeat`` seconds per call for each function, the repeats interleaved
    (a, b, c, a, b, c, ...) so that load from other processes hits every peer alike."""
    inner = {}
    for k, fn in fns.items():
        fn()  # warm-up
        t0 = time.perf_counter()
        fn()
        inner[k] = max(1, int((min_time / repeat) / max(time.perf_counter() - t0, 1e-7)))
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[k]):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / inner[k])
    return best


def blas_threads(n):
    """Limit NumPy's BLAS to n threads while timing (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def time_peer(peer: str, threads: int, quick: bool) -> dict:
    """{case: (seconds per step, seconds per opt.step or None)} for one peer ("cr", "np" or
    "torch") in this process; cases the peer does not have are left out."""
    import chainrule as cr

    if peer not in ("cr", "np", "torch"):
        raise ValueError(f"bench train: unknown peer {peer!r}; expected 'cr', 'np' or 'torch'")
    cr.set_num_threads(threads)
    min_time = 0.05 if quick else 0.3
    torch = try_torch(threads) if peer == "torch" else None
    if peer == "torch" and torch is None:
        return {}
    res = {}
    for name in CASES:
        if peer == "np":
            step, opt_step = numpy_step(name), None
            if step is None:
                continue
        elif peer == "torch":
            step, opt_step = torch_step(torch, name)
        else:
            step, opt_step = chainrule_step(name)
        with blas_threads(threads):
            t = race({peer: step}, min_time)[peer]
            t_opt = None
            if opt_step is not None:
                # opt.step alone, repeated on one gradient: lr 0 keeps the parameters
                # finite (the kernels do the same work for any lr)
                for g in opt_step.__self__.param_groups:
                    g["lr"] = 0.0
                t_opt = race({peer: opt_step}, min_time / 3)[peer]
        res[name] = (t, t_opt)
    return res


def _peer_main(argv=None) -> None:
    """Entry of one peer's process: ``peer threads quick`` -> JSON on stdout."""
    import json
    import sys

    peer, threads, quick = (argv or sys.argv[1:])[:3]
    print(json.dumps(time_peer(peer, int(threads), quick == "1")))


def time_peers_apart(peers, threads: int, quick: bool, rounds: int) -> dict:
    """{peer: {case: (step s, opt.step s)}}: each peer timed in a process of its own (no
    other library's threads exist while it runs), the peers in turn, ``rounds`` times; the
    best time of each over the rounds."""
    import json
    import subprocess
    import sys

    best: dict = {p: {} for p in peers}
    code = "from chainrule.bench.train import _peer_main; _peer_main()"
    for _ in range(rounds):
        for p in peers:
            out = subprocess.run([sys.executable, "-c", code, p, str(threads),
                                  "1" if quick else "0"], capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"bench train: the {p} peer's process failed:\n"
                                   f"{out.stderr[-2000:]}")
            for name, (t, t_opt) in json.loads(out.stdout.strip().splitlines()[-1]).items():
                old = best[p].get(name)
                best[p][name] = (t, t_opt) if old is None else \
                    (min(t, old[0]), None if t_opt is None else min(t_opt, old[1]))
    return best


def run(threads: int = 2, quick: bool = False) -> str:
    torch = try_torch()
    peers = ["cr", "np"] + (["torch"] if torch is not None else [])
    rounds = 1 if quick else 3
    t = time_peers_apart(peers, threads, quick, rounds)
    rows = []
    for name in CASES:
        t_cr, t_opt = t["cr"][name]
        t_np = t["np"].get(name, (None, None))[0]
        t_th, t_th_opt = t.get("torch", {}).get(name, (None, None))
        us = lambda t: "-" if t is None else f"{t * 1e6:.0f}"
        rows.append([name, us(t_cr), us(t_th), fmt_ratio(t_cr, t_th), us(t_np),
                     fmt_ratio(t_cr, t_np), us(t_opt), us(t_th_opt),
                     bar_cell(name, t_cr, t_th)])
    head = (f"### one training step (forward + backward + SGD momentum; weight decay 5e-4 for "
            f"the CNNs), float32, "
            f"{threads} threads")
    method = (f"Method: each peer (chainrule, NumPy, PyTorch) runs in a process of its own, one "
              f"after the other, so no other library's threads spin while it is timed; NumPy's "
              f"BLAS is limited to {threads} threads (threadpoolctl, when installed); per case "
              f"the best of 9 blocks, best over {rounds} round(s) of the peers.")
    return "\n".join([head, "", table(
        ["model", "chainrule us", "torch us", "chainrule/torch", "numpy us", "chainrule/numpy",
         "opt.step us", "torch opt.step us", "bar (issues 5, 11)"], rows), "", method])
