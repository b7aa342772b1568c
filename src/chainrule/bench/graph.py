"""Benchmarks for the graph family: GCNConv forward + backward on a random power-law graph
against PyTorch (torch.sparse.mm) doing the same, and SpMM's effective memory bandwidth
against a streaming copy measured in the same run.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..ops._registry import bench_cases
from ._util import fmt_ratio, table, timeit, try_torch

SIZES = bench_cases("spmm", "cli")          # (nodes, edges, features)
QUICK_SIZES = bench_cases("spmm", "cli_quick")


def power_law_graph(n, E, seed=0, alpha=1.0):
    """E directed edges on n nodes whose endpoints are drawn with probability ~ 1 / rank^alpha
    (a few hubs hold most edges, as in social and citation graphs), node ids shuffled."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n + 1) ** alpha
    p /= p.sum()
    ids = rng.permutation(n)
    return np.stack([ids[rng.choice(n, E, p=p)], ids[rng.choice(n, E, p=p)]]).astype(np.int64)


def gcn_case(n, E, F, seed=0):
    rng = np.random.default_rng(seed)
    return dict(edge_index=power_law_graph(n, E, seed),
                x=rng.standard_normal((n, F)).astype(np.float32),
                dy=rng.standard_normal((n, F)).astype(np.float32))


def chainrule_gcn_fn(c, cached):
    import chainrule as cr
    from chainrule import nn
    F = c["x"].shape[1]
    cr.manual_seed(0)
    conv = nn.GCNConv(F, F, cached=cached)
    x = cr.tensor(c["x"], requires_grad=True)
    dy = cr.tensor(c["dy"])

    def run():
        x.grad = None
        conv.zero_grad()
        conv(x, c["edge_index"]).backward(dy)
    return run


def torch_gcn_fn(torch, c, cached):
    """The same layer in PyTorch: gcn_norm with scatter_add, torch.sparse.mm, autograd."""
    n, F = c["x"].shape
    ei = torch.from_numpy(c["edge_index"])
    lin = torch.nn.Linear(F, F, bias=False)
    bias = torch.zeros(F, requires_grad=True)
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    dy = torch.from_numpy(c["dy"])

    def adjacency():
        keep = ei[0] != ei[1]
        loop = torch.arange(n)
        src = torch.cat([ei[0][keep], loop])
        tgt = torch.cat([ei[1][keep], loop])
        w = torch.ones(src.shape[0])
        deg = torch.zeros(n).scatter_add_(0, tgt, w)
        dis = deg.pow(-0.5)
        dis[torch.isinf(dis)] = 0
        return torch.sparse_coo_tensor(torch.stack([tgt, src]), dis[src] * w * dis[tgt],
                                       (n, n), check_invariants=False).coalesce()
    fixed = adjacency() if cached else None

    def run():
        x.grad = None
        lin.zero_grad()
        bias.grad = None
        A = fixed if cached else adjacency()
        (torch.sparse.mm(A, lin(x)) + bias).backward(dy)
    return run


def _copy_bandwidth(nbytes, threads):
    """GB/s of a streaming copy of nbytes (read + write counted), split over threads."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    parts = np.array_split(np.arange(a.size), threads)
    spans = [(p[0], p[-1] + 1) for p in parts if p.size]
    pool = ThreadPoolExecutor(threads)

    def copy():
        list(pool.map(lambda s: np.copyto(b[s[0]:s[1]], a[s[0]:s[1]]), spans))
    t = timeit(copy, min_time=0.3, repeat=5)
    pool.shutdown()
    return 2 * a.nbytes / t / 1e9


def spmm_traffic(n, E, F, itemsize=4):
    """Bytes SpMM must move at least: indptr, indices, perm, values, x and y once each."""
    return (n + 1) * 8 + E * (8 + 8 + itemsize) + 2 * n * F * itemsize


def run(threads: int = 2, quick: bool = False) -> str:
    import chainrule as cr
    from chainrule import ops

    cr.set_num_threads(threads)
    torch = try_torch(threads)
    min_time = 0.3 if quick else 1.0
    rows, bw_rows = [], []
    for n, E, F in (QUICK_SIZES if quick else SIZES):
        c = gcn_case(n, E, F)
        for cached in (False, True):
            t_cr = timeit(chainrule_gcn_fn(c, cached), min_time=min_time, repeat=3)
            t_t = (timeit(torch_gcn_fn(torch, c, cached), min_time=min_time, repeat=3)
                   if torch else None)
            rows.append([f"n={n} E={E} {F}->{F}" + (" cached" if cached else ""),
                         f"{t_cr * 1e3:.1f}", "-" if t_t is None else f"{t_t * 1e3:.1f}",
                         fmt_ratio(t_cr, t_t)])
        ei = c["edge_index"]
        indptr, indices, perm = ops.csr_from_coo(ei[1], ei[0], n, n)
        values = np.ones(E, np.float32)
        t = timeit(lambda: ops.spmm(indptr, indices, values, c["x"], perm),
                   min_time=min_time, repeat=5)
        nbytes = spmm_traffic(n, E, F)
        gathered = nbytes + (E - n) * F * 4
        copy = _copy_bandwidth(max(nbytes, 1 << 27), threads)
        bw_rows.append([f"n={n} E={E} F={F}", f"{t * 1e3:.1f}", f"{nbytes / t / 1e9:.1f}",
                        f"{gathered / t / 1e9:.1f}", f"{copy:.1f}",
                        f"{100 * nbytes / t / 1e9 / copy:.0f}%"])
    head = (f"### graph: GCNConv forward + backward (x, weight, bias grads), float32, "
            f"{threads} thread(s)\n(cr/torch < 1: chainrule is faster; torch = gcn_norm "
            f"with scatter_add + torch.sparse.mm + autograd; cached: normalised adjacency "
            f"built once)\n\n")
    bw = (f"\n\n### graph: SpMM y = A x bandwidth vs a streaming copy (same run)\n"
          f"(compulsory = CSR + x + y once; gathered = every edge's x row from memory)\n\n")
    return head + table(["graph", "chainrule ms", "torch ms", "cr/torch"], rows) + bw + \
        table(["graph", "spmm ms", "compulsory GB/s", "gathered GB/s", "copy GB/s",
               "compulsory / copy"], bw_rows)
