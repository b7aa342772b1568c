"""rnn(): one-layer Elman RNN over a sequence as one autograd node, on ops.rnn_forward /
ops.rnn_backward (nn.RNN itself is in nn/recurrent.py).

    h_t = act(x_t @ weight_ih_l0.T + bias_ih_l0 + h_{t-1} @ weight_hh_l0.T + bias_hh_l0)

The whole sequence is ONE autograd node (``rnn``): the forward runs the C recurrence once,
the backward runs the full BPTT once and records ||dL/dh_t|| for every step, which the
module keeps as ``last_grad_norms`` (see chainrule.diagnostics).
"""
import numpy as np

from ..autograd.function import as_tensor, make
from .. import ops

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


# nn.RNN (stacked, bidirectional, PyTorch's positional order) lives with nn.LSTM / nn.GRU
from .recurrent import RNN  # noqa: E402,F401
