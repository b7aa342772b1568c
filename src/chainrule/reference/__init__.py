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
from ._linear import __all__ as _a1
from ._conv import __all__ as _a2
from ._pool import __all__ as _a3
from ._rnn import __all__ as _a4
from ._lstm import __all__ as _a5

__all__ = [*_a1, *_a2, *_a3, *_a4, *_a5]
