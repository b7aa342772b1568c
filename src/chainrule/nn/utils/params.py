"""nn.utils.clip_grad_value_, parameters_to_vector, vector_to_parameters (PyTorch's)."""
from __future__ import annotations

import numbers

import numpy as np

from ...autograd import Tensor
from ...autograd.function import grad_array
from ...autograd.joins import cat

__all__ = ["clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _params(fn, parameters):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__}")
    return params


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` to [-clip_value, clip_value] in place."""
    if isinstance(clip_value, (bool, np.bool_)) or not isinstance(clip_value, numbers.Real):
        raise TypeError(f"clip_grad_value_: clip_value must be a number, got {clip_value!r}")
    c = float(clip_value)
    for p in _params("clip_grad_value_", parameters):
        g = grad_array(p)
        if g is not None:
            np.clip(g, -c, c, out=g)


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (with gradients)."""
    return cat([p.reshape(-1) for p in _params("parameters_to_vector", parameters)])


def vector_to_parameters(vec, parameters):
    """Copy the slices of the 1-D ``vec`` into ``parameters`` (their data, in place)."""
    params = _params("vector_to_parameters", parameters)
    v = vec.array if isinstance(vec, Tensor) else np.asarray(vec)
    n = sum(p.array.size for p in params)
    if v.ndim != 1 or v.size != n:
        raise ValueError(f"vector_to_parameters: vec must be 1-D with {n} elements (the "
                         f"parameters' total), got shape {v.shape}")
    start = 0
    for p in params:
        k = p.array.size
        p.array[...] = v[start:start + k].reshape(p.array.shape)
        start += k
