"""Grad mode (``no_grad``, ``enable_grad``, ``is_grad_enabled``) and anomaly mode
(``detect_anomaly``, ``AnomalyError``): per-thread switches the node recording
(:func:`chainrule.autograd.function.make`) and the backward walk (``engine.py``) read.

``grad_mode.enabled`` and ``anomaly.enabled`` are the flags themselves (thread-local
objects), read directly on the hot path; ``op_name`` and ``check_finite`` are what
anomaly mode reports with.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Literal, TypeVar

import numpy as np

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "AnomalyError",
           "grad_mode", "anomaly", "op_name", "check_finite"]


class _GradMode(threading.local):
    """Grad mode is per thread, as in PyTorch: no_grad in one thread leaves others alone."""
    enabled = True


grad_mode = _GradMode()


# ---------------------------------------------------------------------------- anomaly mode
class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()`` by the first op whose forward result or backward
    gradient holds NaN or inf."""


class _AnomalyMode(threading.local):
    enabled = False


anomaly = _AnomalyMode()


def op_name(backward) -> str:
    """The op a backward closure belongs to: 'Tensor.__mul__.<locals>.backward' -> 'mul'."""
    q = getattr(backward, "__qualname__", "") or "op"
    return q.split(".<locals>")[0].split(".")[-1].strip("_") or "op"


def check_finite(arr, what):
    """Raise :class:`AnomalyError` naming ``what`` if the float array ``arr`` holds NaN/inf."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise AnomalyError(f"detect_anomaly: {what} produced {bad} (shape {arr.shape})")


_F = TypeVar("_F", bound=Callable[..., Any])


class detect_anomaly:
    """Context manager: raise :class:`AnomalyError` at the first op that produces NaN/inf,
    in the forward pass (its result) or the backward pass (a gradient it returns), naming
    the op. Costs one ``isfinite`` scan per op while active; free otherwise. Per thread.

    >>> with cr.detect_anomaly():
    ...     loss = model(x).log().sum(); loss.backward()
    """

    __slots__ = ("_prev",)

    def __enter__(self) -> detect_anomaly:
        self._prev = anomaly.enabled
        anomaly.enabled = True
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        anomaly.enabled = self._prev
        return False


# ---------------------------------------------------------------------------- grad mode
class no_grad:
    """Context manager (and decorator) that disables graph building inside its block."""

    __slots__ = ("_prev",)

    def __enter__(self) -> no_grad:
        self._prev = grad_mode.enabled
        grad_mode.enabled = False
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        grad_mode.enabled = self._prev
        return False

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():  # the subclass's mode: enable_grad() decorates as enable_grad
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]  # functools.wraps keeps fn's signature


class enable_grad(no_grad):
    """Context manager (and decorator) that re-enables graph building (e.g. inside
    ``no_grad``)."""

    __slots__ = ()

    def __enter__(self) -> enable_grad:
        self._prev = grad_mode.enabled
        grad_mode.enabled = True
        return self


def is_grad_enabled() -> bool:
    return grad_mode.enabled
