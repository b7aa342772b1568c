"""chainrule.nn — PyTorch-shaped layers on top of chainrule's autograd Tensor."""
from . import functional, init
from .modules import (Module, Parameter, Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Sigmoid,
                      Tanh, Flatten, Sequential, MSELoss, BCELoss, BCEWithLogitsLoss,
                      CrossEntropyLoss)
from .rnn import RNN
from . import utils
from . import parallel

__all__ = ["functional", "init", "utils", "parallel", "Module", "Parameter", "Linear", "Conv2d", "MaxPool2d",
           "AvgPool2d", "ReLU", "Sigmoid", "Tanh", "Flatten", "Sequential", "RNN", "MSELoss",
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"]
