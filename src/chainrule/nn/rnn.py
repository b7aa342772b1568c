"""nn.RNN: one-layer Elman RNN with PyTorch's shapes, on ops.rnn_forward / ops.rnn_backward.

    h_t = act(x_t @ weight_ih_l0.T + bias_ih_l0 + h_{t-1} @ weight_hh_l0.T + bias_hh_l0)

The whole sequence is ONE autograd node (``rnn``): the forward runs the C recurrence once,
the backward runs the full BPTT once and records ||dL/dh_t|| for every step, which the
module keeps as ``last_grad_norms`` (see chainrule.diagnostics).
"""
import math

import numpy as np

from .._checks import as_int, rnn_nonlinearity
from ..autograd.function import as_tensor, make
from .. import ops
from . import init
from .modules import Module, Parameter

__all__ = ["RNN", "rnn"]


def rnn(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", *, on_grad_norms=None):
    """hs = h_1 .. h_T as one autograd node.

    x (T, N, I), h0 (N, H) or None (zeros), w_ih (H, I), w_hh (H, H), b_ih/b_hh (H,) or None;
    Tensors or arrays (arrays are constants) -> Tensor (T, N, H). ``on_grad_norms``, if
    given, is called in the backward pass with the float64 array (T,) of ||dL/dh_t||.
    """
    fn = "rnn"
    nonlinearity = rnn_nonlinearity(fn, nonlinearity)
    x = as_tensor(x, fn, "x")
    w_ih = as_tensor(w_ih, fn, "w_ih")
    w_hh = as_tensor(w_hh, fn, "w_hh")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{fn}: pass both b_ih and b_hh or neither")
    has_bias = b_ih is not None
    b_ih = as_tensor(b_ih, fn, "b_ih") if has_bias else None
    b_hh = as_tensor(b_hh, fn, "b_hh") if has_bias else None
    if h0 is None:
        if x.array.ndim != 3 or w_hh.array.ndim != 2:  # let ops word the shape error
            ops.rnn_forward(x.array, None, w_ih.array, w_hh.array)
        h0 = as_tensor(np.zeros((x.array.shape[1], w_hh.array.shape[0]), x.array.dtype))
    else:
        h0 = as_tensor(h0, fn, "h0")
    xd, h0d, wid, whd = x.array, h0.array, w_ih.array, w_hh.array
    hs = ops.rnn_forward(xd, h0d, wid, whd, b_ih.array if has_bias else None,
                         b_hh.array if has_bias else None, nonlinearity)
    parents = (x, h0, w_ih, w_hh) + ((b_ih, b_hh) if has_bias else ())

    def backward(g):
        dx, dh0, dwi, dwh, dbi, dbh, norms = ops.rnn_backward(
            g, xd, h0d, hs, wid, whd, nonlinearity, bias=has_bias, return_dh_norms=True)
        if on_grad_norms is not None:
            on_grad_norms(norms)
        return (dx, dh0, dwi, dwh) + ((dbi, dbh) if has_bias else ())

    return make(hs, parents, backward)


class RNN(Module):
    """One-layer Elman RNN, PyTorch's nn.RNN shapes and parameter names.

    forward(x, h0=None) -> (output, h_n):
      x (T, N, I) [(N, T, I) if batch_first] or unbatched (T, I);
      h0 (1, N, H) [(1, H) unbatched] or None for zeros;
      output (T, N, H) [(N, T, H) if batch_first, (T, H) unbatched]; h_n (1, N, H) [(1, H)].
    Parameters weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0, bias_hh_l0 (H,), all
    initialised U(-1/sqrt(H), 1/sqrt(H)) from chainrule's generator (cr.manual_seed).
    After a backward pass ``last_grad_norms`` holds ||dL/dh_t|| for t = 1..T (float64).
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True,
                 batch_first=False, *, num_layers=1, dtype=None):
        super().__init__()
        fn = "RNN"
        self.input_size = as_int(fn, "input_size", input_size, 0)
        self.hidden_size = as_int(fn, "hidden_size", hidden_size, 1)
        self.nonlinearity = rnn_nonlinearity(fn, nonlinearity)
        if as_int(fn, "num_layers", num_layers, 1) != 1:
            raise ValueError(f"{fn}: only num_layers=1 is supported, got {num_layers}")
        self.num_layers = 1
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        dt = np.dtype(dtype if dtype is not None else np.float32)
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{fn}: dtype must be float32 or float64, got {dt}")
        H, I = self.hidden_size, self.input_size
        self.weight_ih_l0 = Parameter(np.empty((H, I), dtype=dt))
        self.weight_hh_l0 = Parameter(np.empty((H, H), dtype=dt))
        if self.bias:
            self.bias_ih_l0 = Parameter(np.empty((H,), dtype=dt))
            self.bias_hh_l0 = Parameter(np.empty((H,), dtype=dt))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)
        object.__setattr__(self, "last_grad_norms", None)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _record_norms(self, norms):
        object.__setattr__(self, "last_grad_norms", norms)

    def forward(self, x, h0=None):
        fn = "RNN.forward"
        x = as_tensor(x, fn, "input")
        wdt = self.weight_hh_l0.array.dtype
        if x.array.dtype != wdt:
            raise TypeError(f"{fn}: input has dtype {x.array.dtype} but the parameters are "
                            f"{wdt} (convert the module with .to(dtype) / .double() / .float())")
        I, H = self.input_size, self.hidden_size
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
        N = seq.array.shape[1]
        h_init = None
        if h0 is not None:
            h0 = as_tensor(h0, fn, "h0")
            want = (1, H) if unbatched else (1, N, H)
            if h0.array.shape != want:
                raise ValueError(f"{fn}: h0 must have shape {want} for input {xs}, got "
                                 f"{h0.array.shape}")
            if h0.array.dtype != wdt:
                raise TypeError(f"{fn}: h0 has dtype {h0.array.dtype} but the parameters are {wdt}")
            h_init = h0.reshape(N, H)
        hs = rnn(seq, h_init, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0,
                 self.bias_hh_l0, self.nonlinearity, on_grad_norms=self._record_norms)
        T = hs.array.shape[0]
        if unbatched:
            return hs.reshape(T, H), hs[T - 1:].reshape(1, H)
        h_n = hs[T - 1:]
        out = hs.transpose(0, 1) if self.batch_first else hs
        return out, h_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        return s
