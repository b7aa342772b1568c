"""chainrule's own global random generator (NumPy ``Generator``).

``nn.init`` and ``DataLoader`` shuffling draw from :func:`get_generator`;
``cr.manual_seed(s)`` makes both reproducible without touching NumPy's global state.
"""
from __future__ import annotations

import numbers

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed chainrule's global generator; returns the new ``np.random.Generator``."""
    global _generator
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_generator() -> np.random.Generator:
    """The ``np.random.Generator`` chainrule draws from (re-created by ``manual_seed``)."""
    return _generator
