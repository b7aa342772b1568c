"""nn.utils.clip_grad_value_, parameters_to_vector, vector_to_parameters (issue 10)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _grads(m, x):
    m.zero_grad()
    (m(x) ** 2).sum().backward()


def test_vs_torch():
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    _grads(m, cr.tensor(x))
    (tm(torch.tensor(x)) ** 2).sum().backward()
    nn.utils.clip_grad_value_(m.parameters(), 0.3)
    torch.nn.utils.clip_grad_value_(tm.parameters(), 0.3)
    for p, q in zip(m.parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    v, tv = nn.utils.parameters_to_vector(m.parameters()), \
        torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    w = np.arange(v.shape[0], dtype=np.float32)
    nn.utils.vector_to_parameters(cr.tensor(w), m.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(w), tm.parameters())
    for p, q in zip(m.parameters(), tm.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_values_and_errors():
    p = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (p * cr.tensor([5.0, -5.0, 0.1])).sum().backward()
    nn.utils.clip_grad_value_(p, 1.0)
    assert p.grad.tolist() == pytest.approx([1.0, -1.0, 0.1])
    v = nn.utils.parameters_to_vector([p, p * 2])
    assert v.shape == (6,) and v.requires_grad
    with pytest.raises(TypeError, match="clip_grad_value_: clip_value must be a number"):
        nn.utils.clip_grad_value_(p, "1")
    with pytest.raises(ValueError, match="vector_to_parameters: vec must be 1-D with 3"):
        nn.utils.vector_to_parameters(cr.zeros(4), [p])
    with pytest.raises(TypeError, match="parameters_to_vector: parameters must be Tensors"):
        nn.utils.parameters_to_vector([np.zeros(2)])
