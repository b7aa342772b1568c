"""Hand-worked backpropagation examples: every number below was computed on paper."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from helpers import assert_close

DTYPES = [np.float32, np.float64]


def _two_layer_relu(dtype, lam=0.0):
    """x = (2, 1); h = relu(W1 x + b1); yhat = relu(W2 h + b2); L = (yhat - 3)^2 / 2
    (+ lam/2 (|W1|^2 + |W2|^2))."""
    x = cr.tensor(np.array([2.0, 1.0]), dtype=dtype)
    W1 = cr.tensor([[1.0, -1.0], [2.0, 0.0]], dtype=dtype, requires_grad=True)
    b1 = cr.tensor([0.0, 1.0], dtype=dtype, requires_grad=True)
    W2 = cr.tensor([[1.0, 1.0]], dtype=dtype, requires_grad=True)
    b2 = cr.tensor([0.0], dtype=dtype, requires_grad=True)
    h = (W1 @ x + b1).relu()
    yhat = (W2 @ h + b2).relu()
    L = 0.5 * ((yhat - 3.0) ** 2).sum()
    if lam:
        L = L + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    L.backward()
    return h, yhat, L, W1, b1, W2, b2


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_layer_relu_network(dtype):
    h, yhat, L, W1, b1, W2, b2 = _two_layer_relu(dtype)
    assert_close(h.data, np.array([1.0, 5.0], dtype))
    assert_close(yhat.data, np.array([6.0], dtype))
    assert L.item() == pytest.approx(4.5)
    assert_close(W2.grad, np.array([[3.0, 15.0]], dtype))
    assert_close(b2.grad, np.array([3.0], dtype))
    assert_close(W1.grad, np.array([[6.0, 3.0], [6.0, 3.0]], dtype))
    assert_close(b1.grad, np.array([3.0, 3.0], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_layer_relu_network_with_weight_decay(dtype):
    _, _, L, W1, b1, W2, b2 = _two_layer_relu(dtype, lam=0.1)
    # 4.5 + 0.05 * (1 + 1 + 4 + 0 + 1 + 1)
    assert L.item() == pytest.approx(4.9, rel=1e-6)
    assert_close(W1.grad, np.array([[6.1, 2.9], [6.2, 3.0]], dtype))
    assert_close(W2.grad, np.array([[3.1, 15.1]], dtype))
    assert_close(b1.grad, np.array([3.0, 3.0], dtype))  # biases are not decayed
    assert_close(b2.grad, np.array([3.0], dtype))


def _smoothed_ce_tensors(dtype):
    x = np.array([[0.0, 2.0]], dtype)
    W1 = cr.tensor([[-5.0, -5.0], [2.0, 2.0], [2.0, -1.0]], dtype=dtype, requires_grad=True)
    b1 = cr.tensor([-3.0, -2.0, -3.0], dtype=dtype, requires_grad=True)
    W2 = cr.tensor([[3.0, -2.0, -4.0], [-4.0, -4.0, -2.0], [1.0, -2.0, 3.0]], dtype=dtype,
                   requires_grad=True)
    b2 = cr.tensor([4.0, 5.0, 5.0], dtype=dtype, requires_grad=True)
    return x, W1, b1, W2, b2


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_with_label_smoothing_by_hand(dtype):
    """h = relu((-13, 2, -5)) = (0, 2, 0); logits (0, -3, 1); target class 0 with smoothing 0.3
    is q = (0.8, 0.1, 0.1); loss = -q . log_softmax = 1.526563; dL/db2 = softmax - q."""
    x, W1, b1, W2, b2 = _smoothed_ce_tensors(dtype)
    h = (x @ W1.T + b1).relu()
    logits = h @ W2.T + b2
    loss = F.cross_entropy(logits, np.array([0]), label_smoothing=0.3)
    loss.backward()
    assert_close(h.data, np.array([[0.0, 2.0, 0.0]], dtype))
    assert_close(logits.data, np.array([[0.0, -3.0, 1.0]], dtype))
    assert loss.item() == pytest.approx(1.526563, abs=1e-6)
    assert_close(b2.grad, np.array([-0.534612, -0.086787, 0.621399], dtype), rtol=0, atol=1e-6)
    # only hidden unit 1 is active: dW2 = db2 outer h, db1 = (0, W2[:, 1] . db2, 0)
    assert_close(W2.grad, np.outer(b2.grad, [0.0, 2.0, 0.0]), rtol=1e-6, atol=1e-7)
    assert_close(b1.grad, np.array([0.0, -2 * -0.534612 - 4 * -0.086787 - 2 * 0.621399, 0.0],
                                   dtype), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_with_label_smoothing_through_modules(dtype):
    """The same example with nn.Linear / nn.ReLU / nn.CrossEntropyLoss (kernels underneath)."""
    from chainrule import nn
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3))
    model.load_state_dict({
        "0.weight": [[-5, -5], [2, 2], [2, -1]], "0.bias": [-3, -2, -3],
        "2.weight": [[3, -2, -4], [-4, -4, -2], [1, -2, 3]], "2.bias": [4, 5, 5]})
    model.to(dtype)
    logits = model(np.array([[0.0, 2.0]], dtype))
    loss = nn.CrossEntropyLoss(label_smoothing=0.3)(logits, np.array([0]))
    loss.backward()
    assert_close(logits.data, np.array([[0.0, -3.0, 1.0]], dtype))
    assert loss.item() == pytest.approx(1.526563, abs=1e-6)
    assert_close(model[2].bias.grad, np.array([-0.534612, -0.086787, 0.621399], dtype),
                 rtol=0, atol=1e-6)
    assert_close(model[0].weight.grad[[0, 2]], np.zeros((2, 2), dtype))  # dead units


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_layer_relu_network_through_modules(dtype):
    from chainrule import nn
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1), nn.ReLU())
    model.load_state_dict({"0.weight": [[1, -1], [2, 0]], "0.bias": [0, 1],
                           "2.weight": [[1, 1]], "2.bias": [0]})
    model.to(dtype)
    yhat = model(np.array([[2.0, 1.0]], dtype))
    loss = 0.5 * nn.MSELoss(reduction="sum")(yhat, np.array([[3.0]], dtype))
    loss.backward()
    assert yhat.item() == 6.0 and loss.item() == 4.5
    assert_close(model[2].weight.grad, np.array([[3.0, 15.0]], dtype))
    assert_close(model[2].bias.grad, np.array([3.0], dtype))
    assert_close(model[0].weight.grad, np.array([[6.0, 3.0], [6.0, 3.0]], dtype))
    assert_close(model[0].bias.grad, np.array([3.0, 3.0], dtype))
