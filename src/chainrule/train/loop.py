"""The epoch scaffold shared by :func:`fit` and :func:`~chainrule.train.fit_sequence`,
:func:`fit` itself and :func:`evaluate`.

:func:`run_epochs` owns everything that is the same for every kind of training: resuming
from a checkpoint, the lr schedule, the progress-bar switch, the history, the per-epoch log
line and the checkpoint written after each epoch. A caller supplies only ``train_epoch``
(one pass over its data, returning the epoch's numbers) and optionally ``validate``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, TYPE_CHECKING

import os
import sys
import time

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from ..nn import Module
    from ..optim import Optimizer


# ---- helpers --------------------------------------------------------------------------------
def _param_dtype(model):
    for p in model.parameters():
        return p.array.dtype
    return np.dtype(np.float32)


def _as_input(xb, dtype):
    """Loader batches come as NumPy; float inputs follow the model's dtype."""
    xb = np.asarray(xb)
    if xb.dtype.kind == "f" and xb.dtype != dtype:
        xb = xb.astype(dtype)
    return xb


def _as_target(yb, dtype):
    yb = np.asarray(yb)
    if yb.dtype.kind == "f" and yb.dtype != dtype:
        yb = yb.astype(dtype)
    return yb


def _n_correct(out: np.ndarray, yb: np.ndarray):
    """Correct predictions for class-index targets (N,) or one-hot/probability targets
    (N, C); None when the task is not a classification (no accuracy is reported)."""
    if out.ndim != 2:
        return None
    if yb.ndim == 1 and yb.dtype.kind in "iu":
        return int(np.count_nonzero(out.argmax(axis=1) == yb))
    if yb.ndim == 2 and yb.shape == out.shape:
        return int(np.count_nonzero(out.argmax(axis=1) == yb.argmax(axis=1)))
    return None


def _progress_enabled(progress) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


def progress_bar(desc, show, unit, iterable=None):
    """The tqdm bar of one epoch (to stderr, removed when done; disabled unless ``show``)."""
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, disable=not show, leave=False, unit=unit,
                dynamic_ncols=True)


# ---- evaluation -------------------------------------------------------------------------------
def evaluate(model: Module, loader: Any, loss_fn: Optional[Callable[..., Any]] = None) -> dict:
    """Mean loss (if ``loss_fn``), accuracy (classification only) and sample count over
    ``loader``, in eval mode and without recording a graph; the mode is restored."""
    import chainrule as cr
    was_training = model.training
    model.eval()
    dtype = _param_dtype(model)
    total_loss, correct, n, acc_ok = 0.0, 0, 0, True
    try:
        with cr.no_grad():
            for xb, yb in loader:
                xb, yb = _as_input(xb, dtype), _as_target(yb, dtype)
                out = model(xb)
                bs = len(yb)
                if loss_fn is not None:
                    total_loss += float(loss_fn(out, yb).item()) * bs
                c = _n_correct(out.array, yb)
                acc_ok = acc_ok and c is not None
                correct += c or 0
                n += bs
    finally:
        model.train(was_training)
    return {"loss": total_loss / n if (n and loss_fn is not None) else None,
            "accuracy": correct / n if (n and acc_ok) else None, "n": n}


# ---- schedules ------------------------------------------------------------------------------
def cosine_schedule(epochs, final=0.0):
    """lr factor for epoch e (0-based): cosine from 1 at the start to ``final`` at the end."""
    def factor(e):
        return final + (1.0 - final) * 0.5 * (1.0 + np.cos(np.pi * e / max(epochs, 1)))
    return factor


def _apply_schedule(optimizer, schedule, epoch):
    """lr of every group = its initial lr * schedule(epoch) (nothing when schedule is None)."""
    if schedule is None:
        return
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
        group["lr"] = group["initial_lr"] * float(schedule(epoch))


