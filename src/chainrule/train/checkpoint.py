"""Checkpoints: model + optimizer state, epoch, history and every RNG state in one file.

:func:`save_checkpoint` / :func:`load_checkpoint`: one ``.npz`` (no pickle) holding the
model state, the optimizer state, the epoch, the history and every RNG state (the global
generator of ``cr.manual_seed`` and the loader's own), written atomically (temporary file +
``os.replace``). Training 2 epochs straight or 1 + save + load + 1 gives bitwise identical
parameters.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

CHECKPOINT_FORMAT = "chainrule-checkpoint"
CHECKPOINT_VERSION = 1


def _global_generator():
    from .. import _random
    return _random.get_generator()


# ---- checkpoints ------------------------------------------------------------------------------
def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def save_checkpoint(path, model, optimizer=None, epoch=0, loader=None, history=None,
                    extra=None) -> None:
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
        scalars = {}
        for idx, st in sd["state"].items():
            for name, v in st.items():
                if isinstance(v, np.ndarray):
                    arrays[f"optim/{idx}/{name}"] = v
                else:
                    scalars.setdefault(str(idx), {})[name] = _jsonable(v)
        meta["optimizer"] = {"type": type(optimizer).__name__,
                             "param_groups": _jsonable(sd["param_groups"]), "scalars": scalars}
    arrays["meta"] = np.array(json.dumps(meta))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file 0600; give it the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path, model, optimizer=None, loader=None, restore_rng=True) -> dict:
    """Restore what :func:`save_checkpoint` wrote; returns ``{"epoch", "history", "extra"}``.

    The model (and optimizer, loader) must have the same layout as when saving. With
    ``restore_rng`` the global generator and the loader's generator continue exactly.
    """
    path = os.fspath(path)
    with np.load(path, allow_pickle=False) as z:
        if "meta" not in z.files:
            raise ValueError(f"load_checkpoint: {path} is not a chainrule checkpoint (no 'meta')")
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"load_checkpoint: {path} has format {meta.get('format')!r}, "
                             f"expected {CHECKPOINT_FORMAT!r}")
        if meta.get("version", 0) > CHECKPOINT_VERSION:
            raise ValueError(f"load_checkpoint: {path} has version {meta['version']}, this "
                             f"chainrule reads up to {CHECKPOINT_VERSION}")
        model_sd = {k[len("model/"):]: z[k] for k in z.files if k.startswith("model/")}
        optim_arrays = {k: z[k] for k in z.files if k.startswith("optim/")}
    model.load_state_dict(model_sd)
    if optimizer is not None:
        om = meta.get("optimizer")
        if om is None:
            raise ValueError(f"load_checkpoint: {path} holds no optimizer state")
        if om["type"] != type(optimizer).__name__:
            raise ValueError(f"load_checkpoint: {path} holds {om['type']} state, the optimizer "
                             f"is {type(optimizer).__name__}")
        state = {}
        for key, arr in optim_arrays.items():
            _, idx, name = key.split("/", 2)
            state.setdefault(int(idx), {})[name] = arr
        for idx, d in om["scalars"].items():
            state.setdefault(int(idx), {}).update(d)
        optimizer.load_state_dict({"state": state, "param_groups": om["param_groups"]})
    if restore_rng:
        _global_generator().bit_generator.state = meta["rng"]["global"]
        if loader is not None and meta["rng"].get("loader") is not None:
            loader.load_state_dict(meta["rng"]["loader"])
    return {"epoch": meta["epoch"], "history": meta["history"], "extra": meta["extra"]}
