"""torch.optim.Adadelta (maximize); one fused C call per parameter (ops.adadelta_step)."""
from __future__ import annotations

from typing import Any

from .. import ops
from .optimizer import Optimizer, _buffer, _check_bool, _check_number, _writable

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta with PyTorch's rule (torch.optim.Adadelta)::

        g = (-grad if maximize else grad) + weight_decay * p
        square_avg = rho * square_avg + (1 - rho) * g^2
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2;   p -= lr * delta
    """

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_group(self, group):
        n = "Adadelta"
        group["lr"] = _check_number(n, "learning rate (lr)", group["lr"])
        group["rho"] = _check_number(n, "rho", group["rho"], high=1.0, high_inclusive=True)
        group["eps"] = _check_number(n, "epsilon (eps)", group["eps"])
        group["weight_decay"] = _check_number(n, "weight_decay", group["weight_decay"])
        group["maximize"] = _check_bool(n, "maximize", group.get("maximize", False))

    def _step_group(self, group):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        wd, maximize = group["weight_decay"], group["maximize"]
        state = self._state
        for i, p in enumerate(group["params"]):
            arrs = self._arrays(p, i)
            if arrs is None:
                continue
            d, g = arrs
            st = state.setdefault(id(p), {})
            st.setdefault("step", 0.0)
            sq = _buffer(st, "square_avg", "Adadelta", p)
            acc = _buffer(st, "acc_delta", "Adadelta", p)
            st["step"] = float(st["step"]) + 1.0
            w = _writable(d)
            ops.adadelta_step(w, g, sq, acc, lr=lr, rho=rho, eps=eps, weight_decay=wd,
                              maximize=maximize)
            if w is not d:
                d[...] = w
