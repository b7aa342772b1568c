"""The optimizer base class: parameter groups, zero_grad, state_dict / load_state_dict.

Each subclass's ``step()`` makes ONE call into C per parameter buffer (``ops.sgd_step``,
``ops.adam_step``, ... in csrc/optim.c): weight decay, moment updates and the parameter
update happen in a single pass over memory, in place on ``param.array``.

Parameters are chainrule Tensors (anything with an ndarray ``.array`` and a ``.grad``: an
ndarray, a Tensor or None; ``grad_array`` (chainrule.autograd.function) is the one place that reads it). Parameters
whose ``.grad`` is None are skipped, as in PyTorch.
Hyper-parameters live in ``param_groups`` (a list of dicts, PyTorch-style) and may be
changed between steps (e.g. a learning-rate schedule writes ``group["lr"]``).

``state_dict()`` returns copies: ``{"state": {index: {name: value}}, "param_groups":
[{hyper-parameters..., "params": [indices]}]}``; ``load_state_dict`` restores it onto
the same parameter layout (arrays cast to each parameter's dtype), so a training run
resumes exactly.
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable, Dict, Optional

import numpy as np

from ..autograd.function import grad_array


__all__ = ["Optimizer"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# keys the lr schedulers keep in a parameter group (PyTorch's names)
_SCHEDULER_KEYS = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}


_grad_array = grad_array  # p.grad's ndarray (or None), without the Tensor wrapper


def _check_number(cls: str, name: str, v, *, low=0.0, low_inclusive=True, high=None,
                  high_inclusive=False) -> float:
    """A real number within [low, high) (ValueError like PyTorch), TypeError for non-numbers."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{cls}: '{name}' must be a real number, got {v!r}")
    v = float(v)
    bad = math.isnan(v) or (v < low if low_inclusive else v <= low) or \
        (high is not None and (v > high if high_inclusive else v >= high))
    if bad:
        rng = (f"{'[' if low_inclusive else '('}{low}, {high if high is not None else 'inf'}"
               f"{']' if high_inclusive else ')'}")
        raise ValueError(f"{cls}: invalid {name} value {v!r}; must be in {rng}")
    return v


def _check_bool(cls: str, name: str, v) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{cls}: '{name}' must be a bool, got {v!r}")
    return bool(v)


