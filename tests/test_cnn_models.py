"""chainrule.models' CNNs (ResNet-20, VGG-11 with BN, MobileNet v1) against PyTorch twins
written here with the same attributes: the twin's state dict loads into chainrule, and the
outputs, the input gradient and every parameter gradient match in float64 (train and eval
mode), and so do the running statistics after a training step."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import models
from helpers import HAVE_TORCH, torch

# the published configurations, written out here (not read from chainrule)
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
MOBILENET = (64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512,
             (1024, 2), 1024)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed")

if HAVE_TORCH:
    tnn, TF = torch.nn, torch.nn.functional

    def _tconv_bn(cin, cout, k, stride=1, groups=1):
        return (tnn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                tnn.BatchNorm2d(cout))

    class TBlock(tnn.Module):
        def __init__(self, cin, planes, stride, shortcut):
            super().__init__()
            self.conv1, self.bn1 = _tconv_bn(cin, planes, 3, stride)
            self.conv2, self.bn2 = _tconv_bn(planes, planes, 3)
            self.stride, self.planes, self.option = stride, planes, shortcut
            self.project = stride != 1 or cin != planes
            if self.project and shortcut == "B":
                self.shortcut = tnn.Sequential(*_tconv_bn(cin, planes, 1, stride))

        def forward(self, x):
            out = self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x)))))
            if not self.project:
                s = x
            elif self.option == "B":
                s = self.shortcut(x)
            else:
                s = x[:, :, ::self.stride, ::self.stride]
                lo = (self.planes - s.shape[1]) // 2
                s = TF.pad(s, (0, 0, 0, 0, lo, self.planes - s.shape[1] - lo))
            return TF.relu(out + s)

    class TResNet(tnn.Module):
        def __init__(self, depth, num_classes, cin, shortcut):
            super().__init__()
            n = (depth - 2) // 6
            self.conv1, self.bn1 = _tconv_bn(cin, 16, 3)
            planes = 16
            for i, (w, s) in enumerate(((16, 1), (32, 2), (64, 2))):
                blocks = []
                for j in range(n):
                    blocks.append(TBlock(planes, w, s if j == 0 else 1, shortcut))
                    planes = w
                setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
            self.fc = tnn.Linear(64, num_classes)

        def forward(self, x):
            out = TF.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            return self.fc(TF.adaptive_avg_pool2d(out, 1).flatten(1))

    class TVGG(tnn.Module):
        def __init__(self, num_classes, cin, width, dropout):
            super().__init__()
            layers, c = [], cin
            for v in VGG11:
                if v == "M":
                    layers.append(tnn.MaxPool2d(2, 2))
                    continue
                out = max(1, int(round(v * width / 64)))
                layers += [tnn.Conv2d(c, out, 3, padding=1, bias=False), tnn.BatchNorm2d(out),
                           tnn.ReLU()]
                c = out
            self.features = tnn.Sequential(*layers)
            self.classifier = tnn.Sequential(tnn.Flatten(), tnn.Dropout(dropout),
                                             tnn.Linear(c, c), tnn.ReLU(), tnn.Dropout(dropout),
                                             tnn.Linear(c, num_classes))

        def forward(self, x):
            return self.classifier(self.features(x))

    class TSep(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = _tconv_bn(cin, cin, 3, stride, groups=cin)
            self.conv2, self.bn2 = _tconv_bn(cin, cout, 1)

        def forward(self, x):
            return TF.relu(self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x))))))

    class TMobileNet(tnn.Module):
        def __init__(self, num_classes, cin, width_mult):
            super().__init__()
            c = int(32 * width_mult)
            self.conv1, self.bn1 = _tconv_bn(cin, c, 3)
            blocks = []
            for v in MOBILENET:
                out, s = (v, 1) if isinstance(v, int) else v
                blocks.append(TSep(c, int(out * width_mult), s))
                c = int(out * width_mult)
            self.layers = tnn.Sequential(*blocks)
            self.fc = tnn.Linear(c, num_classes)

        def forward(self, x):
            out = self.layers(TF.relu(self.bn1(self.conv1(x))))
            return self.fc(TF.adaptive_avg_pool2d(out, 1).flatten(1))


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
    "resnet20_A": (lambda: models.resnet20(10, 3), lambda: TResNet(20, 10, 3, "A"), (2, 3, 16, 16)),
    "resnet20_B": (lambda: models.resnet20(7, 1, shortcut="B"), lambda: TResNet(20, 7, 1, "B"),
                   (2, 1, 16, 16)),
    "vgg11_bn": (lambda: models.vgg11_bn(10, 3, width=8, dropout=0.0),
                 lambda: TVGG(10, 3, 8, 0.0), (3, 3, 32, 32)),
    "mobilenet_v1": (lambda: models.mobilenet_v1(10, 3, width_mult=0.25),
                     lambda: TMobileNet(10, 3, 0.25), (2, 3, 16, 16)),
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
