"""Problem files for ``explain``: load, validate and normalise a JSON backprop problem.

A problem is a dict (the JSON format users write)::

    {"input": [[2, -1]], "target": [[1]],
     "layers": [{"type": "linear", "weight": [[2, 1]], "bias": null, "activation": "relu"}, ...],
     "loss": {"type": "bce"}, "l2": 0.0, "optimizer": {"type": "sgd", "lr": 0.8}}

``parse_problem`` returns the same structure with every number as a float64 ndarray, every
default filled in, and every shape checked against the layer before it. Any defect raises
``ProblemError`` with one sentence naming the layer (``layers.1``) and the field.
"""
from __future__ import annotations

import json
import math
import numbers

import numpy as np

__all__ = ["ProblemError", "load_problem_dict", "parse_problem", "ACTIVATIONS", "LOSSES",
           "LAYER_TYPES", "param_names", "layer_out_shape"]

ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh", "bipolar_sigmoid", "softmax",
               "leaky_relu")
LOSSES = ("mse", "sse", "half_sse", "bce", "cross_entropy", "nll")
LAYER_TYPES = ("linear", "conv2d", "max_pool2d", "avg_pool2d", "flatten", "rnn", "residual")
RNN_NONLINEARITIES = ("tanh", "relu", "sigmoid")

_FIELDS = {
    "linear": {"type", "weight", "bias", "activation", "negative_slope"},
    "conv2d": {"type", "weight", "bias", "stride", "padding", "activation", "negative_slope"},
    "max_pool2d": {"type", "kernel_size", "stride", "padding"},
    "avg_pool2d": {"type", "kernel_size", "stride", "padding"},
    "flatten": {"type"},
    "rnn": {"type", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "nonlinearity"},
    "residual": {"type", "layers", "activation", "negative_slope"},
}
_OPTIM_FIELDS = {"sgd": {"type", "lr", "momentum", "dampening", "nesterov", "weight_decay",
                         "momentum_buffer"},
                 "adam": {"type", "lr", "betas", "eps", "weight_decay"}}


class ProblemError(ValueError):
    """A problem file (or answers file) that cannot be explained; the message says where."""


def load_problem_dict(path) -> dict:
    """Read a JSON file into a dict; unreadable files and bad JSON become ProblemError."""
    def no_duplicates(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ProblemError(f"{path}: key {k!r} appears twice in one object")
            seen.add(k)
        return dict(pairs)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, object_pairs_hook=no_duplicates)
    except OSError as e:
        raise ProblemError(f"cannot read {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise ProblemError(f"{path} is not valid JSON: {e.msg} at line {e.lineno} "
                           f"column {e.colno}") from None


def param_names(layer: dict) -> tuple:
    """The learnable parameters of a layer, in the order of the trace keys."""
    t = layer["type"]
    if t in ("linear", "conv2d"):
        return ("weight", "bias")
    if t == "rnn":
        return ("w_ih", "w_hh", "b_ih", "b_hh")
    return ()


