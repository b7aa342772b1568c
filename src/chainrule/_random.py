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


class Generator(np.random.Generator):
    """PyTorch's ``torch.Generator``: a ``np.random.Generator`` (so every ``generator=``
    argument takes it) with ``manual_seed`` (returns self), ``seed``, ``initial_seed``,
    ``get_state`` / ``set_state`` (the bit generator's state dict). ``device``: "cpu"."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise ValueError(f"Generator: only device 'cpu' is supported, got {device!r}")
        self._initial_seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        super().__init__(np.random.PCG64(self._initial_seed))

    def manual_seed(self, seed):
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {seed!r}")
        if seed < 0:
            raise ValueError(f"Generator.manual_seed: seed must be >= 0, got {seed}")
        self._initial_seed = int(seed)
        self.bit_generator.state = np.random.PCG64(int(seed)).state
        return self

    def seed(self):
        """Re-seed from fresh entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._initial_seed

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        return self.bit_generator.state

    def set_state(self, state):
        self.bit_generator.state = state
        return self

    @property
    def device(self):
        from .autograd.dtypes import CPU
        return CPU
