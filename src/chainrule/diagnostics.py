"""Gradient diagnostics for recurrent networks: will the gradient vanish or explode?

Going back one step of h_t = act(x_t @ w_ih.T + h_{t-1} @ w_hh.T + b), the gradient is
multiplied by the step Jacobian (row-vector convention)

    dL/dh_{t-1} = dL/dh_t @ J_t,      J_t = diag(act'(a_t)) @ w_hh,

so k steps back it has been multiplied by J_t J_{t-1} ... J_{t-k+1}. With |act'| <= gamma
(tanh: 1, sigmoid: 1/4, relu: 1) each factor has norm at most gamma * ||w_hh||_2, and
asymptotically the product grows like (gamma * rho(w_hh))^k, rho the spectral radius:

    gamma * rho < 1  ->  the gradient vanishes geometrically with the distance in time,
    gamma * rho > 1  ->  it may explode (and does when the activations stay unsaturated).
    gamma * ||w_hh||_2 < 1 is the sufficient (worst-case) condition for vanishing
    (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training RNNs").

The measured side: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` keep ||dL/dh_t|| of their last
backward pass for every layer and direction (``rnn.last_grad_norms`` = layer 0 forward,
``rnn.last_grad_norms_all[(layer, direction)]``; also ``ops.*_backward(...,
return_dh_norms=True)``); ``grad_norms`` fetches them, ``grad_norm_reading`` turns them
into a per-step factor and ``layer_readings`` gives one such line per layer and direction.

Gates: a sigmoid gate near 0 or 1, or a tanh near -1 or 1, passes (almost) no gradient to
its pre-activation. ``gate_saturation`` runs the module once on an input and measures, per
layer, direction and gate, the fraction of activations within ``eps`` of those limits;
``gate_saturation_reading`` says it in one line.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["spectral_radius", "spectral_norm", "act_grad_bound", "gradient_reading",
           "grad_norms", "per_step_factor", "grad_norm_reading", "layer_readings",
           "gate_saturation", "gate_saturation_reading"]

_ACT_BOUND = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}


def _matrix(fn, w):
    """w as a float64 square matrix; accepts an ndarray, a Tensor/Parameter or an nn.RNN."""
    if hasattr(w, "weight_hh_l0"):
        w = w.weight_hh_l0
    if isinstance(getattr(w, "array", None), np.ndarray):
        w = w.array
    if not isinstance(w, np.ndarray):
        raise TypeError(f"{fn}: w_hh must be an ndarray, a Tensor or an nn.RNN, "
                        f"got {type(w).__name__}")
    if w.dtype.kind not in "f":
        raise TypeError(f"{fn}: w_hh must be a float array, got dtype {w.dtype}")
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"{fn}: w_hh must be a square (H, H) matrix, got shape {w.shape}")
    return np.asarray(w, dtype=np.float64)


def spectral_radius(w_hh) -> float:
    """Largest |eigenvalue| of the (H, H) recurrent weight (0.0 for H = 0)."""
    w = _matrix("spectral_radius", w_hh)
    if w.size == 0:
        return 0.0
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def spectral_norm(w_hh) -> float:
    """Largest singular value ||w_hh||_2 (bounds every step's gain, not only the asymptote)."""
    w = _matrix("spectral_norm", w_hh)
    if w.size == 0:
        return 0.0
    return float(np.linalg.norm(w, 2))


def act_grad_bound(nonlinearity: str) -> float:
    """sup |act'|: tanh 1, sigmoid 1/4, relu 1."""
    if nonlinearity not in _ACT_BOUND:
        raise ValueError(f"act_grad_bound: unknown nonlinearity {nonlinearity!r}; expected one "
                         f"of {', '.join(map(repr, _ACT_BOUND))}")
    return _ACT_BOUND[nonlinearity]


def gradient_reading(w_hh, nonlinearity: str | None = None) -> str:
    """One line: spectral radius x sup|act'| and what it predicts for the gradient over time.

    ``w_hh`` is the (H, H) recurrent weight (ndarray or Tensor) or an ``nn.RNN`` (then the
    nonlinearity defaults to the module's). E.g. "tanh RNN: spectral radius 0.62 x
    max|tanh'| 1 = 0.62 < 1: gradients vanish geometrically, ~0.62^k after k steps (...)".
    """
    if nonlinearity is None:
        nonlinearity = getattr(w_hh, "nonlinearity", "tanh")
    gamma = act_grad_bound(nonlinearity)
    rho = spectral_radius(w_hh)
    sigma = spectral_norm(w_hh)
    g = gamma * rho
    head = (f"{nonlinearity} RNN: spectral radius {rho:.4g} x max|{nonlinearity}'| "
            f"{gamma:g} = {g:.4g}")
    if g < 1:
        if gamma * sigma < 1:
            sure = f"guaranteed, since ||w_hh||_2 x {gamma:g} = {gamma * sigma:.4g} < 1"
        else:
            sure = (f"asymptotically; ||w_hh||_2 x {gamma:g} = {gamma * sigma:.4g} >= 1 "
                    f"allows transient growth")
        return (f"{head} < 1: gradients vanish geometrically going back in time, "
                f"~{g:.3g}^k after k steps ({sure})")
    if g > 1:
        return (f"{head} > 1: gradients may explode going back in time (up to ~{g:.3g}^k after "
                f"k steps while the units stay unsaturated); consider clip_grad_norm_")
    return f"{head} = 1: at the edge; gradients neither vanish nor explode geometrically"


def grad_norms(rnn, layer=0, direction=0) -> np.ndarray:
    """||dL/dh_t|| for t = 1..T from the module's last backward pass, float64 (T,).

    Takes an ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (its ``last_grad_norms_all[(layer,
    direction)]``; direction 1 is the reverse one, its t still in the input's order) or
    passes an array through.
    """
    if hasattr(rnn, "last_grad_norms_all"):
        norms = rnn.last_grad_norms_all.get((layer, direction))
        if norms is None and rnn.last_grad_norms_all:
            raise ValueError(f"grad_norms: no reading for layer {layer}, direction "
                             f"{direction}; the module has "
                             f"{sorted(rnn.last_grad_norms_all)}")
    else:
        norms = getattr(rnn, "last_grad_norms", rnn)
    if norms is None:
        raise ValueError("grad_norms: no backward pass has run through this RNN yet")
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1:
        raise ValueError(f"grad_norms: expected a (T,) array of norms, got shape {norms.shape}")
    return norms


def per_step_factor(norms) -> float:
    """Geometric mean of ||dL/dh_{t-1}|| / ||dL/dh_t|| over the sequence (needs T >= 2 and
    positive norms): < 1 the measured gradient fades going back in time, > 1 it grows.
    Meaningful when the loss sits at the end of the sequence (dhs zero before it)."""
    n = grad_norms(norms)
    if n.size < 2:
        raise ValueError(f"per_step_factor: need at least 2 steps, got {n.size}")
    if not (n[0] > 0 and n[-1] > 0):
        return 0.0 if n[-1] > 0 else math.inf
    return float(np.exp((np.log(n[0]) - np.log(n[-1])) / (n.size - 1)))


def grad_norm_reading(norms) -> str:
    """One line on the measured per-step norms: first/last value and the per-step factor."""
    n = grad_norms(norms)
    if n.size == 0:
        return "no steps"
    line = f"||dL/dh_t||: t=1 {n[0]:.3g}, t=T={n.size} {n[-1]:.3g}"
    if n.size >= 2 and n[-1] > 0:
        f = per_step_factor(n)
        trend = "fades" if f < 1 else "grows" if f > 1 else "stays level"
        line += f"; per-step factor {f:.4g} (the gradient {trend} going back in time)"
    return line


def layer_readings(rnn) -> list:
    """One :func:`grad_norm_reading` line per layer and direction of the module's last
    backward pass, e.g. ``"layer 1 reverse: ||dL/dh_t||: t=1 0.02, ..."``."""
    found = getattr(rnn, "last_grad_norms_all", None)
    if not found:
        raise ValueError("layer_readings: no backward pass has run through this module yet")
    return [f"layer {k[0]} {'reverse' if k[1] else 'forward'}: {grad_norm_reading(found[k])}"
            for k in sorted(found)]


# ---- gate saturation ------------------------------------------------------------------------
_GATE_KINDS = {"LSTM": (("i", "sigmoid"), ("f", "sigmoid"), ("g", "tanh"), ("o", "sigmoid")),
               "GRU": (("r", "sigmoid"), ("z", "sigmoid"), ("n", "tanh"))}


def _saturated(a, kind, eps):
    if kind == "sigmoid":
        return np.count_nonzero((a <= eps) | (a >= 1 - eps))
    if kind == "tanh":
        return np.count_nonzero(np.abs(a) >= 1 - eps)
    return np.count_nonzero(a <= 0)  # relu: dead units (zero gradient)


def gate_saturation(rnn, input, hx=None, eps=0.02) -> dict:
    """Fraction of saturated gate activations, per layer, direction and gate.

    Runs ``rnn(input, hx)`` once without a graph (eval mode, so no dropout), and returns
    ``{(layer, direction): {gate: fraction}}``. LSTM gates ``i, f, g, o``, GRU ``r, z, n``;
    a sigmoid gate counts as saturated within ``eps`` of 0 or 1, a tanh one (g, n) within
    ``eps`` of -1 or 1. For an ``nn.RNN`` the one entry ``h`` is the hidden activation
    (tanh within eps of +-1, sigmoid of 0 / 1, relu: exactly 0, dead). Packed input works
    (each step a sequence has counts once).
    """
    import chainrule as cr
    mode = getattr(rnn, "_mode", None)
    if not hasattr(rnn, "last_grad_norms_all") or mode is None:
        raise TypeError(f"gate_saturation: rnn must be an nn.RNN, nn.LSTM or nn.GRU, got "
                        f"{type(rnn).__name__}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < 0.5:
        raise ValueError(f"gate_saturation: eps must be a number in [0, 0.5), got {eps!r}")
    kinds = _GATE_KINDS.get(mode, (("h", rnn.nonlinearity),))
    probe: dict = {}
    was_training = rnn.training
    object.__setattr__(rnn, "_gate_probe", probe)
    rnn.eval()
    try:
        with cr.no_grad():
            rnn(input, hx)
    finally:
        object.__setattr__(rnn, "_gate_probe", None)
        rnn.train(was_training)
    out = {}
    for key in sorted(probe):
        arrays = probe[key]
        H = arrays[0].shape[-1] // len(kinds)
        total = sum(a.size for a in arrays) // len(kinds)
        out[key] = {name: (sum(_saturated(a[..., j * H:(j + 1) * H], kind, eps)
                               for a in arrays) / total if total else 0.0)
                    for j, (name, kind) in enumerate(kinds)}
    return out


def gate_saturation_reading(rnn, input, hx=None, eps=0.02) -> str:
    """One line from :func:`gate_saturation`: every layer's gates and a verdict on the
    most saturated one, e.g. ``"LSTM gate saturation (eps 0.02): l0 i 1% f 3% g 0% o 2%;
    most saturated: f of layer 0 forward (3%): gradients flow"``."""
    sat = gate_saturation(rnn, input, hx, eps)
    parts: list = []
    worst: tuple = (-1.0, None, None)
    for (layer, d), gates in sat.items():
        tag = f"l{layer}{'r' if d else ''}"
        parts.append(tag + " " + " ".join(f"{g} {100 * v:.0f}%" for g, v in gates.items()))
        for g, v in gates.items():
            if v > worst[0]:
                worst = (v, g, f"layer {layer} {'reverse' if d else 'forward'}")
    v, g, where = worst
    if v > 0.5:
        verdict = ("mostly saturated: little gradient passes that gate (vanishing); lower "
                   "the learning rate, clip gradients or rescale the inputs / weights")
    elif v > 0.1:
        verdict = "partly saturated: watch it"
    else:
        verdict = "gradients flow"
    return (f"{rnn._mode} gate saturation (eps {eps:g}): {'; '.join(parts)}; most "
            f"saturated: {g} of {where} ({100 * v:.0f}%): {verdict}")
