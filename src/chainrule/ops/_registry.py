"""The kernel table: every ``chainrule.ops`` function listed once, with everything that
must exist for it.

An entry names the ops function (and so its ``chainrule.reference`` twin, same name and
signature), the ``_kernels`` bindings it calls, its test cases, how to drive finite
differences when it is a forward with a backward, its PyTorch equivalent, and the shapes
``python -m chainrule bench`` and benches/ time it on. tests/check_op.py walks this table
(fast vs reference in float32 and float64, finite differences, PyTorch);
tests/test_registry.py fails when a binding, an ops function or a twin is missing from it.
Adding a kernel = one entry here, an ops function, a reference twin, a fuzz test.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["Kernel", "Grad", "REGISTRY", "bench_cases"]


@dataclass(frozen=True)
class Grad:
    """How a forward's backward is driven: finite differences of ``output(forward(*args))``
    against a random upstream dy, for each positional argument in ``wrt``."""
    backward: str                              # the backward's ops/reference name
    wrt: tuple                                 # positional indices of differentiable inputs
    call: Callable                             # (args, kwargs, fwd result, dy) -> (args, kwargs)
    grads: Callable = lambda r: r if isinstance(r, tuple) else (r,)  # aligned with wrt
    output: Callable = lambda y: y             # the differentiated part of the fwd result


@dataclass(frozen=True)
class Kernel:
    name: str                                  # ops.<name> and reference.<name>
    bindings: tuple = ()                       # the chainrule._kernels functions it calls
    cases: Optional[Callable] = None           # (rng, dtype) -> [(args, kwargs), ...]
    grad: Optional[Grad] = None                # a forward with a backward
    torch: Optional[Callable] = None           # (torch, *tensors, **kwargs) -> ops' result
    inplace: tuple = ()                        # positional args updated in place
    config: bool = False                       # configures the kernels: no twin, no cases
    bench: dict = field(default_factory=dict)  # suite -> shapes (see bench_cases)


# ---- case helpers: odd/prime sizes, batch 1, non-contiguous views of the same values ----
def _a(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _strided(a):
    """The values of a as a non-contiguous view (every other element of a larger array)."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else a.copy()
    if not a.ndim:
        return big
    big[..., ::2] = a
    return big[..., ::2]


def _matmul_cases(rng, dt):
    return [((_a(rng, (7, 5), dt), _a(rng, (5, 3), dt)), {}),
            ((_a(rng, (1, 13), dt), _a(rng, (13, 11), dt)), {}),
            ((_a(rng, (5, 7), dt), _a(rng, (3, 5), dt)), dict(trans_a=True, trans_b=True)),
            ((_strided(_a(rng, (6, 9), dt)), _a(rng, (9, 4), dt).T.copy().T), {})]


def _linear_cases(rng, dt):
    return [((_a(rng, (7, 5), dt), _a(rng, (3, 5), dt), _a(rng, 3, dt)), {}),
            ((_a(rng, (1, 11), dt), _a(rng, (13, 11), dt), _a(rng, 13, dt)), {}),
            ((_strided(_a(rng, (5, 3), dt)), _a(rng, (2, 3), dt), None), {})]


def _linear_bwd_cases(rng, dt):
    return [((_a(rng, (7, 3), dt), _a(rng, (7, 5), dt), _a(rng, (3, 5), dt)), {}),
            ((_a(rng, (1, 13), dt), _a(rng, (1, 11), dt), _a(rng, (13, 11), dt)),
             dict(bias=False)),
            ((_strided(_a(rng, (5, 2), dt)), _a(rng, (5, 3), dt), _a(rng, (2, 3), dt)),
             dict(need_dx=False))]


# (x shape, w shape, stride, padding, dilation)
_CONV = [((2, 3, 7, 5), (4, 3, 3, 2), 1, 0, 1), ((1, 2, 9, 7), (3, 2, 3, 3), 2, 1, 1),
         ((3, 1, 6, 11), (2, 1, 2, 3), (1, 2), (2, 1), (2, 1))]


def _conv_cases(rng, dt):
    out = []
    for i, (xs, ws, s, p, d) in enumerate(_CONV):
        x = _a(rng, xs, dt)
        out.append(((_strided(x) if i == 2 else x, _a(rng, ws, dt, 0.5),
                     _a(rng, ws[0], dt) if i != 1 else None, s, p, d), {}))
    return out