# ---- data parallel (shared by fit and fit_sequence) -------------------------------------------
def data_parallel(model, distributed):
    """(the module to call, rank, world size): ``model`` itself and (0, 1) unless
    ``distributed``, else ``model`` wrapped in DistributedDataParallel (process group
    initialized by the caller)."""
    if not distributed:
        return model, 0, 1
    from .. import distributed as dist
    from ..nn.parallel import DistributedDataParallel
    return DistributedDataParallel(model), dist.get_rank(), dist.get_world_size()


def shard_bounds(n, rank, world):
    """[lo, hi) of rank's slice when n samples are split into world nearly equal parts."""
    return n * rank // world, n * (rank + 1) // world


def sum_over_ranks(*numbers):
    """The numbers summed over all ranks (float64), one all_reduce."""
    from .. import distributed as dist
    sums = np.array(numbers, dtype=np.float64)
    dist.all_reduce(sums)
    return [float(v) for v in sums]


def release(net):
    """Remove DistributedDataParallel's gradient hooks: the model trains alone again."""
    for handle in getattr(net, "_handles", ()):
        handle.remove()


# ---- the epoch scaffold -----------------------------------------------------------------------
def run_epochs(model, optimizer, epochs, train_epoch, *, validate=None, line, loader=None,
               checkpoint=None, resume=False, schedule=None, progress=None, log=None,
               extra=None, write=True) -> list:
    """Run epochs ``start..epochs-1`` and return the history (one dict per epoch).

    ``train_epoch(epoch, desc, show, t0) -> dict`` trains one epoch (``desc`` labels its
    progress bar, ``show`` says whether to draw it, ``t0`` is the epoch's start time) and
    returns the record's numbers; ``validate() -> dict`` adds validation numbers;
    ``line(record, epochs) -> str`` formats the ``log`` line. With ``resume`` and an
    existing ``checkpoint`` the model, optimizer, RNG states (global and ``loader``'s) and
    history are restored and training continues after the saved epoch; the checkpoint is
    rewritten after every epoch (unless ``write`` is False: a distributed rank other than 0
    reads the checkpoint to resume but never writes it).
    """
    history, start = [], 0
    if resume and checkpoint is not None and os.path.exists(checkpoint):
        info = load_checkpoint(checkpoint, model, optimizer, loader)
        history, start = list(info["history"]), int(info["epoch"])
    show = _progress_enabled(progress)
    model.train()
    for epoch in range(start, epochs):
        _apply_schedule(optimizer, schedule, epoch)
        t0 = time.perf_counter()
        rec = {"epoch": epoch + 1}
        rec.update(train_epoch(epoch, f"epoch {epoch + 1}/{epochs}", show, t0))
        if validate is not None:
            rec.update(validate())
        history.append(rec)
        if log is not None:
            log(line(rec, epochs))
        if checkpoint is not None and write:
            save_checkpoint(checkpoint, model, optimizer, epoch + 1, loader, history, extra)
    return history


