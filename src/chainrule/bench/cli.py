"""``python -m chainrule bench``: argument parsing for :func:`chainrule.bench.run`."""
from __future__ import annotations

HELP = "benchmark kernels against NumPy and PyTorch"


def add_arguments(parser) -> None:
    from . import FAMILIES
    parser.add_argument("families", nargs="*",
                        help=f"subset of: {' '.join(FAMILIES)} (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings")
    parser.add_argument("--suite", default=None,
                        help="conv: resnet|vgg|googlenet|speech|groups|all (a network's "
                             "layers); gemm: skinny")


def main(args, parser) -> int:
    from . import FAMILIES, run
    fams = args.families or FAMILIES
    bad = [f for f in fams if f not in FAMILIES]
    if bad:
        parser.error(f"unknown bench families {bad}; choose from {FAMILIES}")
    if args.suite is not None:
        from .gemm import GEMM_SUITES
        from .suites import SUITE_NAMES
        if not args.families:  # the families that have this suite
            fams = [f for f, names in (("conv", SUITE_NAMES), ("gemm", GEMM_SUITES))
                    if args.suite in names] or ["conv"]
        if not set(fams) <= {"conv", "gemm"}:
            parser.error("--suite applies to the conv and gemm families only")
        for f, names in (("conv", SUITE_NAMES), ("gemm", GEMM_SUITES)):
            if f in fams and args.suite not in names:
                parser.error(f"unknown {f} suite {args.suite!r}; choose from {names}")
    run(fams, threads=args.threads, quick=args.quick, suite=args.suite)
    return 0
