"""nn.Module machinery and layers: registration order and state-dict keys (vs PyTorch),
load_state_dict checks, dtype conversion, zero_grad, train/eval, initialisation, losses."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
import chainrule.nn.functional as F
from helpers import HAVE_TORCH, assert_close

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, (3, 2), padding=1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 5, bias=False), nn.Tanh())
        self.scale = nn.Parameter(np.ones(5, np.float32))


class TorchBlock:  # built lazily so the module imports without torch
    @staticmethod
    def make():
        import torch.nn as tnn

        class B(tnn.Module):
            def __init__(self):
                super().__init__()
                self.conv = tnn.Conv2d(3, 4, (3, 2), padding=1)
                self.pool = tnn.MaxPool2d(2)
                self.head = tnn.Sequential(tnn.Flatten(), tnn.Linear(8, 5, bias=False),
                                           tnn.Tanh())
                import torch
                self.scale = tnn.Parameter(torch.ones(5))
        return B()


def test_named_parameters_order_and_keys():
    m = Block()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "conv.weight", "conv.bias", "head.1.weight"]
    assert list(m.state_dict()) == ["scale", "conv.weight", "conv.bias", "head.1.weight"]
    assert [p.shape for p in m.parameters()] == [(5,), (4, 3, 3, 2), (4,), (5, 8)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert [n for n, _ in m.named_children()] == ["conv", "pool", "head"]
    assert len(list(m.modules())) == 7


@needs_torch
def test_state_dict_keys_and_shapes_match_torch():
    m, t = Block(), TorchBlock.make()
    ours = m.state_dict()
    theirs = t.state_dict()
    assert sorted(ours) == sorted(theirs)
    for k in ours:
        assert ours[k].shape == tuple(theirs[k].shape), k
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    import torch.nn as tnn
    tseq = tnn.Sequential(tnn.Linear(4, 3), tnn.ReLU(), tnn.Linear(3, 2))
    assert list(seq.state_dict()) == list(tseq.state_dict())
    # a torch state dict loads directly (CPU tensors go through np.asarray)
    seq.load_state_dict(tseq.state_dict())
    assert_close(seq[2].weight.array, tseq[2].weight.detach().numpy())


def test_shared_parameter_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_state_dict_shares_memory_like_pytorch_and_roundtrips(rng):
    a, b = Block(), Block()
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    snapshot = copy.deepcopy(sd)
    sd["conv.bias"][:] = 7.0  # PyTorch: state_dict values share storage with the model
    assert np.all(a.conv.bias.array == 7.0)
    assert not np.any(np.asarray(snapshot["conv.bias"]) == 7.0)
    assert sd["conv.bias"].grad_fn is None and not sd["conv.bias"].requires_grad
    data_before = b.conv.weight.array
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.conv.weight.array is data_before  # copied in place
    for (k, v), (k2, w) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2
        assert_close(w, v)


def test_load_state_dict_casts_and_checks():
    m = nn.Linear(3, 2)
    sd = {"weight": np.arange(6.0).reshape(2, 3), "bias": [1, 2]}
    m.load_state_dict(sd)
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32
    assert_close(m.weight.array, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    with pytest.raises(ValueError, match=r"missing keys \['bias'\]"):
        m.load_state_dict({"weight": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        m.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2), "extra": 1})
    with pytest.raises(ValueError, match=r"shape mismatch for 'weight'.*\(3, 2\).*\(2, 3\)"):
        m.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.ones(2)})
    assert_close(m.bias.array, np.array([1, 2], np.float32))  # nothing changed on error
    with pytest.raises(TypeError, match="real numbers"):
        m.load_state_dict({"weight": np.zeros((2, 3), complex), "bias": np.ones(2)})
    res = m.load_state_dict({"weight": np.ones((2, 3)), "extra": 0}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    assert_close(m.weight.array, np.ones((2, 3), np.float32))


def test_to_float_double_in_place():
    m = Block()
    ids = [id(p) for p in m.parameters()]
    assert m.double() is m
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert [id(p) for p in m.parameters()] == ids
    m.conv.weight.grad = np.ones((4, 3, 3, 2))
    assert m.to(np.float32) is m and m.conv.weight.grad.dtype == np.float32
    assert m.float() is m and all(p.dtype == np.float32 for p in m.parameters())
    assert m.to("float64").scale.dtype == np.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        m.to(np.int32)
    with pytest.raises(TypeError, match="float32 or float64"):
        m.to("cuda")


def test_zero_grad_train_eval():
    m = Block()
    for p in m.parameters():
        p.grad = np.ones(p.shape, p.dtype)
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.conv.bias.grad = np.ones(4, np.float32)
    m.zero_grad(set_to_none=False)
    assert np.all(m.conv.bias.grad == 0)
    assert m.training and m.head[1].training
    assert m.eval() is m
    assert not m.training and not m.head[1].training and not m.pool.training
    m.train()
    assert all(mod.training for mod in m.modules())


def test_sequential_container():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    assert list(s) == layers
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[1] is layers[2]
    with pytest.raises(IndexError):
        s[3]
    with pytest.raises(TypeError, match="must be an nn.Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert "Linear(in_features=2, out_features=3, bias=True)" in repr(s)


def test_registration_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="nn.Parameter or None expected"):
        m.weight = cr.tensor(np.zeros((2, 2), np.float32))
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert list(m.state_dict()) == ["weight"]

    class NoInit(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        NoInit()
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


@pytest.mark.parametrize("make,fan_in", [(lambda: nn.Linear(50, 40), 50),
                                         (lambda: nn.Conv2d(6, 30, (3, 4)), 72)])
def test_default_init_bounds_and_seed(make, fan_in):
    cr.manual_seed(3)
    m = make()
    bound = 1 / np.sqrt(fan_in)
    for p in (m.weight, m.bias):
        assert p.dtype == np.float32
        assert np.all(np.abs(p.array) <= bound)
    w = m.weight.array.ravel()
    assert w.max() > 0.9 * bound and w.min() < -0.9 * bound  # fills the interval
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound  # uniform's std
    cr.manual_seed(3)
    m2 = make()
    assert np.array_equal(m2.weight.array, m.weight.array)
    assert np.array_equal(m2.bias.array, m.bias.array)
    m3 = make()
    assert not np.array_equal(m3.weight.array, m.weight.array)


def test_init_functions():
    g = np.random.default_rng(0)
    t = nn.Parameter(np.zeros((200, 100)))
    nn.init.xavier_uniform_(t, generator=g)
    b = np.sqrt(6 / 300)
    assert np.abs(t.array).max() <= b and np.abs(t.array).max() > 0.95 * b
    nn.init.kaiming_normal_(t, nonlinearity="relu", generator=g)
    assert abs(t.array.std() - np.sqrt(2 / 100)) < 0.01
    nn.init.constant_(t, 0.5)
    assert np.all(t.array == 0.5)
    assert nn.init.zeros_(t) is t and np.all(t.array == 0)
    with pytest.raises(ValueError, match="at least 2 dims"):
        nn.init.kaiming_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(TypeError, match="seed must be an int"):
        cr.manual_seed(1.5)


def test_constructor_argument_errors():
    with pytest.raises(TypeError, match="in_features must be an int"):
        nn.Linear(2.0, 3)
    with pytest.raises(ValueError, match="out_channels must be >= 1"):
        nn.Conv2d(3, 0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        nn.MaxPool2d(2, stride=0)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)


def test_activation_flatten_and_loss_modules(rng):
    x = cr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    assert_close(nn.ReLU()(x).array, F.relu(x).array)
    assert_close(nn.Sigmoid()(x).array, F.sigmoid(x).array)
    assert_close(nn.Tanh()(x).array, F.tanh(x).array)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert cr.gradcheck(lambda t: nn.Flatten()(t), (x,))
    with pytest.raises(ValueError, match="out of range"):
        nn.Flatten(3)(x)
    y = rng.standard_normal((2, 3, 4))
    assert_close(nn.MSELoss(reduction="sum")(x, y).array,
                 F.mse_loss(x, y, reduction="sum").array)
    p = rng.uniform(0.1, 0.9, (4,))
    assert_close(nn.BCELoss()(p, p).array, F.binary_cross_entropy(p, p).array)
    assert_close(nn.BCEWithLogitsLoss(reduction="none")(y, p[None, None, :] * np.ones_like(y)).array,
                 F.binary_cross_entropy_with_logits(y, p * np.ones_like(y), "none").array)
    logits = rng.standard_normal((3, 5))
    tgt = np.array([4, 0, 2])
    assert_close(nn.CrossEntropyLoss(label_smoothing=0.2)(logits, tgt).array,
                 F.cross_entropy(logits, tgt, label_smoothing=0.2).array)


# ---------------------------------------------------------------------------- layers, gradients
MODULES = [
    (lambda: nn.Linear(4, 3), (5, 4)),
    (lambda: nn.Linear(4, 3, bias=False), (2, 6, 4)),
    (lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2)), (2, 2, 7, 6)),
    (lambda: nn.Conv2d(2, 2, 1, bias=False), (1, 2, 3, 4)),
    (lambda: nn.MaxPool2d((2, 3), stride=1, padding=1), (2, 2, 5, 6)),
    (lambda: nn.AvgPool2d(2), (2, 3, 6, 4)),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(8, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.ReLU()),
     (2, 1, 6, 6)),
]


@pytest.mark.parametrize("make,xshape", MODULES)
def test_module_gradcheck_float64(rng, make, xshape):
    cr.manual_seed(5)
    m = make().double()
    params = list(m.parameters())
    assert all(p.dtype == np.float64 for p in params)
    x = cr.tensor(rng.permutation(np.prod(xshape)).reshape(xshape) / np.prod(xshape) - 0.4,
                  dtype=np.float64, requires_grad=True)  # distinct values: no max-pool ties
    assert cr.gradcheck(lambda x, *ps: m(x), (x, *params))


def test_linear_forward_backward_values(rng):
    m = nn.Linear(4, 3)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out = m(x)  # a plain array input is a constant
    assert out.dtype == np.float32 and out.requires_grad
    assert_close(out.array, x @ m.weight.array.T + m.bias.array)
    out.sum().backward()
    assert_close(m.weight.grad, np.ones((3, 5), np.float32) @ x)
    assert_close(m.bias.grad, np.full(3, 5.0, np.float32))


def test_module_dtype_mismatch_raises(rng):
    m = nn.Linear(4, 3)
    with pytest.raises(TypeError, match="mixed float dtypes"):
        m(rng.standard_normal((2, 4)))  # float64 data into float32 parameters
    assert m.double()(rng.standard_normal((2, 4))).dtype == np.float64
    c = nn.Conv2d(1, 1, 2)
    with pytest.raises(TypeError, match="mixed float dtypes"):
        c(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 3\)"):
        nn.Linear(3, 2)(np.zeros((2, 4), np.float32))


def test_losses_gradcheck_through_modules(rng):
    x = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = rng.uniform(0.1, 0.9, (4, 3))
    for loss in (nn.MSELoss(), nn.BCEWithLogitsLoss(reduction="sum"),
                 nn.CrossEntropyLoss(label_smoothing=0.1, reduction="none")):
        target = y if not isinstance(loss, nn.CrossEntropyLoss) else np.array([0, 2, 1, 2])
        assert cr.gradcheck(lambda t: loss(t, target), (x,))
    p = cr.tensor(y, requires_grad=True)
    assert cr.gradcheck(lambda t: nn.BCELoss()(t, 1 - y), (p,))


def test_dtype_keyword_and_parameter_construction():
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64
    assert nn.Conv2d(1, 2, 3, dtype="float64").bias.dtype == np.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Linear(3, 2, dtype=np.int64)
    base = np.zeros((2, 2))
    p = nn.Parameter(base)
    assert p.requires_grad and p.is_leaf and p.array is base  # shares memory like PyTorch
    assert nn.Parameter([1, 2]).dtype == np.float32
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="float16"):
        nn.Parameter(np.zeros(2, np.float16))
    assert "Parameter containing" in repr(p)
