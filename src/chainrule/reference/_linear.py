"""Dense layer, as NumPy definitions (the oracle for chainrule.ops._linear).

Written as the textbook sums, one output element or one row at a time, so that each line
reads like the formula it implements. Slow on purpose.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .._checks import as_float_array, check_shape, linear_args, same_dtype

__all__ = ["matmul", "linear_forward", "linear_backward"]


def matmul(a: np.ndarray, b: np.ndarray, *, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    """op(a) @ op(b) for 2-D arrays: c[i, j] = sum_k op(a)[i, k] * op(b)[k, j]."""
    fn = "matmul"
    a = as_float_array(fn, "a", a, 2)
    b = as_float_array(fn, "b", b, 2)
    same_dtype(fn, a=a, b=b)
    A = a.T if trans_a else a
    B = b.T if trans_b else b
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"{fn}: inner dimensions differ: op(a) is {A.shape}, op(b) is {B.shape}")
    M, K = A.shape
    N = B.shape[1]
    c = np.zeros((M, N), dtype=a.dtype)
    for k in range(K):  # c = sum_k (column k of A) outer (row k of B)
        c += np.multiply.outer(A[:, k], B[k, :])
    return c


def linear_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray:
    """y[n, o] = sum_i x[n, i] * w[o, i] + b[o].   x (N, in), w (out, in), b (out,) -> (N, out)"""
    x, w, b = linear_args("linear_forward", x, w, b)
    N, OC = x.shape[0], w.shape[0]
    y = np.zeros((N, OC), dtype=x.dtype)
    for n in range(N):  # one sample at a time: y[n] = w @ x[n] + b
        y[n] = np.sum(w * x[n][None, :], axis=1)
        if b is not None:
            y[n] += b
    return y


def linear_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, bias=True,
                    need_dx: bool = True, need_dw: bool = True) -> Tuple[Any, Any, Any]:
    """For y = x @ w.T + b and dy = dL/dy (N, out):

    dx[n, i] = sum_o dy[n, o] * w[o, i]        (N, in)
    dw[o, i] = sum_n dy[n, o] * x[n, i]        (out, in)
    db[o]    = sum_n dy[n, o]                  (out,), None when bias=False
    need_dx=False / need_dw=False return None for dx / dw.
    """
    fn = "linear_backward"
    x, w, _ = linear_args(fn, x, w, None)
    dy = as_float_array(fn, "dy", dy, 2)
    same_dtype(fn, dy=dy, x=x, w=w)
    check_shape(fn, "dy", dy, (x.shape[0], w.shape[0]))
    N, OC = dy.shape
    dx = np.zeros(x.shape, dtype=x.dtype)
    dw = np.zeros(w.shape, dtype=x.dtype)
    db = np.zeros(OC, dtype=x.dtype) if bias else None
    for n in range(N):  # each sample's contribution
        dx[n] = np.sum(dy[n][:, None] * w, axis=0)   # sum_o dy[n, o] * w[o, :]
        dw += np.multiply.outer(dy[n], x[n])         # dy[n, o] * x[n, i]
        if bias:
            db += dy[n]
    return (dx if need_dx else None), (dw if need_dw else None), db
