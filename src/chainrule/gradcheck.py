"""Check autograd against central finite differences (float64).

``gradcheck(fn, inputs)`` pushes a fixed random upstream gradient ``dout`` through
``fn(*inputs)`` (so the whole Jacobian is exercised, not only a scalar loss), and compares
d<fn(inputs), dout>/d(input) from ``backward()`` with central differences for every input
Tensor that requires a gradient.
"""
from typing import Any, Callable

import numpy as np

from .autograd import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Autograd and finite differences disagree."""


def _output(fn, inputs):
    out = fn(*inputs)
    if isinstance(out, (tuple, list)):
        out = [o for o in out if isinstance(o, Tensor)]
    else:
        out = [out]
    for o in out:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor (or a tuple of Tensors), "
                            f"got {type(o).__name__}")
    return out


def gradcheck(fn: Callable[..., Any], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare autograd with central differences for each input that requires grad.

    fn:      callable taking ``*inputs`` and returning a Tensor (or a tuple of Tensors)
    inputs:  a Tensor or a tuple/list of Tensors and other arguments; every Tensor that
             requires grad must be float64 (differences in float32 are too coarse)
    Passes when |analytic - numeric| <= atol + rtol * |numeric| for every element.
    Returns True; on failure raises GradcheckError naming the input index, the element
    index, both values and the error (or returns False if raise_exception=False).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    targets = [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not targets:
        raise ValueError("gradcheck: no input Tensor requires grad; nothing to check")
    for i, t in targets:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {t.dtype}; finite differences need "
                            f"float64 inputs (use cr.tensor(x, dtype=np.float64) or .double())")

    rng = np.random.default_rng(seed)
    outs = _output(fn, inputs)
    douts = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]

    # analytic: one backward of <out, dout>, with the inputs' existing .grad set aside
    saved = [t.grad for _, t in targets]
    for _, t in targets:
        t.grad = None
    for o, d in zip(outs, douts):
        if o.requires_grad:
            o.backward(d, retain_graph=True)
    analytic = [t._grad if t._grad is not None else np.zeros_like(t.array) for _, t in targets]
    for (_, t), g in zip(targets, saved):
        t.grad = g

    def scalar():
        with no_grad():
            res = _output(fn, inputs)
        return sum(float(np.sum(o.array.astype(np.float64) * d)) for o, d in zip(res, douts))

    worst = None  # (excess, input index, element index, analytic, numeric)
    ok = True
    for (i, t), a in zip(targets, analytic):
        x = t.array
        numeric = np.zeros(x.shape, dtype=np.float64)
        flat = x.reshape(-1) if x.flags.c_contiguous else None
        if flat is None:
            raise ValueError(f"gradcheck: input {i} must be C-contiguous")
        for k in range(x.size):
            old = flat[k]
            flat[k] = old + eps
            fp = scalar()
            flat[k] = old - eps
            fm = scalar()
            flat[k] = old
            numeric.flat[k] = (fp - fm) / (2 * eps)
        err = np.abs(a - numeric)
        bound = atol + rtol * np.abs(numeric)
        excess = err - bound
        if x.size:
            k = int(np.argmax(excess))
            if worst is None or excess.flat[k] > worst[0]:
                worst = (excess.flat[k], i, np.unravel_index(k, x.shape), a.flat[k],
                         numeric.flat[k])
            if not np.all(err <= bound):
                ok = False
    if ok:
        return True
    assert worst is not None  # not ok: some input had elements
    _, i, idx, a, n = worst
    msg = (f"gradcheck: autograd and finite differences disagree for input {i} at element "
           f"{tuple(int(v) for v in idx)}: analytic {a:.10g}, numeric {n:.10g}, "
           f"|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numeric|")
    if raise_exception:
        raise GradcheckError(msg)
    return False
