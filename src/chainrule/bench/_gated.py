"""The gated rows of ``python -m chainrule bench rnn``: LSTM / GRU forward + full BPTT (one
layer) and a 2-layer bidirectional LSTM classifier training step, chainrule against
PyTorch on the same thread count (issue 12's bars: each at most 0.5x PyTorch's time).

The closures are shared with benches/bench_lstm.py (pytest-benchmark).
"""
from __future__ import annotations

import numpy as np

from ..ops._registry import bench_cases
from ._util import fmt_ratio, step_fns, table, timeit

# (cell, H, N, T), input size = hidden size: the kernel table's
SIZES = [tuple(c) for k in ("lstm_forward", "gru_forward") for c in bench_cases(k, "cli")]
QUICK_SIZES = [tuple(c) for k in ("lstm_forward", "gru_forward")
               for c in bench_cases(k, "cli_quick")]
# the classifier: (input, hidden, layers, batch, T, classes)
CLASSIFIER = (128, 128, 2, 32, 50, 10)
LR, MOMENTUM = 0.01, 0.9


def case(cell, H, N, T, seed=0):
    """Inputs and U(-1/sqrt(H), 1/sqrt(H)) weights of one layer, float32, input = hidden."""
    rng = np.random.default_rng(seed)
    G = 4 if cell == "lstm" else 3
    k = 1 / np.sqrt(H)
    f = np.float32
    return {"x": rng.standard_normal((T, N, H)).astype(f), "h0": np.zeros((N, H), f),
            "w_ih": rng.uniform(-k, k, (G * H, H)).astype(f),
            "w_hh": rng.uniform(-k, k, (G * H, H)).astype(f),
            "b_ih": rng.uniform(-k, k, G * H).astype(f),
            "b_hh": rng.uniform(-k, k, G * H).astype(f),
            "dhs": rng.standard_normal((T, N, H)).astype(f)}


def fwd_bwd_fn(cell, c):
    """One forward + full BPTT on chainrule's kernels (ops.lstm_* / ops.gru_*)."""
    from .. import ops
    x, h0, wi, wh, bi, bh, dhs = (c[k] for k in ("x", "h0", "w_ih", "w_hh", "b_ih", "b_hh",
                                                 "dhs"))
    if cell == "lstm":
        def run():
            out = ops.lstm_forward(x, h0, h0, wi, wh, bi, bh)
            return ops.lstm_backward(dhs, None, x, h0, h0, wi, wh, *out)
    else:
        def run():
            out = ops.gru_forward(x, h0, wi, wh, bi, bh)
            return ops.gru_backward(dhs, x, h0, wi, wh, *out)
    return run


def torch_fwd_bwd_fn(torch, cell, c):
    """The same on torch.nn.LSTM / torch.nn.GRU with the same weights (input and
    parameter gradients); run() returns dx."""
    T, N, H = c["x"].shape
    m = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(H, H)
    with torch.no_grad():
        for k, n in [("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"),
                     ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
            getattr(m, n).copy_(torch.from_numpy(c[k]))
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    g = torch.from_numpy(c["dhs"])

    def run():
        x.grad = None
        m.zero_grad()
        out, _ = m(x)
        out.backward(g)
        return x.grad
    return run


def classifier_data(seed=0):
    I, _, _, N, T, C = CLASSIFIER
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, T, I)).astype(np.float32), rng.integers(0, C, N)


def classifier_step(seed=0):
    """One SGD-with-momentum training step of seqmodels.SequenceClassifier (batch_first
    2-layer bidirectional LSTM, Linear on the top layer's final states, cross-entropy)."""
    import chainrule as cr
    from .. import nn, optim, seqmodels
    I, H, L, _, _, C = CLASSIFIER
    x, y = classifier_data(seed)
    cr.manual_seed(seed)
    model = seqmodels.SequenceClassifier(I, H, C, "lstm", L, bidirectional=True)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return step_fns(model, nn.CrossEntropyLoss(), opt, x, y)[0]


