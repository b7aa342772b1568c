"""Dense kernels: matmul, linear_forward, linear_backward (C GEMM underneath)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _kernels
from .._checks import _ND, as_float_array, check_shape, linear_args, same_dtype

__all__ = ["matmul", "linear_forward", "linear_backward"]


def _gemm_operand(x: np.ndarray) -> np.ndarray:
    """x itself if the GEMM can read it in place (rows or columns contiguous, positive
    strides: C order, Fortran order, transposes, row/column slices), else a C-order copy."""
    s0, s1 = x.strides
    r, c = x.shape
    it = x.itemsize
    if (c <= 1 or s1 == it) and (r <= 1 or (s0 > 0 and s0 % it == 0 and s0 // it >= max(c, 1))):
        return x
    if (r <= 1 or s0 == it) and (c <= 1 or (s1 > 0 and s1 % it == 0 and s1 // it >= max(r, 1))):
        return x
    return np.ascontiguousarray(x)


def matmul(a: np.ndarray, b: np.ndarray, *, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    """op(a) @ op(b) for 2-D arrays; op transposes when trans_a / trans_b is set.

    a: (M, K) or (K, M) if trans_a;  b: (K, N) or (N, K) if trans_b  ->  (M, N)
    Strided, transposed and Fortran-ordered inputs are read in place when possible.
    """
    c = _kernels.matmul_fast(a, b, bool(trans_a), bool(trans_b))
    if c is not None:  # the common case, checked in C (saves ~2 us per call)
        return c
    fn = "matmul"
    a = as_float_array(fn, "a", a, 2, contiguous=False)
    b = as_float_array(fn, "b", b, 2, contiguous=False)
    dt = same_dtype(fn, a=a, b=b)
    M, Ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    Kb, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if Ka != Kb:
        raise ValueError(f"{fn}: inner dimensions differ: op(a) is ({M}, {Ka}), op(b) is ({Kb}, {N}) "
                         f"(a {a.shape}, b {b.shape}, trans_a={trans_a}, trans_b={trans_b})")
    if M == 0 or N == 0 or Ka == 0:  # empty operands: any strides, nothing to read
        return np.zeros((M, N), dtype=dt)
    c = np.empty((M, N), dtype=dt)
    _kernels.gemm(bool(trans_a), bool(trans_b), _gemm_operand(a), _gemm_operand(b), c, 1.0, 0.0)
    return c


def linear_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x @ w.T + b.   x (N, in), w (out, in), b (out,) or None -> y (N, out)

    One GEMM; the bias is added when the tile is written, not in a second pass.
    """
    if type(x) is _ND and type(w) is _ND and x.ndim == 2 and w.ndim == 2:
        # the layers' call: the binding checks dtypes, contiguity and every shape before it
        # writes; what it refuses gets the full checks' message below
        y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
        try:
            _kernels.linear_forward(y, x, w, b)
            return y
        except (TypeError, ValueError, BufferError):
            pass
    x, w, b = linear_args("linear_forward", x, w, b)
    y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    _kernels.linear_forward(y, x, w, b)
    return y


def linear_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, bias=True,
                    need_dx: bool = True, need_dw: bool = True) -> Tuple[Any, Any, Any]:
    """Gradients of y = x @ w.T + b given dy = dL/dy.

    dy (N, out), x (N, in), w (out, in) -> dx = dy @ w (N, in), dw = dy.T @ x (out, in),
    db = dy.sum(0) (out,), or None when bias=False. need_dx=False / need_dw=False skip dx /
    dw (returned as None): one C call computes only what the caller needs.
    """
    fn = "linear_backward"
    if type(x) is _ND and type(w) is _ND and type(dy) is _ND and x.ndim == 2 and w.ndim == 2:
        # the layers' call: the binding checks dtypes, contiguity and every shape before it
        # writes; what it refuses gets the full checks' message below
        dt = x.dtype
        dx = np.empty(x.shape, dt) if need_dx else None
        dw = np.empty(w.shape, dt) if need_dw else None
        db = np.empty(w.shape[0], dt) if bias else None
        try:
            _kernels.linear_backward(dx, dw, db, dy, x, w, accumulate=False)
            return dx, dw, db
        except (TypeError, ValueError, BufferError):
            pass
    x, w, _ = linear_args(fn, x, w, None)
    dy = as_float_array(fn, "dy", dy, 2)
    same_dtype(fn, dy=dy, x=x, w=w)
    check_shape(fn, "dy", dy, (x.shape[0], w.shape[0]))
    dt = x.dtype
    dx = np.empty(x.shape, dt) if need_dx else None
    dw = np.empty(w.shape, dt) if need_dw else None
    db = np.empty(w.shape[0], dt) if bias else None
    _kernels.linear_backward(dx, dw, db, dy, x, w, accumulate=False)  # fresh outputs: overwrite
    return dx, dw, db
