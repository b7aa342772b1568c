"""nn.RNN, nn.LSTM, nn.GRU: PyTorch's recurrent layers (stacked, bidirectional, dropout
between layers) on the C kernels ops.rnn_* / ops.lstm_* / ops.gru_*; nn.RNNCell,
nn.LSTMCell, nn.GRUCell (one step) on the same kernels.

Each layer and direction is ONE autograd node: the forward runs the kernel's whole
recurrence once, the backward the full BPTT once (records ||dL/dh_t||, see
``last_grad_norms``). A reverse direction runs the same kernel on the time-reversed
sequence. Names, argument order, defaults, shapes, gate order, initialisation
U(-1/sqrt(H), 1/sqrt(H)) and state-dict keys (weight_ih_l{k}[_reverse], ...) are
PyTorch's, so a PyTorch state dict loads directly. An LSTM with ``proj_size`` runs each
layer and direction as one node too, stepping on ops.matmul (nn/_proj_lstm.py).
"""
from __future__ import annotations

from typing import Any, Optional, TYPE_CHECKING

import math

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .._checks import alloc, as_int, rnn_nonlinearity
from .._random import get_generator
from ..autograd.function import as_tensor, make
from .. import ops
from . import init
from .modules import Module, Parameter

if TYPE_CHECKING:
    from ..autograd import Tensor
    from .._typing import DTypeLike, TensorLike

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _flip(a):
    return np.ascontiguousarray(a[::-1])


def _layer(mode, nonlinearity, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, on_norms,
           on_gates=None):
    """One layer, one direction, as one autograd node over the C kernels.

    x (T, N, I) Tensor, h0 / c0 (N, H) Tensors, parameters Tensors (b_* may be None).
    -> Tensor (T, N, H) of the outputs in x's time order; for the LSTM (T + 1, N, H) with
    c_n appended as row T. ``on_gates``, if given, receives the activated gates (T, N, G*H)
    (LSTM i, f, g, o; GRU r, z, n; RNN the hidden states) in the kernel's time order.
    """
    xd = _flip(x.array) if reverse else x.array
    h0d = h0.array
    wid, whd = w_ih.array, w_hh.array
    has_bias = b_ih is not None
    bid, bhd = (b_ih.array, b_hh.array) if has_bias else (None, None)
    T = xd.shape[0]
    if mode == "LSTM":
        c0d = c0.array
        saved = ops.lstm_forward(xd, h0d, c0d, wid, whd, bid, bhd)
        hs = saved[0]
        y = np.empty((T + 1,) + hs.shape[1:], hs.dtype)
        y[:T] = hs[::-1] if reverse else hs
        y[T] = saved[1][-1]
        parents = (x, h0, c0, w_ih, w_hh)
    elif mode == "GRU":
        saved = ops.gru_forward(xd, h0d, wid, whd, bid, bhd)
        y = _flip(saved[0]) if reverse else saved[0]
        parents = (x, h0, w_ih, w_hh)
    else:
        saved = (ops.rnn_forward(xd, h0d, wid, whd, bid, bhd, nonlinearity),)
        y = _flip(saved[0]) if reverse else saved[0]
        parents = (x, h0, w_ih, w_hh)
    if has_bias:
        parents = parents + (b_ih, b_hh)
    if on_gates is not None:
        H = h0d.shape[1]
        on_gates(saved[2] if mode == "LSTM" else saved[1][..., :3 * H] if mode == "GRU"
                 else saved[0])

    def backward(g):
        dhs = g[:T] if mode == "LSTM" else g
        dhs = _flip(dhs) if reverse else dhs
        if mode == "LSTM":
            out = ops.lstm_backward(dhs, g[T], xd, h0d, c0d, wid, whd, *saved, bias=has_bias,
                                    return_dh_norms=True)
        elif mode == "GRU":
            out = ops.gru_backward(dhs, xd, h0d, wid, whd, *saved, bias=has_bias,
                                   return_dh_norms=True)
        else:
            out = ops.rnn_backward(dhs, xd, h0d, saved[0], wid, whd, nonlinearity,
                                   bias=has_bias, return_dh_norms=True)
        grads, norms = list(out[:-1]), out[-1]
        if on_norms is not None:
            on_norms(norms[::-1].copy() if reverse else norms)
        if reverse:
            grads[0] = _flip(grads[0])
        return tuple(grads if has_bias else grads[:-2])

    return make(y, parents, backward)


