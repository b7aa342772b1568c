"""chainrule.reference — the slow, readable NumPy oracle.

The same names and signatures as chainrule.ops, written as the textbook definition
(explicit loops where that is the clearest statement), sharing no code with ops beyond
argument checks in chainrule._checks.
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
