"""SGD and Adam/AdamW steps written as PyTorch documents them, in float64, in place.

torch.optim.SGD:   g = grad + wd p;  b = g (first step) | mu b + (1 - damp) g;
                   g = g + mu b (nesterov) | b;  p = p - lr g
torch.optim.Adam:  g = grad + wd p (Adam) or p = p (1 - lr wd) (AdamW);
                   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: v = max(vmax, v))
                   p = p - lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
torch.optim.RMSprop, Adagrad, Adadelta: as documented on each function below.
maximize uses -grad. The same argument checks as chainrule.ops (arrays updated in place
must be writable C-contiguous float arrays of param's shape and dtype).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .._checks import FLOAT_DTYPES, as_float_array, as_int, as_real

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step", "adadelta_step"]


def _check_state(fn, name, a, like):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: argument '{name}' must be an ndarray (updated in place), got "
                        f"{type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES or (like is not None and a.dtype != like.dtype):
        raise TypeError(f"{fn}: argument '{name}' must have param's float dtype, got {a.dtype}")
    if like is not None and a.shape != like.shape:
        raise ValueError(f"{fn}: argument '{name}' must have the shape of param {like.shape}, "
                         f"got {a.shape}")
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{fn}: argument '{name}' must be a writable C-contiguous array")
    return a


def _check_grad(fn, grad, param):
    grad = as_float_array(fn, "grad", grad)
    if grad.dtype != param.dtype:
        raise TypeError(f"{fn}: argument 'grad' must have param's dtype {param.dtype}, got "
                        f"{grad.dtype}")
    if grad.shape != param.shape:
        raise ValueError(f"{fn}: argument 'grad' must have the shape of param {param.shape}, "
                         f"got {grad.shape}")
    return grad


def sgd_step(param: np.ndarray, grad: np.ndarray, momentum_buf: Optional[np.ndarray], *, lr: float,
             momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
             weight_decay=0.0, maximize: bool = False, first_step: bool = False) -> None:
    """In place: param (and momentum_buf when momentum != 0); returns None."""
    fn = "sgd_step"
    _check_state(fn, "param", param, None)
    grad = _check_grad(fn, grad, param)
    lr, mu = as_real(fn, "lr", lr), as_real(fn, "momentum", momentum)
    damp, wd = as_real(fn, "dampening", dampening), as_real(fn, "weight_decay", weight_decay)
    if nesterov and (mu <= 0 or damp != 0):
        raise ValueError(f"{fn}: Nesterov momentum requires a momentum > 0 and zero dampening")
    if mu != 0:
        if momentum_buf is None:
            raise ValueError(f"{fn}: argument 'momentum_buf' is required when momentum != 0")
        _check_state(fn, "momentum_buf", momentum_buf, param)
    p: np.ndarray = param.astype(np.float64)
    g: np.ndarray = -grad.astype(np.float64) if maximize else grad.astype(np.float64)
    g = g + wd * p
    if mu != 0:
        assert momentum_buf is not None  # checked above
        b = g if first_step else mu * momentum_buf.astype(np.float64) + (1 - damp) * g
        momentum_buf[...] = b
        g = g + mu * b if nesterov else b
    param[...] = p - lr * g


def adam_step(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
              max_exp_avg_sq: Optional[np.ndarray] = None, *, step: int, lr: float = 1e-3,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay=0.0,
              decoupled: bool = False, maximize: bool = False) -> None:
    """In place: param, exp_avg, exp_avg_sq; step >= 1 is the step count. Returns None."""
    fn = "adam_step"
    _check_state(fn, "param", param, None)
    grad = _check_grad(fn, grad, param)
    _check_state(fn, "exp_avg", exp_avg, param)
    _check_state(fn, "exp_avg_sq", exp_avg_sq, param)
    t = as_int(fn, "step", step, 1)
    lr, b1, b2 = as_real(fn, "lr", lr), as_real(fn, "beta1", beta1), as_real(fn, "beta2", beta2)
    eps, wd = as_real(fn, "eps", eps), as_real(fn, "weight_decay", weight_decay)
    if max_exp_avg_sq is not None:
        _check_state(fn, "max_exp_avg_sq", max_exp_avg_sq, param)
    p: np.ndarray = param.astype(np.float64)
    g: np.ndarray = -grad.astype(np.float64) if maximize else grad.astype(np.float64)
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * exp_avg.astype(np.float64) + (1 - b1) * g
    v = b2 * exp_avg_sq.astype(np.float64) + (1 - b2) * g * g
    exp_avg[...] = m
    exp_avg_sq[...] = v
    if max_exp_avg_sq is not None:  # amsgrad: the running maximum (NaN propagates)
        v = np.maximum(max_exp_avg_sq.astype(np.float64), v)
        max_exp_avg_sq[...] = v
    m_hat_scale = lr / (1 - b1 ** t)
    param[...] = p - m_hat_scale * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)


def rmsprop_step(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                 grad_avg: Optional[np.ndarray] = None, momentum_buf: Optional[np.ndarray] = None,
                 *, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay=0.0,
                 momentum: float = 0.0, maximize: bool = False) -> None:
    """In place: param, square_avg (grad_avg if centered, momentum_buf if momentum > 0)."""
    fn = "rmsprop_step"
    _check_state(fn, "param", param, None)
    grad = _check_grad(fn, grad, param)
    _check_state(fn, "square_avg", square_avg, param)
    if grad_avg is not None:
        _check_state(fn, "grad_avg", grad_avg, param)
    lr, alpha, eps = as_real(fn, "lr", lr), as_real(fn, "alpha", alpha), as_real(fn, "eps", eps)
    wd, mu = as_real(fn, "weight_decay", weight_decay), as_real(fn, "momentum", momentum)
    if mu > 0:
        if momentum_buf is None:
            raise ValueError(f"{fn}: argument 'momentum_buf' is required when momentum > 0")
        _check_state(fn, "momentum_buf", momentum_buf, param)
    p: np.ndarray = param.astype(np.float64)
    g = (-grad.astype(np.float64) if maximize else grad.astype(np.float64)) + wd * p
    sq = alpha * square_avg.astype(np.float64) + (1 - alpha) * g * g
    square_avg[...] = sq
    sq = square_avg.astype(np.float64)  # the stored state, as PyTorch reads it (inf on overflow)
    if grad_avg is not None:
        ga = alpha * grad_avg.astype(np.float64) + (1 - alpha) * g
        grad_avg[...] = ga
        avg = np.sqrt(sq - ga * ga) + eps
    else:
        avg = np.sqrt(sq) + eps
    if mu > 0:
        assert momentum_buf is not None  # checked above
        b = mu * momentum_buf.astype(np.float64) + g / avg
        momentum_buf[...] = b
        param[...] = p - lr * b
    else:
        param[...] = p - lr * g / avg


def adagrad_step(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, *, step: int,
                 lr: float = 1e-2, lr_decay: float = 0.0, eps: float = 1e-10, weight_decay=0.0,
                 maximize: bool = False) -> None:
    """In place: param and state_sum; step >= 1 is the step count."""
    fn = "adagrad_step"
    _check_state(fn, "param", param, None)
    grad = _check_grad(fn, grad, param)
    _check_state(fn, "state_sum", state_sum, param)
    t = as_int(fn, "step", step, 1)
    lr, lr_decay = as_real(fn, "lr", lr), as_real(fn, "lr_decay", lr_decay)
    if not lr_decay >= 0:
        raise ValueError(f"{fn}: argument 'lr_decay' must be >= 0, got {lr_decay}")
    eps, wd = as_real(fn, "eps", eps), as_real(fn, "weight_decay", weight_decay)
    p: np.ndarray = param.astype(np.float64)
    g = (-grad.astype(np.float64) if maximize else grad.astype(np.float64)) + wd * p
    s = state_sum.astype(np.float64) + g * g
    state_sum[...] = s
    s = state_sum.astype(np.float64)  # the stored state (inf on overflow), as the kernel goes on
    param[...] = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)


def adadelta_step(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                  acc_delta: np.ndarray, *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                  weight_decay=0.0, maximize: bool = False) -> None:
    """In place: param, square_avg and acc_delta."""
    fn = "adadelta_step"
    _check_state(fn, "param", param, None)
    grad = _check_grad(fn, grad, param)
    _check_state(fn, "square_avg", square_avg, param)
    _check_state(fn, "acc_delta", acc_delta, param)
    lr, rho, eps = as_real(fn, "lr", lr), as_real(fn, "rho", rho), as_real(fn, "eps", eps)
    wd = as_real(fn, "weight_decay", weight_decay)
    p: np.ndarray = param.astype(np.float64)
    g = (-grad.astype(np.float64) if maximize else grad.astype(np.float64)) + wd * p
    sq = rho * square_avg.astype(np.float64) + (1 - rho) * g * g
    square_avg[...] = sq
    sq = square_avg.astype(np.float64)  # the stored state, as PyTorch reads it (inf on overflow)
    d = np.sqrt(acc_delta.astype(np.float64) + eps) / np.sqrt(sq + eps) * g
    acc_delta[...] = rho * acc_delta.astype(np.float64) + (1 - rho) * d * d
    param[...] = p - lr * d