def _direction(mod, layer, d, inp, h0, c0, on_norms):
    """Layer ``layer``, direction ``d`` of ``mod`` over ``inp`` (T, N, *) from h0 / c0 ->
    (output (T, N, H_out), h_n (1, N, H_out), c_n (1, N, H) or None); H_out is proj_size
    for an LSTM with projections, else hidden_size."""
    s = f"_l{layer}" + ("_reverse" if d else "")
    T = inp.array.shape[0]
    last = slice(0, 1) if d else slice(T - 1, T)
    args = (inp, h0, c0, getattr(mod, "weight_ih" + s), getattr(mod, "weight_hh" + s))
    bias = (getattr(mod, "bias_ih" + s), getattr(mod, "bias_hh" + s))
    probe = getattr(mod, "_gate_probe", None)  # set by diagnostics.gate_saturation
    on_gates = None if probe is None else probe.setdefault((layer, d), []).append
    if getattr(mod, "proj_size", 0):
        from ._proj_lstm import proj_layer
        P = mod.proj_size
        y = proj_layer(*args, getattr(mod, "weight_hr" + s), *bias, bool(d), on_norms,
                       on_gates)
        return y[:, :, :P], y[last, :, :P], y[last, :, P:]
    y = _layer(mod._mode, mod.nonlinearity, inp, h0, c0, args[3], args[4], *bias, bool(d),
               on_norms, on_gates)
    if mod._mode == "LSTM":
        return y[:T], y[last], y[T:T + 1]
    return y, y[last], None


