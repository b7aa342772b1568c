"""Truncated backpropagation through time: :func:`fit_sequence` trains a sequence model
``model(x, h0) -> (y, h_n)`` on long sequences (chunks of ``tbptt`` steps, the hidden state
carried forward but detached at chunk boundaries, one optimizer step per chunk, optional
gradient clipping) on the epoch scaffold of :mod:`chainrule.train.loop`;
:func:`evaluate_sequence` is its evaluation.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, TYPE_CHECKING

import numbers
import time

import numpy as np

from .._checks import as_int
from .loop import (_as_input, _as_target, _param_dtype, data_parallel, progress_bar, release,
                   run_epochs, shard_bounds, sum_over_ranks)

if TYPE_CHECKING:
    from ..nn import Module
    from ..optim import Optimizer


# ---- truncated backpropagation through time -------------------------------------------------
def _is_pair(obj) -> bool:
    from ..autograd import Tensor
    return (isinstance(obj, tuple) and len(obj) == 2
            and all(isinstance(a, (np.ndarray, Tensor)) for a in obj))


def _sequence_source(fn, sequences):
    """``(x, y)`` or an iterable of ``(x, y)`` pairs -> something iterable once per epoch."""
    if _is_pair(sequences):
        return [sequences]
    if isinstance(sequences, (np.ndarray, str, bytes)) or not hasattr(sequences, "__iter__"):
        raise TypeError(f"{fn}: sequences must be a pair (x, y) of arrays with x of shape "
                        f"(T, N, I), or an iterable of such pairs; got "
                        f"{type(sequences).__name__}")
    if iter(sequences) is sequences:  # a one-shot iterator would be empty after epoch 1
        sequences = list(sequences)
    return sequences


def _sequence_pair(fn, pair, dtype):
    """Check one (x, y) pair: x (T, N, I) floats with T >= 1, y with T steps on axis 0."""
    from ..autograd import Tensor
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        what = type(pair).__name__
        if isinstance(pair, (tuple, list)):
            what += f" of length {len(pair)}"
        raise TypeError(f"{fn}: each item of sequences must be a pair (x, y) of arrays, got "
                        f"{what}")
    x, y = (a.array if isinstance(a, Tensor) else a for a in pair)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{fn}: x must be a NumPy array (T, N, I), got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: x must hold floats, got dtype {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"{fn}: x must be a time-major sequence (T, N, I), got shape "
                         f"{x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{fn}: x has no time steps (shape {x.shape})")
    y = np.asarray(y)
    if y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{fn}: y must have the same number of steps as x on axis 0: x "
                         f"{x.shape}, y {y.shape}")
    return _as_input(x, dtype), _as_target(y, dtype)


def _tbptt_length(fn, tbptt):
    if tbptt is None:
        return None
    return as_int(fn, "tbptt", tbptt, 1)


def _clip_value(fn, clip):
    if clip is None:
        return None
    if isinstance(clip, (bool, np.bool_)) or not isinstance(clip, numbers.Real):
        raise TypeError(f"{fn}: clip must be a number (the max gradient norm) or None, "
                        f"got {clip!r}")
    if not (float(clip) > 0 and np.isfinite(float(clip))):
        raise ValueError(f"{fn}: clip must be a finite number > 0, got {clip!r}")
    return float(clip)


def _chunks(T, k):
    """[start, stop) bounds of consecutive k-step chunks covering 0..T (the last may be
    shorter); one chunk when k is None or k >= T."""
    k = T if k is None else min(k, T)
    return [(s, min(s + k, T)) for s in range(0, T, k)]


def _detach(state):
    """h_n.detach(), or each part's for a tuple state such as an LSTM's (h_n, c_n)."""
    if isinstance(state, (tuple, list)):
        return type(state)(_detach(s) for s in state)
    return state.detach()


def _run_model(fn, model, x, h):
    res = model(x, h)
    if not (isinstance(res, tuple) and len(res) == 2):
        raise TypeError(f"{fn}: model(x, h0) must return a pair (output, h_n) like nn.RNN, "
                        f"got {type(res).__name__}")
    return res


def evaluate_sequence(model: Module, sequences: Any, loss_fn: Callable[..., Any], *,
                      chunk: Optional[int] = None) -> dict:
    """Mean loss over every step of ``sequences`` (as in :func:`fit_sequence`), in eval
    mode and without recording a graph; returns ``{"loss", "steps"}``.

    Each sequence runs from a zero state; ``chunk=k`` runs it k steps at a time carrying
    the hidden state (the same values as one pass; only the loss is averaged per chunk
    and then weighted by the chunk's length, exactly as :func:`fit_sequence` reports it).
    """
    import chainrule as cr
    fn = "evaluate_sequence"
    k = _tbptt_length(fn, chunk)
    source = _sequence_source(fn, sequences)
    dtype = _param_dtype(model)
    was_training = model.training
    model.eval()
    total, steps = 0.0, 0
    try:
        with cr.no_grad():
            for pair in source:
                x, y = _sequence_pair(fn, pair, dtype)
                h = None
                for s, e in _chunks(x.shape[0], k):
                    out, h = _run_model(fn, model, x[s:e], h)
                    w = (e - s) * x.shape[1]
                    total += float(loss_fn(out, y[s:e]).item()) * w
                    steps += w
    finally:
        model.train(was_training)
    return {"loss": total / steps if steps else None, "steps": steps}


def fit_sequence(model: Module, sequences: Any, loss_fn: Callable[..., Any], optimizer: Optimizer,
                 epochs: int = 1, *, tbptt: Optional[int] = None, clip: Optional[float] = None,
                 val_sequences: Any = None, checkpoint: Any = None, resume: bool = False,
                 schedule: Any = None, progress: Optional[bool] = None, log: Any = None,
                 extra: Optional[Dict[str, Any]] = None,
                 distributed: bool = False) -> list:
    """Train a sequence model on long sequences with truncated BPTT; returns the history.

    ``model(x, h0) -> (output, h_n)`` is time-major like ``nn.RNN`` (``h0=None`` means a
    zero state), e.g. :class:`chainrule.models.SequenceRegressor` or
    :class:`chainrule.models.RecurrentRegressor` (RNN, GRU or LSTM); the state may be a
    tuple such as an LSTM's ``(h_n, c_n)``, carried and detached part by part.
    ``sequences`` is one pair ``(x, y)`` -- x (T, N, I), y (T, ...) with a target for
    every step -- or an
    iterable of such pairs (independent sequences, each starting from a zero state),
    re-iterated every epoch (a one-shot iterator is read into a list first). Note the
    time-major layout: a :class:`chainrule.data.DataLoader` over (S, T, I) samples yields
    (B, T, I) batches, so wrap it to swap axes 0 and 1 (keeping its ``state_dict`` /
    ``load_state_dict``: with them the loader's shuffling is checkpointed too).
    Each sequence is cut into chunks of ``tbptt`` steps (the last may be shorter; None
    means one chunk, i.e. full BPTT). For each chunk, PyTorch's idiom::

        optimizer.zero_grad()
        out, h_n = model(x[s:e], h)          # h: the previous chunk's h_n, detached
        loss = loss_fn(out, y[s:e])          # a scalar, e.g. nn.MSELoss() over the chunk
        loss.backward()                      # gradients stop at the chunk's start
        nn.utils.clip_grad_norm_(model.parameters(), clip)   # if clip is not None
        optimizer.step()
        h = h_n.detach()                     # an LSTM: tuple(s.detach() for s in h_n)

    The forward values are never truncated: the state entering a chunk is the state of
    the full-sequence forward pass at that step; only the gradients are. So an update
    costs O(k) memory and time whatever T is, and the loss at a step credits the inputs
    back to its chunk's start only (1 to k steps). With ``tbptt >= T`` (or None) the
    update is full BPTT, bit for bit.

    History: one dict per epoch with ``train_loss`` (the chunks' losses weighted by their
    steps x batch), ``chunks`` (optimizer steps), ``seconds``, ``steps_per_s`` (time
    steps x batch per second); with ``clip`` also ``grad_norm_max`` (the largest total
    gradient norm before clipping) and ``clipped`` (chunks whose norm exceeded ``clip``);
    with ``val_sequences`` also ``val_loss`` (:func:`evaluate_sequence`, chunked by
    ``tbptt``). ``checkpoint``, ``resume``, ``schedule``, ``progress``, ``log`` and
    ``extra`` work as in :func:`fit`. A non-finite loss raises FloatingPointError.

    ``distributed=True`` (after ``chainrule.distributed.init_process_group``, every rank
    calling with the same ``sequences``): data-parallel TBPTT as :func:`fit` does it. Rank r
    takes the r-th of world-size slices of the batch axis (axis 1 of x and y; N must be at
    least the world size) of every sequence and carries its own hidden state for its
    slice; each chunk's gradients are averaged by
    :class:`~chainrule.nn.parallel.DistributedDataParallel` before clipping and the step,
    so with N divisible by the world size an update is the one-process update on all N
    (to rounding). Losses are summed over ranks; only rank 0 shows progress, logs and
    writes the checkpoint.

    Example -- echo the input from 3 steps back along 600-step sequences::

        import numpy as np, chainrule as cr
        from chainrule import models, nn, optim, train
        rng = np.random.default_rng(0)
        x = rng.standard_normal((600, 8, 1))                       # (T, N, I)
        y = np.concatenate([np.zeros((3, 8, 1)), x[:-3]])          # y_t = x_{t-3}
        cr.manual_seed(0)
        model = models.SequenceRegressor(1, 16, 1).double()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        hist = train.fit_sequence(model, (x, y), nn.MSELoss(), opt, epochs=4,
                                  tbptt=25, clip=1.0)
        # train_loss: ~0.4 in epoch 1, ~0.03 in epoch 4 (96 updates, < 1 s)
    """
    from ..nn.utils import clip_grad_norm_

    fn = "fit_sequence"
    k = _tbptt_length(fn, tbptt)
    clip = _clip_value(fn, clip)
    epochs = as_int(fn, "epochs", epochs, 0)
    source = _sequence_source(fn, sequences)
    loader = sequences if hasattr(sequences, "state_dict") else None  # e.g. a DataLoader
    net, rank, world = data_parallel(model, distributed)
    if rank != 0:
        progress, log = False, None

    def train_epoch(epoch, desc, show, t0):
        dtype = _param_dtype(model)
        params = list(model.parameters())
        total_loss, seen, n_chunks, norm_max, n_clipped = 0.0, 0, 0, 0.0, 0
        bar = progress_bar(desc, show, "chunk")
        try:
            for pair in source:
                x, y = _sequence_pair(fn, pair, dtype)
                if world > 1:
                    x, y = _shard(fn, x, y, rank, world)
                h = None
                for s, e in _chunks(x.shape[0], k):
                    optimizer.zero_grad()
                    out, h_n = _run_model(fn, net, x[s:e], h)
                    loss = loss_fn(out, y[s:e])
                    loss.backward()
                    if clip is not None:
                        norm = float(clip_grad_norm_(params, clip).item())
                        norm_max = max(norm_max, norm)
                        n_clipped += norm > clip
                    optimizer.step()
                    h = _detach(h_n)  # carry the state forward, cut the graph
                    lv = float(loss.item())
                    if not np.isfinite(lv):
                        raise FloatingPointError(
                            f"{fn}: loss became {lv} at epoch {epoch + 1}, steps {s}..{e - 1} "
                            f"(lower the learning rate or set clip?)")
                    w = (e - s) * x.shape[1]
                    total_loss += lv * w
                    seen += w
                    n_chunks += 1
                    bar.update(1)
                    if show:
                        bar.set_postfix({"loss": f"{total_loss / seen:.4f}"}, refresh=False)
        finally:
            bar.close()
        if world > 1:  # grad norms and chunk counts are the same on every rank
            total_loss, seen = sum_over_ranks(total_loss, seen)
        seconds = time.perf_counter() - t0
        rec = {"train_loss": total_loss / seen if seen else None, "chunks": n_chunks,
               "seconds": seconds, "steps_per_s": seen / seconds if seconds > 0 else None}
        if clip is not None:
            rec["grad_norm_max"], rec["clipped"] = norm_max, int(n_clipped)
        return rec

    def validate():
        return {"val_loss": evaluate_sequence(model, val_sequences, loss_fn, chunk=k)["loss"]}

    try:
        return run_epochs(model, optimizer, epochs, train_epoch,
                          validate=None if val_sequences is None else validate,
                          line=_sequence_epoch_line, loader=loader, checkpoint=checkpoint,
                          resume=resume, schedule=schedule, progress=progress, log=log,
                          extra=extra, write=rank == 0)
    finally:
        release(net)


def _shard(fn, x, y, rank, world):
    """Rank's slice of the batch axis (1) of a time-major pair."""
    n = x.shape[1]
    if n < world:
        raise ValueError(f"{fn}: distributed over {world} ranks, the batch axis (1) of x must "
                         f"hold at least {world} sequences, got x of shape {x.shape}")
    if y.ndim < 2 or y.shape[1] != n:
        raise ValueError(f"{fn}: distributed, y must have the batch on axis 1 like x: x "
                         f"{x.shape}, y {y.shape}")
    lo, hi = shard_bounds(n, rank, world)
    return x[:, lo:hi], y[:, lo:hi]


def _sequence_epoch_line(rec, epochs) -> str:
    parts = [f"epoch {rec['epoch']:>{len(str(epochs))}}/{epochs}",
             f"loss {rec['train_loss']:.4f}"]
    if rec.get("val_loss") is not None:
        parts.append(f"val loss {rec['val_loss']:.4f}")
    if rec.get("clipped") is not None:
        parts.append(f"clipped {rec['clipped']}/{rec['chunks']}")
    parts.append(f"{rec['steps_per_s']:.0f} steps/s")
    return "  ".join(parts)
