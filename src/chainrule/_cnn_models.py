"""Modern CNNs of :mod:`chainrule.models` (re-exported there): CIFAR-style ResNet-20,
a small VGG-11 with batch norm and dropout, and MobileNet v1 (depthwise separable).

All take NCHW images and return logits (N, num_classes). Their attribute names are the
usual PyTorch ones, so a PyTorch module written with the same attributes has the same
state-dict keys and shapes (tests/test_cnn_models.py builds those twins and loads their
state dicts). Convolutions are initialised as He et al. do (Kaiming normal, fan_out),
batch norms with weight 1 and bias 0, linear layers with PyTorch's default.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import nn
from .nn.norm import bn_add_relu, bn_relu
from .autograd.joins import cat
from .autograd.function import const

__all__ = ["BasicBlock", "ResNetCIFAR", "resnet20", "VGG", "vgg11_bn",
           "DepthwiseSeparable", "MobileNetV1", "mobilenet_v1"]

F = nn.functional


def _positive_int(cls, name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{cls}: {name} must be a positive int, got {v!r}")
    return int(v)


def _he_init(model):
    """Kaiming normal (fan_out, ReLU) convolutions, batch norms at weight 1 and bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _conv_bn(cin, cout, k, stride=1, groups=1):
    """Conv2d (k x k, 'same' padding, no bias) and BatchNorm2d, as (conv, bn)."""
    return (nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout))


# ---------------------------------------------------------------- ResNet (CIFAR)
class BasicBlock(nn.Module):
    """Two 3x3 conv + BN, ReLU between and after the residual sum (He et al. 2016).

    When the block changes the shape (stride 2 or more channels) the shortcut is option A
    (the paper's CIFAR choice): the input subsampled by ``stride`` and zero-padded with
    the new channels on both sides -- no parameters; or option B: a 1x1 conv + BN
    projection (``shortcut.0`` conv, ``shortcut.1`` bn)."""

    def __init__(self, in_planes, planes, stride=1, shortcut="A"):
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(f"BasicBlock: shortcut must be 'A' or 'B', got {shortcut!r}")
        self.conv1, self.bn1 = _conv_bn(in_planes, planes, 3, stride)
        self.conv2, self.bn2 = _conv_bn(planes, planes, 3)
        self.stride, self.in_planes, self.planes = stride, in_planes, planes
        self.option = shortcut
        self.project = stride != 1 or in_planes != planes
        if self.project and shortcut == "B":
            self.shortcut = nn.Sequential(*_conv_bn(in_planes, planes, 1, stride))

    def _identity(self, x):
        if not self.project:
            return x
        if self.option == "B":
            return self.shortcut(x)
        s = self.stride
        x = x[:, :, ::s, ::s] if s != 1 else x
        n, c, h, w = x.shape
        lo = (self.planes - c) // 2
        hi = self.planes - c - lo
        dt = x.array.dtype
        return cat([const(np.zeros((n, lo, h, w), dt)), x, const(np.zeros((n, hi, h, w), dt))],
                   dim=1)

    def forward(self, x):
        out = bn_relu(self.bn1, self.conv1(x))  # F.relu(self.bn1(...)), fused
        return bn_add_relu(self.bn2, self.conv2(out), self._identity(x))  # relu(bn2 + id)


class ResNetCIFAR(nn.Module):
    """ResNet for 32x32 images (He et al. 2016, section 4.2): a 3x3 conv (16 channels) +
    BN + ReLU, three stages of n = (depth - 2) / 6 basic blocks with 16, 32, 64 channels
    (the second and third start with stride 2), global average pooling, ``fc``.

    Keys: conv1, bn1, layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}[.shortcut.{0,1}], fc.
    Works on any input size >= 4x4 (the pooling is global)."""

    def __init__(self, depth=20, num_classes=10, in_channels=3, shortcut="A"):
        super().__init__()
        depth = _positive_int("ResNetCIFAR", "depth", depth)
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"ResNetCIFAR: depth must be 6n + 2 (20, 32, 44, 56, 110), "
                             f"got {depth}")
        in_channels = _positive_int("ResNetCIFAR", "in_channels", in_channels)
        num_classes = _positive_int("ResNetCIFAR", "num_classes", num_classes)
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1, self.bn1 = _conv_bn(in_channels, 16, 3)
        planes = 16
        for i, (width, stride) in enumerate(((16, 1), (32, 2), (64, 2))):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(planes, width, stride if j == 0 else 1, shortcut))
                planes = width
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)
        _he_init(self)

    def forward(self, x):
        out = bn_relu(self.bn1, self.conv1(x))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.fc(out.reshape(out.shape[0], -1))


