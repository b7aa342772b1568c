"""Module.state_dict() values are Tensors (issue 10): PyTorch's keys, order, dtypes and values;
load_state_dict takes Tensors, ndarrays and torch tensors; cr.save / cr.load round-trip them."""
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def _pair():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 3))
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(2 * 3 * 3, 3))
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    return m, t


def test_values_are_tensors_like_torch():
    m, t = _pair()
    sd, tsd = m.state_dict(), t.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == list(tsd)
    for k in sd:
        assert type(sd[k]) is cr.Tensor, k
        assert not sd[k].requires_grad and sd[k].grad_fn is None
        assert sd[k].shape == tuple(tsd[k].shape)
        assert str(sd[k].dtype) == str(tsd[k].dtype).replace("torch.", ""), k
        np.testing.assert_array_equal(sd[k].numpy(), tsd[k].numpy())
    # Tensor methods work on the values as in PyTorch scripts
    assert float(sd["3.weight"].norm()) == pytest.approx(float(tsd["3.weight"].norm()), rel=1e-6)
    assert sd["1.num_batches_tracked"].item() == 0


def test_keep_vars_gives_the_parameters():
    m = nn.Linear(2, 3)
    sd = m.state_dict(keep_vars=True)
    assert sd["weight"] is m.weight and sd["bias"] is m.bias


def test_load_accepts_tensors_arrays_and_torch_tensors():
    m, t = _pair()
    src, _ = _pair()
    for conv in (lambda v: v, lambda v: v.numpy(), lambda v: torch.from_numpy(v.numpy())):
        m.load_state_dict({k: conv(v) for k, v in src.state_dict().items()})
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), src.state_dict()[k].numpy())
    with pytest.raises(ValueError, match=r"Linear.load_state_dict: shape mismatch for 'weight'"):
        nn.Linear(2, 3).load_state_dict({"weight": cr.zeros(2, 2), "bias": cr.zeros(3)})
    with pytest.raises(TypeError, match="Linear.load_state_dict: expected a mapping"):
        nn.Linear(2, 3).load_state_dict([cr.zeros(3, 2)])


def test_save_load_round_trip(tmp_path):
    m, _ = _pair()
    m(cr.randn(2, 1, 5, 5))  # training mode: running statistics and the counter change
    path = tmp_path / "m.pt"
    cr.save(m.state_dict(), path)
    back = cr.load(path)
    assert list(back) == list(m.state_dict())
    for k, v in back.items():
        assert isinstance(v, cr.Tensor) and v.dtype == m.state_dict()[k].dtype
        np.testing.assert_array_equal(v.numpy(), m.state_dict()[k].numpy())
    fresh, _ = _pair()
    fresh.load_state_dict(back)
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), m.state_dict()[k].numpy())


def test_tied_weights_share_one_tensor():
    lin = nn.Linear(3, 3)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    sd = m.state_dict()
    assert sd["0.weight"] is sd["2.weight"]
    sd["2.weight"].fill_(0.5)  # the edit is seen under both keys, and loads
    m.load_state_dict(sd)
    assert np.all(lin.weight.numpy() == 0.5)