def _conv_out(xs, ws, s, p, d):
    s, p, d = ((v, v) if isinstance(v, int) else v for v in (s, p, d))
    return tuple((xs[2 + i] + 2 * p[i] - d[i] * (ws[2 + i] - 1) - 1) // s[i] + 1
                 for i in range(2))


def _conv_bwd_cases(rng, dt):
    return [((_a(rng, (xs[0], ws[0]) + _conv_out(xs, ws, s, p, d), dt), _a(rng, xs, dt),
              _a(rng, ws, dt), s, p, d), dict(bias=i != 1)) for i, (xs, ws, s, p, d)
            in enumerate(_CONV)]


def _unfold_cases(rng, dt):
    return [((_a(rng, xs, dt), ws[2:], s, p, d), {}) for xs, ws, s, p, d in _CONV] + \
        [((_strided(_a(rng, (2, 5, 4), dt)), 3, 1, 1, 1), {})]


def _fold_cases(rng, dt):
    out = []
    for (x, k, s, p, d), _ in _unfold_cases(rng, dt):
        xs = x.shape if x.ndim == 4 else (1,) + x.shape
        P, Q = _conv_out(xs, (1, xs[1]) + ((k, k) if isinstance(k, int) else tuple(k)), s, p, d)
        kk = (k, k) if isinstance(k, int) else k
        shape = (xs[0], xs[1] * kk[0] * kk[1], P * Q)
        out.append(((_a(rng, shape if x.ndim == 4 else shape[1:], dt), x.shape, k, s, p, d), {}))
    return out


_POOL = [((2, 3, 7, 5), 2, None, 0), ((1, 2, 9, 8), 3, 2, 1), ((3, 1, 6, 11), (2, 3), (1, 2), (1, 1))]


def _pool_cases(rng, dt):
    return [((_strided(_a(rng, xs, dt)) if i == 2 else _a(rng, xs, dt), k, s, p), {})
            for i, (xs, k, s, p) in enumerate(_POOL)]


def _max_pool_bwd_cases(rng, dt):
    from . import max_pool2d_forward
    out = []
    for (x, k, s, p), _ in _pool_cases(rng, dt):
        y, idx = max_pool2d_forward(x, k, s, p)
        out.append(((_a(rng, y.shape, dt), idx, x.shape), {}))
    return out


def _avg_pool_bwd_cases(rng, dt):
    from . import avg_pool2d_forward
    return [((_a(rng, avg_pool2d_forward(x, k, s, p).shape, dt), x.shape, k, s, p), {})
            for (x, k, s, p), _ in _pool_cases(rng, dt)]


# (T, N, I, H, nonlinearity)
_RNN = [(5, 3, 4, 7, "tanh"), (3, 1, 2, 5, "relu"), (4, 2, 3, 3, "sigmoid")]


def _rnn_args(rng, dt, T, N, I, H):
    k = 1 / np.sqrt(H)
    return (_a(rng, (T, N, I), dt), _a(rng, (N, H), dt, 0.5), _a(rng, (H, I), dt, k),
            _a(rng, (H, H), dt, k))


def _rnn_cases(rng, dt):
    return [(_rnn_args(rng, dt, T, N, I, H) + (_a(rng, H, dt, 0.1), _a(rng, H, dt, 0.1), nl), {})
            for T, N, I, H, nl in _RNN]


def _rnn_bwd_cases(rng, dt):
    from . import rnn_forward
    out = []
    for (x, h0, w_ih, w_hh, b_ih, b_hh, nl), _ in _rnn_cases(rng, dt):
        hs = rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nl)
        out.append(((_a(rng, hs.shape, dt), x, h0, hs, w_ih, w_hh, nl), {}))
    return out


# ---- activations, softmax cross-entropy, optimizer steps --------------------------------
_ACT_SHAPES = [(7, 13), (1, 5), (2, 3, 5, 7), (11,)]


def _unary_cases(rng, dt):
    return [((_strided(_a(rng, s, dt)) if i == 0 else _a(rng, s, dt, 3.0),), {})
            for i, s in enumerate(_ACT_SHAPES)]


def _act_bwd_cases(fwd):
    def cases(rng, dt):
        from . import _act
        f = getattr(_act, fwd)
        out = [((_a(rng, x.shape, dt), f(x)), {}) for (x,), _ in _unary_cases(rng, dt)]
        (dy, y), _ = out[0]
        out.append(((dy.copy(), y), dict(out=np.empty(y.shape, dt))))  # out=: same answer
        return out
    return cases