def _cat(tensors, axis):
    """np.concatenate as an autograd node."""
    if len(tensors) == 1:
        return tensors[0]
    data = np.concatenate([t.array for t in tensors], axis=axis)
    splits = np.cumsum([t.array.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(np.ascontiguousarray(p) for p in np.split(g, splits, axis=axis))
    return make(data, tuple(tensors), backward)


def _state(fn, name, h, want, wdt, shape):
    """An initial state as a Tensor of shape ``want`` and the parameters' dtype."""
    h = as_tensor(h, fn, name)
    if h.array.shape != want:
        raise ValueError(f"{fn}: {name} must have shape {want} for input {shape}, got "
                         f"{h.array.shape}")
    if h.array.dtype != wdt:
        raise TypeError(f"{fn}: {name} has dtype {h.array.dtype} but the parameters are {wdt}")
    return h


class _RecurrentBase(Module):
    """Shared parameters, checks and stacking of nn.RNN / nn.LSTM / nn.GRU."""

    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, nonlinearity: str = "tanh",
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = type(self).__name__
        self.input_size = as_int(fn, "input_size", input_size, 0)
        self.hidden_size = as_int(fn, "hidden_size", hidden_size, 1)
        self.num_layers = as_int(fn, "num_layers", num_layers, 1)
        self.nonlinearity = nonlinearity
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{fn}: dropout must be a number in [0, 1], got {dropout!r}")
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = as_int(fn, "proj_size", proj_size, 0)
        if self.proj_size and self._mode != "LSTM":
            raise ValueError(f"{fn}: proj_size is supported only by LSTM, got "
                             f"proj_size={proj_size}")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{fn}: proj_size has to be smaller than hidden_size, got "
                             f"proj_size={proj_size}, hidden_size={hidden_size}")
        dt = np.dtype(dtype if dtype is not None else get_default_dtype())
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
        G, H, D = _GATES[self._mode], self.hidden_size, 2 if self.bidirectional else 1
        R = self.proj_size or H  # the width of h (the layer's output)
        for layer in range(self.num_layers):
            size_in = self.input_size if layer == 0 else D * R
            for suffix in ("", "_reverse")[:D]:
                s = f"_l{layer}{suffix}"
                setattr(self, "weight_ih" + s, Parameter(alloc(fn, "weight_ih" + s,
                                                                     (G * H, size_in), dt)))
                setattr(self, "weight_hh" + s, Parameter(alloc(fn, "weight_hh" + s, (G * H, R),
                                                                     dt)))
                if self.bias:
                    setattr(self, "bias_ih" + s, Parameter(alloc(fn, "bias_ih" + s, (G * H,), dt)))
                    setattr(self, "bias_hh" + s, Parameter(alloc(fn, "bias_hh" + s, (G * H,), dt)))
                else:
                    self.register_parameter("bias_ih" + s, None)
                    self.register_parameter("bias_hh" + s, None)
                if self.proj_size:
                    setattr(self, "weight_hr" + s, Parameter(np.empty((R, H), dt)))
        object.__setattr__(self, "last_grad_norms", None)
        object.__setattr__(self, "last_grad_norms_all", {})
        object.__setattr__(self, "_gate_probe", None)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def flatten_parameters(self):
        """PyTorch's cuDNN hook; nothing to do here."""

    def _norms_recorder(self, layer, direction):
        def record(norms):
            self.last_grad_norms_all[(layer, direction)] = norms
            if layer == 0 and direction == 0:
                object.__setattr__(self, "last_grad_norms", norms)
        return record

    def _run(self, x, hx):
        """-> (output, h_n, c_n or None) in PyTorch's layouts."""
        from .utils.rnn import PackedSequence
        if isinstance(x, PackedSequence):
            from ._packed import run_packed
            return run_packed(self, x, hx)
        fn = f"{type(self).__name__}.forward"
        lstm = self._mode == "LSTM"
        x = as_tensor(x, fn, "input")
        wdt = self.weight_hh_l0.array.dtype
        if x.array.dtype != wdt:
            raise TypeError(f"{fn}: input has dtype {x.array.dtype} but the parameters are "
                            f"{wdt} (convert the module with .to(dtype) / .double() / .float())")
        I, H, L = self.input_size, self.hidden_size, self.num_layers
        R = self.proj_size or H
        D = 2 if self.bidirectional else 1
        xs = x.array.shape
        if x.array.ndim not in (2, 3) or xs[-1] != I:
            raise ValueError(f"{fn}: input must have shape (T, N, {I})"
                             f"{' [batch_first: (N, T, %d)]' % I if self.batch_first else ''}"
                             f" or unbatched (T, {I}), got {xs}")
        unbatched = x.array.ndim == 2
        if xs[1 if self.batch_first and not unbatched else 0] == 0:
            raise ValueError(f"{fn}: the sequence length must be > 0, got input shape {xs}")
        if unbatched:
            seq = x.reshape(xs[0], 1, I)
        elif self.batch_first:
            seq = x.transpose(0, 1)
        else:
            seq = x
        T, N = seq.array.shape[:2]
        want = (L * D, R) if unbatched else (L * D, N, R)
        want_c = (L * D, H) if unbatched else (L * D, N, H)
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{fn}: hx must be a tuple (h0, c0), got "
                                    f"{type(hx).__name__}")
                h0 = _state(fn, "h0", hx[0], want, wdt, xs).reshape(L * D, N, R)
                c0 = _state(fn, "c0", hx[1], want_c, wdt, xs).reshape(L * D, N, H)
            else:
                h0 = _state(fn, "h0", hx, want, wdt, xs).reshape(L * D, N, H)
        zeros = as_tensor(np.zeros((N, H), wdt))
        zeros_h = zeros if R == H else as_tensor(np.zeros((N, R), wdt))
        inp, h_n, c_n = seq, [], []
        for layer in range(L):
            outs = []
            if lstm and D == 2 and not self.proj_size:  # both directions in one node
                from ._bidir import bidir_layer
                inp = bidir_layer(self, layer, inp, h0, c0, zeros, h_n, c_n)
                outs, D_run = [inp], 0
            else:
                D_run = D
            for d in range(D_run):
                k = layer * D + d
                y, h, c = _direction(self, layer, d, inp,
                                     h0[k] if h0 is not None else zeros_h,
                                     c0[k] if c0 is not None else zeros,
                                     self._norms_recorder(layer, d))
                outs.append(y)
                h_n.append(h)
                if lstm:
                    c_n.append(c)
            inp = _cat(outs, 2)
            if self.dropout > 0 and self.training and layer < L - 1:
                keep = get_generator().random(inp.array.shape) >= self.dropout
                scale = 1 / (1 - self.dropout) if self.dropout < 1 else 0.0  # p = 1: all 0
                inp = inp * (keep * scale).astype(wdt)
        h_n = _cat(h_n, 0)
        c_n = _cat(c_n, 0) if lstm else None
        if unbatched:
            inp = inp.reshape(T, D * R)
            h_n = h_n.reshape(L * D, R)
            c_n = c_n.reshape(L * D, H) if lstm else None
        elif self.batch_first:
            inp = inp.transpose(0, 1)
        return inp, h_n, c_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self._mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(_RecurrentBase):
    """Elman RNN, PyTorch's nn.RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, *, dtype=None); act is 'tanh',
    'relu' or (chainrule's extension) 'sigmoid'. forward(input, hx=None) -> (output, h_n):
    input (T, N, I) [(N, T, I) if batch_first] or unbatched (T, I); hx (L*D, N, H) [(L*D, H)]
    or None for zeros; output (T, N, D*H) [(N, T, D*H), (T, D*H)]; h_n (L*D, N, H).
    Parameters weight_ih_l{k}[_reverse] (H, I or D*H), weight_hh_l{k}[_reverse] (H, H),
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (H,), all U(-1/sqrt(H), 1/sqrt(H)).
    Dropout (training mode) is applied to every layer's output but the last.
    After a backward pass ``last_grad_norms`` holds ||dL/dh_t|| (t = 1..T, float64) of
    layer 0's forward direction, ``last_grad_norms_all[(layer, direction)]`` every one.
    """

    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *,
                 dtype: Optional[DTypeLike] = None) -> None:
        nonlinearity = rnn_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, nonlinearity=nonlinearity, dtype=dtype)

    def forward(self, input: TensorLike, hx: Any = None) -> Any:
        out, h_n, _ = self._run(input, hx)
        return out, h_n


