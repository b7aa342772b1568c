"""Fused optimizer steps (C, csrc/optim.c): one pass over each parameter buffer, in place.

Arrays of any shape: ``param`` and the state buffers are updated in place, so they must be
writable C-contiguous float32/float64 ndarrays of one dtype and shape (never copied);
``grad`` may be any float array of that shape and dtype (copied if not C-contiguous).
Distinct arrays must not share memory. The rules are PyTorch's (torch.optim.SGD, Adam,
AdamW with amsgrad, RMSprop, Adagrad, Adadelta; single-tensor, each with ``maximize``); all
return None.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _kernels
from .._checks import _ND, FLOAT_DTYPES, _describe, as_float_array, as_int, as_real

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step", "adadelta_step"]


def _state(fn, name, a, param):
    """A buffer updated in place: exactly param's shape and dtype, C-contiguous, writable."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: argument '{name}' must be an ndarray (updated in place), got "
                        f"{_describe(a)}")
    if a.dtype not in FLOAT_DTYPES or (name != "param" and a.dtype != param.dtype):
        raise TypeError(f"{fn}: argument '{name}' must have dtype "
                        f"{param.dtype if name != 'param' else 'float32 or float64'}, got "
                        f"{a.dtype} (shape {a.shape})")
    if a.shape != param.shape:
        raise ValueError(f"{fn}: argument '{name}' must have the shape of param "
                         f"{param.shape}, got {a.shape}")
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{fn}: argument '{name}' must be a writable C-contiguous array "
                         f"(it is updated in place), got strides {a.strides}")
    return a


def _grad(fn, grad, param):
    """grad as a C-contiguous array of param's shape and dtype (copied if needed)."""
    grad = as_float_array(fn, "grad", grad)
    if grad.dtype != param.dtype:
        raise TypeError(f"{fn}: argument 'grad' must have param's dtype {param.dtype}, "
                        f"got {grad.dtype}")
    if grad.shape != param.shape:
        raise ValueError(f"{fn}: argument 'grad' must have the shape of param "
                         f"{param.shape}, got {grad.shape}")
    return grad


def sgd_step(param: np.ndarray, grad: np.ndarray, momentum_buf: Optional[np.ndarray], *, lr: float,
             momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
             weight_decay=0.0, maximize: bool = False, first_step: bool = False) -> None:
    """One SGD step in place on param (and momentum_buf unless momentum == 0)::

        g = (-grad if maximize else grad) + weight_decay * param
        buf = g  if first_step  else  momentum * buf + (1 - dampening) * g
        g = g + momentum * buf  if nesterov  else  buf           (when momentum != 0)
        param -= lr * g

    momentum_buf may be None when momentum == 0; first_step=True starts the buffer
    (PyTorch's first step, when its buffer is still None).
    """
    fn = "sgd_step"
    if (type(param) is _ND and type(grad) is _ND and grad.shape == param.shape
            and type(lr) is float and type(momentum) is float and type(dampening) is float
            and type(weight_decay) is float
            and (not nesterov or (momentum > 0.0 and dampening == 0.0))
            and (momentum_buf is None if momentum == 0.0 else
                 type(momentum_buf) is _ND and momentum_buf.shape == param.shape)):
        # the optimizers' call: the binding checks dtypes, contiguity, writability and
        # overlap before it writes; what it refuses gets the full checks' message below
        try:
            _kernels.sgd_step(param, momentum_buf, grad, lr, momentum, dampening, weight_decay,
                              bool(nesterov), bool(first_step), bool(maximize))
            return
        except (TypeError, ValueError, OverflowError, BufferError):
            pass
    # the full checks (and their messages)
    param = _state(fn, "param", param, param)
    grad = _grad(fn, grad, param)
    lr, momentum = as_real(fn, "lr", lr), as_real(fn, "momentum", momentum)
    dampening = as_real(fn, "dampening", dampening)
    weight_decay = as_real(fn, "weight_decay", weight_decay)
    if momentum != 0.0 and momentum_buf is not None:
        momentum_buf = _state(fn, "momentum_buf", momentum_buf, param)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{fn}: Nesterov momentum requires a momentum > 0 and zero "
                         f"dampening, got momentum={momentum}, dampening={dampening}")
    if momentum == 0.0:
        momentum_buf = None
    elif momentum_buf is None:
        raise ValueError(f"{fn}: argument 'momentum_buf' is required when momentum != 0")
    _kernels.sgd_step(param, momentum_buf, grad, lr, momentum, dampening, weight_decay,
                      bool(nesterov), bool(first_step), bool(maximize))


