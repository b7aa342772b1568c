"""Command line: ``python -m chainrule bench`` and ``python -m chainrule train``."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["explain"]:
        from .explain import main as explain_main
        return explain_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m chainrule",
                                     description="chainrule: fast, verifiable backprop on the CPU")
    sub = parser.add_subparsers(dest="command", required=True)

    pb = sub.add_parser("bench", help="benchmark kernels against NumPy and PyTorch")
    pb.add_argument("families", nargs="*", help="subset of: gemm conv rnn train (default: all)")
    pb.add_argument("--threads", type=int, default=2)
    pb.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings")

    sub.add_parser("explain", help="worked backprop solution of a problem file; checks answers")
    pt = sub.add_parser("train", help="train a model on the bundled 8x8 digits")
    from .train import add_cli_arguments
    add_cli_arguments(pt)

    args = parser.parse_args(argv)
    if args.command == "bench":
        from .bench import FAMILIES, run
        fams = args.families or FAMILIES
        bad = [f for f in fams if f not in FAMILIES]
        if bad:
            parser.error(f"unknown bench families {bad}; choose from {FAMILIES}")
        run(fams, threads=args.threads, quick=args.quick)
        return 0
    if args.command == "train":
        from .train import cli_main
        return cli_main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
