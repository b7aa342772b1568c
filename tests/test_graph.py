"""chainrule.graph (adjacency, Laplacians, graph Fourier) and the SpMM kernel on graphs:
fast vs reference on awkward graphs, threads, a power-law graph."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import graph, ops, reference
from helpers import assert_close

# the 4-node example: 0-1, 0-2, 1-2, 1-3, 2-3 (degrees 2, 3, 3, 2)
FOUR = np.array([[0, 0, 1, 1, 2], [1, 2, 2, 3, 3]])


def _power_law(rng, n, E):
    """Edges whose sources follow a Zipf-like law (a few hubs with most edges)."""
    src = np.minimum((rng.pareto(1.2, E) * 3).astype(np.int64), n - 1)
    return np.stack([rng.permutation(n)[src], rng.integers(0, n, E)])


def _spmm_both(ei, n, F, dt, rng):
    indptr, indices, perm = ops.csr_from_coo(ei[1], ei[0], n, n)
    w = rng.standard_normal(ei.shape[1]).astype(dt)
    x = rng.standard_normal((n, F)).astype(dt)
    return (indptr, indices, w, x, perm)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["empty_rows", "self_loops", "duplicates", "isolated",
                                  "one_node", "no_edges", "power_law"])
def test_spmm_fast_vs_reference_on_graphs(case, dt):
    rng = np.random.default_rng(1)
    n, ei = {"empty_rows": (7, np.array([[0, 1, 2], [3, 3, 5]])),
             "self_loops": (5, np.array([[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 4, 4]])),
             "duplicates": (4, np.array([[1, 1, 1, 2], [0, 0, 0, 3]])),
             "isolated": (9, np.array([[0, 1], [1, 0]])),
             "one_node": (1, np.array([[0], [0]])),
             "no_edges": (3, np.zeros((2, 0), np.int64)),
             "power_law": (500, _power_law(rng, 500, 4000))}[case]
    for F in (1, 7, 33, 64):
        args = _spmm_both(ei, n, F, dt, rng)
        y = ops.spmm(*args)
        assert_close(y, reference.spmm(*args), dt, name=f"{case} F={F}")
        dy = rng.standard_normal(y.shape).astype(dt)
        t = ops.csr_from_coo(ei[0], ei[1], n, n)
        got = ops.spmm_backward(dy, *args[:4], *t, args[4])
        want = reference.spmm_backward(dy, *args[:4], *t, args[4])
        assert_close(got[0], want[0], dt, name=f"{case} dx F={F}")
        assert_close(got[1], want[1], dt, name=f"{case} dvalues F={F}")


def test_duplicate_edges_are_summed():
    rng = np.random.default_rng(0)
    ei = np.array([[1, 1, 2], [0, 0, 0]])
    x = rng.standard_normal((3, 4))
    ip, ind, perm = ops.csr_from_coo(ei[1], ei[0], 3, 3)
    y = ops.spmm(ip, ind, np.array([0.5, 1.5, 2.0]), x, perm)
    np.testing.assert_allclose(y[0], 2.0 * x[1] + 2.0 * x[2], rtol=1e-12)
    np.testing.assert_array_equal(y[1:], 0)
    A = graph.adjacency(ei, 3, np.array([0.5, 1.5, 2.0]))
    assert A.indices.tolist() == [1, 2] and A.data.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_spmm_one_and_two_threads_bitwise(dt):
    rng = np.random.default_rng(3)
    n = 3000
    ei = _power_law(rng, n, 60000)
    args = _spmm_both(ei, n, 64, dt, rng)
    t = ops.csr_from_coo(ei[0], ei[1], n, n)
    dy = rng.standard_normal((n, 64)).astype(dt)
    before = cr.get_num_threads()
    out = []
    try:
        for threads in (1, 2):
            cr.set_num_threads(threads)
            out.append((ops.spmm(*args),) + ops.spmm_backward(dy, *args[:4], *t, args[4]))
    finally:
        cr.set_num_threads(before)
    for a, b in zip(*out):
        assert a.tobytes() == b.tobytes()


def test_csr_from_coo_is_a_stable_sort():
    rows, cols = np.array([2, 0, 2, 1, 0]), np.array([1, 3, 0, 2, 0])
    indptr, indices, perm = ops.csr_from_coo(rows, cols, 4, 4)
    assert indptr.tolist() == [0, 2, 3, 5, 5]
    assert perm.tolist() == [1, 4, 3, 0, 2] and indices.tolist() == [3, 0, 2, 1, 0]


def test_four_node_laplacian_eigenvalues():
    ei = graph.to_undirected(FOUR)
    assert graph.degree(ei[1], 4).tolist() == [2, 3, 3, 2]
    for dense in (True, False):
        L = graph.laplacian(ei, 4, dense=dense)
        L = L if dense else L.toarray()
        np.testing.assert_allclose(L, np.diag([2, 3, 3, 2]) - graph.adjacency(ei, dense=True))
        np.testing.assert_allclose(np.linalg.eigvalsh(L.astype(np.float64)), [0, 2, 4, 4],
                                   atol=1e-6)


@pytest.mark.parametrize("norm", ["sym", "rw"])
def test_normalized_laplacians_match_their_formulas(norm):
    ei, w = graph.to_undirected(FOUR, np.array([1.0, 2.0, 0.5, 1.0, 3.0]))
    A = graph.adjacency(ei, 5, w, dense=True)  # symmetric; node 4 isolated
    d = A.sum(1)
    inv = np.zeros(5)
    inv[d > 0] = d[d > 0] ** (-0.5 if norm == "sym" else -1.0)
    want = np.eye(5) - (inv[:, None] * A * inv[None] if norm == "sym" else inv[:, None] * A)
    for dense in (True, False):
        L = graph.laplacian(ei, 5, norm, w, dense=dense)
        np.testing.assert_allclose(L if dense else L.toarray(), want, atol=1e-12)
    if norm == "sym":  # eigenvalues of the normalised Laplacian lie in [0, 2]
        ev = np.linalg.eigvalsh(want)
        assert ev.min() > -1e-9 and ev.max() < 2 + 1e-9


def test_graph_fourier_round_trip_and_basis():
    ei = graph.to_undirected(FOUR)
    L = graph.laplacian(ei, 4, edge_weight=np.ones(ei.shape[1]))
    x = np.random.default_rng(0).standard_normal((4, 3))
    xh = graph.graph_fourier(x, L)
    np.testing.assert_allclose(graph.inverse_graph_fourier(xh, L), x, atol=1e-12)
    # a constant signal lives on the eigenvalue-0 vector only
    ch = graph.graph_fourier(np.ones(4), L)
    np.testing.assert_allclose(np.abs(ch), [2, 0, 0, 0], atol=1e-12)


def test_self_loops_and_undirected():
    ei, w = graph.add_self_loops(FOUR, np.ones(5), fill_value=2.0, num_nodes=5)
    assert ei.shape == (2, 10) and w[5:].tolist() == [2.0] * 5
    assert graph.add_self_loops(FOUR)[1] is None
    und, ww = graph.to_undirected(np.array([[0, 1, 0], [1, 0, 1]]), np.array([1.0, 2.0, 3.0]))
    assert und.tolist() == [[0, 1], [1, 0]] and ww.tolist() == [6.0, 6.0]


def test_errors_name_function_and_argument():
    with pytest.raises(ValueError, match=r"laplacian: argument 'edge_index' .*outside \[0, 3\)"):
        graph.laplacian(np.array([[0, 3], [1, 0]]), 3)
    with pytest.raises(ValueError, match=r"laplacian: .*'edge_weight' must be non-negative"):
        graph.laplacian(FOUR, 4, edge_weight=np.array([1.0, -1, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"graph_fourier: argument 'L' must be a square"):
        graph.graph_fourier(np.ones(3), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"graph_fourier: argument 'x' must have 4 rows"):
        graph.graph_fourier(np.ones(3), np.eye(4))
    with pytest.raises(ValueError, match=r"adjacency: argument 'edge_index' must have shape"):
        graph.adjacency(np.zeros((3, 2), np.int64))
    with pytest.raises(TypeError, match=r"adjacency: argument 'edge_index' must be an integer"):
        graph.adjacency(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"adjacency: .*'edge_weight' must have shape \(5,\)"):
        graph.adjacency(FOUR, edge_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"laplacian: argument 'normalization'"):
        graph.laplacian(FOUR, normalization="both")
    with pytest.raises(ValueError, match=r"csr_from_coo: argument 'rows' .*outside"):
        ops.csr_from_coo(np.array([0, 5]), np.array([0, 0]), 3, 3)


def test_csr_matmul_matches_dense():
    rng = np.random.default_rng(2)
    ei = _power_law(rng, 50, 300)
    w = rng.random(300)
    A = graph.adjacency(ei, 50, w)
    x = rng.standard_normal((50, 5))
    np.testing.assert_allclose(A @ x, graph.adjacency(ei, 50, w, dense=True) @ x, rtol=1e-12,
                               atol=1e-12)
