"""chainrule.nn — PyTorch-shaped layers on top of chainrule's autograd Tensor."""
from . import functional, init
from .modules import (Module, Parameter, Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Sigmoid,
                      Tanh, Flatten, Sequential)
from .container import Identity, ModuleList, ModuleDict, ParameterList, ParameterDict
from .activation import (LeakyReLU, ELU, GELU, SiLU, Softplus, Hardtanh, ReLU6, Softmax,
                         LogSoftmax)
from .loss import (MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss,
                   CrossEntropyLoss, NLLLoss, KLDivLoss)
from .rnn import RNN
from . import utils

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Linear", "Conv2d", "MaxPool2d",
           "AvgPool2d", "ReLU", "Sigmoid", "Tanh", "Flatten", "Sequential", "RNN", "Identity",
           "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "LeakyReLU", "ELU",
           "GELU", "SiLU", "Softplus", "Hardtanh", "ReLU6", "Softmax", "LogSoftmax", "MSELoss",
           "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "KLDivLoss"]