def sgd_update(param, grad, momentum_buf, lr, momentum, dampening, weight_decay, nesterov,
               maximize, first_step) -> bool:
    """sgd_step for the optimizers' loop (internal, not in ``__all__``): ``param``, ``grad``
    (and ``momentum_buf`` when momentum != 0) ndarrays of one shape, the hyper-parameters
    Python floats and bools already checked once per group. Straight to the binding, which
    checks dtypes, contiguity, writability, sizes and overlap before it writes; returns
    False (nothing written) when it refuses, and the caller takes sgd_step's full checks."""
    try:
        _kernels.sgd_step(param, momentum_buf, grad, lr, momentum, dampening, weight_decay,
                          nesterov, first_step, maximize)
        return True
    except (TypeError, ValueError, OverflowError, BufferError):
        return False


def adam_step(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
              max_exp_avg_sq: Optional[np.ndarray] = None, *, step: int, lr: float = 1e-3,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay=0.0,
              decoupled: bool = False, maximize: bool = False) -> None:
    """One Adam (decoupled=False) or AdamW (decoupled=True) step in place on param,
    exp_avg and exp_avg_sq (and max_exp_avg_sq: amsgrad, when given); step is the 1-based
    step count (bias corrections)::

        g = -grad if maximize else grad
        Adam: g = g + weight_decay * param     AdamW: param *= 1 - lr * weight_decay
        exp_avg += (1 - beta1) * (g - exp_avg);  exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) g^2
        amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq), used for v below
        param -= lr / (1 - beta1^step) * v / (sqrt(v) / sqrt(1 - beta2^step) + eps)
    """
    fn = "adam_step"
    if (type(param) is _ND and type(grad) is _ND and type(exp_avg) is _ND
            and type(exp_avg_sq) is _ND
            and param.shape == grad.shape == exp_avg.shape == exp_avg_sq.shape
            and (max_exp_avg_sq is None or (type(max_exp_avg_sq) is _ND
                                            and max_exp_avg_sq.shape == param.shape))
            and type(step) is int and step >= 1
            and type(lr) is float and type(beta1) is float and type(beta2) is float
            and type(eps) is float and type(weight_decay) is float):
        # the optimizers' call: the binding checks dtypes, contiguity, writability and
        # overlap before it writes; what it refuses gets the full checks' message below
        try:
            _kernels.adam_step(param, exp_avg, exp_avg_sq, grad, lr, beta1, beta2, eps,
                               weight_decay, bool(decoupled), step, max_exp_avg_sq,
                               bool(maximize))
            return
        except (TypeError, ValueError, OverflowError, BufferError):
            pass
    # the full checks (and their messages)
    param = _state(fn, "param", param, param)
    grad = _grad(fn, grad, param)
    exp_avg = _state(fn, "exp_avg", exp_avg, param)
    exp_avg_sq = _state(fn, "exp_avg_sq", exp_avg_sq, param)
    step = as_int(fn, "step", step, 1)
    lr, beta1, beta2 = as_real(fn, "lr", lr), as_real(fn, "beta1", beta1), \
        as_real(fn, "beta2", beta2)
    eps, weight_decay = as_real(fn, "eps", eps), as_real(fn, "weight_decay", weight_decay)
    if max_exp_avg_sq is not None:
        max_exp_avg_sq = _state(fn, "max_exp_avg_sq", max_exp_avg_sq, param)
    _kernels.adam_step(param, exp_avg, exp_avg_sq, grad, lr, beta1, beta2, eps, weight_decay,
                       bool(decoupled), step, max_exp_avg_sq, bool(maximize))


