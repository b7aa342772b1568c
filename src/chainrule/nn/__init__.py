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
from .norm import BatchNorm1d, BatchNorm2d
from .normalization import GroupNorm, LayerNorm, InstanceNorm1d, InstanceNorm2d
from .dropout import Dropout, Dropout2d
from .conv import Conv1d, ConvTranspose2d
from .pool_modules import (MaxUnpool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, MaxPool1d,
                           AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d)
from .recurrent import LSTM, GRU, RNNCell, LSTMCell, GRUCell
from .sparse import Embedding, EmbeddingBag
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from . import utils
from .graph import GCNConv, ChebConv, SGConv  # noqa: E402  (graph layers)
from . import parallel

__all__ = ["functional", "init", "utils", "parallel", "Module", "Parameter", "Linear", "Conv2d",
           "MaxPool2d", "AvgPool2d", "ReLU", "Sigmoid", "Tanh", "Flatten", "Sequential", "RNN",
           "Identity", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "LeakyReLU",
           "ELU", "GELU", "SiLU", "Softplus", "Hardtanh", "ReLU6", "Softmax", "LogSoftmax",
           "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "KLDivLoss", "GCNConv", "ChebConv", "SGConv",
           "MaxUnpool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxPool1d", "AvgPool1d",
           "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "LSTM", "GRU", "RNNCell", "LSTMCell",
           "GRUCell", "Embedding", "EmbeddingBag"]
__all__ += ["BatchNorm1d", "BatchNorm2d", "Dropout", "Dropout2d", "Conv1d", "ConvTranspose2d"]
__all__ += ["GroupNorm", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d"]
__all__ += ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
