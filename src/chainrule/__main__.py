"""Command line: ``python -m chainrule <command>``.

Each command is a module with ``HELP`` (one line), ``add_arguments(parser)`` and
``main(args, parser) -> exit code``; adding a command is one line in :data:`COMMANDS`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "bench": "chainrule.bench.cli",
    "explain": "chainrule.explain.cli",
    "train": "chainrule.train.cli",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``chainrule <command>: error: ...``,
    with exit status 2 (no usage dump)."""

    def error(self, message):
        name = self.prog.replace("python -m ", "", 1)
        self.exit(2, f"{name}: error: {message} (see --help)\n")


def main(argv=None) -> int:
    from . import __version__
    parser = Parser(prog="python -m chainrule",
                    description="chainrule: fast, verifiable backprop on the CPU")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, path in COMMANDS.items():
        modules[name] = mod = importlib.import_module(path)
        mod.add_arguments(sub.add_parser(name, help=mod.HELP, description=mod.HELP))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a one-line usage error: its status
        return e.code if isinstance(e.code, int) else 2
    return modules[args.command].main(args, sub.choices[args.command])


if __name__ == "__main__":
    sys.exit(main())
