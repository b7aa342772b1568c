"""Group, layer and instance normalization: ``F.group_norm``, ``F.layer_norm``,
``F.instance_norm`` and ``nn.GroupNorm``, ``nn.LayerNorm``, ``nn.InstanceNorm1d/2d``
(PyTorch's names, arguments, defaults, state-dict keys and semantics).

Group and layer norm are one node each on the fused row kernels ``ops.group_norm_*`` /
``ops.layer_norm_*`` (csrc/norm.h, cr_row_norm_*); so is instance norm without running
statistics (the default; group norm with C groups: one read and one write each way).
Instance norm updating running statistics (which need each row's variance) normalises
rows of a reshaped view with the batch-norm C kernels of ``chainrule.ops`` (statistics in
float64, fixed order, the same for any thread count):
    group norm:    x (N, C, *)      -> rows (N*G, C/G * prod(*)),   affine per channel
    layer norm:    x (*, S)         -> rows (prod(*), prod(S)),     affine over S
    instance norm: x (N, C, *)      -> rows (N*C, prod(*)),         affine per channel
i.e. ``ops.batch_norm_forward`` on a (1, rows, K) view with no affine, then the affine as
``ops.batch_norm_inference`` with mean 0 and variance 1 over the affine's own (A, C, B)
view. The backward runs the same two kernels in reverse: ``ops.batch_norm_backward`` in
evaluation form for the affine (dx_hat = weight * dy, dweight, dbias), then in training
form over the rows for dx. One autograd node per call.
"""
import numbers

import numpy as np

from ..autograd.dtypes import get_default_dtype
from .. import ops
from ..autograd.function import as_tensor, make
from .modules import Module, Parameter, _as_dtype, _int_arg
from .norm import _NormBase, _affine_node, _array_arg, _eps, batch_norm

__all__ = ["group_norm", "layer_norm", "instance_norm", "GroupNorm", "LayerNorm",
           "InstanceNorm1d", "InstanceNorm2d"]


def _affine_arg(fn, name, t, shape, dt):
    if t is None:
        return None
    t = as_tensor(t, fn, name)
    if t.array.dtype != dt:
        raise TypeError(f"{fn}: {name} has dtype {t.array.dtype} but the input has {dt} "
                        f"(convert the module with .float()/.double())")
    if t.array.shape != tuple(shape):
        raise ValueError(f"{fn}: {name} must have shape {tuple(shape)}, got {t.array.shape}")
    return t


def _normalize(x, w, b, rows, affine_view, eps):
    """One node: y = normalise(x over ``rows`` rows) * weight + bias.

    x, w, b: Tensors (w, b may be None); ``affine_view`` (A, C, B): the view of x in which
    weight and bias (C elements each) are per-channel. Returns (y, mean, var) where
    mean and var are (rows,) arrays (for the running statistics)."""
    xd = np.ascontiguousarray(x.array)
    shape, dt = xd.shape, xd.dtype
    x3 = xd.reshape(1, rows, -1)
    xhat, mean, invstd, var = ops.batch_norm_forward(x3, None, None, eps)
    wd = None if w is None else w.array.reshape(-1)
    bd = None if b is None else b.array.reshape(-1)
    C = affine_view[1]
    if w is None and b is None:
        y = xhat.reshape(shape)
    else:
        y = ops.batch_norm_inference(xhat.reshape(affine_view), np.zeros(C, dt), np.ones(C, dt),
                                     wd, bd, 0.0).reshape(shape)
    parents = tuple(t for t in (x, w, b) if t is not None)

    def backward(g):
        g = np.ascontiguousarray(g, dtype=dt)
        want_x = x.requires_grad
        dw = db = None
        if w is None and b is None:
            dxhat = g
        else:
            mask = (want_x and w is not None, w is not None and w.requires_grad,
                    b is not None and b.requires_grad)
            dxhat, dw, db = ops.batch_norm_backward(
                g.reshape(affine_view), xhat.reshape(affine_view), wd, np.zeros(C, dt),
                np.ones(C, dt), False, mask)
            if w is None:
                dxhat = g
        dx = None
        if want_x:
            dx = ops.batch_norm_backward(dxhat.reshape(x3.shape), x3, None, mean, invstd, True,
                                         (True, False, False))[0].reshape(shape)
        out = [dx]
        if w is not None:
            out.append(None if dw is None else dw.reshape(w.array.shape))
        if b is not None:
            out.append(None if db is None else db.reshape(b.array.shape))
        return tuple(out)
    return make(y, parents, backward), mean, var


