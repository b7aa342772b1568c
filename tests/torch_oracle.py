"""tinygrad-style ``helper_test_op``: run one function on chainrule and on PyTorch with the
same random inputs, compare the forward values and the gradients of every input."""
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def helper_test_op(shapes, cr_fn, torch_fn=None, dtype=np.float64, seed=0, low=-2.0,
                   high=2.0, grad=True):
    """Forward and gradients of ``cr_fn(*tensors)`` against ``torch_fn(*tensors)`` (the
    same function when omitted: chainrule spells things like PyTorch)."""
    torch_fn = torch_fn or cr_fn
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(low, high, s).astype(dtype) for s in shapes]
    xs = [cr.tensor(a, requires_grad=grad) for a in arrays]
    ts = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out, tout = cr_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(np.asarray(out), tout.detach().numpy(), **TOL[dtype])
    assert out.dtype == np.dtype(dtype) and out.shape == tuple(tout.shape)
    if not grad:
        return
    w = rng.standard_normal(tout.shape).astype(dtype)  # a random upstream gradient
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        want = np.zeros_like(t.detach().numpy()) if t.grad is None else t.grad.numpy()
        got = np.zeros_like(want) if x.grad is None else x.grad.numpy()
        np.testing.assert_allclose(got, want, **TOL[dtype])
