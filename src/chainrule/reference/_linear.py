"""Dense layer, as NumPy definitions."""
import numpy as np

from .._checks import as_float_array, same_dtype

__all__ = ["matmul", "linear_forward", "linear_backward"]


def matmul(a, b, *, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D arrays."""
    fn = "matmul"
    a = as_float_array(fn, "a", a, 2)
    b = as_float_array(fn, "b", b, 2)
    same_dtype(fn, a=a, b=b)
    A = a.T if trans_a else a
    B = b.T if trans_b else b
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"{fn}: inner dimensions differ: op(a) is {A.shape}, op(b) is {B.shape}")
    return A @ B


def linear_forward(x, w, b=None):
    raise NotImplementedError


def linear_backward(dy, x, w, *, bias=True):
    raise NotImplementedError
