"""``python -m chainrule bench``: kernel and training-step benchmarks against NumPy and PyTorch.

Each family module (gemm, conv, rnn, embedding, train, graph, norm, dist, contention) has
``run(threads, quick) -> str`` that times chainrule and its peers and returns a markdown
table of times and ratios, with the timing method stated under it (dist: 1 rank x p threads
vs p ranks under mpiexec); conv and gemm also take
``suite=`` (``--suite``: a network's layers, bench/suites.py; skinny GEMM shapes).
"""
from __future__ import annotations

import importlib

FAMILIES = ["gemm", "conv", "rnn", "embedding", "train", "graph", "norm", "dist", "contention"]


def run(families=None, threads: int = 2, quick: bool = False, out=print, suite=None) -> None:
    import chainrule as cr
    from ._util import METHOD, machine_line

    cr.set_num_threads(threads)
    out(machine_line(threads))
    for fam in families or FAMILIES:
        mod = importlib.import_module(f".{fam}", __name__)
        if not hasattr(mod, "run"):
            continue
        out("")
        text = mod.run(threads=threads, quick=quick, **({"suite": suite} if suite else {}))
        out(text if "Method:" in text else text + "\n\n" + METHOD)
