"""chainrule.models — small reference networks for the digits and MNIST.

- :class:`MLP` — Flatten, then Linear + activation per hidden width, then a Linear head.
- :class:`LeNet5` — conv 5x5 (pad 2) + ReLU + max-pool 2, twice, then 120-84-classes;
  the flatten size is computed from ``input_size``, so it fits 8x8 digits and 28x28 MNIST.
- :class:`RNNClassifier` — reads an image row by row (each row one time step) with
  ``nn.RNN`` and classifies from the last hidden state.
- :func:`resnet20` (:class:`ResNetCIFAR`), :func:`vgg11_bn` (:class:`VGG`),
  :func:`mobilenet_v1` (:class:`MobileNetV1`) -- CNNs with batch norm for 32x32 images
  (in chainrule/_cnn_models.py).
- :class:`SequenceRegressor` — ``nn.RNN`` plus a Linear head on every step, for
  sequence-to-sequence tasks on long sequences (``forward(x, h0) -> (y, h_n)``, the
  shape :func:`chainrule.train.fit_sequence` trains with truncated BPTT).

The classifiers take NCHW images ``(N, C, H, W)`` (the MLP flattens anything) and return
logits ``(N, num_classes)``; every model has a PyTorch twin with the same state-dict keys (the
benchmarks build those to compare).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import nn
from ._checks import pair
from ._cnn_models import (BasicBlock, ResNetCIFAR, resnet20, VGG, vgg11_bn,  # noqa: F401
                          DepthwiseSeparable, MobileNetV1, mobilenet_v1)

__all__ = ["MLP", "LeNet5", "RNNClassifier", "SequenceRegressor", "GCN", "build"]
__all__ += ["BasicBlock", "ResNetCIFAR", "resnet20", "VGG", "vgg11_bn", "DepthwiseSeparable",
            "MobileNetV1", "mobilenet_v1"]

_ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def _positive_int(cls, name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{cls}: {name} must be a positive int, got {v!r}")
    return int(v)


class MLP(nn.Sequential):
    """``MLP(in_features, hidden, out_features)``: Flatten, (Linear, act) per width, Linear.

    ``hidden`` is a list of widths (may be empty: a linear classifier). State-dict keys
    are Sequential's: ``"1.weight"``, ``"1.bias"``, ``"3.weight"``, ...
    """

    def __init__(self, in_features, hidden=(128,), out_features=10, activation="relu"):
        if isinstance(hidden, numbers.Integral):
            hidden = [hidden]
        widths = [_positive_int("MLP", "in_features", in_features)]
        widths += [_positive_int("MLP", "hidden width", h) for h in hidden]
        widths.append(_positive_int("MLP", "out_features", out_features))
        if activation not in _ACTS:
            raise ValueError(f"MLP: activation must be one of {sorted(_ACTS)}, got {activation!r}")
        layers = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(_ACTS[activation]())
        super().__init__(*layers)
        self.widths = tuple(widths)


def _conv_out(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max-pooling; 'same' 5x5 convolutions so small images fit.

    ``features``: Conv2d(C, 6, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5,
    padding=2), ReLU, MaxPool2d(2); ``classifier``: Flatten, Linear(16*h*w, 120), ReLU,
    Linear(120, 84), ReLU, Linear(84, num_classes), with h, w = input_size // 4
    (8x8 -> 2x2, 28x28 -> 7x7).
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=(8, 8)):
        super().__init__()
        in_channels = _positive_int("LeNet5", "in_channels", in_channels)
        num_classes = _positive_int("LeNet5", "num_classes", num_classes)
        h, w = pair("LeNet5", "input_size", input_size, 1)
        for _ in range(2):  # conv (same size) then a 2x2 pool, twice
            h, w = _conv_out(h, 5, 1, 2), _conv_out(w, 5, 1, 2)
            h, w = _conv_out(h, 2, 2), _conv_out(w, 2, 2)
        if h < 1 or w < 1:
            raise ValueError(f"LeNet5: input_size {input_size} is too small (needs >= 4x4)")
        self.input_size = pair("LeNet5", "input_size", input_size, 1)
        self.flat_features = 16 * h * w
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(self.flat_features, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class RNNClassifier(nn.Module):
    """Read a (N, 1, H, W) image row by row: H time steps of W features through
    ``nn.RNN(W, hidden_size, batch_first=True)``, then Linear(hidden_size, num_classes)
    on the last hidden state."""

    def __init__(self, input_size=8, hidden_size=64, num_classes=10, nonlinearity="tanh"):
        super().__init__()
        self.input_size = _positive_int("RNNClassifier", "input_size", input_size)
        self.hidden_size = _positive_int("RNNClassifier", "hidden_size", hidden_size)
        num_classes = _positive_int("RNNClassifier", "num_classes", num_classes)
        self.rnn = nn.RNN(self.input_size, self.hidden_size, nonlinearity=nonlinearity,
                          batch_first=True)
        self.fc = nn.Linear(self.hidden_size, num_classes)

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) == 4 and shape[1] == 1:
            n, _, t, i = shape
        elif len(shape) == 3:
            n, t, i = shape
        else:
            raise ValueError(f"RNNClassifier: expected images (N, 1, H, W) or sequences "
                             f"(N, T, I), got shape {shape}")
        if i != self.input_size:
            raise ValueError(f"RNNClassifier: rows have {i} features, the RNN expects "
                             f"input_size={self.input_size}")
        _, h_n = self.rnn(x.reshape(n, t, i))
        return self.fc(h_n.reshape(n, self.hidden_size))


class SequenceRegressor(nn.Module):
    """``nn.RNN(input_size, hidden_size)`` (time-major) and ``Linear(hidden_size,
    output_size)`` applied to the hidden state of every step.

    ``forward(x, h0=None) -> (y, h_n)``: x (T, N, input_size), h0 (1, N, hidden_size) or
    None for zeros; y (T, N, output_size), h_n (1, N, hidden_size) -- nn.RNN's h_n, so the
    state can be carried into the next chunk of a long sequence (see
    :func:`chainrule.train.fit_sequence`). State-dict keys: ``rnn.weight_ih_l0`` ...,
    ``head.weight``, ``head.bias`` (as a PyTorch module with the same attributes).
    """

    def __init__(self, input_size, hidden_size=32, output_size=1, nonlinearity="tanh"):
        super().__init__()
        self.input_size = _positive_int("SequenceRegressor", "input_size", input_size)
        self.hidden_size = _positive_int("SequenceRegressor", "hidden_size", hidden_size)
        self.output_size = _positive_int("SequenceRegressor", "output_size", output_size)
        self.rnn = nn.RNN(self.input_size, self.hidden_size, nonlinearity=nonlinearity)
        self.head = nn.Linear(self.hidden_size, self.output_size)

    def forward(self, x, h0=None):
        if len(tuple(x.shape)) != 3:
            raise ValueError(f"SequenceRegressor: expected a time-major sequence (T, N, "
                             f"{self.input_size}), got shape {tuple(x.shape)}")
        hs, h_n = self.rnn(x, h0)
        return self.head(hs), h_n


def build(name: str, input_shape=(1, 8, 8), num_classes=10):
    """The CLI's models by name: 'mlp', 'lenet', 'rnn', 'resnet20', 'vgg11' (vgg11_bn, width
    16) or 'mobilenet' (mobilenet_v1, width_mult 0.5), sized for ``input_shape`` (C, H, W)."""
    c, h, w = input_shape
    if name == "mlp":
        return MLP(c * h * w, [128, 64], num_classes)
    if name == "lenet":
        return LeNet5(c, num_classes, (h, w))
    if name == "rnn":
        if c != 1:
            raise ValueError(f"build: the rnn model reads one-channel images, got {c} channels")
        return RNNClassifier(w, 64, num_classes)
    if name in CNNS:
        return CNNS[name](num_classes, c)
    raise ValueError(f"build: unknown model {name!r}; choose 'mlp', 'lenet', 'rnn', "
                     f"{', '.join(repr(n) for n in CNNS)}")


# the CLI's CNNs (32x32 inputs): name -> f(num_classes, in_channels)
CNNS = {"resnet20": lambda k, c: resnet20(k, c),
        "vgg11": lambda k, c: vgg11_bn(k, c),
        "mobilenet": lambda k, c: mobilenet_v1(k, c, width_mult=0.5)}


class GCN(nn.Module):
    """Two graph convolutions (Kipf & Welling 2017): GCNConv -> ReLU -> GCNConv, for node
    classification. forward(x (n, in_channels), edge_index (2, E), edge_weight=None) ->
    (n, num_classes) logits."""

    def __init__(self, in_channels, hidden_channels=16, num_classes=2):
        super().__init__()
        self.conv1 = nn.GCNConv(in_channels, hidden_channels)
        self.conv2 = nn.GCNConv(hidden_channels, num_classes)

    def forward(self, x, edge_index, edge_weight=None):
        h = nn.functional.relu(self.conv1(x, edge_index, edge_weight))
        return self.conv2(h, edge_index, edge_weight)

from .seqmodels import *  # noqa: E402,F401,F403  (sequence models: seqmodels.py)
from .seqmodels import __all__ as _seq_all  # noqa: E402
__all__ += _seq_all
