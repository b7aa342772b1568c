"""The losses of chainrule.nn.functional beyond mse / bce / plain cross-entropy: nll_loss,
cross_entropy with weight / ignore_index / (N, C, d1, ...) inputs, l1, smooth-l1, huber,
kl_div (PyTorch's names, argument order, defaults and weighted-mean semantics).

Each is one autograd node: a NumPy forward and its closed-form backward. Class-index
losses flatten (N, C, d1, ...) to (M, C) rows (classes last) and share one core,
:func:`_nll_rows`, for the weighted / ignored / smoothed negative log-likelihood.
"""
from __future__ import annotations

from typing import Optional, TYPE_CHECKING

import numbers

import numpy as np

from ..autograd import Tensor
from ..autograd.function import as_tensor, make

if TYPE_CHECKING:
    from .._typing import TensorLike

_REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(fn, size_average, reduce, reduction):
    """PyTorch's deprecated size_average / reduce flags -> a reduction string. (A string
    in size_average's place is the positional reduction of chainrule <= 0.1.)"""
    if isinstance(size_average, str):
        size_average, reduction = None, size_average
    if size_average is None and reduce is None:
        kl = fn in ("kl_div", "KLDivLoss") and reduction == "batchmean"
        if reduction not in _REDUCTIONS and not kl:
            raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got "
                             f"{reduction!r}")
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def class_target(fn, target):
    """Class indices as an int64 ndarray (a Tensor's array, an int array or list)."""
    if isinstance(target, Tensor):
        target = target.array
    if isinstance(target, (list, tuple, numbers.Integral)) and not isinstance(target, bool):
        target = np.asarray(target)
    if not isinstance(target, np.ndarray) or target.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold int class indices, got "
                        f"{getattr(target, 'dtype', type(target).__name__)}")
    return np.asarray(target, dtype=np.int64)


def rows(fn, a, idx):
    """(input (N, C, d...) or (C,), target (N, d...) or ()) -> (a2 (M, C), t (M,),
    to_input(G) mapping an (M, C) gradient back to the input's layout)."""
    if a.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension, got shape {a.shape}")
    if a.ndim == 1:
        want = ()
    else:
        want = (a.shape[0],) + a.shape[2:]
    if idx.shape != want:
        raise ValueError(f"{fn}: target must have shape {want} for input {a.shape}, got "
                         f"{idx.shape} (class indices for input (N, C) have shape (N,), for "
                         f"(N, C, d1, ...) (N, d1, ...))")
    C = a.shape[0] if a.ndim == 1 else a.shape[1]
    if a.ndim <= 2:
        a2 = a.reshape(-1, C)
        return a2, idx.reshape(-1), lambda G: G.reshape(a.shape)
    moved = np.moveaxis(a, 1, -1)
    a2 = moved.reshape(-1, C)
    return a2, idx.reshape(-1), lambda G: np.moveaxis(G.reshape(moved.shape), -1, 1)


def check_weight(fn, weight, C, dt):
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (C,) or w.dtype.kind not in "fiu":
        raise ValueError(f"{fn}: weight must be a float tensor of shape ({C},) (one weight "
                         f"per class), got {w.dtype} {w.shape}")
    return w.astype(dt, copy=False)


