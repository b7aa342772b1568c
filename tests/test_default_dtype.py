"""cr.set_default_dtype / cr.get_default_dtype (issue 10), against torch's as the oracle."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from helpers import HAVE_TORCH, torch

torch = pytest.importorskip("torch")


@pytest.fixture
def float64_default():
    cr.set_default_dtype(cr.float64)
    torch.set_default_dtype(torch.float64)
    yield
    cr.set_default_dtype(cr.float32)
    torch.set_default_dtype(torch.float32)


def _name(dt):
    return str(dt).replace("torch.", "")


def _made(m):
    return {
        "zeros": m.zeros(2, 3), "ones": m.ones(2), "full": m.full((2,), 1.5),
        "empty": m.empty(2), "rand": m.rand(2), "randn": m.randn(2), "eye": m.eye(2),
        "linspace": m.linspace(0, 1, 5), "arange_float": m.arange(0.0, 2.0, 0.5),
        "arange_int": m.arange(3), "tensor_float": m.tensor([1.0, 2.0]),
        "tensor_int": m.tensor([1, 2]), "tensor_bool": m.tensor([True]),
        "tensor_f32_array": m.tensor(np.zeros(2, np.float32)),
        "tensor_f64_array": m.tensor(np.zeros(2, np.float64)),
        "zeros_like_int": m.zeros_like(m.tensor([1, 2])),
        "explicit": m.zeros(2, dtype=m.float32),
    }


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_factories_follow_the_default_like_torch(default, request):
    if default == "float64":
        request.getfixturevalue("float64_default")
    assert str(cr.get_default_dtype()) == _name(torch.get_default_dtype()) == default
    ours, theirs = _made(cr), _made(torch)
    for k in ours:
        assert str(ours[k].dtype) == _name(theirs[k].dtype), k


def test_module_parameters_follow_the_default(float64_default):
    mods = [nn.Linear(3, 2), nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.LayerNorm(4),
            nn.Embedding(5, 3), nn.LSTM(3, 4), nn.GRU(3, 4), nn.GroupNorm(2, 4)]
    for m in mods:
        for k, p in m.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                assert p.dtype == cr.float64, (type(m).__name__, k)
    # a float64 model trains on float64 data without conversions
    lin = nn.Linear(3, 1)
    loss = lin(cr.randn(4, 3)).pow(2).mean()
    loss.backward()
    assert loss.dtype == cr.float64 and lin.weight.grad.dtype == cr.float64
    # an explicit dtype still wins
    assert nn.Linear(2, 2, dtype=cr.float32).weight.dtype == cr.float32


def test_restored_default_gives_float32_again():
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.zeros(1).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.zeros(1).dtype == cr.float32 and nn.Linear(1, 1).weight.dtype == cr.float32
    assert repr(cr.tensor([1.0])) == "tensor([1.])"


def test_set_default_dtype_bad_input():
    for bad in (cr.int64, np.int32, "int64", None, 3, "nonsense"):
        with pytest.raises(TypeError, match="set_default_dtype: only floating dtypes"):
            cr.set_default_dtype(bad)
    assert cr.get_default_dtype() == cr.float32
    cr.set_default_dtype(np.float32)  # NumPy spellings are accepted
    assert cr.get_default_dtype() is cr.float32


def test_python_types_as_dtype_mean_what_they_mean_to_pytorch():
    assert cr.tensor([1, 2], dtype=float).dtype == cr.float64
    assert cr.zeros(2, dtype=int).dtype == cr.int64
    assert cr.ones(2, dtype=bool).dtype == cr.bool
    assert cr.tensor([1.0]).dtype == cr.float32 and cr.float == cr.float32
    if HAVE_TORCH:
        assert str(torch.tensor([1, 2], dtype=float).dtype) == "torch.float64"
