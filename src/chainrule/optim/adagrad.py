"""torch.optim.Adagrad (lr_decay, initial_accumulator_value, maximize); one fused C call per
parameter (ops.adagrad_step)."""
from __future__ import annotations

from typing import Any

from .. import ops
from .optimizer import Optimizer, _buffer, _check_bool, _check_number, _writable

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with PyTorch's rule (torch.optim.Adagrad); the state (step 0 and ``sum``
    filled with the constructor's initial_accumulator_value, for every group) exists from
    construction, as in PyTorch::

        g = (-grad if maximize else grad) + weight_decay * p;   sum += g^2
        p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p)

    def _init_state(self, group, p):
        st = self._state.setdefault(id(p), {})
        st.setdefault("step", 0.0)
        # PyTorch fills every group's sum with the constructor's value (self.defaults),
        # whatever a group's own initial_accumulator_value says: so do we
        return st, _buffer(st, "sum", "Adagrad", p,
                           float(self.defaults["initial_accumulator_value"]))

    def _check_group(self, group):
        n = "Adagrad"
        group["lr"] = _check_number(n, "learning rate (lr)", group["lr"])
        group["lr_decay"] = _check_number(n, "lr_decay", group["lr_decay"])
        group["weight_decay"] = _check_number(n, "weight_decay", group["weight_decay"])
        group["initial_accumulator_value"] = _check_number(
            n, "initial_accumulator_value", group["initial_accumulator_value"])
        group["eps"] = _check_number(n, "epsilon (eps)", group["eps"])
        group["maximize"] = _check_bool(n, "maximize", group.get("maximize", False))

    def _step_group(self, group):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        wd, maximize = group["weight_decay"], group["maximize"]
        for i, p in enumerate(group["params"]):
            arrs = self._arrays(p, i)
            if arrs is None:
                continue
            d, g = arrs
            st, acc = self._init_state(group, p)
            st["step"] = float(st["step"]) + 1.0
            w = _writable(d)
            ops.adagrad_step(w, g, acc, step=int(st["step"]), lr=lr, lr_decay=lr_decay,
                             eps=eps, weight_decay=wd, maximize=maximize)
            if w is not d:
                d[...] = w
