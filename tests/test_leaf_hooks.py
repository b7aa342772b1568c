"""Tensor.register_hook on leaf tensors (issue 10): the hook sees the leaf's total gradient of
one backward before it is accumulated into .grad and may replace it, as in PyTorch."""
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _run(m, replace, twice=True):
    """x used three times (two branches and x*x); hooks log and (maybe) replace."""
    x = m.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    w = m.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    seen = []

    def log(g):
        seen.append(g.detach().numpy().copy())

    x.register_hook(log)
    if replace:
        x.register_hook(lambda g: g * 2)  # chained: the next hook sees the replacement
        x.register_hook(log)
    h = w.register_hook(lambda g: g + 1)
    for _ in range(2 if twice else 1):
        loss = ((x * w).sin() + x * x + x.exp() * 0.5).sum()
        loss.backward()
    h.remove()
    loss = (x * w).sum()
    loss.backward()
    return seen, x.grad.numpy().copy(), w.grad.numpy().copy()


@pytest.mark.parametrize("replace", [False, True])
def test_leaf_hook_matches_torch(replace):
    got, want = _run(cr, replace), _run(torch, replace)
    assert len(got[0]) == len(want[0])
    for a, b in zip(got[0], want[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6)


def test_leaf_hook_on_backward_of_the_leaf_itself_and_nn_parameter():
    for m in (cr, torch):
        x = m.tensor(np.array([1.0, 2.0]), requires_grad=True)
        x.register_hook(lambda g: g * 10)
        x.backward(m.tensor(np.array([1.0, 1.0])))
        assert x.grad.tolist() == [10.0, 10.0]
    lin = cr.nn.Linear(3, 2)
    tl = torch.nn.Linear(3, 2)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(lin.weight.numpy()))
        tl.bias.copy_(torch.from_numpy(lin.bias.numpy()))
    x0 = np.arange(6, dtype=np.float32).reshape(2, 3)
    for mod, m in ((lin, cr), (tl, torch)):
        mod.weight.register_hook(lambda g: g.clamp(-1.0, 1.0))  # gradient clipping by hook
        mod(m.from_numpy(x0)).pow(2).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=1e-6)
    assert np.abs(lin.weight.grad.numpy()).max() <= 1.0
    np.testing.assert_allclose(lin.bias.grad.numpy(), tl.bias.grad.numpy(), rtol=1e-6)


def test_leaf_hook_keeps_its_gradient_and_handle_removes():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    kept = []
    h = x.register_hook(kept.append)
    (x * 3).sum().backward()
    (x * 3).sum().backward()  # accumulation must not write into the tensor the hook kept
    assert kept[0].tolist() == [3.0, 3.0] and x.grad.tolist() == [6.0, 6.0]
    with h:
        pass  # a handle is a context manager too; leaving it removes the hook
    (x * 3).sum().backward()
    assert len(kept) == 2 and x.grad.tolist() == [9.0, 9.0]


def test_leaf_hook_with_post_accumulate_hook_order():
    x = cr.tensor([1.0], requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append(("pre", g.item())))
    x.register_post_accumulate_grad_hook(lambda t: order.append(("post", t.grad.item())))
    (x * 2 + x * 3).sum().backward()
    assert order == [("pre", 5.0), ("post", 5.0)]


def test_leaf_hook_bad_input():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="Tensor.register_hook: hook must be callable"):
        x.register_hook(3)
    with pytest.raises(RuntimeError, match="Tensor.register_hook: cannot register"):
        cr.tensor([1.0]).register_hook(lambda g: g)
    x.register_hook(lambda g: cr.zeros(3))
    with pytest.raises(RuntimeError, match=r"Tensor.register_hook: the hook returned a "
                                           r"gradient of shape \(3,\), expected \(2,\)"):
        (x * 2).sum().backward()
