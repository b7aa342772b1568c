"""chainrule — fast, verifiable backpropagation on the CPU.

C/OpenMP kernels (``chainrule.ops``) with slow NumPy twins (``chainrule.reference``),
and a PyTorch-shaped autograd layer on top (``Tensor``, ``nn``, ``optim``).
"""
__version__ = "0.1.0"

from . import _kernels  # noqa: F401  (a missing extension is an error, never silenced)
from ._threads import get_num_threads, set_num_threads
from . import _cpus; _cpus.install()  # noqa: E702  (default threads = usable CPUs; fork safety)
from ._config import show_config
from . import ops, reference
from ._random import manual_seed
from .autograd import (AnomalyError, Tensor, detect_anomaly, enable_grad, is_grad_enabled,
                       no_grad, tensor)
from .gradcheck import gradcheck
from . import nn, optim, diagnostics

__all__ = ["ops", "reference", "nn", "optim", "set_num_threads", "get_num_threads",
           "manual_seed", "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "gradcheck", "detect_anomaly", "AnomalyError", "diagnostics", "show_config"]
