"""torch.optim.RMSprop (momentum, centered, maximize); one fused C call per parameter
(ops.rmsprop_step)."""
from __future__ import annotations

from typing import Any

from .. import ops
from .optimizer import Optimizer, _buffer, _check_bool, _check_number, _writable

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's rule (torch.optim.RMSprop)::

        g = (-grad if maximize else grad) + weight_decay * p
        square_avg = alpha * square_avg + (1 - alpha) * g^2
        centered: grad_avg = alpha * grad_avg + (1 - alpha) * g,
                  avg = sqrt(square_avg - grad_avg^2) + eps;   else avg = sqrt(square_avg) + eps
        momentum > 0: buf = momentum * buf + g / avg; p -= lr * buf;   else p -= lr * g / avg
    """

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_group(self, group):
        n = "RMSprop"
        group["lr"] = _check_number(n, "learning rate (lr)", group["lr"])
        group["eps"] = _check_number(n, "epsilon (eps)", group["eps"])
        group["momentum"] = _check_number(n, "momentum", group["momentum"])
        group["weight_decay"] = _check_number(n, "weight_decay", group["weight_decay"])
        group["alpha"] = _check_number(n, "alpha", group["alpha"])
        group["centered"] = _check_bool(n, "centered", group["centered"])
        group["maximize"] = _check_bool(n, "maximize", group.get("maximize", False))

    def _step_group(self, group):
        lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        mom, centered, maximize = group["momentum"], group["centered"], group["maximize"]
        state = self._state
        for i, p in enumerate(group["params"]):
            arrs = self._arrays(p, i)
            if arrs is None:
                continue
            d, g = arrs
            st = state.setdefault(id(p), {})
            st.setdefault("step", 0.0)
            sq = _buffer(st, "square_avg", "RMSprop", p)
            buf = _buffer(st, "momentum_buffer", "RMSprop", p) if mom > 0 else None
            ga = _buffer(st, "grad_avg", "RMSprop", p) if centered else None
            st["step"] = float(st["step"]) + 1.0
            w = _writable(d)
            ops.rmsprop_step(w, g, sq, ga, buf, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                             momentum=mom, maximize=maximize)
            if w is not d:
                d[...] = w
