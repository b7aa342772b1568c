"""chainrule — fast, verifiable backpropagation on the CPU.

C/OpenMP kernels (``chainrule.ops``) with slow NumPy twins (``chainrule.reference``),
and a PyTorch-shaped autograd layer on top (``Tensor``, ``nn``, ``optim``).
"""
__version__ = "0.1.0"

from . import _runtime  # imports the C extension: a missing build is an error, never silenced
from ._runtime import get_num_threads, set_num_threads

_runtime.install()  # once per process: default threads, fork handler, glibc heap tuning
from ._config import show_config
from . import ops, reference
from ._random import Generator, manual_seed
from .autograd import (AnomalyError, Tensor, detect_anomaly, enable_grad, is_grad_enabled,
                       no_grad, tensor)
from .autograd.dtypes import (bool, device, double, float, float32, float64, int, int8, int16,
                              int32, int64, long, short, uint8)
from .autograd.dtypes import get_default_dtype, set_default_dtype
from .autograd.factories import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                                 full_like, linspace, ones, ones_like, rand, rand_like, randint,
                                 randn, randn_like, randperm, zeros, zeros_like)
from .autograd.joins import (cat, clamp, clip, concat, concatenate, cos, is_tensor, log1p,
                             log_softmax, matmul, maximum, minimum, mm, neg, pow, sign, sin,
                             softmax, square, stack, where)
from .autograd.functions import (abs, all, allclose, any, argmax, argmin, clone, eq, equal, exp,
                                 flatten, ge, gt, is_floating_point, le, log, logical_not, lt,
                                 max, mean, min, ne, norm, numel, permute, prod, relu, reshape,
                                 sigmoid, sqrt, squeeze, std, sum, tanh, transpose, unsqueeze,
                                 var, masked_fill)
from .autograd.size import Size
from .autograd.indexing import (gather, index_select, masked_select, nonzero, scatter,
                                scatter_add, take_along_dim)
from .autograd.sorting import argsort, sort, topk
from .autograd.einsum import einsum
from .autograd.protocols import floor_divide, fmod, remainder
from .autograd.legacy import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor,
                              LongTensor)
from .autograd.mathops import (bincount, bmm, ceil, diag, diagonal, floor, frac, ger,
                               inference_mode, is_inference_mode_enabled, isclose, lerp, log2,
                               log10, logsumexp, outer, reciprocal, round, set_grad_enabled,
                               tan, trunc, unique)
from .autograd.reorder import (chunk, cumprod, cumsum, flip, fliplr, flipud, narrow, roll,
                               split, tril, triu, unbind)
from .gradcheck import gradcheck
from . import nn, optim, diagnostics
from . import utils
from . import backends, cuda
from ._save import save, load
from . import explain  # callable: cr.explain(model, x, target, loss, optimizer=None, l2=0.0)

__all__ = ["ops", "reference", "nn", "optim", "set_num_threads", "get_num_threads",
           "manual_seed", "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "gradcheck", "detect_anomaly", "AnomalyError", "diagnostics", "explain",
           "show_config", "utils", "save", "load"]
# PyTorch's spellings (dtypes, device, factories, tensor functions): see docs/API.md
__all__ += ["bool", "device", "double", "float", "float32", "float64", "int", "int8", "int16",
            "int32", "int64", "long", "short", "uint8", "get_default_dtype", "set_default_dtype"]
__all__ += ["arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full",
            "full_like", "linspace", "ones", "ones_like", "rand", "rand_like", "randint",
            "randn", "randn_like", "randperm", "zeros", "zeros_like"]
__all__ += ["abs", "all", "allclose", "any", "argmax", "argmin", "cat", "clamp", "clip",
            "clone", "concat", "concatenate", "cos", "eq", "equal", "exp", "flatten", "ge",
            "gt", "is_floating_point", "is_tensor", "le", "log", "log1p", "log_softmax",
            "logical_not", "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mm",
            "ne", "neg", "norm", "numel", "permute", "pow", "prod", "relu", "reshape",
            "sigmoid", "sign", "sin", "softmax", "sqrt", "square", "squeeze", "stack", "std",
            "sum", "tanh", "transpose", "unsqueeze", "var", "where"]
__all__ += ["Size", "gather", "index_select", "masked_select", "nonzero", "scatter",
            "scatter_add", "take_along_dim", "argsort", "sort", "topk", "chunk", "cumprod",
            "cumsum", "flip", "fliplr", "flipud", "narrow", "roll", "split", "tril", "triu",
            "unbind", "einsum", "masked_fill"]
__all__ += ["bincount", "bmm", "ceil", "diag", "diagonal", "floor", "frac", "ger",
            "inference_mode", "is_inference_mode_enabled", "isclose", "lerp", "log2", "log10",
            "logsumexp", "outer", "reciprocal", "round", "set_grad_enabled", "tan", "trunc",
            "unique"]
__all__ += ["backends", "cuda"]
__all__ += ["Generator", "floor_divide", "fmod", "remainder", "BoolTensor", "ByteTensor",
            "DoubleTensor", "FloatTensor", "IntTensor", "LongTensor"]