def torch_classifier_step(torch, seed=0):
    """The same model, loss and optimizer in PyTorch."""
    I, H, L, _, _, C = CLASSIFIER
    x, y = classifier_data(seed)
    torch.manual_seed(seed)
    rnn = torch.nn.LSTM(I, H, L, batch_first=True, bidirectional=True)
    fc = torch.nn.Linear(2 * H, C)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        _, (h_n, _) = rnn(tx)
        logits = fc(h_n[-2:].transpose(0, 1).reshape(tx.shape[0], 2 * H))
        loss = loss_fn(logits, ty)
        loss.backward()
        opt.step()
        return loss
    return step


def _pair(f_cr, f_torch, min_time, repeat, rounds):
    """Alternate the peers; each one's best of many short repeats."""
    t_cr = t_torch = float("inf")
    for _ in range(rounds):
        t_cr = min(t_cr, timeit(f_cr, min_time=min_time, repeat=repeat))
        if f_torch is not None:
            t_torch = min(t_torch, timeit(f_torch, min_time=min_time, repeat=repeat))
    return t_cr, (None if f_torch is None else t_torch)


def _bar(t_cr, t_torch, quick):
    if quick:
        return "-"  # the bars are for the full shapes
    if t_torch is None:
        return "<= 0.5x torch: ?"
    return f"<= 0.5x torch: {'met' if t_cr <= 0.5 * t_torch else 'NOT met'}"


def gated_gflop(cell, H, N, T):
    """GFLOP of one LSTM/GRU forward + BPTT with input size = hidden size: six
    (T*N) x (G*H) x H products (forward: x and h; backward: dx, dh, dW_ih, dW_hh), 2 FLOPs
    per multiply-add; the gate pointwise work is not counted."""
    G = 4 if cell == "lstm" else 3
    return 6 * 2 * T * N * G * H * H / 1e9


def run(torch, threads: int, quick: bool) -> str:
    """The gated table (markdown); ``torch`` is the module or None."""
    min_time = 0.1 if quick else 0.3
    rounds = 1 if quick else 3
    repeat = 5 if quick else 15
    rows = []
    for (cell, H, N, T) in (QUICK_SIZES if quick else SIZES):
        c = case(cell, H, N, T)
        f_torch = torch_fwd_bwd_fn(torch, cell, c) if torch else None
        t_cr, t_torch = _pair(fwd_bwd_fn(cell, c), f_torch, min_time, repeat, rounds)
        gflop = gated_gflop(cell, H, N, T)
        rows.append([f"{cell.upper()} H={H} N={N} T={T}", f"{t_cr * 1e3:.2f}",
                     "-" if t_torch is None else f"{t_torch * 1e3:.2f}",
                     fmt_ratio(t_cr, t_torch), f"{gflop / t_cr:.0f}", _bar(t_cr, t_torch, quick)])
    I, H, L, N, T, _ = CLASSIFIER
    f_torch = torch_classifier_step(torch) if torch else None
    t_cr, t_torch = _pair(classifier_step(), f_torch, min_time, repeat, rounds)
    rows.append([f"biLSTM classifier {L} layers I={I} H={H} N={N} T={T} (train step)",
                 f"{t_cr * 1e3:.2f}", "-" if t_torch is None else f"{t_torch * 1e3:.2f}",
                 fmt_ratio(t_cr, t_torch), "-", _bar(t_cr, t_torch, quick)])
    head = (f"### rnn: LSTM / GRU forward + BPTT backward (one layer, input = hidden) and a "
            f"2-layer bidirectional LSTM classifier SGD step, float32, {threads} thread(s)\n"
            f"(cr/torch < 1: chainrule is faster; GFLOP/s counts the six products of the "
            f"step, 3x the forward's)\n\n")
    return head + table(["case", "chainrule ms", "torch ms", "cr/torch", "GFLOP/s", "bar"],
                        rows)
