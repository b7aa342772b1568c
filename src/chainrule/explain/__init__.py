"""chainrule.explain — the worked solution of backprop for a small network, and a checker.

    trace = chainrule.explain.load_problem("problem.json")
    print(trace.to_text())

or ``cr.explain(model, x, target, loss, optimizer=None, l2=0.0)`` for a chainrule model, or
``python -m chainrule explain problem.json [--format text|md|latex|json] [--check answers.json]``.
"""
import sys
import types

from .problem import ProblemError, parse_problem
from .trace import LayerTrace, Trace, compute_trace
from .api import Residual, explain, load_problem, problem_from_model
from .check import check_answers


__all__ = ["explain", "load_problem", "parse_problem", "compute_trace", "check_answers",
           "Trace", "LayerTrace", "ProblemError", "Residual", "problem_from_model"]


class _CallableModule(types.ModuleType):
    """``cr.explain(model, x, target, loss, ...)`` calls explain(); ``cr.explain.load_problem``
    and the rest stay attributes of this package."""

    def __call__(self, model, x, target, loss, optimizer=None, l2=0.0):
        return explain(model, x, target, loss, optimizer=optimizer, l2=l2)


sys.modules[__name__].__class__ = _CallableModule
