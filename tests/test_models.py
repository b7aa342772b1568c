"""chainrule.models: shapes, state-dict keys, and forward/backward vs the same model in PyTorch."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn
from helpers import HAVE_TORCH, assert_close

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")


def torch_twin(model):
    """The same architecture in PyTorch, with chainrule's weights copied in (float64)."""
    import torch
    tnn = torch.nn
    if isinstance(model, models.MLP):
        layers = [tnn.Flatten()]
        w = model.widths
        for i, (a, b) in enumerate(zip(w[:-1], w[1:])):
            layers.append(tnn.Linear(a, b))
            if i < len(w) - 2:
                layers.append(tnn.ReLU())
        t = tnn.Sequential(*layers)
    elif isinstance(model, models.LeNet5):
        c = model.features[0].weight.shape[1]
        t = tnn.Module()
        t.features = tnn.Sequential(tnn.Conv2d(c, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                                    tnn.Conv2d(6, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2))
        t.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(model.flat_features, 120),
                                      tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                                      tnn.Linear(84, model.classifier[-1].weight.shape[0]))
        t.forward = lambda x: t.classifier(t.features(x))
    else:
        t = tnn.Module()
        t.rnn = tnn.RNN(model.input_size, model.hidden_size, batch_first=True)
        t.fc = tnn.Linear(model.hidden_size, model.fc.weight.shape[0])

        def fwd(x):
            n = x.shape[0]
            _, h = t.rnn(x.reshape(n, x.shape[-2], x.shape[-1]))
            return t.fc(h.reshape(n, -1))
        t.forward = fwd
    t = t.double()
    sd = t.state_dict()
    ours = model.state_dict()
    assert list(sd.keys()) == list(ours.keys()), "state-dict keys differ from PyTorch's"
    t.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in ours.items()})
    return t


def check_against_torch(model, x, y):
    import torch
    model.double()
    t = torch_twin(model)
    out = model(x)
    loss = nn.CrossEntropyLoss()(out, y)
    loss.backward()
    tx = torch.from_numpy(x)
    tout = t(tx)
    tloss = torch.nn.functional.cross_entropy(tout, torch.from_numpy(y))
    tloss.backward()
    assert_close(out.data, tout.detach().numpy(), name="logits")
    assert_close(loss.item(), tloss.item(), name="loss")
    tgrads = dict(t.named_parameters())
    for name, p in model.named_parameters():
        assert_close(p.grad, tgrads[name].grad.numpy(), name=f"grad {name}", rtol=1e-9,
                     atol=1e-11)


# ---- MLP -----------------------------------------------------------------------------------
def test_mlp_structure_and_shapes():
    m = models.MLP(64, [32, 16], 10)
    assert m.widths == (64, 32, 16, 10)
    assert [tuple(p.shape) for p in m.parameters()] == [(32, 64), (32,), (16, 32), (16,),
                                                        (10, 16), (10,)]
    assert list(m.state_dict()) == ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight",
                                    "5.bias"]
    out = m(np.zeros((5, 1, 8, 8), np.float32))
    assert out.shape == (5, 10) and out.dtype == np.float32
    assert models.MLP(4, [], 3)(np.ones((2, 4), np.float32)).shape == (2, 3)
    assert models.MLP(4, 7, 3).widths == (4, 7, 3)


@needs_torch
def test_mlp_matches_torch(rng):
    cr.manual_seed(0)
    m = models.MLP(64, [32, 16], 10)
    check_against_torch(m, rng.standard_normal((7, 1, 8, 8)), rng.integers(0, 10, 7))


@pytest.mark.parametrize("kw", [dict(in_features=0), dict(hidden=[8, -1]), dict(out_features=2.5),
                                dict(activation="gelu")])
def test_mlp_bad_args(kw):
    args = dict(in_features=4, hidden=[8], out_features=3)
    args.update(kw)
    with pytest.raises(ValueError, match="MLP"):
        models.MLP(**args)


# ---- LeNet-5 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size,flat", [(8, 16 * 2 * 2), (28, 16 * 7 * 7), ((12, 20), 16 * 3 * 5)])
def test_lenet_fits_small_and_mnist_inputs(size, flat):
    m = models.LeNet5(1, 10, size)
    assert m.flat_features == flat
    h, w = (size, size) if isinstance(size, int) else size
    out = m(np.zeros((3, 1, h, w), np.float32))
    assert out.shape == (3, 10)
    assert m.classifier[1].weight.shape == (120, flat)


def test_lenet_state_dict_keys():
    keys = list(models.LeNet5().state_dict())
    assert keys == ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias",
                    "classifier.1.weight", "classifier.1.bias", "classifier.3.weight",
                    "classifier.3.bias", "classifier.5.weight", "classifier.5.bias"]


@needs_torch
@pytest.mark.parametrize("size,channels", [(8, 1), (11, 3)])
def test_lenet_matches_torch(rng, size, channels):
    cr.manual_seed(1)
    m = models.LeNet5(channels, 10, size)
    check_against_torch(m, rng.standard_normal((4, channels, size, size)), rng.integers(0, 10, 4))


def test_lenet_bad_args():
    with pytest.raises(ValueError, match="too small"):
        models.LeNet5(1, 10, 3)
    with pytest.raises(ValueError, match="num_classes"):
        models.LeNet5(1, 0, 8)


# ---- RNN classifier -------------------------------------------------------------------------
def _has_rnn():
    try:
        nn.RNN(2, 2)
        return True
    except NotImplementedError:
        return False


needs_rnn = pytest.mark.skipif(not _has_rnn(), reason="nn.RNN not merged yet")


@needs_rnn
def test_rnn_classifier_shapes_and_keys():
    m = models.RNNClassifier(8, 16, 10)
    assert list(m.state_dict()) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                    "rnn.bias_hh_l0", "fc.weight", "fc.bias"]
    assert m(np.zeros((5, 1, 8, 8), np.float32)).shape == (5, 10)
    assert m(np.zeros((5, 8, 8), np.float32)).shape == (5, 10)
    with pytest.raises(ValueError, match="rows have 7 features"):
        m(np.zeros((5, 1, 8, 7), np.float32))
    with pytest.raises(ValueError, match="expected images"):
        m(np.zeros((5, 2, 8, 8), np.float32))


@needs_rnn
@needs_torch
def test_rnn_classifier_matches_torch(rng):
    cr.manual_seed(2)
    m = models.RNNClassifier(8, 12, 10)
    check_against_torch(m, rng.standard_normal((6, 1, 5, 8)), rng.integers(0, 10, 6))


# ---- build -------------------------------------------------------------------------------------
def test_build_by_name():
    assert isinstance(models.build("mlp"), models.MLP)
    assert isinstance(models.build("lenet", (1, 28, 28)), models.LeNet5)
    assert models.build("lenet", (1, 28, 28)).flat_features == 784
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.build("vgg")
