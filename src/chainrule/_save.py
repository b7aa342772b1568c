"""``cr.save`` / ``cr.load``: PyTorch's ``torch.save`` / ``torch.load`` on chainrule's safe
archive format (:mod:`chainrule.serialization`; nothing is ever pickled or unpickled).

Storable: dicts (any order, str/int/float/bool/None keys), lists, tuples, Tensors and
``nn.Parameter`` s (any dtype; they come back as Tensors / Parameters), NumPy arrays and
scalars, Python numbers, strings and None -- everything a state dict or an optimizer state
holds. A damaged, truncated or foreign file raises one
:class:`chainrule.serialization.SerializationError` (a ValueError) saying what is wrong.
"""
from __future__ import annotations

import os
from typing import Any, Union

from . import serialization

__all__ = ["save", "load"]


def _path(fn, f):
    if isinstance(f, (str, bytes, os.PathLike)):
        return f
    raise TypeError(f"{fn}: f must be a file path (str or os.PathLike), got {type(f).__name__} "
                    f"(file objects are not supported)")


def save(obj: Any, f: Union[str, bytes, os.PathLike], pickle_module: None = None,
         pickle_protocol: None = None, _use_new_zipfile_serialization: bool = True) -> None:
    """Save ``obj`` to the file ``f`` (atomically). ``pickle_module`` / ``pickle_protocol``
    are accepted for PyTorch compatibility and must be left at their defaults: objects
    outside the storable kinds are a TypeError, never pickled."""
    if pickle_module is not None or pickle_protocol is not None:
        raise ValueError("save: chainrule never pickles; pickle_module and pickle_protocol "
                         "must be None")
    serialization.save(obj, _path("save", f))


def _check_location(map_location):
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return
    if str(map_location) not in ("cpu", "cpu:0"):
        raise ValueError(f"load: map_location must be 'cpu' (chainrule runs on the CPU), got "
                         f"{map_location!r}")


def load(f: Union[str, bytes, os.PathLike], map_location: Any = None, pickle_module: None = None,
         *, weights_only: bool = True, mmap: Any = None, **pickle_load_args: Any) -> Any:
    """Load what :func:`save` wrote. Everything loads onto the CPU (``map_location`` may be
    None, "cpu", a ``cr.device("cpu")``, a dict or a callable, which are ignored); the
    file is read as data whatever ``weights_only`` says, since it can hold no code."""
    _check_location(map_location)
    if pickle_module is not None or pickle_load_args:
        raise ValueError("load: chainrule never unpickles; pickle_module and pickle load "
                         "arguments are not supported")
    return serialization.load(_path("load", f))
