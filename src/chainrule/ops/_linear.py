"""Dense kernels: matmul, linear_forward, linear_backward (C GEMM underneath)."""
import numpy as np

from .. import _kernels
from .._checks import as_float_array, same_dtype

__all__ = ["matmul", "linear_forward", "linear_backward"]


def matmul(a, b, *, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D arrays; op transposes when trans_a / trans_b is set.

    a: (M, K) or (K, M) if trans_a;  b: (K, N) or (N, K) if trans_b  ->  (M, N)
    """
    fn = "matmul"
    a = as_float_array(fn, "a", a, 2)
    b = as_float_array(fn, "b", b, 2)
    dt = same_dtype(fn, a=a, b=b)
    M, Ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    Kb, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if Ka != Kb:
        raise ValueError(f"{fn}: inner dimensions differ: op(a) is ({M}, {Ka}), op(b) is ({Kb}, {N}) "
                         f"(a {a.shape}, b {b.shape}, trans_a={trans_a}, trans_b={trans_b})")
    c = np.empty((M, N), dtype=dt)
    _kernels.gemm(bool(trans_a), bool(trans_b), a, b, c, 1.0, 0.0)
    return c


def linear_forward(x, w, b=None):
    """y = x @ w.T + b.   x (N, in), w (out, in), b (out,) or None -> y (N, out)"""
    raise NotImplementedError


def linear_backward(dy, x, w, *, bias=True):
    """dx = dy @ w, dw = dy.T @ x, db = dy.sum(0) (None if bias=False)."""
    raise NotImplementedError
