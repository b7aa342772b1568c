"""PyTorch twins of chainrule.models' CNNs (ResNet-20/32/..., VGG-11 with batch norm,
MobileNet v1): the same layers, shapes and attribute names, so a twin's state dict loads
into chainrule's model. ``bench train`` times them against chainrule; tests/test_cnn_models.py
uses them as the oracle. The configurations are written out here, not read from chainrule.
Built only when torch is installed (pass the module in); untyped, like torch code."""
from __future__ import annotations

VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
MOBILENET = (64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512,
             (1024, 2), 1024)


def _conv_bn(tnn, cin, cout, k, stride=1, groups=1):
    return (tnn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            tnn.BatchNorm2d(cout))


def resnet(torch, depth=20, num_classes=10, cin=3, shortcut="A"):
    """CIFAR ResNet (He et al. 2015): 3 stages of (depth-2)/6 basic blocks, 16/32/64
    channels; option-A shortcuts (strided identity, zero channels) or "B" (1x1 conv + BN)."""
    tnn, TF = torch.nn, torch.nn.functional

    class Block(tnn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1, self.bn1 = _conv_bn(tnn, cin, planes, 3, stride)
            self.conv2, self.bn2 = _conv_bn(tnn, planes, planes, 3)
            self.stride, self.planes = stride, planes
            self.project = stride != 1 or cin != planes
            if self.project and shortcut == "B":
                self.shortcut = tnn.Sequential(*_conv_bn(tnn, cin, planes, 1, stride))

        def forward(self, x):
            out = self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x)))))
            if not self.project:
                s = x
            elif shortcut == "B":
                s = self.shortcut(x)
            else:
                s = x[:, :, ::self.stride, ::self.stride]
                lo = (self.planes - s.shape[1]) // 2
                s = TF.pad(s, (0, 0, 0, 0, lo, self.planes - s.shape[1] - lo))
            return TF.relu(out + s)

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            n = (depth - 2) // 6
            self.conv1, self.bn1 = _conv_bn(tnn, cin, 16, 3)
            planes = 16
            for i, (w, s) in enumerate(((16, 1), (32, 2), (64, 2))):
                blocks = []
                for j in range(n):
                    blocks.append(Block(planes, w, s if j == 0 else 1))
                    planes = w
                setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
            self.fc = tnn.Linear(64, num_classes)

        def forward(self, x):
            out = TF.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            return self.fc(TF.adaptive_avg_pool2d(out, 1).flatten(1))

    return ResNet()


def resnet20(torch, num_classes=10, cin=3):
    """ResNet-20, CIFAR variant, option-A shortcuts."""
    return resnet(torch, 20, num_classes, cin, "A")


def vgg11_bn(torch, num_classes=10, cin=3, width=64, dropout=0.5):
    """VGG-11 with batch norm; channel counts scaled by width/64 (at least 1)."""
    tnn = torch.nn

    class VGG(tnn.Module):
        def __init__(self):
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

    return VGG()


def mobilenet_v1(torch, num_classes=10, cin=3, width_mult=1.0):
    """MobileNet v1, CIFAR variant (stride-1 stem), widths scaled by ``width_mult``."""
    tnn, TF = torch.nn, torch.nn.functional

    class Sep(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = _conv_bn(tnn, cin, cin, 3, stride, groups=cin)
            self.conv2, self.bn2 = _conv_bn(tnn, cin, cout, 1)

        def forward(self, x):
            return TF.relu(self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x))))))

    class MobileNet(tnn.Module):
        def __init__(self):
            super().__init__()
            c = max(1, int(32 * width_mult))
            self.conv1, self.bn1 = _conv_bn(tnn, cin, c, 3)
            blocks = []
            for v in MOBILENET:
                out, s = (v, 1) if isinstance(v, int) else v
                out = max(1, int(out * width_mult))
                blocks.append(Sep(c, out, s))
                c = out
            self.layers = tnn.Sequential(*blocks)
            self.fc = tnn.Linear(c, num_classes)

        def forward(self, x):
            out = self.layers(TF.relu(self.bn1(self.conv1(x))))
            return self.fc(TF.adaptive_avg_pool2d(out, 1).flatten(1))

    return MobileNet()
