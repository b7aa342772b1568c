"""torch.optim.SGD: momentum, dampening, Nesterov, L2 weight decay, maximize; one fused C
call per parameter (ops.sgd_step)."""
from __future__ import annotations

from typing import Any

import math

import numpy as np

from .. import ops
from ..autograd.function import grad_array
from ..ops._optim import sgd_update as _sgd_update
from .optimizer import Optimizer, _check_bool, _check_number, _writable

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's rule (torch.optim.SGD)::

        g = (-grad if maximize else grad) + weight_decay * p
        buf = g (first step) | momentum * buf + (1 - dampening) * g   (if momentum != 0)
        g = g + momentum * buf (nesterov) | buf                       (if momentum != 0)
        p = p - lr * g
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_group(self, group):
        n = "SGD"
        group["lr"] = _check_number(n, "learning rate (lr)", group["lr"])
        group["momentum"] = _check_number(n, "momentum", group["momentum"])
        group["dampening"] = _check_number(n, "dampening", group["dampening"], low=-math.inf)
        group["weight_decay"] = _check_number(n, "weight_decay", group["weight_decay"])
        group["nesterov"] = _check_bool(n, "nesterov", group["nesterov"])
        group["maximize"] = _check_bool(n, "maximize", group.get("maximize", False))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{n}: Nesterov momentum requires a momentum > 0 and zero "
                             f"dampening, got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def _step_group(self, group):
        lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        # hyper-parameters checked once per group (a scheduler or the user may have stored
        # other types since): then each parameter goes straight to the fused kernel
        fast = (type(lr) is float and type(mom) is float and type(damp) is float
                and type(wd) is float and type(nesterov) is bool and type(maximize) is bool
                and (not nesterov or (mom > 0.0 and damp == 0.0)))
        update = _sgd_update
        state = self._state
        for i, p in enumerate(group["params"]):
            try:
                g = p._grad  # the ndarray behind p.grad: grad_array(p), inlined (per step)
            except AttributeError:
                g = grad_array(p)
            if g is None:
                continue
            d = p.array
            if mom != 0.0:
                st = state.get(id(p))
                buf = st.get("momentum_buffer") if st else None
                first = buf is None
                if first:
                    buf = np.empty(d.shape, d.dtype)
                    state[id(p)] = {"momentum_buffer": buf}
                elif buf.dtype != d.dtype or buf.shape != d.shape:
                    buf = self._cast_state("SGD", "momentum_buffer", buf, p)
                    state[id(p)]["momentum_buffer"] = buf
            else:
                buf, first = None, False
            if fast and g.shape == d.shape and update(d, g, buf, lr, mom, damp, wd, nesterov,
                                                      maximize, first):
                continue
            arrs = self._arrays(p, i)  # the general path: checks, copies, messages
            if arrs is None:
                continue
            d, g = arrs
            w = _writable(d)
            ops.sgd_step(w, g, buf, lr=lr, momentum=mom, dampening=damp, weight_decay=wd,
                         nesterov=nesterov, maximize=maximize, first_step=first)
            if w is not d:
                d[...] = w
