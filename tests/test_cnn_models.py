"""chainrule.models' CNNs (ResNet-20, VGG-11 with BN, MobileNet v1) against PyTorch twins
with the same attributes: the twin's state dict loads into chainrule, and the
outputs, the input gradient and every parameter gradient match in float64 (train and eval
mode), and so do the running statistics after a training step. The twins live in
chainrule/bench/_torch_cnn.py (``bench train`` times them) and are written out from the
published configurations, not read from chainrule.models."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import models
from chainrule.bench import _torch_cnn as twins
from helpers import HAVE_TORCH, torch

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")

if HAVE_TORCH:
    tnn = torch.nn


@pytest.fixture
def torch_one_thread():
    """Torch on one thread: its OpenMP team waits badly on a loaded machine (float64
    depthwise convolutions took seconds instead of milliseconds)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _randomize_bn(t, gen):
    """Non-trivial BN parameters and running statistics in the torch twin."""
    for m in t.modules():
        if isinstance(m, tnn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.1, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.num_batches_tracked.fill_(3)


CASES = {
    "resnet20_A": (lambda: models.resnet20(10, 3), lambda: twins.resnet(torch, 20, 10, 3, "A"), (2, 3, 16, 16)),
    "resnet20_B": (lambda: models.resnet20(7, 1, shortcut="B"), lambda: twins.resnet(torch, 20, 7, 1, "B"),
                   (2, 1, 16, 16)),
    "vgg11_bn": (lambda: models.vgg11_bn(10, 3, width=8, dropout=0.0),
                 lambda: twins.vgg11_bn(torch, 10, 3, 8, 0.0), (3, 3, 32, 32)),
    "mobilenet_v1": (lambda: models.mobilenet_v1(10, 3, width_mult=0.25),
                     lambda: twins.mobilenet_v1(torch, 10, 3, 0.25), (2, 3, 16, 16)),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("train", [True, False])
def test_matches_torch_twin_in_float64(name, train, rng, torch_one_thread):
    make, tmake, shape = CASES[name]
    torch.manual_seed(0)
    t = tmake().double()
    _randomize_bn(t, torch.Generator().manual_seed(1))
    m = make().double()
    sd = m.state_dict()
    tsd = t.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert tuple(np.shape(sd[k])) == tuple(tsd[k].shape), k
    m.load_state_dict(tsd)
    m.train(train)
    t.train(train)
    x = rng.standard_normal(shape)
    dy = rng.standard_normal((shape[0], t.fc.out_features if hasattr(t, "fc")
                              else t.classifier[-1].out_features))
    xc = cr.tensor(x, requires_grad=True)
    y = m(xc)
    y.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(xc.grad.array, tx.grad.numpy(), rtol=1e-9, atol=1e-9)
    tparams = dict(t.named_parameters())
    for k, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.array, tparams[k].grad.numpy(), rtol=1e-8,
                                   atol=1e-9, err_msg=k)
    after, tafter = m.state_dict(), t.state_dict()  # running statistics (train: updated)
    for k in after:
        np.testing.assert_allclose(np.asarray(after[k]), tafter[k].numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=k)


def test_sizes_and_keys():
    assert sum(p.array.size for p in models.resnet20().parameters()) == 269722  # 0.27M
    m = models.resnet20(shortcut="B")
    assert "layer2.0.shortcut.0.weight" in m.state_dict()
    assert "layer1.0.shortcut.0.weight" not in m.state_dict()
    assert not any("shortcut" in k for k in models.resnet20().state_dict())
    v = models.vgg11_bn()
    assert sum(p.array.size for p in v.parameters()) == 595610
    mb = models.mobilenet_v1(width_mult=0.5)
    assert mb.layers[0].conv1.groups == 16 and mb.fc.in_features == 512
    for name in ("resnet20", "vgg11", "mobilenet"):
        y = models.build(name, (1, 32, 32), 10)(np.zeros((2, 1, 32, 32), np.float32))
        assert y.shape == (2, 10)


def test_train_step_reduces_the_loss(rng):
    cr.manual_seed(0)
    m = models.resnet20(3, 1)
    opt = cr.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    y = np.arange(8) % 3
    losses = []
    for _ in range(6):
        loss = cr.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.5 * losses[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="ResNetCIFAR: depth must be 6n"):
        models.ResNetCIFAR(21)
    with pytest.raises(ValueError, match="shortcut must be 'A' or 'B'"):
        models.resnet20(shortcut="C")
    with pytest.raises(ValueError, match=r"VGG: expected input \(N, C, 32, 32\)"):
        models.vgg11_bn(width=4)(np.zeros((1, 3, 16, 16), np.float32))
    with pytest.raises(ValueError, match="MobileNetV1: width_mult must be > 0"):
        models.mobilenet_v1(width_mult=0)
    with pytest.raises(ValueError, match="build: unknown model 'resnet'"):
        models.build("resnet")
