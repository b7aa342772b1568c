"""``cr.explain(model, ...)`` and ``load_problem(path)``: from a model or a file to a Trace."""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from .problem import ProblemError, load_problem_dict, parse_problem
from .trace import Trace, compute_trace

__all__ = ["explain", "load_problem", "problem_from_model", "Residual"]

_ACT_MODULES = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}


class Residual(nn.Module):
    """output = act(x + block(x)); ``activation`` is one of explain's activation names."""

    def __init__(self, block, activation="identity"):
        super().__init__()
        self.block = block
        self.activation = activation

    def forward(self, x):
        z = x + self.block(x)
        if self.activation == "identity":
            return z
        if self.activation not in ("relu", "sigmoid", "tanh"):
            raise ValueError(f"Residual.forward: activation {self.activation!r} is only "
                             f"supported by explain, not in forward")
        return getattr(z, self.activation)()


def load_problem(path_or_dict) -> Trace:
    """Read (or take) a problem dict, validate it and compute its Trace."""
    d = path_or_dict if isinstance(path_or_dict, dict) else load_problem_dict(path_or_dict)
    return compute_trace(parse_problem(d))


def _arr(t):
    return None if t is None else np.asarray(t, dtype=np.float64).tolist()


def _modules(model):
    if isinstance(model, nn.Sequential):
        out = []
        for m in model:
            out.extend(_modules(m))
        return out
    return [model]


def _layers(model, where="model"):
    mods, layers = _modules(model), []
    for k, m in enumerate(mods):
        if type(m) in _ACT_MODULES:
            prev = layers[-1] if layers else None
            if prev is None or prev["type"] not in ("linear", "conv2d", "residual") \
                    or prev.get("activation", "identity") != "identity":
                raise ValueError(f"explain: {where} module {k} ({type(m).__name__}) must follow "
                                 f"a Linear, Conv2d or Residual without an activation")
            prev["activation"] = _ACT_MODULES[type(m)]
        elif isinstance(m, nn.Linear):
            layers.append({"type": "linear", "weight": _arr(m.weight), "bias": _arr(m.bias)})
        elif isinstance(m, nn.Conv2d):
            if tuple(m.dilation) != (1, 1) or getattr(m, "groups", 1) != 1:
                raise ValueError(f"explain: {where} module {k} (Conv2d): dilation and groups "
                                 f"must be 1")
            layers.append({"type": "conv2d", "weight": _arr(m.weight), "bias": _arr(m.bias),
                           "stride": list(m.stride), "padding": list(m.padding)})
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            layers.append({"type": "max_pool2d" if isinstance(m, nn.MaxPool2d) else
                           "avg_pool2d", "kernel_size": list(m.kernel_size),
                           "stride": list(m.stride), "padding": list(m.padding)})
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise ValueError(f"explain: {where} module {k} (Flatten): only start_dim=1, "
                                 f"end_dim=-1 is supported")
            layers.append({"type": "flatten"})
        elif isinstance(m, nn.RNN):
            if m.batch_first:
                raise ValueError(f"explain: {where} module {k} (RNN): batch_first must be False")
            layers.append({"type": "rnn", "w_ih": _arr(m.weight_ih_l0),
                           "w_hh": _arr(m.weight_hh_l0), "b_ih": _arr(m.bias_ih_l0),
                           "b_hh": _arr(m.bias_hh_l0), "nonlinearity": m.nonlinearity})
        elif isinstance(m, Residual):
            layers.append({"type": "residual", "layers": _layers(m.block, f"{where} module {k}"),
                           "activation": m.activation})
        else:
            raise ValueError(f"explain: {where} module {k} ({type(m).__name__}) is not supported; "
                             f"use Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, RNN, ReLU, "
                             f"Sigmoid, Tanh or explain.Residual")
    return layers


def _loss(loss):
    if isinstance(loss, (str, dict)):
        return loss
    if isinstance(loss, nn.MSELoss):
        return {"type": "mse", "reduction": loss.reduction}
    if isinstance(loss, nn.BCELoss):
        return {"type": "bce", "reduction": loss.reduction}
    if isinstance(loss, nn.CrossEntropyLoss):
        return {"type": "cross_entropy", "reduction": loss.reduction,
                "label_smoothing": loss.label_smoothing}
    raise ValueError(f"explain: loss must be a name, a dict or nn.MSELoss / nn.BCELoss / "
                     f"nn.CrossEntropyLoss, got {type(loss).__name__}")


def _optimizer(opt):
    if opt is None or isinstance(opt, (str, dict)):
        return opt
    if isinstance(opt, optim.Optimizer) and len(opt.param_groups) == 1:
        g = opt.param_groups[0]
        if isinstance(opt, optim.SGD):
            return {"type": "sgd", "lr": g["lr"], "momentum": g["momentum"],
                    "dampening": g["dampening"], "nesterov": g["nesterov"],
                    "weight_decay": g["weight_decay"]}
        if type(opt) is optim.Adam:
            return {"type": "adam", "lr": g["lr"], "betas": list(g["betas"]), "eps": g["eps"],
                    "weight_decay": g["weight_decay"]}
    raise ValueError(f"explain: optimizer must be None, a dict, or an optim.SGD / optim.Adam "
                     f"with one parameter group, got {type(opt).__name__}")


def _data(v):
    a = np.asarray(v)
    return a.tolist()


def problem_from_model(model, x, target, loss, optimizer=None, l2=0.0) -> dict:
    """The problem dict (the JSON format) for a chainrule model; parameters are copied."""
    return {"input": _data(x), "target": _data(target), "layers": _layers(model),
            "loss": _loss(loss), "l2": float(l2), "optimizer": _optimizer(optimizer)}


def explain(model, x, target, loss, optimizer=None, l2=0.0) -> Trace:
    """The worked solution of one training step of ``model`` on (x, target), in float64.

    model: nn.Sequential (or one module) of Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten,
    RNN, ReLU/Sigmoid/Tanh (merged into the layer before) and explain.Residual. loss: a
    name ('mse', 'sse', 'half_sse', 'bce', 'cross_entropy', 'nll'), a dict like a problem
    file's, or an nn loss module. optimizer: None, a dict, or an optim.SGD/Adam (its
    hyper-parameters are used on copies; the model is never changed). l2: c in c*sum(W**2).
    """
    try:
        return compute_trace(parse_problem(problem_from_model(model, x, target, loss,
                                                              optimizer, l2)))
    except ProblemError as e:
        raise ValueError(f"explain: {e}") from None
