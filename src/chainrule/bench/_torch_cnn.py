"""PyTorch twins of chainrule.models.resnet20 and mobilenet_v1 for ``bench train``: the
same layers, shapes and attribute names (tests/test_cnn_models.py checks chainrule's
models against twins of the same design); built only when torch is installed."""
from __future__ import annotations

MOBILENET = (64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512,
             (1024, 2), 1024)


def _conv_bn(tnn, cin, cout, k, stride=1, groups=1):
    return (tnn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            tnn.BatchNorm2d(cout))


def resnet20(torch, num_classes=10, cin=3):
    """ResNet-20, CIFAR variant, option-A shortcuts (strided identity, zero channels)."""
    tnn, TF = torch.nn, torch.nn.functional

    class Block(tnn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1, self.bn1 = _conv_bn(tnn, cin, planes, 3, stride)
            self.conv2, self.bn2 = _conv_bn(tnn, planes, planes, 3)
            self.stride, self.planes = stride, planes
            self.project = stride != 1 or cin != planes

        def forward(self, x):
            out = self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x)))))
            s = x
            if self.project:
                s = x[:, :, ::self.stride, ::self.stride]
                lo = (self.planes - s.shape[1]) // 2
                s = TF.pad(s, (0, 0, 0, 0, lo, self.planes - s.shape[1] - lo))
            return TF.relu(out + s)

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = _conv_bn(tnn, cin, 16, 3)
            planes = 16
            for i, (w, s) in enumerate(((16, 1), (32, 2), (64, 2))):
                blocks = []
                for j in range(3):
                    blocks.append(Block(planes, w, s if j == 0 else 1))
                    planes = w
                setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
            self.fc = tnn.Linear(64, num_classes)

        def forward(self, x):
            out = TF.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            return self.fc(TF.adaptive_avg_pool2d(out, 1).flatten(1))

    return ResNet()


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
