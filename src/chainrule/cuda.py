"""``chainrule.cuda``: PyTorch's ``torch.cuda`` queries, answered for a CPU-only library.

Scripts commonly ask ``torch.cuda.is_available()`` to pick a device; here it is always
False (and ``device_count()`` 0), so they fall back to the CPU. Seeding functions are
no-ops (there is no CUDA generator); ``cr.device("cuda")`` stays an error.
"""
from __future__ import annotations

__all__ = ["is_available", "device_count", "is_initialized", "manual_seed",
           "manual_seed_all", "synchronize", "empty_cache"]


def is_available():
    """False: chainrule runs on the CPU only."""
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """No CUDA generator to seed: a no-op, as torch.cuda.manual_seed without a GPU."""


def manual_seed_all(seed):
    """No CUDA generators to seed: a no-op."""


def synchronize(device=None):
    """Nothing runs asynchronously: a no-op."""


def empty_cache():
    """No device memory cache: a no-op."""
