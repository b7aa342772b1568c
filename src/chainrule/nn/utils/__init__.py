"""nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector,
vector_to_parameters (PyTorch's semantics); nn.utils.rnn: sequence packing."""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ...autograd import Tensor, tensor
from ...autograd.function import grad_array

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "rnn"]


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm``; return the total norm from before clipping (a 0-d Tensor, like PyTorch).

    The total norm is the ``norm_type``-norm of all gradients taken as one vector
    (``float('inf')`` or ``'inf'``: the largest |g|). Gradients are multiplied by
    min(1, max_norm / (total + 1e-6)). Parameters without a gradient are skipped.
    """
    fn = "clip_grad_norm_"
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__}")
    if isinstance(max_norm, (bool, np.bool_)) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"{fn}: max_norm must be a number, got {max_norm!r}")
    if isinstance(norm_type, str) and norm_type == "inf":
        norm_type = math.inf
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"{fn}: norm_type must be a number or 'inf', got {norm_type!r}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"{fn}: norm_type must be > 0, got {norm_type}")
    grads = [g for g in map(grad_array, params) if g is not None]
    if not grads:
        return tensor(0.0)
    dt = grads[0].dtype
    if norm_type == math.inf:
        total = max((float(np.max(np.abs(g))) if g.size else 0.0) for g in grads)
    else:
        per = np.array([np.sum(np.abs(g.astype(np.float64)) ** norm_type) for g in grads])
        total = float(np.sum(per) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"{fn}: the total norm of order {norm_type} of the gradients is "
                           f"non-finite ({total}); set error_if_nonfinite=False to clip anyway")
    coef = min(1.0, float(max_norm) / (total + 1e-6))
    for g in grads:
        g *= g.dtype.type(coef)
    return tensor(np.asarray(total, dtype=dt))


from . import rnn  # noqa: E402
from .params import clip_grad_value_, parameters_to_vector, vector_to_parameters  # noqa: E402