def _rows_node(x, w, b, forward, backward, spec, eps):
    """One node on the fused row kernels (ops.group_norm_* / ops.layer_norm_*): one read of
    x for the statistics and one write of y; the backward reads dy and x once per row and
    returns dx, dweight, dbias from the same call. ``spec``: num_groups or
    normalized_shape."""
    xd = x.array
    wd = None if w is None else w.array
    y, mean, rstd = forward(xd, spec, wd, None if b is None else b.array, eps)
    return _affine_node(y, x, w, b, lambda g, mask: backward(g, xd, spec, wd, mean, rstd,
                                                             mask))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalization over input (N, C, *): the C channels in ``num_groups`` groups of
    C / num_groups, each group of each sample normalised over its channels and positions;
    weight and bias (C,) are per channel."""
    fn = "group_norm"
    x = as_tensor(input, fn, "input")
    shape = x.array.shape
    if len(shape) < 2:
        raise ValueError(f"{fn}: input must have shape (N, C, *), got {shape}")
    N, C = shape[:2]
    G = _int_arg(fn, "num_groups", num_groups, 1)
    if C % G:
        raise ValueError(f"{fn}: the {C} channels of input {shape} do not divide into "
                         f"num_groups={G} groups")
    dt = x.array.dtype
    w = _affine_arg(fn, "weight", weight, (C,), dt)
    b = _affine_arg(fn, "bias", bias, (C,), dt)
    if x.array.size == 0:
        raise ValueError(f"{fn}: input {shape} is empty")
    return _rows_node(x, w, b, ops.group_norm_forward, ops.group_norm_backward, G,
                      _eps(fn, eps))


def _normalized_shape(fn, normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    try:
        s = tuple(_int_arg(fn, "normalized_shape", d, 1) for d in normalized_shape)
    except TypeError:
        raise TypeError(f"{fn}: normalized_shape must be an int or a tuple of ints, got "
                        f"{normalized_shape!r}") from None
    if not s:
        raise ValueError(f"{fn}: normalized_shape must not be empty")
    return s


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalization over the last len(normalized_shape) dims of input, which must
    be ``normalized_shape``; weight and bias have shape normalized_shape."""
    fn = "layer_norm"
    x = as_tensor(input, fn, "input")
    s = _normalized_shape(fn, normalized_shape)
    shape = x.array.shape
    if shape[len(shape) - len(s):] != s or len(shape) < len(s):
        raise ValueError(f"{fn}: input of shape {shape} does not end with normalized_shape "
                         f"{s}")
    dt = x.array.dtype
    w = _affine_arg(fn, "weight", weight, s, dt)
    b = _affine_arg(fn, "bias", bias, s, dt)
    K = int(np.prod(s))
    R = x.array.size // K
    if R == 0:
        raise ValueError(f"{fn}: input {shape} is empty")
    return _rows_node(x, w, b, ops.layer_norm_forward, ops.layer_norm_backward, s,
                      _eps(fn, eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalization: every channel of every sample of input (N, C, *) normalised
    over its positions. With use_input_stats=False the running statistics (C,) are used
    (as batch norm in evaluation); else they, if given, are updated in place with the
    mean over the batch of the instances' means and unbiased variances."""
    fn = "instance_norm"
    x = as_tensor(input, fn, "input")
    shape = x.array.shape
    if len(shape) < 3:
        raise ValueError(f"{fn}: input must have shape (N, C, *) with at least one spatial "
                         f"dim, got {shape}")
    N, C = shape[:2]
    dt = x.array.dtype
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{fn}: running_mean and running_var are required when "
                             f"use_input_stats=False")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    w = _affine_arg(fn, "weight", weight, (C,), dt)
    b = _affine_arg(fn, "bias", bias, (C,), dt)
    rm = None if running_mean is None else _array_arg(fn, "running_mean", running_mean, C, dt)
    rv = None if running_var is None else _array_arg(fn, "running_var", running_var, C, dt)
    if not isinstance(momentum, numbers.Real) or isinstance(momentum, (bool, np.bool_)):
        raise TypeError(f"{fn}: momentum must be a float, got {momentum!r}")
    L = x.array.size // (N * C) if N * C else 0
    if L <= 1:
        raise ValueError(f"{fn}: expected more than 1 spatial element when training, got "
                         f"input size {shape}")
    if rm is None and rv is None:  # no running statistics: group norm with C groups
        return _rows_node(x, w, b, ops.group_norm_forward, ops.group_norm_backward, C,
                          _eps(fn, eps))
    y, mean, var = _normalize(x, w, b, N * C, (N, C, L), _eps(fn, eps))
    if rm is not None:
        rm *= 1.0 - momentum
        rm += momentum * mean.reshape(N, C).astype(np.float64).mean(axis=0)
    if rv is not None:
        rv *= 1.0 - momentum
        rv += (momentum * L / (L - 1)) * var.reshape(N, C).astype(np.float64).mean(axis=0)
    return y


class GroupNorm(Module):
    """``GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)`` over (N, C, *);
    weight (ones) and bias (zeros) of shape (num_channels,)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        fn = "GroupNorm"
        self.num_groups = _int_arg(fn, "num_groups", num_groups, 1)
        self.num_channels = _int_arg(fn, "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"{fn}: num_channels must be divisible by num_groups, got "
                             f"{num_channels} and {num_groups}")
        self.eps = _eps(fn, eps)
        self.affine = bool(affine)
        dt = _as_dtype(fn, dtype if dtype is not None else get_default_dtype())
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dt))
            self.bias = Parameter(np.zeros(self.num_channels, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.affine:
            self.weight.array[...] = 1
            self.bias.array[...] = 0

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class LayerNorm(Module):
    """``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``;
    weight (ones) and bias (zeros) of shape normalized_shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None):
        super().__init__()
        fn = "LayerNorm"
        self.normalized_shape = _normalized_shape(fn, normalized_shape)
        self.eps = _eps(fn, eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = _as_dtype(fn, dtype if dtype is not None else get_default_dtype())
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
        else:
            self.register_parameter("weight", None)
        if self.elementwise_affine and bias:
            self.bias = Parameter(np.zeros(self.normalized_shape, dt))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(_NormBase):
    """Shared by InstanceNorm1d/2d: _NormBase's parameters and buffers, but affine=False and
    track_running_stats=False by default."""

    _ndim = 4

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, input):
        fn = type(self).__name__
        x = as_tensor(input, fn, "input")
        nd = x.array.ndim
        if nd not in (self._ndim - 1, self._ndim):
            raise ValueError(f"{fn}: expected {self._ndim - 1}D (unbatched) or {self._ndim}D "
                             f"input, got {nd}D input of shape {x.array.shape}")
        unbatched = nd == self._ndim - 1
        if unbatched:
            x = x.reshape((1,) + x.array.shape)
        C = x.array.shape[1]
        if C != self.num_features and self.affine:
            raise ValueError(f"{fn}: expected input with {self.num_features} channels "
                             f"(num_features), got {C} channels in shape {x.array.shape}")
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y.reshape(y.array.shape[1:]) if unbatched else y

class InstanceNorm1d(_InstanceNorm):
    """Instance norm over (N, C, L) or unbatched (C, L) input."""
    _ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over (N, C, H, W) or unbatched (C, H, W) input."""
    _ndim = 4