def nll_rows(fn, logp, t, weight, ignore_index, reduction, eps):
    """Weighted, ignore-aware (and for eps > 0 label-smoothed, PyTorch's formula) NLL of
    log-probabilities ``logp`` (M, C) with targets ``t`` (M,). Returns (loss, dlogp(g))."""
    M, C = logp.shape
    dt = logp.dtype
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        raise ValueError(f"{fn}: class index {int(t[bad][0])} is out of range for {C} classes "
                         f"(ignore_index={ignore_index})")
    tc = np.where(valid, t, 0)
    w = np.ones(C, dt) if weight is None else weight
    wt = (w[tc] * valid).astype(dt)
    ar = np.arange(M)
    nll = -wt * logp[ar, tc]
    denom = wt.sum(dtype=dt)
    if eps:
        smooth = -(logp * w).sum(axis=1) * valid
        sdenom = denom if weight is not None else dt.type(M)
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "none":
            out = nll if not eps else (1 - eps) * nll + eps / C * smooth
        elif reduction == "sum":
            out = nll.sum() if not eps else (1 - eps) * nll.sum() + eps / C * smooth.sum()
        else:
            out = nll.sum() / denom if not eps else \
                (1 - eps) * nll.sum() / denom + eps / C * smooth.sum() / sdenom

    def dlogp(g):
        with np.errstate(invalid="ignore", divide="ignore"):
            s = g if reduction != "mean" else g / denom
            s = np.broadcast_to(np.asarray(s, dt), (M,)) if reduction != "none" \
                else np.asarray(g, dt).reshape(M)
            G = np.zeros((M, C), dt)
            G[ar, tc] = -(1 - eps) * s * wt
            if eps:
                ss = s if reduction != "mean" else np.broadcast_to(
                    np.asarray(g / sdenom, dt), (M,))
                G -= (eps / C) * (ss * valid)[:, None] * w[None, :]
        return G
    return np.asarray(out, dtype=dt), dlogp


def log_softmax_rows(a2):
    z = a2 - a2.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def nll_loss(input: TensorLike, target: TensorLike, weight: Optional[TensorLike] = None,
             size_average: Optional[bool] = None, ignore_index: int = -100,
             reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, d1, ...) or (C,) at
    class indices ``target`` (N, d1, ...) or (): -weight[t] * input[n, t]; 'mean' divides
    by the summed weights of the non-ignored targets (PyTorch)."""
    fn = "nll_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    x = as_tensor(input, fn, "input")
    idx = class_target(fn, target)
    a2, t, back = rows(fn, x.array, idx)
    w = check_weight(fn, weight, a2.shape[1], a2.dtype)
    out, dlogp = nll_rows(fn, a2, t, w, int(ignore_index), reduction, 0.0)
    if reduction == "none":
        out = out.reshape(idx.shape)
    return make(out, (x,), lambda g: (back(dlogp(g)),))


def cross_entropy_general(fn, x, idx, weight, ignore_index, reduction, eps):
    """cross_entropy with class indices in the cases the fused kernel does not cover."""
    a2, t, back = rows(fn, x.array, idx)
    if a2.shape[1] == 0:
        raise ValueError(f"{fn}: input {x.array.shape} has 0 classes; at least one is needed")
    w = check_weight(fn, weight, a2.shape[1], a2.dtype)
    logp = log_softmax_rows(a2)
    out, dlogp = nll_rows(fn, logp, t, w, int(ignore_index), reduction, eps)
    if reduction == "none":
        out = out.reshape(idx.shape)

    def backward(g):
        G = dlogp(g)
        return (back(G - np.exp(logp) * G.sum(axis=1, keepdims=True)),)
    return make(out, (x,), backward)


def cross_entropy_probs(fn, x, t, weight, reduction, eps):
    """cross_entropy with class probabilities ``t`` of the input's shape (any layout)."""
    a = x.array
    C = a.shape[0] if a.ndim == 1 else a.shape[1]
    a2, _, back = rows(fn, a, np.zeros((a.shape[0],) + a.shape[2:] if a.ndim > 1 else (),
                                       np.int64))
    q = np.moveaxis(t.array, 1, -1).reshape(-1, C) if a.ndim > 2 else t.array.reshape(-1, C)
    qs = q * (1.0 - eps) + eps / C if eps else q
    w = check_weight(fn, weight, C, a.dtype)
    wq = qs * w if w is not None else qs
    logp = log_softmax_rows(a2)
    loss = -(wq * logp).sum(axis=1)
    M = len(loss)
    shape = (a.shape[0],) + a.shape[2:] if a.ndim > 1 else ()
    if reduction == "none":
        out = loss.reshape(shape)
    elif reduction == "sum":
        out = loss.sum()
    else:
        out = loss.sum() / M if M else np.nan
    dt = a.dtype

    def backward(g):
        s = np.asarray(g, dt).reshape(-1, 1) if reduction == "none" else (
            g if reduction == "sum" else g / M)
        dx = dq = None
        if x.requires_grad:
            dx = back(s * (np.exp(logp) * wq.sum(axis=1, keepdims=True) - wq))
        if t.requires_grad:
            dl = -(1.0 - eps) * s * (logp * w if w is not None else logp)
            dq = back(np.broadcast_to(dl, logp.shape))
        return dx, dq
    return make(np.asarray(out, dtype=dt), (x, t), backward)


