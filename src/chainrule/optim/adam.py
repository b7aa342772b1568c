"""torch.optim.Adam and AdamW (amsgrad, maximize); one fused C call per parameter
(ops.adam_step)."""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from .. import ops
from .optimizer import Optimizer, _buffer, _check_bool, _check_number, _writable

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with PyTorch's rule (torch.optim.Adam; weight_decay is an L2 term on the grad)::

        g = (-grad if maximize else grad) + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
        amsgrad: v_max = max(v_max, v), used for v below
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _check_group(self, group):
        n = type(self).__name__
        group["lr"] = _check_number(n, "learning rate (lr)", group["lr"])
        group["eps"] = _check_number(n, "epsilon (eps)", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{n}: 'betas' must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = (_check_number(n, "beta parameter at index 0", betas[0], high=1.0),
                          _check_number(n, "beta parameter at index 1", betas[1], high=1.0))
        group["weight_decay"] = _check_number(n, "weight_decay", group["weight_decay"])
        group["amsgrad"] = _check_bool(n, "amsgrad", group.get("amsgrad", False))
        group["maximize"] = _check_bool(n, "maximize", group.get("maximize", False))

    def _step_group(self, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        adam_step = ops.adam_step
        decoupled = self._decoupled
        state = self._state
        name = type(self).__name__
        for i, p in enumerate(group["params"]):
            arrs = self._arrays(p, i)
            if arrs is None:
                continue
            d, g = arrs
            st = state.get(id(p))
            if not st:
                st = state[id(p)] = {"step": 0.0, "exp_avg": np.zeros(d.shape, d.dtype),
                                     "exp_avg_sq": np.zeros(d.shape, d.dtype)}
            else:
                for k in ("exp_avg", "exp_avg_sq"):
                    if st[k].dtype != d.dtype or st[k].shape != d.shape:
                        st[k] = self._cast_state(name, k, st[k], p)
            vmax = _buffer(st, "max_exp_avg_sq", name, p) if amsgrad else None
            st["step"] = float(st["step"]) + 1.0
            w = _writable(d)
            adam_step(w, g, st["exp_avg"], st["exp_avg_sq"], vmax, step=int(st["step"]),
                      lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd,
                      decoupled=decoupled, maximize=maximize)
            if w is not d:
                d[...] = w


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay, p *= 1 - lr*weight_decay
    before the Adam update (no L2 term in the gradient)."""

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
