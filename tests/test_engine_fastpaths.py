"""The backward walk's allocation-free paths (autograd/engine.py): a node's gradient
summed in place when only the walk holds the first contribution; never when anything
else does (a closure's saved array, a view, the same array handed to two parents)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.function import make


def _fan_out(x, contributions, seen):
    """y = identity(x) consumed by one node per entry of ``contributions`` (each backward
    returns that entry's array as y's gradient); y's closure records what it receives."""
    def y_backward(g):
        seen.append((g, g.copy()))
        return (g,)
    y = make(x.array.copy(), (x,), y_backward)
    outs = []
    for c in contributions:
        outs.append(make(np.zeros(()), (y,), lambda g, c=c: (c(),)))
    return outs


def _sum_backward(outs):
    total = outs[0]
    for o in outs[1:]:
        total = total + o
    total.backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_first_contribution_is_summed_in_place(dtype):
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal((3, 5)).astype(dtype) for _ in range(3))
    ptrs, seen = [], []

    def fresh(v):
        def make_fresh():
            arr = v.copy()
            ptrs.append(arr.__array_interface__["data"][0])
            return arr
        return make_fresh
    x = cr.tensor(a, requires_grad=True)
    _sum_backward(_fan_out(x, [fresh(a), fresh(b), fresh(c)], seen))
    g, values = seen[0]
    # the walk visits the newest consumer first: its fresh array receives the others
    assert g.__array_interface__["data"][0] == ptrs[0]
    assert np.array_equal(values, (c + b) + a)
    assert np.array_equal(x.grad.array, (c + b) + a)


def test_held_contributions_are_never_overwritten():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    saved = a.copy()
    view_base = np.concatenate([b, b])
    seen = []
    x = cr.tensor(a, requires_grad=True)
    # a saved array (closure-held), a view and a fresh one, in every visiting order
    contributions = [lambda: saved, lambda: view_base[:4], lambda: b.copy()]
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1]):
        x.grad = None
        seen.clear()
        _sum_backward(_fan_out(x, [contributions[i] for i in order], seen))
        assert np.array_equal(saved, a)  # untouched
        assert np.array_equal(view_base, np.concatenate([b, b]))
        assert np.allclose(x.grad.array, a + 2 * b, rtol=0, atol=1e-12)


def test_same_array_to_two_parents_is_not_overwritten():
    """An add's backward hands one array to both operands: the first operand's pending
    sum must not be changed in place (the other operand still holds it)."""
    a = np.arange(6.0).reshape(2, 3)
    x = cr.tensor(a, requires_grad=True)
    y = x * 1.0
    z = y + y  # one node, both parents y: its backward returns (g, g)
    w = z + y  # y gets a third contribution
    g = np.full((2, 3), 2.0)
    w.backward(g)
    assert np.array_equal(x.grad.array, np.full((2, 3), 6.0))
    assert np.array_equal(g, np.full((2, 3), 2.0))  # the caller's grad is untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_sum_matches_torch_on_a_residual_net(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    xa = rng.standard_normal((5, 7)).astype(dtype)
    wa = [rng.standard_normal((7, 7)).astype(dtype) / 3 for _ in range(3)]
    x = cr.tensor(xa, requires_grad=True)
    ws = [cr.tensor(w, requires_grad=True) for w in wa]
    h = x
    for w in ws:  # h = h + relu(h @ w): every h gets two contributions
        h = h + (h @ w).relu()
    (h * h).sum().backward()
    tx = torch.tensor(xa, requires_grad=True)
    tws = [torch.tensor(w, requires_grad=True) for w in wa]
    th = tx
    for w in tws:
        th = th + (th @ w).relu()
    (th * th).sum().backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(x.grad.array, tx.grad.numpy(), rtol=tol, atol=tol)
    for w, tw in zip(ws, tws):
        assert np.allclose(w.grad.array, tw.grad.numpy(), rtol=tol, atol=tol)


# ---------------------------------------------------------------------------- ops.conv2d_*
# conv2d_output_size is memoised for plain int arguments (ops/_conv.py _output_size): a
# cached argument set must not let a bool/float/NumPy stride or a bad shape through.
def test_conv_size_memo_keeps_every_check():
    from chainrule import ops, reference
    from chainrule.ops import _conv
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = ops.conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1), 1)  # cached now
    assert (x.shape, w.shape, (1, 1), (1, 1), (1, 1), 1) in _conv._SIZES
    assert np.allclose(y, reference.conv2d_forward(x, w, None, 1, 1, 1, 1), atol=1e-4)
    for bad in (True, (True, 1), 1.0, (1, 1.0)):
        with pytest.raises(TypeError, match="conv2d_forward: argument 'stride'"):
            ops.conv2d_forward(x, w, None, bad, (1, 1), (1, 1), 1)
    # a NumPy integer is a valid stride: checked (not memoised), same result
    assert np.array_equal(ops.conv2d_forward(x, w, None, (np.int64(1), 1), 1, 1, 1), y)
    with pytest.raises(TypeError, match="conv2d_backward: argument 'groups'"):
        ops.conv2d_backward(y, x, w, (1, 1), (1, 1), (1, 1), True)
    with pytest.raises(ValueError, match="channel mismatch"):
        ops.conv2d_forward(x[:, :2].copy(), w, None, (1, 1), (1, 1), (1, 1), 1)
    with pytest.raises(ValueError, match="'dy' must have shape"):
        ops.conv2d_backward(y[:, :, :6].copy(), x, w, (1, 1), (1, 1), (1, 1), 1)
    dx, dw, db = ops.conv2d_backward(y, x, w, (1, 1), (1, 1), (1, 1), 1)
    rdx, rdw, rdb = reference.conv2d_backward(y, x, w, 1, 1, 1, 1)
    for a, b in ((dx, rdx), (dw, rdw), (db, rdb)):
        assert np.allclose(a, b, rtol=1e-4, atol=1e-3)


def test_conv_size_memo_is_bounded():
    from chainrule import ops
    from chainrule.ops import _conv
    w = np.ones((1, 1, 1, 1))
    for n in range(1, 300):
        ops.conv2d_forward(np.ones((1, 1, 1, n)), w, None, 1, 0, 1, 1)
    assert 0 < len(_conv._SIZES) <= 256