# ---------------------------------------------------------------------------- pointwise
def _pair(fn, input, target):
    from .functional import _target
    x = as_tensor(input, fn, "input")
    return x, _target(fn, x, target)


def _reduced(x, t, loss, d_input, reduction, d_target=None):
    """One node for an elementwise loss with d loss / d input = d_input (ndarray) and
    d loss / d target = d_target (default -d_input)."""
    n = loss.size
    dt = x.array.dtype
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = loss.sum()
    else:
        out = loss.sum() / n if n else np.nan

    def backward(g):
        m = g if reduction != "mean" else g / n
        return (m * d_input if x.requires_grad else None,
                m * (-d_input if d_target is None else d_target) if t.requires_grad else None)
    return make(np.asarray(out, dtype=dt), (x, t), backward)


def l1_loss(input: TensorLike, target: TensorLike, size_average: Optional[bool] = None,
            reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    fn = "l1_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    x, t = _pair(fn, input, target)
    d = x.array - t.array
    return _reduced(x, t, np.abs(d), np.sign(d), reduction)


def smooth_l1_loss(input: TensorLike, target: TensorLike, size_average: Optional[bool] = None,
                   reduce: Optional[bool] = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    fn = "smooth_l1_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    if not isinstance(beta, numbers.Real) or beta < 0:
        raise ValueError(f"{fn}: beta must be a number >= 0, got {beta!r}")
    x, t = _pair(fn, input, target)
    d = x.array - t.array
    ad = np.abs(d)
    if beta == 0:
        return _reduced(x, t, ad, np.sign(d), reduction)
    small = ad < beta
    loss = np.where(small, 0.5 * d * d / beta, ad - 0.5 * beta)
    return _reduced(x, t, loss, np.where(small, d / beta, np.sign(d)), reduction)


def huber_loss(input: TensorLike, target: TensorLike, reduction: str = "mean", delta: float = 1.0,
               weight: Optional[TensorLike] = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    fn = "huber_loss"
    reduction = legacy_reduction(fn, None, None, reduction)
    if not isinstance(delta, numbers.Real) or delta <= 0:
        raise ValueError(f"{fn}: delta must be a number > 0, got {delta!r}")
    if weight is not None:
        raise ValueError(f"{fn}: weight is not supported")
    x, t = _pair(fn, input, target)
    d = x.array - t.array
    ad = np.abs(d)
    small = ad < delta
    loss = np.where(small, 0.5 * d * d, delta * (ad - 0.5 * delta))
    return _reduced(x, t, loss, np.where(small, d, delta * np.sign(d)), reduction)


def kl_div(input: TensorLike, target: TensorLike, size_average: Optional[bool] = None,
           reduce: Optional[bool] = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Pointwise KL divergence with log-probabilities ``input``: target * (log target -
    input) (0 where target is 0), or exp(target) * (target - input) with log_target.
    'batchmean' divides the sum by input.size(0); 'mean' by the element count."""
    fn = "kl_div"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    x, t = _pair(fn, input, target)
    a, b = x.array, t.array
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            e = np.exp(b)
            loss = e * (b - a)
            d_in, d_t = -e, e * (b - a + 1)
        else:
            logb = np.where(b > 0, np.log(np.where(b > 0, b, 1)), 0)
            loss = np.where(b > 0, b * logb, 0) - b * a
            d_in, d_t = -b, np.log(b) + 1 - a
    if reduction == "batchmean":
        n = a.shape[0] if a.ndim else 1
        out = loss.sum() / n

        def backward(g):
            m = g / n
            return (m * d_in if x.requires_grad else None, m * d_t if t.requires_grad else None)
        return make(np.asarray(out, dtype=a.dtype), (x, t), backward)
    return _reduced(x, t, loss, d_in, reduction, d_t)