def _array(where: str, field: str, value, ndim=None) -> np.ndarray:
    """A nested list of numbers as float64, rectangular, finite, of the given rank."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, dict)):
        raise ProblemError(f"{where}, field '{field}': expected a number or nested list of "
                           f"numbers, got {json.dumps(value)[:40]}")
    try:
        a = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise ProblemError(f"{where}, field '{field}': not a rectangular nested list of "
                           f"numbers") from None
    if not np.all(np.isfinite(a)):
        raise ProblemError(f"{where}, field '{field}': every number must be finite")
    if ndim is not None and a.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ProblemError(f"{where}, field '{field}': expected {ndim} dimensions, got shape "
                           f"{a.shape}")
    return a


def _number(where, field, value, *, low=None, high=None, default=None, integer=False):
    if value is None and default is not None:
        return default
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value) and (not integer or float(value).is_integer())
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        kind = "an integer" if integer else "a number"
        rng = f" >= {low}" if low is not None else ""
        rng += f" and <= {high}" if high is not None else ""
        raise ProblemError(f"{where}, field '{field}': expected {kind}{rng}, got "
                           f"{json.dumps(value)}")
    return int(value) if integer else float(value)


def _pair(where, field, value, default, low):
    if value is None:
        value = default
    if isinstance(value, list) and len(value) == 2:
        return tuple(_number(where, field, v, low=low, integer=True) for v in value)
    v = _number(where, field, value, low=low, integer=True)
    return (v, v)


def _activation(where, spec):
    act = spec.get("activation", "identity")
    if act is None:
        act = "identity"
    if act not in ACTIVATIONS:
        raise ProblemError(f"{where}, field 'activation': unknown activation {act!r}; choose "
                           f"from {', '.join(ACTIVATIONS)}")
    slope = _number(where, "negative_slope", spec.get("negative_slope"), default=0.01)
    return act, slope


def _conv_out(where, what, size, k, stride, pad):
    out = (size + 2 * pad - k) // stride + 1
    if size + 2 * pad < k:
        raise ProblemError(f"{where}, field '{what}': the window {k} is larger than the padded "
                           f"input ({size} + 2*{pad})")
    return out


def _layer(where: str, spec, shape: tuple) -> tuple:
    """Validate one layer given its input shape; returns (normalised layer, output shape)."""
    if not isinstance(spec, dict):
        raise ProblemError(f"{where}: expected an object with a 'type', got "
                           f"{json.dumps(spec)[:40]}")
    t = spec.get("type")
    if t is None:
        raise ProblemError(f"{where}, field 'type': missing")
    if t not in LAYER_TYPES:
        raise ProblemError(f"{where}, field 'type': unknown layer type {t!r}; choose from "
                           f"{', '.join(LAYER_TYPES)}")
    where = f"{where} ({t})"
    extra = sorted(set(spec) - _FIELDS[t])
    if extra:
        raise ProblemError(f"{where}, field '{extra[0]}': not a field of a {t} layer (fields: "
                           f"{', '.join(sorted(_FIELDS[t]))})")

    def need(field, ndim):
        if field not in spec:
            raise ProblemError(f"{where}, field '{field}': missing")
        return _array(where, field, spec[field], ndim)

    out = {"type": t}
    if t == "linear":
        w = need("weight", 2)
        if shape[-1] != w.shape[1]:
            raise ProblemError(f"{where}, field 'weight': shape {w.shape} needs inputs with "
                               f"{w.shape[1]} features, but its input has shape {shape}")
        b = None if spec.get("bias") is None else _array(where, "bias", spec["bias"], 1)
        if b is not None and b.shape != (w.shape[0],):
            raise ProblemError(f"{where}, field 'bias': expected shape ({w.shape[0]},), got "
                               f"{b.shape}")
        out.update(weight=w, bias=b)
        out["activation"], out["negative_slope"] = _activation(where, spec)
        return out, shape[:-1] + (w.shape[0],)
    if t == "conv2d":
        w = need("weight", 4)
        if len(shape) != 4:
            raise ProblemError(f"{where}, field 'weight': conv2d needs an (N, C, H, W) input, "
                               f"its input has shape {shape}")
        if shape[1] != w.shape[1]:
            raise ProblemError(f"{where}, field 'weight': shape {w.shape} needs {w.shape[1]} "
                               f"input channels, but its input has shape {shape}")
        b = None if spec.get("bias") is None else _array(where, "bias", spec["bias"], 1)
        if b is not None and b.shape != (w.shape[0],):
            raise ProblemError(f"{where}, field 'bias': expected shape ({w.shape[0]},), got "
                               f"{b.shape}")
        stride = _pair(where, "stride", spec.get("stride"), 1, 1)
        padding = _pair(where, "padding", spec.get("padding"), 0, 0)
        P = _conv_out(where, "weight", shape[2], w.shape[2], stride[0], padding[0])
        Q = _conv_out(where, "weight", shape[3], w.shape[3], stride[1], padding[1])
        out.update(weight=w, bias=b, stride=stride, padding=padding)
        out["activation"], out["negative_slope"] = _activation(where, spec)
        return out, (shape[0], w.shape[0], P, Q)
    if t in ("max_pool2d", "avg_pool2d"):
        if "kernel_size" not in spec:
            raise ProblemError(f"{where}, field 'kernel_size': missing")
        k = _pair(where, "kernel_size", spec["kernel_size"], None, 1)
        stride = _pair(where, "stride", spec.get("stride"), list(k), 1)
        padding = _pair(where, "padding", spec.get("padding"), 0, 0)
        if len(shape) != 4:
            raise ProblemError(f"{where}, field 'kernel_size': {t} needs an (N, C, H, W) input, "
                               f"its input has shape {shape}")
        if padding[0] * 2 > k[0] or padding[1] * 2 > k[1]:
            raise ProblemError(f"{where}, field 'padding': at most half the kernel size, got "
                               f"{padding} for kernel {k}")
        P = _conv_out(where, "kernel_size", shape[2], k[0], stride[0], padding[0])
        Q = _conv_out(where, "kernel_size", shape[3], k[1], stride[1], padding[1])
        out.update(kernel_size=k, stride=stride, padding=padding)
        return out, (shape[0], shape[1], P, Q)
    if t == "flatten":
        if len(shape) < 2:
            raise ProblemError(f"{where}, field 'type': flatten needs an input with a batch "
                               f"dimension, got shape {shape}")
        return out, (shape[0], int(np.prod(shape[1:])))
    if t == "rnn":
        w_ih, w_hh = need("w_ih", 2), need("w_hh", 2)
        H = w_hh.shape[0]
        if len(shape) != 3:
            raise ProblemError(f"{where}, field 'w_ih': rnn needs a (T, N, I) input, its input "
                               f"has shape {shape}")
        if w_ih.shape != (H, shape[2]):
            raise ProblemError(f"{where}, field 'w_ih': expected shape ({H}, {shape[2]}) "
                               f"(hidden, input features), got {w_ih.shape}")
        if w_hh.shape != (H, H):
            raise ProblemError(f"{where}, field 'w_hh': expected a square shape, got "
                               f"{w_hh.shape}")
        for f in ("b_ih", "b_hh"):
            b = None if spec.get(f) is None else _array(where, f, spec[f], 1)
            if b is not None and b.shape != (H,):
                raise ProblemError(f"{where}, field '{f}': expected shape ({H},), got {b.shape}")
            out[f] = b
        if (out["b_ih"] is None) != (out["b_hh"] is None):
            raise ProblemError(f"{where}, field 'b_hh': give both b_ih and b_hh or neither")
        h0 = np.zeros((shape[1], H)) if spec.get("h0") is None \
            else _array(where, "h0", spec["h0"], (2, 3))
        if h0.shape == (1, shape[1], H):
            h0 = h0[0]
        if h0.shape != (shape[1], H):
            raise ProblemError(f"{where}, field 'h0': expected shape ({shape[1]}, {H}), got "
                               f"{h0.shape}")
        nl = spec.get("nonlinearity", "tanh")
        if nl not in RNN_NONLINEARITIES:
            raise ProblemError(f"{where}, field 'nonlinearity': expected one of "
                               f"{', '.join(RNN_NONLINEARITIES)}, got {nl!r}")
        out.update(w_ih=w_ih, w_hh=w_hh, h0=h0, nonlinearity=nl)
        return out, (shape[0], shape[1], H)
    # residual
    inner = spec.get("layers")
    if not isinstance(inner, list) or not inner:
        raise ProblemError(f"{where}, field 'layers': expected a non-empty list of layers")
    base = where.split(" (")[0]
    layers, s = [], shape
    for j, sub in enumerate(inner):
        lay, s = _layer(f"{base}.layers.{j}", sub, s)
        layers.append(lay)
    if s != shape:
        raise ProblemError(f"{where}, field 'layers': the block maps shape {shape} to {s}; a "
                           f"residual block must keep the shape")
    out["layers"] = layers
    out["activation"], out["negative_slope"] = _activation(where, spec)
    return out, shape


def layer_out_shape(layers: list, shape: tuple) -> tuple:
    for i, lay in enumerate(layers):
        _, shape = _layer(f"layers.{i}", lay, shape)
    return shape


def _loss(spec, out_shape, target, last):
    where = "loss"
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or "type" not in spec:
        raise ProblemError("loss, field 'type': missing (e.g. {\"type\": \"mse\"})")
    t = spec["type"]
    if t not in LOSSES:
        raise ProblemError(f"loss, field 'type': unknown loss {t!r}; choose from "
                           f"{', '.join(LOSSES)}")
    allowed = {"type", "reduction"} | ({"label_smoothing"} if t == "cross_entropy" else set())
    if t in ("sse", "half_sse"):
        allowed = {"type"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ProblemError(f"loss ({t}), field '{extra[0]}': not a field of this loss")
    red = spec.get("reduction", "mean" if t not in ("sse", "half_sse") else "sum")
    if red not in ("mean", "sum"):
        raise ProblemError(f"loss ({t}), field 'reduction': expected 'mean' or 'sum', got "
                           f"{red!r}")
    out = {"type": t, "reduction": red, "label_smoothing": _number(
        where, "label_smoothing", spec.get("label_smoothing"), low=0.0, high=1.0, default=0.0)}
    tgt = _array("problem", "target", target)
    if t in ("cross_entropy", "nll"):
        if len(out_shape) != 2:
            raise ProblemError(f"loss ({t}), field 'type': needs a network output of shape "
                               f"(N, C), got {out_shape}")
        N, C = out_shape
        if tgt.shape == (N,):
            if not np.all(tgt == np.round(tgt)) or tgt.min() < 0 or tgt.max() >= C:
                raise ProblemError(f"problem, field 'target': class indices must be integers "
                                   f"in [0, {C}), got {tgt.tolist()}")
            tgt = tgt.astype(np.int64)
        elif t == "nll" or tgt.shape != (N, C):
            want = f"({N},) class indices" + (f" or ({N}, {C}) probabilities" if t != "nll"
                                               else "")
            raise ProblemError(f"problem, field 'target': expected {want}, got shape "
                               f"{tgt.shape}")
        out["softmax_input"] = t == "cross_entropy" and last.get("activation") == "softmax"
    elif tgt.shape != out_shape:
        raise ProblemError(f"problem, field 'target': expected the network output's shape "
                           f"{out_shape}, got {tgt.shape}")
    return out, tgt


def _optimizer(spec, layers):
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or spec.get("type") not in _OPTIM_FIELDS:
        got = spec.get("type") if isinstance(spec, dict) else spec
        raise ProblemError(f"optimizer, field 'type': expected 'sgd' or 'adam', got {got!r}")
    t = spec["type"]
    extra = sorted(set(spec) - _OPTIM_FIELDS[t])
    if extra:
        raise ProblemError(f"optimizer ({t}), field '{extra[0]}': not a field of {t}")
    w = f"optimizer ({t})"
    if "lr" not in spec and t == "sgd":
        raise ProblemError(f"{w}, field 'lr': missing")
    out = {"type": t, "lr": _number(w, "lr", spec.get("lr"), low=0.0, default=1e-3),
           "weight_decay": _number(w, "weight_decay", spec.get("weight_decay"), low=0.0,
                                   default=0.0)}
    if t == "sgd":
        out["momentum"] = _number(w, "momentum", spec.get("momentum"), low=0.0, default=0.0)
        out["dampening"] = _number(w, "dampening", spec.get("dampening"), default=0.0)
        nest = spec.get("nesterov", False)
        if not isinstance(nest, bool):
            raise ProblemError(f"{w}, field 'nesterov': expected true or false")
        out["nesterov"] = nest
        bufs = spec.get("momentum_buffer") or {}
        if not isinstance(bufs, dict):
            raise ProblemError(f"{w}, field 'momentum_buffer': expected an object mapping "
                               f"'layers.<i>.weight' to arrays")
        shapes = dict(_param_shapes(layers, "layers"))
        out["momentum_buffer"] = {}
        for k, v in bufs.items():
            if k not in shapes:
                raise ProblemError(f"{w}, field 'momentum_buffer': unknown parameter {k!r}; "
                                   f"known: {', '.join(shapes)}")
            a = _array(w, f"momentum_buffer.{k}", v)
            if a.shape != shapes[k]:
                raise ProblemError(f"{w}, field 'momentum_buffer.{k}': expected shape "
                                   f"{shapes[k]}, got {a.shape}")
            out["momentum_buffer"][k] = a
        if out["momentum_buffer"] and out["momentum"] == 0:
            raise ProblemError(f"{w}, field 'momentum_buffer': needs a momentum > 0")
    else:
        betas = spec.get("betas", [0.9, 0.999])
        if not isinstance(betas, list) or len(betas) != 2:
            raise ProblemError(f"{w}, field 'betas': expected a pair [beta1, beta2]")
        out["betas"] = tuple(_number(w, "betas", b, low=0.0, high=1.0) for b in betas)
        out["eps"] = _number(w, "eps", spec.get("eps"), low=0.0, default=1e-8)
    return out


def _param_shapes(layers, prefix):
    for i, lay in enumerate(layers):
        if lay["type"] == "residual":
            yield from _param_shapes(lay["layers"], f"{prefix}.{i}.layers")
        for n in param_names(lay):
            if lay.get(n) is not None:
                yield f"{prefix}.{i}.{n}", lay[n].shape


def parse_problem(problem: dict) -> dict:
    """Validate a problem dict and return it normalised (float64 arrays, defaults filled)."""
    if not isinstance(problem, dict):
        raise ProblemError("problem: expected a JSON object with input, target, layers, loss")
    for f in ("input", "target", "layers", "loss"):
        if f not in problem:
            raise ProblemError(f"problem, field '{f}': missing")
    extra = sorted(set(problem) - {"input", "target", "layers", "loss", "l2", "optimizer"})
    if extra:
        raise ProblemError(f"problem, field '{extra[0]}': unknown field (fields: input, target, "
                           f"layers, loss, l2, optimizer)")
    x = _array("problem", "input", problem["input"])
    if x.ndim < 1:
        raise ProblemError("problem, field 'input': expected at least one dimension")
    if not isinstance(problem["layers"], list) or not problem["layers"]:
        raise ProblemError("problem, field 'layers': expected a non-empty list of layers")
    layers, shape = [], x.shape
    for i, spec in enumerate(problem["layers"]):
        lay, shape = _layer(f"layers.{i}", spec, shape)
        layers.append(lay)
    loss, target = _loss(problem["loss"], shape, problem["target"], layers[-1])
    return {"input": x, "target": target, "layers": layers, "loss": loss,
            "l2": _number("problem", "l2", problem.get("l2"), low=0.0, default=0.0),
            "optimizer": _optimizer(problem.get("optimizer"), layers)}
