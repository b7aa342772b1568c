"""Whole models against PyTorch: the same weights (copied through state_dict), the same
batch; outputs, losses and every parameter's gradient must agree, over several SGD steps."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from helpers import assert_close

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def mlp(lib):
    L = nn if lib == "cr" else tnn
    return L.Sequential(L.Linear(7, 16), L.ReLU(), L.Linear(16, 9), L.Tanh(), L.Linear(9, 5),
                        L.Sigmoid(), L.Linear(5, 4))


def cnn(lib):
    L = nn if lib == "cr" else tnn
    return L.Sequential(
        L.Conv2d(3, 6, 3, padding=1), L.ReLU(), L.MaxPool2d(2),          # 10x9 -> 5x4
        L.Conv2d(6, 5, (3, 2), stride=(1, 2), padding=(1, 0), dilation=(1, 1)), L.Tanh(),
        L.AvgPool2d(2, stride=1),                                      # 5x2 -> 4x1
        L.Conv2d(5, 4, (2, 1), dilation=(2, 1), bias=False), L.ReLU(),  # 4x1 -> 2x1
        L.Flatten(), L.Linear(8, 4))


def _copy_weights(ours, theirs, dtype):
    ours.load_state_dict(theirs.state_dict())
    ours.to(dtype)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)


def _compare(ours, theirs, x, target, dtype, loss_name, steps=3, lr=0.1):
    tol = TOL[dtype]
    cr_loss = {"ce": nn.CrossEntropyLoss(label_smoothing=0.1), "mse": nn.MSELoss()}[loss_name]
    t_loss = {"ce": tnn.CrossEntropyLoss(label_smoothing=0.1), "mse": tnn.MSELoss()}[loss_name]
    tx = torch.tensor(x)
    tt = torch.tensor(target)
    for step in range(steps):
        out = ours(x)
        tout = theirs(tx)
        assert_close(out.data, tout.detach().numpy(), name=f"step {step} output", **tol)
        loss = cr_loss(out, target)
        tloss = t_loss(tout, tt)
        assert_close(loss.data, tloss.detach().numpy(), name=f"step {step} loss", **tol)
        ours.zero_grad()
        theirs.zero_grad()
        loss.backward()
        tloss.backward()
        tparams = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            assert_close(p.grad, tparams[name].grad.numpy(), name=f"step {step} grad {name}",
                         **tol)
        with cr.no_grad(), torch.no_grad():  # plain SGD on both sides
            for name, p in ours.named_parameters():
                p.data -= lr * p.grad
                tparams[name] -= lr * tparams[name].grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_matches_torch(rng, dtype):
    torch.manual_seed(0)
    ours, theirs = mlp("cr"), mlp("torch")
    _copy_weights(ours, theirs, dtype)
    x = rng.standard_normal((11, 7)).astype(dtype)
    _compare(ours, theirs, x, rng.integers(0, 4, 11), dtype, "ce")
    _compare(ours, theirs, x, rng.standard_normal((11, 4)).astype(dtype), dtype, "mse")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cnn_matches_torch(rng, dtype):
    torch.manual_seed(1)
    ours, theirs = cnn("cr"), cnn("torch")
    _copy_weights(ours, theirs, dtype)
    x = rng.standard_normal((3, 3, 10, 9)).astype(dtype)
    _compare(ours, theirs, x, rng.integers(0, 4, 3), dtype, "ce")


def test_state_dict_keys_and_shapes_equal_torch():
    for make in (mlp, cnn):
        ours, theirs = make("cr").state_dict(), make("torch").state_dict()
        assert list(ours) == list(theirs)
        assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
        assert all(v.dtype == np.float32 for v in ours.values())


def test_default_init_bounds_equal_torch():
    """PyTorch's default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias:
    both libraries stay inside the same bound for every layer and fill it."""
    cr.manual_seed(0)
    torch.manual_seed(0)
    for make in (mlp, cnn):
        ours, theirs = make("cr"), make("torch")
        tsd = theirs.state_dict()
        bound = None
        for k, v in ours.state_dict().items():
            v = np.asarray(v)  # a Tensor: its values as an array
            tv = tsd[k].numpy()
            if k.endswith("weight"):
                bound = 1 / np.sqrt(np.prod(v.shape[1:]))
            assert np.abs(v).max() <= bound and np.abs(tv).max() <= bound, k
            if v.size >= 16:
                assert np.abs(v).max() > 0.7 * bound, k
