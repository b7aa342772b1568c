"""``python -m chainrule explain problem.json [--format text|md|latex|json]
[--check answers.json] [--atol A]``.

Exit status: 0 (solution printed, or every checked value right), 1 (some checked value is
wrong), 2 (bad problem or answers file: one line ``chainrule explain: error: ...``).
"""
from __future__ import annotations

import argparse
import json
import sys

from .check import check_answers, format_check_text
from .problem import ProblemError, load_problem_dict, parse_problem
from .trace import compute_trace

__all__ = ["HELP", "add_arguments", "main", "build_parser", "dumps"]

HELP = "worked backprop solution of a problem file; checks a learner's answers"


def dumps(d: dict, level=0) -> str:
    """JSON with one key per line (values compact): readable and still plain JSON."""
    pad, rows = "  " * (level + 1), []
    for k, v in d.items():
        nested = isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values())
        rows.append(f"{pad}{json.dumps(k)}: {dumps(v, level + 1) if nested else json.dumps(v)}")
    return "{\n" + ",\n".join(rows) + "\n" + "  " * level + "}"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other explain error
        sys.stderr.write(f"chainrule explain: error: {message}\n")
        raise SystemExit(2)


def build_parser(parser=None):
    p = parser or _Parser(prog="python -m chainrule explain",
                          description="the worked solution of backprop for a small network")
    p.add_argument("problem", help="problem file (JSON: input, target, layers, loss, ...)")
    p.add_argument("--format", choices=("text", "md", "latex", "json"), default="text")
    p.add_argument("--check", metavar="ANSWERS", help="JSON file mapping trace keys to a "
                   "learner's values; marks each right or wrong")
    p.add_argument("--atol", type=float, default=0.0,
                   help="absolute tolerance for --check (besides 1e-6 relative)")
    return p


def run(args, out=None) -> int:
    out = out or sys.stdout
    try:
        trace = compute_trace(parse_problem(load_problem_dict(args.problem)))
        if args.check:
            report = check_answers(trace, load_problem_dict(args.check), atol=args.atol)
    except (ValueError, TypeError, ArithmeticError) as e:  # ProblemError is a ValueError
        sys.stderr.write(f"chainrule explain: error: {e}\n")
        return 2
    if args.check:
        if args.format == "json":
            out.write(dumps(report) + "\n")
        else:
            out.write(format_check_text(report))
        return 0 if report["first_wrong"] is None else 1
    if args.format == "json":
        out.write(dumps(trace.to_dict()) + "\n")
    else:
        out.write({"text": trace.to_text, "md": trace.to_markdown,
                   "latex": trace.to_latex}[args.format]())
    return 0


def add_arguments(parser) -> None:
    """The arguments of ``python -m chainrule explain`` (see chainrule.__main__)."""
    build_parser(parser)


def main(args, parser=None) -> int:
    """``python -m chainrule explain``: parsed ``args`` -> exit status."""
    return run(args)
