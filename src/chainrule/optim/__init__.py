"""chainrule.optim — PyTorch's optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta) with
its names, defaults, parameter groups and state_dict layout, each update one fused C call
per parameter buffer; ``optim.lr_scheduler`` has PyTorch's learning-rate schedules."""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
           "lr_scheduler"]
