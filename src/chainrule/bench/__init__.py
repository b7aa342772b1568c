"""``python -m chainrule bench``: kernel and training-step benchmarks against NumPy and PyTorch.

Each family module (gemm, conv, rnn, embedding, train, graph, norm, dist) has
``run(threads, quick) -> str`` that times chainrule and its peers in the same run and returns
a markdown table of times and ratios (dist: 1 rank x p threads vs p ranks under mpiexec).
"""
from __future__ import annotations

import importlib

FAMILIES = ["gemm", "conv", "rnn", "embedding", "train", "graph", "norm", "dist"]


def run(families=None, threads: int = 2, quick: bool = False, out=print) -> None:
    import chainrule as cr
    from ._util import machine_line

    cr.set_num_threads(threads)
    out(machine_line(threads))
    for fam in families or FAMILIES:
        mod = importlib.import_module(f".{fam}", __name__)
        if not hasattr(mod, "run"):
            continue
        out("")
        out(mod.run(threads=threads, quick=quick))
