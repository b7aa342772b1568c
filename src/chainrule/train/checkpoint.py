"""Checkpoints: model + optimizer state, epoch, history and every RNG state in one file.

:func:`save_checkpoint` / :func:`load_checkpoint`: one ``.npz``-compatible archive of
:mod:`chainrule.serialization` (no pickle) holding the model state (``model/<name>``), the
optimizer state (``optim/<index>/<name>``), and in its JSON manifest the epoch, the history
and every RNG state (the global generator of ``cr.manual_seed`` and the loader's own),
written atomically. Training 2 epochs straight or 1 + save + load + 1 gives bitwise
identical parameters.

Loading validates the whole manifest -- format, version, epoch >= 0, the types of its
fields, and every array's name, dtype and shape against the model and optimizer -- before
reading any array, and raises :class:`CheckpointError` (a ValueError) naming the damage.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, TYPE_CHECKING

import os

import numpy as np

from ..serialization import ArchiveReader, SerializationError, write_archive

if TYPE_CHECKING:
    from ..nn import Module
    from ..optim import Optimizer

CHECKPOINT_FORMAT = "chainrule-checkpoint"
CHECKPOINT_VERSION = 2   # 2: the manifest lists every array; 1 (still read): it did not


class CheckpointError(SerializationError):
    """A checkpoint that is damaged, foreign, or does not fit the model/optimizer."""


def _global_generator():
    from .. import _random
    return _random.get_generator()


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def save_checkpoint(path: Any, model: Module, optimizer: Optional[Optimizer] = None,
                    epoch: int = 0, loader: Any = None,
                    history: Optional[List[Dict[str, Any]]] = None,
                    extra: Optional[Dict[str, Any]] = None) -> None:
    """Write model + optimizer state, epoch, RNG states and history to ``path`` atomically.

    The file is a NumPy ``.npz`` (loadable with ``allow_pickle=False``): arrays under
    ``model/<name>`` and ``optim/<index>/<name>``, everything else as JSON in ``meta``.
    """
    arrays = {f"model/{k}": np.asarray(v) for k, v in model.state_dict().items()}
    meta = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": int(epoch),
            "history": _jsonable(history or []), "extra": _jsonable(extra or {}),
            "rng": {"global": _jsonable(_global_generator().bit_generator.state),
                    "loader": _jsonable(loader.state_dict()) if loader is not None else None}}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict = {}
        for idx, st in sd["state"].items():
            for name, v in st.items():
                if isinstance(v, np.ndarray):
                    arrays[f"optim/{idx}/{name}"] = v
                else:
                    scalars.setdefault(str(idx), {})[name] = _jsonable(v)
        meta["optimizer"] = {"type": type(optimizer).__name__,
                             "param_groups": _jsonable(sd["param_groups"]), "scalars": scalars}
    write_archive(path, meta, arrays)


def open_checkpoint(path, fn="load_checkpoint") -> ArchiveReader:
    """Open ``path`` and validate its manifest (no array is read); ``.meta`` holds the
    epoch, history, extra, RNG and optimizer entries, ``.arrays`` the array table."""
    r = ArchiveReader(path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, fn=fn,
                      legacy=(1,), kind="chainrule checkpoint", error=CheckpointError)
    try:
        _check_meta(r)
    except BaseException:
        r.close()
        raise
    return r


def _check_meta(r) -> None:
    m = r.meta

    def bad(what):
        raise CheckpointError(f"{r.fn}: {r.path} has a damaged manifest ({what})")
    epoch = m.get("epoch")
    if type(epoch) is not int or epoch < 0:
        bad(f"epoch {epoch!r}; expected an integer >= 0")
    if not isinstance(m.get("history"), list) or not isinstance(m.get("extra"), dict):
        bad("'history' must be a list and 'extra' an object")
    rng = m.get("rng")
    if not (isinstance(rng, dict) and isinstance(rng.get("global"), dict)
            and (rng.get("loader") is None or isinstance(rng["loader"], dict))):
        bad("'rng' must hold the global generator state")
    om = m.get("optimizer")
    if om is not None and not (isinstance(om, dict) and isinstance(om.get("type"), str)
                               and isinstance(om.get("param_groups"), list)
                               and isinstance(om.get("scalars"), dict)):
        bad("'optimizer' must hold 'type', 'param_groups' and 'scalars'")
    if om is not None and not all(k.isdigit() and isinstance(v, dict)
                                  for k, v in om["scalars"].items()):
        bad("'optimizer' scalars must map parameter indices to objects")
    if om is not None and not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                  for g in om["param_groups"]):
        bad("'optimizer' param_groups must be objects with a 'params' list")
    for name in r.arrays:
        head, _, rest = name.partition("/")
        if not (head == "model" and rest) and not (
                head == "optim" and rest.partition("/")[0].isdigit() and rest.partition("/")[2]):
            bad(f"unexpected array {name!r}")


def _check_fits(r, model, optimizer) -> None:
    """Every array name, shape and dtype kind against the model and optimizer."""
    def bad(what):
        raise CheckpointError(f"{r.fn}: {r.path} does not fit: {what}")
    own = {k: np.shape(v) for k, v in model.state_dict().items()}
    saved = {n[len("model/"):]: s for n, (_, s) in r.arrays.items() if n.startswith("model/")}
    if set(own) != set(saved):
        bad(f"the model has keys {sorted(set(own) - set(saved))} that the checkpoint lacks "
            f"and the checkpoint has {sorted(set(saved) - set(own))} that the model lacks")
    for k, shape in own.items():
        if tuple(saved[k]) != tuple(shape):
            bad(f"{k!r} is {list(saved[k])} in the checkpoint, {list(shape)} in the model")
    if optimizer is None:
        return
    om = r.meta.get("optimizer")
    if om is None:
        raise CheckpointError(f"{r.fn}: {r.path} holds no optimizer state")
    if om["type"] != type(optimizer).__name__:
        raise CheckpointError(f"{r.fn}: {r.path} holds {om['type']} state, the optimizer is "
                              f"{type(optimizer).__name__}")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for n, (_, shape) in r.arrays.items():
        if n.startswith("optim/"):
            idx = int(n.split("/")[1])
            if idx >= len(params) or tuple(shape) != params[idx].array.shape:
                bad(f"optimizer state {n!r} {list(shape)} matches no parameter of the "
                    f"optimizer")


def read_checkpoint(path, model, optimizer=None, fn="load_checkpoint"):
    """(meta, model state dict, optimizer state dict or None), validated against the model
    and optimizer before any array is read; nothing is modified."""
    with open_checkpoint(path, fn) as r:
        _check_fits(r, model, optimizer)
        model_sd = {n[len("model/"):]: r.read(n) for n in r.arrays if n.startswith("model/")}
        opt_sd = None
        if optimizer is not None:
            om, state = r.meta["optimizer"], {}
            for n in r.arrays:
                if n.startswith("optim/"):
                    _, idx, name = n.split("/", 2)
                    state.setdefault(int(idx), {})[name] = r.read(n)
            for idx, d in om["scalars"].items():
                state.setdefault(int(idx), {}).update(d)
            opt_sd = {"state": state, "param_groups": om["param_groups"]}
        return r.meta, model_sd, opt_sd


def load_checkpoint(path: Any, model: Module, optimizer: Optional[Optimizer] = None,
                    loader: Any = None, restore_rng: bool = True) -> dict:
    """Restore what :func:`save_checkpoint` wrote; returns ``{"epoch", "history", "extra"}``.

    The model (and optimizer, loader) must have the same layout as when saving. With
    ``restore_rng`` the global generator and the loader's generator continue exactly.
    A damaged, foreign or non-matching file raises :class:`CheckpointError`.
    """
    path = os.fspath(path)
    meta, model_sd, opt_sd = read_checkpoint(path, model, optimizer)
    try:
        model.load_state_dict(model_sd)
        if optimizer is not None:
            optimizer.load_state_dict(opt_sd)
        if restore_rng:
            _global_generator().bit_generator.state = meta["rng"]["global"]
            if loader is not None and meta["rng"].get("loader") is not None:
                loader.load_state_dict(meta["rng"]["loader"])
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"load_checkpoint: {path} does not fit: {e}") from None
    return {"epoch": meta["epoch"], "history": meta["history"], "extra": meta["extra"]}
