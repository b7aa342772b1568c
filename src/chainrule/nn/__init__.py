"""chainrule.nn — PyTorch-shaped layers on top of chainrule's autograd Tensor."""
from . import functional, init
from .modules import (Module, Parameter, Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Sigmoid,
                      Tanh, Flatten, Sequential, MSELoss, BCELoss, BCEWithLogitsLoss,
                      CrossEntropyLoss)
from .rnn import RNN
from .recurrent import LSTM, GRU, RNNCell, LSTMCell, GRUCell
from .sparse import Embedding, EmbeddingBag
from . import utils

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Linear", "Conv2d", "MaxPool2d",
           "AvgPool2d", "ReLU", "Sigmoid", "Tanh", "Flatten", "Sequential", "RNN", "MSELoss",
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "LSTM", "GRU", "RNNCell", "LSTMCell",
           "GRUCell", "Embedding", "EmbeddingBag"]