class Optimizer:
    """Base class: parameter groups, zero_grad, state_dict / load_state_dict.

    Subclasses define ``_check_group(group)`` (validate hyper-parameters) and
    ``_step_group(group)`` (the fused update of every parameter in one group).
    """

    def __init__(self, params: Any, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._state: dict[int, dict] = {}  # id(param) -> per-parameter state
        if _is_tensor_like(params) or isinstance(params, np.ndarray):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or "
                            f"dicts, got a single {type(params).__name__}")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{type(self).__name__}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # -- groups ---------------------------------------------------------------------------
    def add_param_group(self, group: dict) -> None:
        """Add a dict with a 'params' list and optional hyper-parameter overrides."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(group).__name__}")
        params = group.get("params")
        if params is None:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        params = [params] if _is_tensor_like(params) else list(params)
        for i, p in enumerate(params):
            if not _is_tensor_like(p):
                raise TypeError(f"{name}: params[{i}] must be a Tensor with an ndarray .array, got "
                                f"{type(p).__name__}")
            if p.array.dtype not in _FLOATS:
                raise TypeError(f"{name}: params[{i}] has dtype {p.array.dtype}; only float32 "
                                f"and float64 parameters can be optimized")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params"} - _SCHEDULER_KEYS
        if unknown:
            raise TypeError(f"{name}: unknown hyper-parameters {sorted(unknown)} in a parameter "
                            f"group; expected some of {sorted(self.defaults)}")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        full["params"] = params
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step_group(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- the public API -------------------------------------------------------------------
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Optional[float]:
        """One update of every parameter that has a gradient. Returns closure() if given."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients: set to None (default, as PyTorch), or fill with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif grad_array(p) is not None:
                    grad_array(p)[...] = 0

    @property
    def state(self) -> dict:
        """Per-parameter state keyed by the parameter (a snapshot dict of the live arrays)."""
        return {p: self._state[id(p)] for g in self.param_groups for p in g["params"]
                if id(p) in self._state}

    def state_dict(self) -> dict:
        """Copies of the hyper-parameters and per-parameter state, parameters as indices."""
        groups, state, index = [], {}, 0
        for group in self.param_groups:
            g = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            g["params"] = list(range(index, index + len(group["params"])))
            for p in group["params"]:
                st = self._state.get(id(p))
                if st:
                    state[index] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                    for k, v in st.items()}
                index += 1
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by ``state_dict()`` (same param layout)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}")
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        for i, (sg, g) in enumerate(zip(saved, self.param_groups)):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(sg['params'])} parameters in the loaded state dict, "
                                 f"{len(g['params'])} in the optimizer")
        new_groups, new_state = [], {}
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        for sg, g in zip(saved, self.param_groups):
            sg = self._drop_torch_flags(name, sg)
            ng = {**g, **{k: copy.deepcopy(v) for k, v in sg.items() if k != "params"}}
            ng["params"] = g["params"]
            ng = {k: (tuple(v) if k == "betas" else v) for k, v in ng.items()}
            self._check_group(ng)
            new_groups.append(ng)
            for idx, p in zip(sg["params"], g["params"]):
                st = saved_state.get(int(idx))
                if st is None:
                    continue
                new_state[id(p)] = {k: self._cast_state(name, k, v, p)
                                    for k, v in st.items()}
        self.param_groups = new_groups
        self._state = new_state

    # PyTorch's group flags chainrule does not implement, with the value that means "off";
    # a torch state dict loads if every such flag is off (else ValueError, never ignored)
    _TORCH_FLAGS = {"foreach": None, "differentiable": False, "fused": None,
                    "capturable": False, "maximize": False, "amsgrad": False}

    def _drop_torch_flags(self, name: str, group: dict) -> dict:
        out = {}
        for k, v in group.items():
            if k == "decoupled_weight_decay":  # PyTorch >= 2.6 tells Adam from AdamW here
                if bool(v) != bool(getattr(self, "_decoupled", False)):
                    raise ValueError(f"{name}.load_state_dict: the state dict has "
                                     f"decoupled_weight_decay={v}; use "
                                     f"{'AdamW' if v else 'Adam'} to load it")
            elif k in self._TORCH_FLAGS and k not in self.defaults:
                if v != self._TORCH_FLAGS[k] and not (k in ("foreach", "fused") and not v):
                    raise ValueError(f"{name}.load_state_dict: option {k}={v!r} is not "
                                     f"supported by chainrule")
            else:
                out[k] = v
        return out

    @staticmethod
    def _cast_state(name: str, key: str, v, p):
        if hasattr(v, "detach") and hasattr(v, "numpy"):  # a (CPU) torch tensor
            v = v.detach().cpu().numpy()
        if key == "step":
            return float(v)
        if v is None or not isinstance(v, (np.ndarray, list)):
            return v
        a = np.array(v, dtype=p.array.dtype, order="C", copy=True)
        if a.shape != p.array.shape:
            raise ValueError(f"{name}.load_state_dict: state '{key}' has shape {a.shape}, "
                             f"the parameter has shape {p.array.shape}")
        return a

    # -- helpers for subclasses -----------------------------------------------------------
    def _arrays(self, p, i: int):
        """(data, grad) ready for the kernel, or None if p has no grad. Validates once."""
        g = grad_array(p)  # the ndarray behind p.grad (no Tensor wrapper)
        if g is None:
            return None
        d = p.array
        if type(g) is not np.ndarray or g.shape != d.shape or g.dtype != d.dtype:
            g = self._fix_grad(p, i, d, g)
        elif not g.flags.c_contiguous:
            g = np.ascontiguousarray(g)
        return d, g

    def _fix_grad(self, p, i, d, g):
        name = type(self).__name__
        if not isinstance(g, np.ndarray):
            g = np.asarray(g)
        if g.dtype != d.dtype:
            raise TypeError(f"{name}.step: parameter {i} has dtype {d.dtype} but its grad has "
                            f"dtype {g.dtype}")
        if g.shape != d.shape:
            raise ValueError(f"{name}.step: parameter {i} has shape {d.shape} but its grad has "
                             f"shape {g.shape}")
        return np.ascontiguousarray(g)


def _is_tensor_like(x) -> bool:
    return isinstance(getattr(x, "array", None), np.ndarray) and hasattr(x, "grad")


def _buffer(state: dict, key: str, name: str, p, fill=0.0):
    """state[key] as a buffer of p's shape and dtype: created (filled) when missing, cast
    when a loaded state dict brought another dtype."""
    b = state.get(key)
    d = p.array
    if b is None:
        b = state[key] = np.full(d.shape, fill, d.dtype)
    elif b.dtype != d.dtype or b.shape != d.shape or not b.flags.c_contiguous:
        b = state[key] = Optimizer._cast_state(name, key, b, p)
    return b


def _writable(d):
    """d itself when the kernels can update it in place, else a C-contiguous copy that the
    caller writes back (d[...] = copy) after the step."""
    return d if d.flags.c_contiguous and d.flags.writeable else np.ascontiguousarray(d)


