"""Check a learner's numbers against a Trace.

``answers`` maps trace keys (``layers.1.delta``) or single entries / rows of them
(``layers.2.grad.weight[0,1]``, ``layers.0.grad.weight[1]``) to the learner's values. Each is
right when it is within ``rtol`` (1e-6) relative or ``atol`` absolute of the trace value. The
first wrong key in forward -> backward -> update order is where the learner's slip happened
(later wrong values may only inherit it).
"""
from __future__ import annotations

import re

import numpy as np

from .problem import ProblemError

__all__ = ["check_answers", "format_check_text"]

_KEY = re.compile(r"^(?P<base>[A-Za-z0-9_.]+)(?:\[(?P<idx>[^\]]*)\])?$")


def _parse_key(key, values, order):
    m = _KEY.match(key.strip()) if isinstance(key, str) else None
    if m is None or m.group("base") not in values:
        raise ProblemError(f"answers, key {key!r}: not a key of this trace (keys look like "
                           f"'layers.0.z', 'loss', 'layers.1.grad.weight[0,1]'; this trace has "
                           f"{', '.join(list(order)[:6])}, ...)")
    base, idx = m.group("base"), ()
    correct = np.asarray(values[base], dtype=np.float64)
    if m.group("idx") is not None:
        try:
            idx = tuple(int(p) for p in m.group("idx").split(","))
        except ValueError:
            raise ProblemError(f"answers, key {key!r}: the index must be integers like "
                               f"[0,1]") from None
        if len(idx) > correct.ndim or any(not 0 <= i < n for i, n in zip(idx, correct.shape)):
            raise ProblemError(f"answers, key {key!r}: index {list(idx)} is out of range for "
                               f"'{base}' of shape {correct.shape}")
    return base, idx, correct[idx] if idx else correct


def check_answers(trace, answers: dict, rtol=1e-6, atol=0.0) -> dict:
    """{"results": {key: {"ok", "given", "correct"}}, "first_wrong": key or None}.

    Raises ProblemError for an unknown key, a bad index, or a value whose shape does not
    match (a learner's [3, 15] for a (1, 2) weight matches; size must agree).
    """
    if not isinstance(answers, dict):
        raise ProblemError("answers: expected a JSON object mapping keys to values")
    items = trace.items()
    values = dict(items)
    order = {k: n for n, (k, _) in enumerate(items)}
    results, ranked = {}, []
    for key, given in answers.items():
        base, idx, correct = _parse_key(key, values, order)
        try:
            g = np.array(given, dtype=np.float64)
        except (ValueError, TypeError):
            raise ProblemError(f"answers, key {key!r}: expected a number or nested list of "
                               f"numbers") from None
        if g.shape != correct.shape and (g.size != correct.size or
                                         np.squeeze(g).shape != np.squeeze(correct).shape):
            raise ProblemError(f"answers, key {key!r}: the given value has shape {g.shape}, "
                               f"the trace's has shape {correct.shape}")
        g2 = g.reshape(correct.shape)
        ok = bool(np.all(np.abs(g2 - correct) <= atol + rtol * np.abs(correct)))
        results[key] = {"ok": ok, "given": given, "correct": correct.tolist()}
        if not ok:
            ranked.append(((order[base], idx), key))
    first = min(ranked)[1] if ranked else None
    return {"results": results, "first_wrong": first}


def _short(v):
    a = np.asarray(v, dtype=np.float64)
    return np.array2string(a, separator=", ", formatter={"float_kind": lambda x: f"{x:.6g}"})


def format_check_text(report: dict) -> str:
    lines = []
    for key, r in report["results"].items():
        if r["ok"]:
            lines.append(f"ok     {key} = {_short(r['given'])}")
        else:
            lines.append(f"WRONG  {key} = {_short(r['given'])}   correct: "
                         f"{_short(r['correct'])}")
    n_bad = sum(not r["ok"] for r in report["results"].values())
    if report["first_wrong"] is None:
        lines.append(f"all {len(report['results'])} values are right")
    else:
        lines.append(f"{n_bad} of {len(report['results'])} values are wrong; the first wrong "
                     f"step (forward, then backward, then update) is {report['first_wrong']}")
    return "\n".join(lines) + "\n"
