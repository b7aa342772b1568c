"""t.grad_fn, t.retain_grad(), t.register_hook(hook) (issue 10), against PyTorch."""
import numpy as np
import pytest

import chainrule as cr


def _run(m, x0):
    x = m.tensor(x0, requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = (y * y).sin()
    z.retain_grad()
    seen = []
    h = z.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    h2 = y.register_hook(lambda g: g * 3)   # a returned tensor replaces the gradient
    loss = (z * m.tensor(np.arange(1.0, 4.0))).sum()
    loss.backward(retain_graph=True)
    first = [x.grad.numpy().copy(), y.grad.numpy().copy(), z.grad.numpy().copy()]
    h.remove()
    h2.remove()
    loss.backward()
    return first, [x.grad.numpy(), y.grad.numpy(), z.grad.numpy()], seen


def test_hooks_and_retain_grad_vs_torch():
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -0.7, 1.1])
    ours, theirs = _run(cr, x0), _run(torch, x0)
    for a, b in zip(ours[0] + ours[1] + ours[2], theirs[0] + theirs[1] + theirs[2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert len(ours[2]) == len(theirs[2]) == 1


def test_values_without_torch():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    y = x * x
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    y.register_hook(lambda g: g * 0.5)
    y.sum().backward()
    assert y.grad.tolist() == [0.5, 0.5] and x.grad.tolist() == [1.0, 2.0]


def test_grad_fn():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad_fn is None and cr.tensor([1.0]).grad_fn is None
    y = (x * 2).exp().sum()
    assert y.grad_fn.name() == "SumBackward" and "SumBackward" in repr(y.grad_fn)
    assert (x * 2).grad_fn.name() == "MulBackward"
    assert [f for f, _ in (x * 2).grad_fn.next_functions] == [None, None]
    with cr.no_grad():
        assert (x * 2).grad_fn is None


def test_bad_use():
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="Tensor.retain_grad: can't retain_grad"):
        cr.tensor([1.0]).retain_grad()
    with pytest.raises(TypeError, match="hook must be callable"):
        (x * 1).register_hook(3)
    y = x * 1
    y.register_hook(lambda g: cr.zeros(3))
    with pytest.raises(RuntimeError, match=r"the hook returned a gradient of shape \(3,\)"):
        y.sum().backward()