def resnet20(num_classes=10, in_channels=3, shortcut="A"):
    """ResNet-20 (0.27M parameters with option A shortcuts, as in the paper)."""
    return ResNetCIFAR(20, num_classes, in_channels, shortcut)


# ---------------------------------------------------------------- VGG
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG(nn.Module):
    """VGG (Simonyan & Zisserman 2015) for 32x32 images: ``features`` (3x3 conv, BN when
    ``batch_norm``, ReLU; "M" = 2x2 max pool) with every width of ``cfg`` scaled by
    ``width / 64``, then ``classifier``: Flatten, Dropout, Linear(c, c), ReLU, Dropout,
    Linear(c, num_classes) with c the last width. Needs inputs of at least 2**pools."""

    def __init__(self, cfg=VGG11, num_classes=10, in_channels=3, width=64, batch_norm=True,
                 dropout=0.5):
        super().__init__()
        width = _positive_int("VGG", "width", width)
        num_classes = _positive_int("VGG", "num_classes", num_classes)
        c = _positive_int("VGG", "in_channels", in_channels)
        layers = []
        self.pools = 0
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                self.pools += 1
                continue
            out = max(1, int(round(v * width / 64)))
            layers.append(nn.Conv2d(c, out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU())
            c = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, c),
                                        nn.ReLU(), nn.Dropout(dropout),
                                        nn.Linear(c, num_classes))
        _he_init(self)

    def forward(self, x):
        side = 2 ** self.pools
        if x.ndim != 4 or x.shape[2] != side or x.shape[3] != side:
            raise ValueError(f"VGG: expected input (N, C, {side}, {side}) ({self.pools} "
                             f"2x2 max pools down to 1x1), got shape {tuple(x.shape)}")
        return self.classifier(self.features(x))


def vgg11_bn(num_classes=10, in_channels=3, width=16, dropout=0.5):
    """VGG-11 with batch norm, widths scaled to ``width`` (16: 0.6M parameters; 64 is
    the original 9.2M)."""
    return VGG(VGG11, num_classes, in_channels, width, True, dropout)


# ---------------------------------------------------------------- MobileNet v1
MOBILENET = (64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512,
             (1024, 2), 1024)


class DepthwiseSeparable(nn.Module):
    """A depthwise 3x3 conv (groups = channels) + BN + ReLU, then a pointwise 1x1 conv
    + BN + ReLU (Howard et al. 2017)."""

    def __init__(self, in_planes, out_planes, stride=1):
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(in_planes, in_planes, 3, stride, groups=in_planes)
        self.conv2, self.bn2 = _conv_bn(in_planes, out_planes, 1)

    def forward(self, x):
        return bn_relu(self.bn2, self.conv2(bn_relu(self.bn1, self.conv1(x))))


class MobileNetV1(nn.Module):
    """MobileNet v1 for 32x32 images (the CIFAR variant: stride 1 stem): a 3x3 conv (32
    channels) + BN + ReLU, 13 depthwise separable blocks (``layers``; 64 ... 1024
    channels, stride 2 at 128, 256, 512 and 1024), global average pooling, ``fc``.
    Every width is scaled by ``width_mult``."""

    def __init__(self, num_classes=10, in_channels=3, width_mult=1.0, cfg=MOBILENET):
        super().__init__()
        if not isinstance(width_mult, numbers.Real) or not width_mult > 0:
            raise ValueError(f"MobileNetV1: width_mult must be > 0, got {width_mult!r}")
        num_classes = _positive_int("MobileNetV1", "num_classes", num_classes)
        in_channels = _positive_int("MobileNetV1", "in_channels", in_channels)

        def w(c):
            return max(1, int(c * width_mult))
        c = w(32)
        self.conv1, self.bn1 = _conv_bn(in_channels, c, 3)
        blocks = []
        for v in cfg:
            out, stride = (v, 1) if isinstance(v, numbers.Integral) else v
            blocks.append(DepthwiseSeparable(c, w(out), stride))
            c = w(out)
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, num_classes)
        _he_init(self)

    def forward(self, x):
        out = self.layers(bn_relu(self.bn1, self.conv1(x)))
        out = F.adaptive_avg_pool2d(out, 1)
        return self.fc(out.reshape(out.shape[0], -1))


def mobilenet_v1(num_classes=10, in_channels=3, width_mult=1.0):
    """MobileNet v1, CIFAR variant (3.2M parameters at width_mult 1, 0.8M at 0.5)."""
    return MobileNetV1(num_classes, in_channels, width_mult)
