"""``python -m chainrule bench``: argument parsing for :func:`chainrule.bench.run`."""
from __future__ import annotations

HELP = "benchmark kernels against NumPy and PyTorch"


def add_arguments(parser) -> None:
    from . import FAMILIES
    parser.add_argument("families", nargs="*",
                        help=f"subset of: {' '.join(FAMILIES)} (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings")


def main(args, parser) -> int:
    from . import FAMILIES, run
    fams = args.families or FAMILIES
    bad = [f for f in fams if f not in FAMILIES]
    if bad:
        parser.error(f"unknown bench families {bad}; choose from {FAMILIES}")
    run(fams, threads=args.threads, quick=args.quick)
    return 0
