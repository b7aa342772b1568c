"""chainrule.ops — the fast kernels (C with OpenMP), functional, NumPy in and out.

Each function validates its arguments (TypeError/ValueError naming the argument and the
shapes), makes inputs C-contiguous, allocates the outputs and calls chainrule._kernels.
The NumPy twin of every function, with the same name and signature, is in
chainrule.reference.
"""
from ._linear import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._pool import *  # noqa: F401,F403
from ._rnn import *  # noqa: F401,F403
from ._lstm import *  # noqa: F401,F403
from ._linear import __all__ as _a1
from ._conv import __all__ as _a2
from ._pool import __all__ as _a3
from ._rnn import __all__ as _a4
from ._lstm import __all__ as _a5

__all__ = [*_a1, *_a2, *_a3, *_a4, *_a5]