class LSTM(_RecurrentBase):
    """Long short-term memory, PyTorch's nn.LSTM (gates i, f, g, o stacked in that order).

    LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, *, dtype=None). forward(input, hx=None) -> (output,
    (h_n, c_n)) with hx = (h0, c0) or None, shapes as nn.RNN's. weight_ih_l{k} (4H, I or
    D*H), weight_hh_l{k} (4H, H), biases (4H,). See nn.RNN for dropout and the
    gradient-norm readings.

    proj_size = P > 0 (0 < P < H): PyTorch's LSTM with projections, h_t = W_hr (o_t *
    tanh(c_t)) has P features: weight_hr_l{k}[_reverse] (P, H), weight_hh_l{k} (4H, P),
    weight_ih_l{k} (4H, D*P) for k > 0, output (T, N, D*P), h0 / h_n (L*D, N, P), c0 / c_n
    (L*D, N, H). Such a layer runs step by step on ops.matmul (nn/_proj_lstm.py), not on
    the fused kernel.
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, dtype: Optional[DTypeLike] = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)

    def forward(self, input: TensorLike, hx: Any = None) -> Any:
        out, h_n, c_n = self._run(input, hx)
        return out, (h_n, c_n)


class GRU(_RecurrentBase):
    """Gated recurrent unit, PyTorch's nn.GRU (gates r, z, n stacked in that order):
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.

    GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, *, dtype=None); forward(input, hx=None) -> (output, h_n), shapes as
    nn.RNN's; weight_ih_l{k} (3H, I or D*H), weight_hh_l{k} (3H, H), biases (3H,).
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)

    def forward(self, input: TensorLike, hx: Any = None) -> Any:
        out, h_n, _ = self._run(input, hx)
        return out, h_n


