"""SGD and Adam/AdamW steps written as PyTorch documents them, in float64, in place.

torch.optim.SGD:   g = grad + wd p;  b = g (first step) | mu b + (1 - damp) g;
                   g = g + mu b (nesterov) | b;  p = p - lr g
torch.optim.Adam:  g = grad + wd p (Adam) or p = p (1 - lr wd) (AdamW);
                   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
                   p = p - lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
maximize uses -grad. The same argument checks as chainrule.ops (arrays updated in place
must be writable C-contiguous float arrays of param's shape and dtype).
"""
import numpy as np

from .._checks import FLOAT_DTYPES, as_float_array, as_int, as_real

__all__ = ["sgd_step", "adam_step"]


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


def sgd_step(param, grad, momentum_buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0, maximize=False, first_step=False):
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
    p = param.astype(np.float64)
    g = -grad.astype(np.float64) if maximize else grad.astype(np.float64)
    g = g + wd * p
    if mu != 0:
        b = g if first_step else mu * momentum_buf.astype(np.float64) + (1 - damp) * g
        momentum_buf[...] = b
        g = g + mu * b if nesterov else b
    param[...] = p - lr * g


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, decoupled=False, maximize=False):
    """In place: param, exp_avg, exp_avg_sq; step >= 1 is the step count. Returns None."""
    fn = "adam_step"
    _check_state(fn, "param", param, None)
    grad = _check_grad(fn, grad, param)
    _check_state(fn, "exp_avg", exp_avg, param)
    _check_state(fn, "exp_avg_sq", exp_avg_sq, param)
    t = as_int(fn, "step", step, 1)
    lr, b1, b2 = as_real(fn, "lr", lr), as_real(fn, "beta1", beta1), as_real(fn, "beta2", beta2)
    eps, wd = as_real(fn, "eps", eps), as_real(fn, "weight_decay", weight_decay)
    p = param.astype(np.float64)
    g = -grad.astype(np.float64) if maximize else grad.astype(np.float64)
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * exp_avg.astype(np.float64) + (1 - b1) * g
    v = b2 * exp_avg_sq.astype(np.float64) + (1 - b2) * g * g
    exp_avg[...] = m
    exp_avg_sq[...] = v
    m_hat_scale = lr / (1 - b1 ** t)
    param[...] = p - m_hat_scale * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
