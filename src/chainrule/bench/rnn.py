"""Benchmarks for the rnn family: one-layer tanh RNN forward + full BPTT backward.

chainrule (ops.rnn_forward + ops.rnn_backward) against torch.nn.RNN forward + backward
on the same thread count, and against chainrule.reference (the NumPy loop over time);
then the gated table (bench/_gated.py): LSTM / GRU forward + BPTT at issue 12's bar shapes
and a 2-layer bidirectional LSTM classifier training step, against PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..ops._registry import bench_cases
from ._util import fmt_ratio, table, timeit, try_torch

# (input, hidden, batch, T): the kernel table's
SIZES = bench_cases("rnn_forward", "cli")
QUICK_SIZES = bench_cases("rnn_forward", "cli_quick")


def _case(I, H, N, T, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    return dict(x=rng.standard_normal((T, N, I)).astype(dtype),
                h0=np.zeros((N, H), dtype),
                w_ih=rng.uniform(-k, k, (H, I)).astype(dtype),
                w_hh=rng.uniform(-k, k, (H, H)).astype(dtype),
                b_ih=rng.uniform(-k, k, H).astype(dtype),
                b_hh=rng.uniform(-k, k, H).astype(dtype),
                dhs=rng.standard_normal((T, N, H)).astype(dtype))


def fwd_bwd_fn(mod, c, nonlinearity="tanh"):
    """A closure running mod.rnn_forward then mod.rnn_backward once (mod: ops or reference)."""
    def run():
        hs = mod.rnn_forward(c["x"], c["h0"], c["w_ih"], c["w_hh"], c["b_ih"], c["b_hh"],
                             nonlinearity)
        return mod.rnn_backward(c["dhs"], c["x"], c["h0"], hs, c["w_ih"], c["w_hh"],
                                nonlinearity)
    return run


def torch_fwd_bwd_fn(torch, c, nonlinearity="tanh"):
    """torch.nn.RNN forward + backward of <output, dhs> (input and parameter grads)."""
    T, N, I = c["x"].shape
    H = c["w_hh"].shape[0]
    m = torch.nn.RNN(I, H, nonlinearity=nonlinearity)
    with torch.no_grad():
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            getattr(m, {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
                        "b_hh": "bias_hh_l0"}[name]).copy_(torch.from_numpy(c[name]))
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    h0 = torch.from_numpy(c["h0"])[None]
    dhs = torch.from_numpy(c["dhs"])

    def run():
        m.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = m(x, h0)
        out.backward(dhs)
    return run


def _numpy_threads(threads):
    """Limit NumPy's BLAS to ``threads`` while the reference runs (if threadpoolctl is there)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads)


def run(threads: int = 2, quick: bool = False) -> str:
    import chainrule as cr
    from chainrule import ops, reference

    cr.set_num_threads(threads)
    torch = try_torch(threads)
    rows = []
    min_time = 0.1 if quick else 0.3
    rounds = 1 if quick else 3
    repeat = 5 if quick else 15
    for (I, H, N, T) in (QUICK_SIZES if quick else SIZES):
        c = _case(I, H, N, T)
        f_cr = fwd_bwd_fn(ops, c)
        f_torch = torch_fwd_bwd_fn(torch, c) if torch else None
        # alternate the peers and keep each one's best of many short repeats: on a shared
        # machine some calls lose their core to other processes; the best call did not
        t_torch: float | None  # None when torch is missing
        t_cr = t_torch = float("inf")
        for _ in range(rounds):
            t_cr = min(t_cr, timeit(f_cr, min_time=min_time, repeat=repeat))
            if f_torch is not None:
                t_torch = min(t_torch, timeit(f_torch, min_time=min_time, repeat=repeat))
        t_torch = None if f_torch is None else t_torch
        with _numpy_threads(threads):
            t_ref = timeit(fwd_bwd_fn(reference, c), min_time=min_time, repeat=3)
        rows.append([f"I={I} H={H} N={N} T={T}", f"{t_cr * 1e3:.2f}",
                     "-" if t_torch is None else f"{t_torch * 1e3:.2f}",
                     fmt_ratio(t_cr, t_torch), f"{t_ref * 1e3:.1f}", f"{t_ref / t_cr:.1f}x"])
    head = (f"### rnn: tanh RNN forward + BPTT backward, float32, {threads} thread(s)\n"
            f"(cr/torch < 1: chainrule is faster; reference = chainrule.reference, the NumPy "
            f"loop over time on BLAS; speed-up = reference / chainrule)\n\n")
    from ._gated import run as run_gated
    return (head + table(["size", "chainrule ms", "torch.nn.RNN ms", "cr/torch",
                          "NumPy reference ms", "speed-up vs reference"], rows)
            + "\n\n" + run_gated(torch, threads, quick))
