"""chainrule — fast, verifiable backpropagation on the CPU.

C/OpenMP kernels (``chainrule.ops``) with slow NumPy twins (``chainrule.reference``),
and a PyTorch-shaped autograd layer on top (``Tensor``, ``nn``, ``optim``).
"""
__version__ = "0.1.0"

from . import _runtime  # imports the C extension: a missing build is an error, never silenced
from ._runtime import get_num_threads, set_num_threads

_runtime.install()  # once per process: default threads, fork handler, glibc heap tuning
from ._config import show_config
from . import ops, reference
from ._random import manual_seed
from .autograd import (AnomalyError, Tensor, detect_anomaly, enable_grad, is_grad_enabled,
                       no_grad, tensor)
from .gradcheck import gradcheck
from . import nn, optim, diagnostics
from . import utils
from ._save import save, load
from . import explain  # callable: cr.explain(model, x, target, loss, optimizer=None, l2=0.0)

__all__ = ["ops", "reference", "nn", "optim", "set_num_threads", "get_num_threads",
           "manual_seed", "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "gradcheck", "detect_anomaly", "AnomalyError", "diagnostics", "explain",
           "show_config", "utils", "save", "load"]
