"""GCNConv, ChebConv, SGConv: the dense formulas, finite differences for x, weights and
edge weights (float64), PyG semantics (self loops, improved, normalize=False, cached)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import graph, nn
from helpers import assert_grad_close, numerical_grad

# a small directed graph with a self loop, a duplicate edge and an isolated node (5)
EI = np.array([[0, 1, 1, 2, 2, 3, 0, 4, 3, 3],
               [1, 0, 2, 1, 3, 2, 0, 1, 4, 4]])
N = 6


def _dense_gcn(x, W, b, ei, w, improved=False):
    A = graph.adjacency(ei, N, w, dense=True).astype(np.float64)
    A[np.arange(N), np.arange(N)] = 0
    loops = np.full(N, 2.0 if improved else 1.0)
    own = ei[0] == ei[1]
    if w is not None:
        loops[ei[0][own]] = w[own]
    A += np.diag(loops)
    d = A.sum(1)
    dis = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
    return (dis[:, None] * A * dis[None]) @ x @ W.T + b


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_gcnconv_equals_dense_formula(improved, weighted):
    rng = np.random.default_rng(0)
    conv = nn.GCNConv(4, 3, improved=improved).double()
    conv.bias.array[:] = rng.standard_normal(3)
    x = rng.standard_normal((N, 4))
    w = rng.random(EI.shape[1]) + 0.1 if weighted else None
    y = conv(cr.tensor(x), EI, None if w is None else cr.tensor(w))
    want = _dense_gcn(x, conv.lin.weight.array, conv.bias.array, EI, w, improved)
    np.testing.assert_allclose(y.array, want, rtol=1e-12, atol=1e-12)


def test_gcnconv_without_normalization_and_cache():
    rng = np.random.default_rng(1)
    conv = nn.GCNConv(4, 3, normalize=False, bias=False).double()
    x = rng.standard_normal((N, 4))
    A = graph.adjacency(EI, N, dense=True).astype(np.float64)
    np.testing.assert_allclose(conv(cr.tensor(x), EI).array, A @ x @ conv.lin.weight.array.T,
                               rtol=1e-12)
    cached = nn.GCNConv(4, 3, cached=True).double()
    first = cached(cr.tensor(x), EI).array
    again = cached(cr.tensor(x), EI[:, :2]).array  # cached: the new edges are ignored
    np.testing.assert_array_equal(first, again)


def _chebyshev_dense(x, lins, b, K, ei, w, norm="sym", lam=2.0):
    keep = ei[0] != ei[1]
    ei, w = ei[:, keep], (np.ones(keep.sum()) if w is None else w[keep])
    A = graph.adjacency(ei, N, w, dense=True).astype(np.float64)  # A[t, s]
    d = A.sum(0)  # out-degrees (sources), as PyG
    if norm is None:
        L = np.diag(d) - A
    else:
        inv = np.zeros(N)
        inv[d > 0] = d[d > 0] ** (-0.5 if norm == "sym" else -1.0)
        L = np.eye(N) - (inv[:, None] * A * inv[None] if norm == "sym" else A * inv[None])
    Lh = 2 * L / lam - np.eye(N)
    T = [x, Lh @ x]
    for _ in range(2, K):
        T.append(2 * Lh @ T[-1] - T[-2])
    return sum(T[k] @ lins[k].T for k in range(K)) + b


@pytest.mark.parametrize("K", [1, 2, 4])
@pytest.mark.parametrize("norm,lam", [("sym", None), ("rw", 1.5), (None, 3.0)])
def test_chebconv_equals_dense_recursion(K, norm, lam):
    rng = np.random.default_rng(K)
    conv = nn.ChebConv(4, 3, K, normalization=norm).double()
    conv.bias.array[:] = rng.standard_normal(3)
    x = rng.standard_normal((N, 4))
    w = rng.random(EI.shape[1]) + 0.1
    y = conv(cr.tensor(x), EI, cr.tensor(w), lambda_max=lam)
    want = _chebyshev_dense(x, [m.weight.array for m in conv.lins], conv.bias.array, K, EI, w,
                            norm, 2.0 if lam is None else lam)
    np.testing.assert_allclose(y.array, want, rtol=1e-11, atol=1e-11)


def test_sgconv_is_linear_of_propagated_features():
    rng = np.random.default_rng(2)
    conv = nn.SGConv(4, 3, K=3).double()
    x = rng.standard_normal((N, 4))
    S = _dense_gcn(np.eye(N), np.eye(N), 0, EI, None)
    want = np.linalg.matrix_power(S, 3) @ x @ conv.lin.weight.array.T + conv.lin.bias.array
    np.testing.assert_allclose(conv(cr.tensor(x), EI).array, want, rtol=1e-12, atol=1e-12)


def _layers():
    return [("gcn", lambda: nn.GCNConv(3, 2)), ("gcn-improved", lambda: nn.GCNConv(3, 2, True)),
            ("cheb-sym", lambda: nn.ChebConv(3, 2, 3)),
            ("cheb-rw", lambda: nn.ChebConv(3, 2, 3, normalization="rw")),
            ("sg", lambda: nn.SGConv(3, 2, K=2))]


@pytest.mark.parametrize("name,make", _layers())
def test_finite_differences_x_weights_edge_weights(name, make):
    rng = np.random.default_rng(5)
    conv = make().double()
    for p in conv.parameters():
        p.array[:] = rng.standard_normal(p.shape)
    x = rng.standard_normal((N, 3))
    w = rng.random(EI.shape[1]) + 0.5
    kw = dict(lambda_max=1.7) if name == "cheb-rw" else {}
    xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    y = conv(xt, EI, wt, **kw)
    dy = rng.standard_normal(y.shape)
    y.backward(cr.tensor(dy))
    run = lambda: conv(cr.tensor(x), EI, cr.tensor(w), **kw).array
    assert_grad_close(np.asarray(xt.grad), numerical_grad(lambda a: run(), x, dy),
                      name=f"{name} dx")
    assert_grad_close(np.asarray(wt.grad), numerical_grad(lambda a: run(), w, dy),
                      name=f"{name} d(edge_weight)")
    for pname, p in conv.named_parameters():
        assert_grad_close(np.asarray(p.grad), numerical_grad(lambda a: run(), p.array, dy),
                          name=f"{name} d{pname}")


def test_float32_layers_and_bad_input():
    conv = nn.GCNConv(3, 2)
    y = conv(cr.tensor(np.ones((N, 3), np.float32)), EI)
    assert y.dtype == np.float32 and y.shape == (N, 2)
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        conv(cr.tensor(np.ones((3, 3), np.float32)), EI)
    with pytest.raises(ValueError, match=r"GCNConv|gcn_norm"):
        conv(cr.tensor(np.ones((N, 3), np.float32)), EI, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="lambda_max"):
        nn.ChebConv(3, 2, 2, normalization="rw")(cr.tensor(np.ones((N, 3), np.float32)), EI)