# ---- fit ------------------------------------------------------------------------------------
def fit(model: Module, loader: Any, loss_fn: Callable[..., Any], optimizer: Optimizer,
        epochs: int = 1, val_loader: Any = None, *, checkpoint: Any = None, resume: bool = False,
        schedule: Any = None, progress: Optional[bool] = None, log: Any = None,
        extra: Optional[Dict[str, Any]] = None, distributed: bool = False) -> list:
    """Train ``model`` for ``epochs`` epochs; returns the history (one dict per epoch).

    Each step: ``optimizer.zero_grad()``, ``loss = loss_fn(model(x), y)``,
    ``loss.backward()``, ``optimizer.step()``. Inputs are cast to the model's float dtype.
    After each epoch ``val_loader`` (if any) is evaluated and ``checkpoint`` (a path, if
    any) is written. With ``resume`` and an existing checkpoint, training restarts after
    the saved epoch with the saved model, optimizer, RNG states and history.
    ``schedule(epoch) -> factor`` (0-based epoch) sets every group's lr to factor times
    its ``initial_lr`` (recorded in the group on first use, as PyTorch's schedulers do) at
    the start of each epoch. ``progress``: True/False, or None to show a bar only on a
    terminal. ``log(str)`` is called with a one-line summary per epoch. ``extra`` (a
    JSON-able dict) is stored in every checkpoint, e.g. how inputs were normalized.

    ``distributed=True`` (after ``chainrule.distributed.init_process_group``, every rank
    calling fit with the same arguments): data-parallel training. ``loader`` must yield the
    same batches on every rank (seed it); rank r trains on the r-th of world-size equal
    slices of each batch through :class:`~chainrule.nn.parallel.DistributedDataParallel`, so
    a step is the one-process step on the whole batch. Loss, accuracy and sample counts are
    summed over ranks; only rank 0 shows progress, logs and writes the checkpoint (every
    rank reads it with ``resume``).
    """
    net, rank, world = data_parallel(model, distributed)
    if rank != 0:
        progress, log = False, None

    def train_epoch(epoch, desc, show, t0):
        dtype = _param_dtype(model)
        total_loss, correct, seen, acc_ok = 0.0, 0, 0, True
        bar = progress_bar(desc, show, "batch", loader)
        try:
            for xb, yb in bar:
                xb, yb = _as_input(xb, dtype), _as_target(yb, dtype)
                if world > 1:  # this rank's slice of the batch
                    lo, hi = shard_bounds(len(yb), rank, world)
                    xb, yb = xb[lo:hi], yb[lo:hi]
                optimizer.zero_grad()
                out = net(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                optimizer.step()
                bs = len(yb)
                lv = float(loss.item())
                if not np.isfinite(lv):
                    raise FloatingPointError(f"fit: loss became {lv} at epoch {epoch + 1} "
                                             f"(lower the learning rate?)")
                total_loss += lv * bs
                c = _n_correct(out.array, yb)
                acc_ok = acc_ok and c is not None
                correct += c or 0
                seen += bs
                if show:
                    rate = seen / max(time.perf_counter() - t0, 1e-9)
                    post = {"loss": f"{total_loss / seen:.4f}", "samples/s": f"{rate:.0f}"}
                    if acc_ok:
                        post["acc"] = f"{100 * correct / seen:.1f}%"
                    bar.set_postfix(post, refresh=False)
        finally:
            bar.close()
        if distributed:  # the epoch's numbers over all ranks
            total_loss, correct, seen, ok = sum_over_ranks(total_loss, correct, seen,
                                                           int(acc_ok))
            correct, seen, acc_ok = int(correct), int(seen), int(ok) == world
        seconds = time.perf_counter() - t0
        return {"train_loss": total_loss / seen if seen else None,
                "train_accuracy": correct / seen if (seen and acc_ok) else None,
                "seconds": seconds, "samples_per_s": seen / seconds if seconds > 0 else None}

    def validate():
        ev = evaluate(model, val_loader, loss_fn)
        return {"val_loss": ev["loss"], "val_accuracy": ev["accuracy"]}

    try:
        return run_epochs(model, optimizer, epochs, train_epoch,
                          validate=None if val_loader is None else validate, line=_epoch_line,
                          loader=loader, checkpoint=checkpoint, resume=resume,
                          schedule=schedule, progress=progress, log=log, extra=extra,
                          write=rank == 0)
    finally:
        release(net)


def _epoch_line(rec, epochs) -> str:
    parts = [f"epoch {rec['epoch']:>{len(str(epochs))}}/{epochs}",
             f"loss {rec['train_loss']:.4f}"]
    if rec.get("train_accuracy") is not None:
        parts.append(f"acc {100 * rec['train_accuracy']:5.1f}%")
    if rec.get("val_loss") is not None:
        parts.append(f"val loss {rec['val_loss']:.4f}")
    if rec.get("val_accuracy") is not None:
        parts.append(f"val acc {100 * rec['val_accuracy']:5.1f}%")
    parts.append(f"{rec['samples_per_s']:.0f} samples/s")
    return "  ".join(parts)
