"""``chainrule.backends``: the ``torch.backends`` flags scripts set or query.

``backends.cudnn`` (``enabled``, ``deterministic``, ``benchmark``: plain settable flags
with no effect; ``is_available()`` False) and ``backends.mps`` (``is_available()`` and
``is_built()`` False). chainrule's CPU kernels are deterministic for a fixed thread count.
"""
from __future__ import annotations

import types

__all__ = ["cudnn", "mps"]


def _false():
    return False


cudnn = types.SimpleNamespace(enabled=True, deterministic=False, benchmark=False,
                              allow_tf32=False, is_available=_false)
mps = types.SimpleNamespace(is_available=_false, is_built=_false)