def _xent_cases(rng, dt):
    return [((_a(rng, (N, C), dt, 3.0), rng.integers(0, C, N)), {})
            for N, C in ((7, 5), (1, 13), (16, 10), (3, 1))]


def _xent_bwd_cases(rng, dt):
    from . import softmax_cross_entropy_forward as fwd
    out = []
    for i, ((a, t), _) in enumerate(_xent_cases(rng, dt)):
        prob = fwd(a, t)[1]
        scale = [0.25, _a(rng, len(t), dt), np.ones(1, dt), 2][i]
        out.append(((prob, t, scale), {}))
    return out


def _sgd_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    return [((p((5, 7)), p((5, 7)), p((5, 7))), dict(lr=0.1, momentum=0.9, first_step=True)),
            ((p(13), _strided(p(13)), p(13)), dict(lr=0.05, momentum=0.9, dampening=0.1,
                                                     weight_decay=0.01)),
            ((p((2, 3, 3)), p((2, 3, 3)), p((2, 3, 3))),
             dict(lr=0.1, momentum=0.5, nesterov=True, maximize=True)),
            ((p(11), p(11), None), dict(lr=0.3, weight_decay=0.1))]


def _adam_cases(rng, dt):
    p = lambda n: _a(rng, n, dt)
    v = lambda n: np.abs(_a(rng, n, dt))
    return [((p((5, 7)), p((5, 7)), p((5, 7)), v((5, 7))), dict(step=1)),
            ((p(13), _strided(p(13)), p(13), v(13)),
             dict(step=7, lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.1)),
            ((p((2, 3, 3)), p((2, 3, 3)), p((2, 3, 3)), v((2, 3, 3))),
             dict(step=3, weight_decay=0.05, decoupled=True, maximize=True))]


def _xent_torch(torch, logits, target):
    F = torch.nn.functional
    return F.cross_entropy(logits, target, reduction="none"), torch.softmax(logits, 1)


def _pool_torch(kind):
    def run(torch, x, k, s=None, p=0):
        F = torch.nn.functional
        if kind == "max":
            return F.max_pool2d(x, k, s, p, return_indices=True)
        return F.avg_pool2d(x, k, s, p)
    return run


_ACT_BENCH = [(128, 256), (64, 6, 24, 24), (1 << 20,)]
# cli: (name, x shape, kernel); pytest: one x shape for max and avg pooling with
# name -> (kernel_size, stride, padding), and LeNet's max-pool inputs for the forward alone
_POOL_BENCH = {"cli": ("max_pool2d 2x2", (32, 64, 32, 32), 2),
               "pytest": {"shape": (8, 32, 32, 32),
                          "pools": {"2x2": (2, None, 0), "3x3-s2-p1": (3, 2, 1)},
                          "lenet": {"pool1": (64, 6, 28, 28), "pool2": (64, 16, 14, 14)}}}


def _act_entries(name, torch_fn):
    return [
        Kernel(f"{name}_forward", ("relu_forward",) if name == "relu" else (),
               cases=_unary_cases, torch=lambda torch, x: getattr(torch, torch_fn)(x),
               grad=Grad(f"{name}_backward", (0,), lambda a, k, y, dy: ((dy, y), {})),
               bench={"pytest": _ACT_BENCH}),
        Kernel(f"{name}_backward", (f"{name}_backward",), cases=_act_bwd_cases(f"{name}_forward")),
    ]


# parameterised activations (csrc/actfn.c): name -> (torch function, parameter sets)
_ACTFN = {
    "leaky_relu": ("leaky_relu", [{}, dict(negative_slope=0.2)]),
    "elu": ("elu", [{}, dict(alpha=0.5)]),
    "gelu": ("gelu", [{}, dict(approximate="tanh")]),
    "silu": ("silu", [{}]),
    "softplus": ("softplus", [{}, dict(beta=2.0, threshold=3.0)]),
    "hardtanh": ("hardtanh", [{}, dict(min_val=-0.5, max_val=2.0)]),
}


def _actfn_cases(name):
    def cases(rng, dt):
        base = _unary_cases(rng, dt)
        return [(args, kw) for kw in _ACTFN[name][1] for args, _ in base]
    return cases


def _actfn_bwd_cases(name):
    def cases(rng, dt):
        out = [((_a(rng, x.shape, dt), x), kw) for (x,), kw in _actfn_cases(name)(rng, dt)]
        (dy, x), kw = out[0]
        out.append(((dy.copy(), x), dict(kw, out=np.empty(x.shape, dt))))  # out=: same answer
        return out
    return cases