def rmsprop_step(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                 grad_avg: Optional[np.ndarray] = None, momentum_buf: Optional[np.ndarray] = None,
                 *, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay=0.0,
                 momentum: float = 0.0, maximize: bool = False) -> None:
    """One RMSprop step in place (torch.optim.RMSprop)::

        g = (-grad if maximize else grad) + weight_decay * param
        square_avg = alpha * square_avg + (1 - alpha) * g^2
        centered (grad_avg given): grad_avg += (1 - alpha) * (g - grad_avg);
            avg = sqrt(square_avg - grad_avg^2) + eps;   else avg = sqrt(square_avg) + eps
        momentum > 0: momentum_buf = momentum * momentum_buf + g / avg; param -= lr * momentum_buf
        else: param -= lr * g / avg
    """
    fn = "rmsprop_step"
    param = _state(fn, "param", param, param)
    grad = _grad(fn, grad, param)
    square_avg = _state(fn, "square_avg", square_avg, param)
    if grad_avg is not None:
        grad_avg = _state(fn, "grad_avg", grad_avg, param)
    lr, alpha, eps = as_real(fn, "lr", lr), as_real(fn, "alpha", alpha), as_real(fn, "eps", eps)
    weight_decay = as_real(fn, "weight_decay", weight_decay)
    momentum = as_real(fn, "momentum", momentum)
    if momentum > 0:
        if momentum_buf is None:
            raise ValueError(f"{fn}: argument 'momentum_buf' is required when momentum > 0")
        momentum_buf = _state(fn, "momentum_buf", momentum_buf, param)
    else:
        momentum_buf = None
    _kernels.rmsprop_step(param, square_avg, grad_avg, momentum_buf, grad, lr, alpha, eps,
                          weight_decay, momentum, bool(maximize))


def adagrad_step(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, *, step: int,
                 lr: float = 1e-2, lr_decay: float = 0.0, eps: float = 1e-10, weight_decay=0.0,
                 maximize: bool = False) -> None:
    """One Adagrad step in place (torch.optim.Adagrad); step is the 1-based step count::

        g = (-grad if maximize else grad) + weight_decay * param;  state_sum += g^2
        param -= lr / (1 + (step - 1) * lr_decay) * g / (sqrt(state_sum) + eps)
    """
    fn = "adagrad_step"
    param = _state(fn, "param", param, param)
    grad = _grad(fn, grad, param)
    state_sum = _state(fn, "state_sum", state_sum, param)
    step = as_int(fn, "step", step, 1)
    lr, lr_decay = as_real(fn, "lr", lr), as_real(fn, "lr_decay", lr_decay)
    if not lr_decay >= 0:
        raise ValueError(f"{fn}: argument 'lr_decay' must be >= 0, got {lr_decay}")
    eps, weight_decay = as_real(fn, "eps", eps), as_real(fn, "weight_decay", weight_decay)
    _kernels.adagrad_step(param, state_sum, grad, lr, lr_decay, eps, weight_decay,
                          bool(maximize), step)


def adadelta_step(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                  acc_delta: np.ndarray, *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                  weight_decay=0.0, maximize: bool = False) -> None:
    """One Adadelta step in place (torch.optim.Adadelta)::

        g = (-grad if maximize else grad) + weight_decay * param
        square_avg = rho * square_avg + (1 - rho) * g^2
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2;  param -= lr * delta
    """
    fn = "adadelta_step"
    param = _state(fn, "param", param, param)
    grad = _grad(fn, grad, param)
    square_avg = _state(fn, "square_avg", square_avg, param)
    acc_delta = _state(fn, "acc_delta", acc_delta, param)
    lr, rho, eps = as_real(fn, "lr", lr), as_real(fn, "rho", rho), as_real(fn, "eps", eps)
    weight_decay = as_real(fn, "weight_decay", weight_decay)
    _kernels.adadelta_step(param, square_avg, acc_delta, grad, lr, rho, eps, weight_decay,
                           bool(maximize))
