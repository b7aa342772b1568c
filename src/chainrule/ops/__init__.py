"""chainrule.ops — the fast kernels (C with OpenMP), functional, NumPy in and out.

Each function validates its arguments (TypeError/ValueError naming the function, the
argument and the shapes), makes inputs C-contiguous, allocates the outputs (or writes
the keyword-only ``out=`` the hot paths pass) and calls chainrule._kernels. The NumPy
twin of every function, with the same name and signature, is in chainrule.reference;
ops/_registry.py lists every kernel once with its twin, test cases and bench shapes.
"""
from ._linear import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._pool import *  # noqa: F401,F403
from ._rnn import *  # noqa: F401,F403
from ._lstm import *  # noqa: F401,F403
from ._lstm_bidir import *  # noqa: F401,F403
from ._embed import *  # noqa: F401,F403
from ._act import *  # noqa: F401,F403
from ._actfn import *  # noqa: F401,F403
from ._optim import *  # noqa: F401,F403
from ._spmm import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._norm_rows import *  # noqa: F401,F403
from . import (_linear, _conv, _pool, _rnn, _lstm, _lstm_bidir, _embed, _act, _actfn, _optim,
               _spmm, _norm, _norm_rows)

__all__ = [n for m in (_linear, _conv, _pool, _rnn, _lstm, _lstm_bidir, _embed, _act, _actfn,
                       _optim, _spmm, _norm, _norm_rows) for n in m.__all__]