def _actfn_entries(name):
    torch_fn = _ACTFN[name][0]
    return [
        Kernel(f"{name}_forward", ("actfn_forward",), cases=_actfn_cases(name),
               torch=lambda torch, x, *a, **k: getattr(torch.nn.functional, torch_fn)(x, *a, **k),
               grad=Grad(f"{name}_backward", (0,), lambda a, k, y, dy: ((dy, a[0]), k)),
               bench={"pytest": _ACT_BENCH}),
        Kernel(f"{name}_backward", ("actfn_backward",), cases=_actfn_bwd_cases(name)),
    ]


def _softmax_cases(rng, dt):
    xs = [x for (x,), _ in _unary_cases(rng, dt)] + [_a(rng, (3, 1, 7), dt, 3.0)]
    return [((x,), dict(dim=d)) for x in xs for d in sorted({0, -1, x.ndim // 2}) if x.ndim]


def _softmax_bwd_cases(fwd):
    def cases(rng, dt):
        from . import _actfn
        f = getattr(_actfn, fwd)
        return [((_a(rng, x.shape, dt), f(x, **kw)), kw) for (x,), kw in _softmax_cases(rng, dt)]
    return cases


def _softmax_entries(name):
    return [
        Kernel(f"{name}_forward", ("softmax_rows",), cases=_softmax_cases,
               torch=lambda torch, x, dim=-1: getattr(torch, name)(x, dim),
               grad=Grad(f"{name}_backward", (0,), lambda a, k, y, dy: ((dy, y), k)),
               bench={"pytest": _ACT_BENCH}),
        Kernel(f"{name}_backward", ("softmax_rows_backward",),
               cases=_softmax_bwd_cases(f"{name}_forward")),
    ]


_entries = [
    Kernel("matmul", ("matmul_fast", "gemm"), cases=_matmul_cases,
           torch=lambda torch, a, b, trans_a=False, trans_b=False:
           (a.T if trans_a else a) @ (b.T if trans_b else b),
           bench={"cli": [((n, n, n), "float32") for n in (32, 64, 512, 1024, 2048)]
                  + [((1024, 1024, 1024), "float64")]
                  + [((128, 1024, 10), "float32"), ((128, 10, 1024), "float32"),
                     ((10, 1024, 128), "float32")],
                  "cli_quick": [((n, n, n), "float32") for n in (32, 64, 512, 1024)]
                  + [((512, 512, 512), "float64")]
                  + [((128, 1024, 10), "float32"), ((128, 10, 1024), "float32"),
                     ((10, 1024, 128), "float32")],
                  "pytest": [(32, 32, 32, "float32"), (64, 64, 64, "float32"),
                             (256, 256, 256, "float32"), (512, 512, 512, "float32"),
                             (256, 256, 256, "float64"), (128, 1024, 10, "float32"),
                             (128, 10, 1024, "float32")]}),
    Kernel("linear_forward", ("linear_forward",), cases=_linear_cases,
           torch=lambda torch, x, w, b=None: torch.nn.functional.linear(x, w, b),
           grad=Grad("linear_backward", (0, 1, 2), lambda a, k, y, dy: ((dy, a[0], a[1]), {})),
           bench={"cli": [(256, 1024, 1024)], "pytest": [(64, 256, 128), (256, 512, 512)]}),
    Kernel("linear_backward", ("linear_backward",), cases=_linear_bwd_cases),
    Kernel("conv2d_forward", ("conv2d_forward",), cases=_conv_cases,
           torch=lambda torch, x, w, b=None, s=1, p=0, d=1:
           torch.nn.functional.conv2d(x, w, b, s, p, d),
           grad=Grad("conv2d_backward", (0, 1, 2),
                     lambda a, k, y, dy: ((dy,) + tuple(a[:2]) + tuple(a[3:]), {})),
           # name, N, C, K, H (= W), R (= S), padding
           bench={"cli": [("LeNet conv1", 64, 1, 6, 28, 5, 0),
                          ("LeNet conv2", 64, 6, 16, 12, 5, 0),
                          ("CIFAR 64->64 3x3", 32, 64, 64, 32, 3, 1),
                          ("CIFAR 3->32 3x3", 32, 3, 32, 32, 3, 1)],
                  "pytest": [("lenet-conv1-N16", 16, 1, 6, 28, 5, 0),
                             ("lenet-conv2-N16", 16, 6, 16, 12, 5, 0),
                             ("cifar-3x3-N4", 4, 16, 16, 16, 3, 1)]}),
    Kernel("conv2d_backward", ("conv2d_backward",), cases=_conv_bwd_cases),
    Kernel("im2col", ("im2col",), cases=_unfold_cases,
           torch=lambda torch, x, k, s=1, p=0, d=1: torch.nn.functional.unfold(x, k, d, p, s),
           grad=Grad("col2im", (0,), lambda a, k, y, dy: ((dy, a[0].shape) + tuple(a[1:]), {})),
           bench={"pytest": [("lenet-conv2-N16", (16, 6, 12, 12), 5, 1, 0, 1),
                             ("cifar-3x3-N4", (4, 16, 16, 16), 3, 1, 1, 1)]}),
    Kernel("col2im", ("col2im",), cases=_fold_cases),
    Kernel("max_pool2d_forward", ("max_pool2d_forward",), cases=_pool_cases,
           torch=_pool_torch("max"),
           grad=Grad("max_pool2d_backward", (0,),
                     lambda a, k, y, dy: ((dy, y[1], a[0].shape), {}), output=lambda y: y[0]),
           bench=_POOL_BENCH),
    Kernel("max_pool2d_backward", ("max_pool2d_backward",), cases=_max_pool_bwd_cases),
    Kernel("avg_pool2d_forward", ("avg_pool2d_forward",), cases=_pool_cases,
           torch=_pool_torch("avg"),
           grad=Grad("avg_pool2d_backward", (0,),
                     lambda a, k, y, dy: ((dy, a[0].shape) + tuple(a[1:]), {})),
           bench=_POOL_BENCH),
    Kernel("avg_pool2d_backward", ("avg_pool2d_backward",), cases=_avg_pool_bwd_cases),
    Kernel("rnn_forward", ("rnn_forward",), cases=_rnn_cases,
           grad=Grad("rnn_backward", (0, 1, 2, 3, 4, 5),
                     lambda a, k, y, dy: ((dy, a[0], a[1], y, a[2], a[3], a[6]), {}),
                     grads=lambda r: r),
           # (input, hidden, batch, T)
           bench={"cli": [(64, 256, 32, 100), (64, 64, 32, 100)],
                  "cli_quick": [(64, 256, 32, 20), (64, 64, 32, 20)],
                  "pytest": {"I32-H64-N16-T20": (32, 64, 16, 20),
                             "I64-H256-N32-T10": (64, 256, 32, 10)}}),
    Kernel("rnn_backward", ("rnn_backward",), cases=_rnn_bwd_cases),
    *_act_entries("relu", "relu"),
    *_act_entries("sigmoid", "sigmoid"),
    *_act_entries("tanh", "tanh"),
    *[e for name in _ACTFN for e in _actfn_entries(name)],
    *_softmax_entries("softmax"),
    *_softmax_entries("log_softmax"),
    Kernel("softmax_cross_entropy_forward", ("softmax_xent_forward",), cases=_xent_cases,
           torch=_xent_torch,
           grad=Grad("softmax_cross_entropy_backward", (0,),
                     lambda a, k, y, dy: ((y[1], a[1], dy), {}), output=lambda y: y[0]),
           bench={"pytest": [(16, 10), (128, 10), (64, 1000)]}),
    Kernel("softmax_cross_entropy_backward", ("softmax_xent_backward",), cases=_xent_bwd_cases),
    Kernel("sgd_step", ("sgd_step",), cases=_sgd_cases, inplace=(0, 2),
           bench={"pytest": [(784 * 256,), (256,), (10 * 256,)]}),
    Kernel("adam_step", ("adam_step",), cases=_adam_cases, inplace=(0, 2, 3),
           bench={"pytest": [(784 * 256,), (256,), (10 * 256,)]}),
    Kernel("set_workspace_limit", ("conv_set_workspace_limit",), config=True),
    Kernel("get_workspace_limit", ("conv_get_workspace_limit",), config=True),
    Kernel("conv2d_workspace_bytes", ("conv2d_workspace_bytes",), config=True),
]

REGISTRY = {k.name: k for k in _entries}
assert len(REGISTRY) == len(_entries), "a kernel is listed twice"


def bench_cases(name: str, suite: str):
    """The shapes ``name`` is benchmarked on in ``suite``: "cli" / "cli_quick" (python -m
    chainrule bench) or "pytest" (benches/); their meaning is the entry's (see above)."""
    return REGISTRY[name].bench[suite]
