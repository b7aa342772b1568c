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


from ._cases import (_a, _act_bwd_cases, _adadelta_cases, _adagrad_cases, _adam_cases,
                     _adaptive_bwd_cases, _adaptive_cases, _avg_pool_bwd_cases,
                     _avg_pool_cases, _bidir_bwd_cases, _bidir_cases, _bn_bwd_cases,
                     _bn_cases, _bn_inference_cases,
                     _bn_torch, _conv_bwd_cases, _conv_cases, _coo_pairs,
                     _dropout_bwd_cases, _dropout_cases, _dropout_mask_cases,
                     _embedding_bwd_cases, _embedding_cases, _fold_cases, _gated_cases,
                     _gated_torch, _gn_bwd_cases, _gn_cases, _gn_torch, _gru_bwd_cases,
                     _ln_bwd_cases, _ln_cases, _ln_torch, _linear_bwd_cases, _linear_cases,
                     _lstm_bwd_cases, _matmul_cases, _max_pool_bwd_cases, _max_pool_cases,
                     _pool_torch, _rmsprop_cases, _rnn_bwd_cases, _rnn_cases, _sgd_cases,
                     _spmm_bwd_call, _spmm_bwd_cases, _spmm_cases, _spmm_torch,
                     _unary_cases, _unfold_cases, _unpool_bwd_cases, _unpool_cases,
                     _unpool_torch, _xent_bwd_cases, _xent_cases,
                     _xent_torch)  # the case generators


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
                     ((10, 1024, 128), "float32"), ((1024, 128, 1024), "float32")],
                  "cli_quick": [((n, n, n), "float32") for n in (32, 64, 512, 1024)]
                  + [((512, 512, 512), "float64")]
                  + [((128, 1024, 10), "float32"), ((128, 10, 1024), "float32"),
                     ((10, 1024, 128), "float32")],
                  "pytest": [(32, 32, 32, "float32"), (64, 64, 64, "float32"),
                             (256, 256, 256, "float32"), (512, 512, 512, "float32"),
                             (256, 256, 256, "float64"), (128, 1024, 10, "float32"),
                             (128, 10, 1024, "float32"), (1024, 128, 1024, "float32")]}),
    Kernel("linear_forward", ("linear_forward",), cases=_linear_cases,
           torch=lambda torch, x, w, b=None: torch.nn.functional.linear(x, w, b),
           grad=Grad("linear_backward", (0, 1, 2), lambda a, k, y, dy: ((dy, a[0], a[1]), {})),
           bench={"cli": [(256, 1024, 1024)], "pytest": [(64, 256, 128), (256, 512, 512)]}),
    Kernel("linear_backward", ("linear_backward",), cases=_linear_bwd_cases),
    Kernel("conv2d_forward", ("conv2d_forward", "conv2d_depthwise_forward",
                             "conv2d_grouped_forward"), cases=_conv_cases,
           torch=lambda torch, x, w, b=None, s=1, p=0, d=1, g=1:
           torch.nn.functional.conv2d(x, w, b, s, p, d, g),
           grad=Grad("conv2d_backward", (0, 1, 2),
                     lambda a, k, y, dy: ((dy,) + tuple(a[:2]) + tuple(a[3:]), {})),
           # name, N, C, K, H (= W), R (= S), padding
           bench={"cli": [("LeNet conv1", 64, 1, 6, 28, 5, 0),
                          ("LeNet conv2", 64, 6, 16, 12, 5, 0),
                          ("CIFAR 64->64 3x3", 32, 64, 64, 32, 3, 1),
                          ("CIFAR 3->32 3x3", 32, 3, 32, 32, 3, 1)],
                  "pytest": [("lenet-conv1-N16", 16, 1, 6, 28, 5, 0),
                             ("lenet-conv2-N16", 16, 6, 16, 12, 5, 0),
                             ("cifar-3x3-N4", 4, 16, 16, 16, 3, 1)],
                  # depthwise (groups = C): name, N, C, H (= W), R (= S), padding
                  "cli_depthwise": [("depthwise 3x3", 32, 64, 32, 3, 1)],
                  "pytest_depthwise": [("dw3x3-N32-C64-32x32", 32, 64, 32, 3, 1),
                                       ("dw5x5-N8-C32-16x16", 8, 32, 16, 5, 2)]}),
    Kernel("conv2d_backward", ("conv2d_backward", "conv2d_depthwise_backward",
                              "conv2d_grouped_backward"),
           cases=_conv_bwd_cases),
    Kernel("im2col", ("im2col",), cases=_unfold_cases,
           torch=lambda torch, x, k, s=1, p=0, d=1: torch.nn.functional.unfold(x, k, d, p, s),
           grad=Grad("col2im", (0,), lambda a, k, y, dy: ((dy, a[0].shape) + tuple(a[1:]), {})),
           bench={"pytest": [("lenet-conv2-N16", (16, 6, 12, 12), 5, 1, 0, 1),
                             ("cifar-3x3-N4", (4, 16, 16, 16), 3, 1, 1, 1)]}),
    Kernel("col2im", ("col2im",), cases=_fold_cases),
    Kernel("max_pool2d_forward", ("max_pool2d_forward",), cases=_max_pool_cases,
           torch=_pool_torch("max"),
           grad=Grad("max_pool2d_backward", (0,),
                     lambda a, k, y, dy: ((dy, y[1], a[0].shape), {}), output=lambda y: y[0]),
           bench=_POOL_BENCH),
    Kernel("max_pool2d_backward", ("max_pool2d_backward",), cases=_max_pool_bwd_cases),
    Kernel("avg_pool2d_forward", ("avg_pool2d_forward",), cases=_avg_pool_cases,
           torch=_pool_torch("avg"),
           grad=Grad("avg_pool2d_backward", (0,),
                     lambda a, k, y, dy: ((dy, a[0].shape) + tuple(a[1:]), k)),
           bench=_POOL_BENCH),
    Kernel("avg_pool2d_backward", ("avg_pool2d_backward",), cases=_avg_pool_bwd_cases),
    Kernel("max_unpool2d_forward", ("max_unpool2d_forward",), cases=_unpool_cases,
           torch=_unpool_torch,
           grad=Grad("max_unpool2d_backward", (0,), lambda a, k, y, dy: ((dy, a[1]), {})),
           bench={"pytest": {"shape": (32, 64, 16, 16), "sizes": {"2x2": 2}}}),
    Kernel("max_unpool2d_backward", ("max_unpool2d_backward",), cases=_unpool_bwd_cases),
    Kernel("adaptive_max_pool2d_forward", ("adaptive_max_pool2d_forward",), cases=_adaptive_cases,
           torch=lambda torch, x, o: torch.nn.functional.adaptive_max_pool2d(x, o, True),
           grad=Grad("max_pool2d_backward", (0,),
                     lambda a, k, y, dy: ((dy, y[1], a[0].shape), {}), output=lambda y: y[0]),
           bench={"pytest": {"shape": (32, 64, 16, 16), "sizes": {"1x1": 1, "3x3": 3}}}),
    Kernel("adaptive_avg_pool2d_forward", ("adaptive_avg_pool2d_forward",),
           cases=_adaptive_cases,
           torch=lambda torch, x, o: torch.nn.functional.adaptive_avg_pool2d(x, o),
           grad=Grad("adaptive_avg_pool2d_backward", (0,),
                     lambda a, k, y, dy: ((dy, a[0].shape), {})),
           bench={"pytest": {"shape": (32, 64, 16, 16), "sizes": {"1x1": 1, "3x3": 3}}}),
    Kernel("adaptive_avg_pool2d_backward", ("adaptive_avg_pool2d_backward",),
           cases=_adaptive_bwd_cases),
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
    Kernel("lstm_forward", ("lstm_forward",), cases=_gated_cases(4), torch=_gated_torch(4),
           grad=Grad("lstm_backward", (0, 1, 2, 3, 4, 5, 6),
                     lambda a, k, y, dy: ((dy, None) + tuple(a[:5]) + tuple(y),
                                          dict(bias=a[5] is not None)),
                     output=lambda y: y[0]),
           # (cell, H, N, T), input size = hidden size; "full" = issue 12's bars
           bench={"pytest": [("lstm", 64, 8, 10)],
                  "full": [("lstm", 512, 32, 25), ("lstm", 256, 16, 150)],
                  "cli": [("lstm", 512, 32, 25), ("lstm", 256, 16, 150)],
                  "cli_quick": [("lstm", 128, 16, 20)]}),
    Kernel("lstm_backward", ("lstm_backward",), cases=_lstm_bwd_cases),
    Kernel("lstm_bidir_forward", ("lstm_forward_dirs",), cases=_bidir_cases),
    Kernel("lstm_bidir_backward", ("lstm_backward_dirs",), cases=_bidir_bwd_cases),
    Kernel("gru_forward", ("gru_forward",), cases=_gated_cases(3), torch=_gated_torch(3),
           grad=Grad("gru_backward", (0, 1, 2, 3, 4, 5),
                     lambda a, k, y, dy: ((dy,) + tuple(a[:4]) + tuple(y),
                                          dict(bias=a[4] is not None)),
                     output=lambda y: y[0]),
           bench={"pytest": [("gru", 64, 8, 10)], "full": [("gru", 512, 32, 100)],
                  "cli": [("gru", 512, 32, 100)], "cli_quick": [("gru", 128, 16, 20)]}),
    Kernel("gru_backward", ("gru_backward",), cases=_gru_bwd_cases),
    Kernel("embedding_forward", ("embedding_forward",), cases=_embedding_cases,
           torch=lambda torch, w, idx: torch.nn.functional.embedding(idx, w),
           grad=Grad("embedding_backward", (0,),
                     lambda a, k, y, dy: ((dy, a[1], a[0].shape[0]), {})),
           # (num_embeddings, dim, lookups): issue 12's bar is the first
           bench={"pytest": [(50000, 256, 65536), (1000, 64, 4096)],
                  "cli": [(50000, 256, 65536), (50000, 64, 65536)],
                  "cli_quick": [(50000, 256, 65536)]}),
    Kernel("embedding_backward", ("embedding_backward",), cases=_embedding_bwd_cases,
           torch=lambda torch, dy, idx, num, padding_idx=None, scale_grad_by_freq=False:
           torch.ops.aten.embedding_dense_backward(dy, idx, num, -1 if padding_idx is None
                                                   else padding_idx % num,
                                                   scale_grad_by_freq)),
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
    Kernel("adam_step", ("adam_step",), cases=_adam_cases, inplace=(0, 2, 3, 4),
           bench={"pytest": [(784 * 256,), (256,), (10 * 256,)]}),
    Kernel("rmsprop_step", ("rmsprop_step",), cases=_rmsprop_cases, inplace=(0, 2, 3, 4),
           bench={"pytest": [(784 * 256,), (256,), (10 * 256,)]}),
    Kernel("adagrad_step", ("adagrad_step",), cases=_adagrad_cases, inplace=(0, 2),
           bench={"pytest": [(784 * 256,), (256,), (10 * 256,)]}),
    Kernel("adadelta_step", ("adadelta_step",), cases=_adadelta_cases, inplace=(0, 2, 3),
           bench={"pytest": [(784 * 256,), (256,), (10 * 256,)]}),
    Kernel("csr_from_coo", ("csr_from_coo",), cases=_coo_pairs),
    Kernel("spmm", ("spmm",), cases=_spmm_cases, torch=_spmm_torch,
           grad=Grad("spmm_backward", (3, 2), _spmm_bwd_call),
           # (nodes, edges, features) of a random power-law graph
           bench={"cli": [(100_000, 1_000_000, 64)], "cli_quick": [(20_000, 200_000, 64)],
                  "pytest": [(10_000, 100_000, 64), (100_000, 1_000_000, 64)]}),
    Kernel("spmm_backward", ("sddmm",), cases=_spmm_bwd_cases),
    Kernel("batch_norm_forward", ("batch_norm_forward",), cases=_bn_cases, torch=_bn_torch,
           grad=Grad("batch_norm_backward", (0, 1, 2),
                     lambda a, k, y, dy: ((dy, a[0], a[1], y[1], y[2]),
                                          dict(relu_out=y[0]) if k.get("relu") else {}),
                     output=lambda y: y[0]),
           bench={"pytest": [(32, 64, 32, 32), (256, 512)]}),
    Kernel("batch_norm_inference", ("batch_norm_apply",), cases=_bn_inference_cases,
           torch=lambda torch, x, rm, rv, w=None, b=None, eps=1e-5:
           torch.nn.functional.batch_norm(x, rm, rv, w, b, training=False, eps=eps)),
    Kernel("batch_norm_backward", ("batch_norm_backward",), cases=_bn_bwd_cases),
    Kernel("group_norm_forward", ("row_norm_forward",), cases=_gn_cases, torch=_gn_torch,
           grad=Grad("group_norm_backward", (0, 2, 3),
                     lambda a, k, y, dy: ((dy, a[0], a[1], a[2], y[1], y[2]), {}),
                     output=lambda y: y[0]),
           bench={"pytest": [(32, 64, 32, 32)]}),
    Kernel("group_norm_backward", ("row_norm_backward",), cases=_gn_bwd_cases),
    Kernel("layer_norm_forward", ("row_norm_forward",), cases=_ln_cases, torch=_ln_torch,
           grad=Grad("layer_norm_backward", (0, 2, 3),
                     lambda a, k, y, dy: ((dy, a[0], a[1], a[2], y[1], y[2]), {}),
                     output=lambda y: y[0]),
           bench={"pytest": [(64, 128, 768)]}),
    Kernel("layer_norm_backward", ("row_norm_backward",), cases=_ln_bwd_cases),
    Kernel("dropout_forward", ("dropout_forward",), cases=_dropout_cases,
           grad=Grad("dropout_backward", (0,), lambda a, k, y, dy: ((dy, y[1], a[1]), {}),
                     output=lambda y: y[0]),
           bench={"pytest": [(1 << 20,)]}),
    Kernel("dropout_backward", ("dropout_backward",), cases=_dropout_bwd_cases),
    Kernel("dropout_mask", ("dropout_mask",), cases=_dropout_mask_cases),
    Kernel("set_workspace_limit", ("conv_set_workspace_limit",), config=True),
    Kernel("get_workspace_limit", ("conv_get_workspace_limit",), config=True),
    Kernel("conv2d_workspace_bytes", ("conv2d_workspace_bytes",), config=True),
    Kernel("conv2d_plan", ("conv2d_plan_info", "conv2d_grouped_info"), config=True),
]

REGISTRY = {k.name: k for k in _entries}
assert len(REGISTRY) == len(_entries), "a kernel is listed twice"


def bench_cases(name: str, suite: str):
    """The shapes ``name`` is benchmarked on in ``suite``: "cli" / "cli_quick" (python -m
    chainrule bench) or "pytest" (benches/); their meaning is the entry's (see above)."""
    return REGISTRY[name].bench[suite]