# ---- cells: one step, on the same kernels with T = 1 -------------------------------------
class _CellBase(Module):
    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Optional[DTypeLike] = None) -> None:
        super().__init__()
        fn = type(self).__name__
        self.input_size = as_int(fn, "input_size", input_size, 0)
        self.hidden_size = as_int(fn, "hidden_size", hidden_size, 1)
        self.bias = bool(bias)
        self.nonlinearity = nonlinearity
        dt = np.dtype(dtype if dtype is not None else get_default_dtype())
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
        GH, H, I = _GATES[self._mode] * self.hidden_size, self.hidden_size, self.input_size
        self.weight_ih = Parameter(alloc(fn, "weight_ih", (GH, I), dt))
        self.weight_hh = Parameter(alloc(fn, "weight_hh", (GH, H), dt))
        if self.bias:
            self.bias_ih = Parameter(alloc(fn, "bias_ih", (GH,), dt))
            self.bias_hh = Parameter(alloc(fn, "bias_hh", (GH,), dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()  # type: ignore[misc]  # shared from _RecurrentBase

    reset_parameters = _RecurrentBase.reset_parameters

    def _step(self, x, hx):
        """-> (h', c' or None), unbatched input giving unbatched states."""
        fn = f"{type(self).__name__}.forward"
        lstm = self._mode == "LSTM"
        x = as_tensor(x, fn, "input")
        wdt = self.weight_hh.array.dtype
        if x.array.dtype != wdt:
            raise TypeError(f"{fn}: input has dtype {x.array.dtype} but the parameters are "
                            f"{wdt} (convert the module with .to(dtype) / .double() / .float())")
        I, H = self.input_size, self.hidden_size
        xs = x.array.shape
        if x.array.ndim not in (1, 2) or xs[-1] != I:
            raise ValueError(f"{fn}: input must have shape (N, {I}) or unbatched ({I},), "
                             f"got {xs}")
        unbatched = x.array.ndim == 1
        N = 1 if unbatched else xs[0]
        want = (H,) if unbatched else (N, H)
        h0 = c0 = as_tensor(np.zeros((N, H), wdt))
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{fn}: hx must be a tuple (h, c), got {type(hx).__name__}")
                h0 = _state(fn, "h", hx[0], want, wdt, xs).reshape(N, H)
                c0 = _state(fn, "c", hx[1], want, wdt, xs).reshape(N, H)
            else:
                h0 = _state(fn, "hx", hx, want, wdt, xs).reshape(N, H)
        y = _layer(self._mode, self.nonlinearity, x.reshape(1, N, I), h0, c0, self.weight_ih,
                   self.weight_hh, self.bias_ih, self.bias_hh, False, None)
        h, c = y[0], (y[1] if lstm else None)
        if unbatched:
            h = h.reshape(H)
            c = c.reshape(H) if lstm else None
        return h, c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self._mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(_CellBase):
    """One Elman step, PyTorch's nn.RNNCell(input_size, hidden_size, bias=True,
    nonlinearity='tanh', *, dtype=None): forward(input, hx=None) -> h' with input (N, I) or
    (I,), hx (N, H) or (H,) (None: zeros). Parameters weight_ih (H, I), weight_hh (H, H),
    bias_ih, bias_hh (H,), U(-1/sqrt(H), 1/sqrt(H))."""

    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, dtype: Optional[DTypeLike] = None) -> None:
        nonlinearity = rnn_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, nonlinearity, dtype)

    def forward(self, input: TensorLike, hx: Any = None) -> Tensor:
        return self._step(input, hx)[0]


class LSTMCell(_CellBase):
    """One LSTM step, PyTorch's nn.LSTMCell(input_size, hidden_size, bias=True, *,
    dtype=None): forward(input, hx=None) -> (h', c') with hx = (h, c) or None; weight_ih
    (4H, I), weight_hh (4H, H), biases (4H,)."""

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__(input_size, hidden_size, bias, dtype=dtype)

    def forward(self, input: TensorLike, hx: Any = None) -> Any:
        return self._step(input, hx)


class GRUCell(_CellBase):
    """One GRU step, PyTorch's nn.GRUCell(input_size, hidden_size, bias=True, *, dtype=None):
    forward(input, hx=None) -> h'; weight_ih (3H, I), weight_hh (3H, H), biases (3H,)."""

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 dtype: Optional[DTypeLike] = None) -> None:
        super().__init__(input_size, hidden_size, bias, dtype=dtype)

    def forward(self, input: TensorLike, hx: Any = None) -> Tensor:
        return self._step(input, hx)[0]
